"""A file's content origin: the same for its rotated and compressed copies, apart for other files."""

from __future__ import annotations

import pytest

from canh.collectors.origin import base_name, file_origin, head_fingerprint


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("auth.log", "auth.log"),
        ("auth.log.1", "auth.log"),
        ("auth.log.2.gz", "auth.log"),
        ("auth.log-20261122.gz", "auth.log"),
        ("messages-2026112201", "messages"),
        ("access.log.2026-11-22", "access.log"),
        ("syslog.10.bz2", "syslog"),
        ("eve.json", "eve.json"),
        ("1.log", "1.log"),
    ],
)
def test_base_name_drops_rotation_suffixes(name: str, base: str) -> None:
    assert base_name(f"/var/log/{name}") == base


def test_origin_is_host_base_name_and_first_line() -> None:
    fp = head_fingerprint(b"first\nsecond\n", complete=False)
    assert fp is not None
    assert file_origin("web-01", "/var/log/auth.log", fp) == file_origin(
        "web-01", "/srv/copy/auth.log.1.gz", fp
    )
    assert file_origin("web-01", "/var/log/auth.log", fp) != file_origin("web-01", "/var/log/secure", fp)
    assert file_origin("web-01", "/var/log/auth.log", fp) != file_origin("web-02", "/var/log/auth.log", fp)
    # only the first line counts: what follows may still be written
    assert head_fingerprint(b"first\nsecond\nthird\n", complete=False) == fp
    assert head_fingerprint(b"other\nsecond\n", complete=False) != fp


def test_a_first_line_still_being_written_has_no_fingerprint_until_the_file_is_complete() -> None:
    assert head_fingerprint(b"first", complete=False) is None
    assert head_fingerprint(b"first", complete=True) == head_fingerprint(b"first\nmore\n", complete=False)
    assert head_fingerprint(b"#Fields: a b", complete=True) is not None
    assert head_fingerprint(b"", complete=True) is None
