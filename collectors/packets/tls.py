"""TLS ClientHello / ServerHello: SNI, versions, ALPN, JA3, JA3S and JA4 fingerprints.

A small pure parser over the handshake bytes (scapy's TLS layers are ~100x slower and need the whole
record). GREASE values (RFC 8701) are left out of every fingerprint as JA3 and JA4 require.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

VERSIONS = {
    0x0300: "s3",
    0x0301: "10",
    0x0302: "11",
    0x0303: "12",
    0x0304: "13",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
ECS_VERSIONS = {
    0x0300: ("ssl", "3.0"),
    0x0301: ("tls", "1.0"),
    0x0302: ("tls", "1.1"),
    0x0303: ("tls", "1.2"),
    0x0304: ("tls", "1.3"),
}
CIPHERS = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
}


def is_grease(value: int) -> bool:
    """RFC 8701 reserved values (0x0A0A, 0x1A1A, ... 0xFAFA)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def hello_length(data: bytes) -> int:
    """Bytes needed for the whole first handshake record, or 0 if ``data`` does not start a TLS handshake."""
    if len(data) < 5 or data[0] != 0x16 or data[1] != 0x03:
        return 0
    return 5 + ((data[3] << 8) | data[4])


_U16_ARRAYS: dict[int, struct.Struct] = {}
_EXT_HEAD = struct.Struct("!HH").unpack_from


def _u16s(data: bytes) -> tuple[int, ...]:
    """Big-endian 16-bit values of ``data`` (an odd last byte ignored)."""
    n = len(data) >> 1
    st = _U16_ARRAYS.get(n)
    if st is None:
        st = _U16_ARRAYS[n] = struct.Struct(f"!{n}H")
    return st.unpack_from(data)


def _extensions(data: bytes, pos: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    if pos + 2 > len(data):
        return out
    end = min(len(data), pos + 2 + int.from_bytes(data[pos : pos + 2], "big"))
    pos += 2
    while pos + 4 <= end:
        etype, elen = _EXT_HEAD(data, pos)
        out.append((etype, data[pos + 4 : pos + 4 + elen]))
        pos += 4 + elen
    return out


def _handshake(record: bytes, want: int) -> bytes | None:
    """The body of the first handshake message of type ``want`` in a TLS record."""
    if len(record) < 9 or record[0] != 0x16 or record[5] != want:
        return None
    length = int.from_bytes(record[6:9], "big")
    return record[9 : 9 + length]


def _alpn_values(ext: bytes) -> list[str]:
    values, pos = [], 2
    while pos < len(ext):
        ln = ext[pos]
        values.append(ext[pos + 1 : pos + 1 + ln].decode("ascii", "replace"))
        pos += 1 + ln
    return values


def _ja4_alpn(first: str) -> str:
    if not first:
        return "00"
    a, b = first[0], first[-1]
    if a.isascii() and a.isalnum() and b.isascii() and b.isalnum():
        return a + b
    raw = first.encode("utf-8", "replace").hex()
    return raw[0] + raw[-1]


# Fingerprints of ClientHello shapes already seen: a network's clients are a few TLS stacks sending
# the same ciphers and extensions, only random, session id, key share and server name differ.
_SHAPES: dict[tuple, tuple] = {}


def client_hello(record: bytes) -> dict[str, Any] | None:
    """ECS ``tls`` fields of a ClientHello record (the record header included), or None."""
    body = _handshake(record, 1)
    if body is None or len(body) < 38:
        return None
    try:
        legacy = int.from_bytes(body[0:2], "big")
        pos = 34
        pos += 1 + body[pos]  # session id
        clen = int.from_bytes(body[pos : pos + 2], "big")
        ciphers = _u16s(body[pos + 2 : pos + 2 + clen])
        pos += 2 + clen
        pos += 1 + body[pos]  # compression methods
        exts = _extensions(body, pos)
    except IndexError:
        return None
    sni = None
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    sig_algs: tuple[int, ...] = ()
    alpn: tuple[str, ...] = ()
    supported: tuple[int, ...] = ()
    for etype, edata in exts:
        if etype == 0 and len(edata) > 5:
            sni = edata[5 : 5 + int.from_bytes(edata[3:5], "big")].decode("ascii", "replace")
        elif etype == 10:
            groups = _u16s(edata[2:])
        elif etype == 11 and edata:
            point_formats = tuple(edata[1 : 1 + edata[0]])
        elif etype == 13:
            sig_algs = _u16s(edata[2:])
        elif etype == 16:
            alpn = tuple(_alpn_values(edata))
        elif etype == 43 and edata:
            supported = _u16s(edata[1 : 1 + edata[0]])
    shape = (
        legacy,
        ciphers,
        tuple([e for e, _ in exts]),
        groups,
        point_formats,
        sig_algs,
        alpn,
        supported,
        bool(sni),
    )
    known = _SHAPES.get(shape)
    if known is None:
        if len(_SHAPES) >= 4096:
            _SHAPES.clear()
        known = _SHAPES[shape] = _fingerprints(*shape)
    ja3, ja3_text, ja4, cipher_names, version_names, proto, ver = known
    client: dict[str, Any] = {
        "ja3": ja3,
        "ja3_string": ja3_text,
        "ja4": ja4,
        "supported_ciphers": list(cipher_names),
        "supported_versions": list(version_names),
    }
    out: dict[str, Any] = {"client": client}
    if sni:
        client["server_name"] = sni
    if alpn:
        out["next_protocol"] = alpn[0]
        client["alpn"] = list(alpn)
    out["version_protocol"] = proto
    if ver:
        client["version"] = ver
    return out


def _fingerprints(
    legacy: int,
    ciphers: tuple[int, ...],
    ext_types: tuple[int, ...],
    groups: tuple[int, ...],
    point_formats: tuple[int, ...],
    sig_algs: tuple[int, ...],
    alpn: tuple[str, ...],
    supported: tuple[int, ...],
    sni: bool,
) -> tuple:
    """(ja3, ja3 string, ja4, cipher names, version names, protocol, version) of a ClientHello shape."""
    c_ng = [c for c in ciphers if not is_grease(c)]
    e_ng = [e for e in ext_types if not is_grease(e)]
    ja3_text = ",".join(
        [
            str(legacy),
            "-".join(map(str, c_ng)),
            "-".join(map(str, e_ng)),
            "-".join(str(g) for g in groups if not is_grease(g)),
            "-".join(map(str, point_formats)),
        ]
    )
    versions = [v for v in supported if not is_grease(v)]
    top = max(versions) if versions else legacy
    ja4_a = "t{}{}{:02d}{:02d}{}".format(
        VERSIONS.get(top, "00"),
        "d" if sni else "i",
        min(len(c_ng), 99),
        min(len(e_ng), 99),
        _ja4_alpn(alpn[0] if alpn else ""),
    )
    ja4_b = (
        hashlib.sha256(",".join(f"{c:04x}" for c in sorted(c_ng)).encode()).hexdigest()[:12]
        if c_ng
        else "0" * 12
    )
    ext_part = ",".join(f"{e:04x}" for e in sorted(e for e in e_ng if e not in (0, 16)))
    sig_part = ",".join(f"{s:04x}" for s in sig_algs if not is_grease(s))
    c_text = f"{ext_part}_{sig_part}" if sig_part else ext_part
    ja4_c = hashlib.sha256(c_text.encode()).hexdigest()[:12] if e_ng else "0" * 12
    proto, ver = ECS_VERSIONS.get(top, ("tls", None))
    return (
        hashlib.md5(ja3_text.encode(), usedforsecurity=False).hexdigest(),
        ja3_text,
        f"{ja4_a}_{ja4_b}_{ja4_c}",
        tuple(CIPHERS.get(c, f"0x{c:04x}") for c in c_ng),
        tuple(_version_text(v) for v in versions) or (_version_text(legacy),),
        proto,
        ver,
    )


_JA3S: dict[str, str] = {}  # JA3S string -> its hash


def server_hello(record: bytes) -> dict[str, Any] | None:
    """ECS ``tls`` fields of a ServerHello record: negotiated version and cipher, JA3S."""
    body = _handshake(record, 2)
    if body is None or len(body) < 38:
        return None
    try:
        legacy = int.from_bytes(body[0:2], "big")
        pos = 34
        pos += 1 + body[pos]
        cipher = int.from_bytes(body[pos : pos + 2], "big")
        pos += 3
        exts = _extensions(body, pos)
    except IndexError:
        return None
    version = legacy
    alpn: list[str] = []
    for etype, edata in exts:
        if etype == 43 and len(edata) >= 2:
            version = int.from_bytes(edata[:2], "big")
        elif etype == 16:
            alpn = _alpn_values(edata)
    ja3s_text = f"{legacy},{cipher},{'-'.join(str(e) for e, _ in exts)}"
    ja3s = _JA3S.get(ja3s_text)
    if ja3s is None:  # a server stack answers with the same few shapes: their hashes are kept
        if len(_JA3S) >= 4096:
            _JA3S.clear()
        ja3s = _JA3S[ja3s_text] = hashlib.md5(ja3s_text.encode(), usedforsecurity=False).hexdigest()
    proto, ver = ECS_VERSIONS.get(version, ("tls", None))
    out: dict[str, Any] = {
        "cipher": CIPHERS.get(cipher, f"0x{cipher:04x}"),
        "version_protocol": proto,
        "server": {"ja3s": ja3s, "ja3s_string": ja3s_text},
    }
    if ver:
        out["version"] = ver
    if alpn:
        out["next_protocol"] = alpn[0]
    return out


def _version_text(v: int) -> str:
    proto, ver = ECS_VERSIONS.get(v, ("tls", None))
    return f"{proto} {ver}" if ver else f"0x{v:04x}"
