"""DNS names: the label-length walk and its cache give what following every label gives, and the
answers' pointer to the question's name reads that name only when reading it again would."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.packets import dns

HEADER_QUERY = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)


def _outcome(fn, msg: bytes, pos: int) -> object:
    try:
        return fn(msg, pos)
    except (ValueError, IndexError):
        return "bad"  # parse() treats both alike: a bad name


def _label(text: bytes) -> bytes:
    return bytes((len(text),)) + text


_parts = st.one_of(
    st.binary(min_size=1, max_size=70).map(lambda b: _label(b[:63]) if len(b) < 64 else bytes((len(b),)) + b),
    st.tuples(st.integers(0xC0, 0xFF), st.integers(0, 255)).map(bytes),  # a pointer
    st.just(b"\0"),
    st.binary(max_size=3),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_parts, max_size=12), st.integers(0, 40))
def test_name_equals_following_every_label(parts: list[bytes], pos: int) -> None:
    msg = HEADER_QUERY + b"".join(parts)
    pos = min(pos, len(msg) - 1)
    assert _outcome(dns._name, msg, pos) == _outcome(dns._walk, msg, pos)
    # again, from the cache this time
    assert _outcome(dns._name, msg, pos) == _outcome(dns._walk, msg, pos)


def _answer(name: bytes, ip: bytes) -> bytes:
    return name + struct.pack("!HHIH", 1, 1, 300, 4) + ip


def _response(qname: bytes, answers: list[bytes], tail: bytes = b"") -> bytes:
    head = struct.pack("!HHHHHH", 9, 0x8180, 1, len(answers), 0, 0)
    return head + qname + b"\x00\x01\x00\x01" + b"".join(answers) + tail


def test_answers_pointing_to_the_question_read_its_name() -> None:
    wire = _label(b"mail") + _label(b"gov") + _label(b"vn") + b"\0"
    spelled = dns.parse(_response(wire, [_answer(wire, b"\xc0\x00\x02\x19")]))
    pointed = dns.parse(_response(wire, [_answer(b"\xc0\x0c", b"\xc0\x00\x02\x19")] * 2))
    assert spelled is not None and pointed is not None
    assert [a["name"] for a in pointed["answers"]] == ["mail.gov.vn"] * 2
    assert pointed["answers"][0] == spelled["answers"][0]
    other = _label(b"www") + _label(b"gov") + _label(b"vn") + b"\0"
    assert dns.parse(_response(other, [_answer(b"\xc0\x0c", b"\x01\x02\x03\x04")]))["answers"][0]["name"] == (
        "www.gov.vn"
    )


def test_pointer_to_a_question_name_of_32_jumps_is_one_jump_too_many() -> None:
    # The question's name is a chain of 32 pointers: readable. An answer's pointer to it makes 33,
    # which _walk refuses; the answer must not get the question's name from a shortcut.
    answer = _answer(b"\xc0\x0c", b"\x01\x02\x03\x04")
    start = 12 + 2 + 4 + len(answer)  # where the chain begins, after the question and the answer
    chain = b"".join(struct.pack("!H", 0xC000 | (start + 2 * (i + 1))) for i in range(31))
    plain = _label(b"a") + b"\0"
    qname = struct.pack("!H", 0xC000 | start)
    msg = _response(qname, [answer], chain + plain)
    out = dns.parse(msg)
    assert out is not None and out["question"]["name"] == "a"
    assert "answers" not in out
    # one jump fewer in the chain and the same answer is read
    short = _response(struct.pack("!H", 0xC000 | (start + 2)), [answer], chain + plain)
    assert dns.parse(short)["answers"][0]["name"] == "a"
