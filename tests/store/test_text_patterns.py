"""Patterns on text fields test the whole value (Sigma's contains/startswith/endswith), in any case,
on both stores and in the reference matcher; words and phrases still search words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canh.query import matcher
from canh.store.base import Store

EVENTS: list[dict[str, Any]] = [
    {
        "@timestamp": "2026-11-22T01:00:00.000Z",
        "event": {"id": "t1", "ingested": "2026-11-22T12:00:00.000Z"},
        "url": {"original": "/index.php?page=../../ETC/PASSWD"},
        "process": {"command_line": "sudo /tmp/x.sh --now"},
        "message": "Failed password for root",
    },
    {
        "@timestamp": "2026-11-22T01:00:01.000Z",
        "event": {"id": "t2", "ingested": "2026-11-22T12:00:00.000Z"},
        "url": {"original": "/download?f=%2e%2e%2fetc%2fpasswd"},
        "process": {"command_line": "/usr/bin/ls /tmpdir"},
        "message": "session opened for user root",
    },
    {
        "@timestamp": "2026-11-22T01:00:02.000Z",
        "event": {"id": "t3", "ingested": "2026-11-22T12:00:00.000Z"},
        "url": {"original": "/etc/passwd"},
        "process": {"command_line": "bash -c 'cat /etc/passwd'"},
        "message": "passwd changed",
    },
]

CASES = [
    # a pattern runs over the whole value, any case: "contains /etc/passwd"
    ("url.original:*etc\\/passwd*", ["t1", "t3"]),
    ("url.original:\\/etc*", ["t3"]),  # startswith
    ("url.original:*PASSWD", ["t1", "t2", "t3"]),  # endswith, case folded
    ("process.command_line:*\\/tmp\\/*", ["t1"]),
    ("process.command_line:sudo*", ["t1"]),  # not a word prefix: the value starts with it
    ("process.command_line:*now", ["t1"]),
    ("message:fail*", ["t1"]),
    ("message:root*", []),  # no message starts with "root" (a word prefix was the old meaning)
    ("pass*", ["t3"]),  # bare patterns run over the default text fields' whole values
    # regular expressions: the whole value, case as the expression says
    ("url.original:/.*etc.passwd/", ["t3"]),
    ("url.original:/(?i).*etc.passwd/", ["t1", "t3"]),
    ("process.command_line:/bash .*/", ["t3"]),
    # words and phrases still search words
    ("url.original:passwd", ["t1", "t3"]),
    ("process.command_line:tmp", ["t1"]),
    ('message:"password for"', ["t1"]),
    ("message:ROOT", ["t1", "t2"]),
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    from tests.store.es_node import both_stores

    with both_stores(Path(tmp_path_factory.mktemp("patterns")), EVENTS) as pair:
        yield pair


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_text_patterns_match_the_whole_value(
    stores: tuple[Store, Store], query: str, expected: list[str]
) -> None:
    lite, es = stores
    assert sorted(e["event"]["id"] for e in EVENTS if matcher(query)(e)) == expected
    assert sorted(r["event"]["id"] for r in lite.scan("events", query, batch=100)) == expected
    assert sorted(r["event"]["id"] for r in es.scan("events", query, batch=100)) == expected
