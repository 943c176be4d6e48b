"""Hunting query semantics, and agreement between the Python matcher and the SQLite translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canh.errors import QueryError
from canh.events import new_event, set_many
from canh.query import matcher, parse, tokens
from canh.store.sqlite import SQLiteStore

EVENT = {
    "@timestamp": "2026-11-22T01:00:00.000Z",
    "message": "Failed password for root from 203.0.113.5 port 51234 ssh2",
    "event": {"category": ["authentication"], "action": "ssh_login", "outcome": "failure"},
    "source": {"ip": "203.0.113.5", "port": 51234},
    "user": {"name": "root"},
    "host": {"name": "web-01"},
    "url": {"path": "/index.php"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("failed", True),  # a bare word searches the message, any case
        ("FAILED password", True),  # words with no operator are ANDed
        ('"password for root"', True),
        ('"root for password"', False),
        ("user.name:root", True),
        ("user.name:ROOT", False),  # keyword fields are exact, as in Elasticsearch
        ("user.name:ro*", True),
        ("user.name:r?ot", True),
        ("user.name:/r[aeiou]+t/", True),
        ("user.name:/oo/", False),  # regular expressions are anchored
        ("source.ip:203.0.113.0/24", True),
        ("source.ip:198.51.100.0/24", False),
        ("source.port:51234", True),
        ("source.port:[50000 TO 60000]", True),
        ("source.port:{51234 TO 60000]", False),
        ("source.port:>=51234", True),
        ("source.port:<1024", False),
        ("@timestamp:[2026-11-22T00:00:00Z TO 2026-11-22T02:00:00Z]", True),
        ('@timestamp:>"2026-11-22T08:00:00+07:00"', False),  # 08:00 ICT is 01:00Z, strictly after fails
        ("event.category:authentication", True),  # lists match any element
        ("_exists_:user.name", True),
        ("_exists_:process.name", False),
        ("user.name:*", True),
        ("NOT user.name:root", False),
        ("-user.name:admin", True),
        ("user.name:(admin OR root)", True),
        ("failed AND (user.name:admin OR host.name:web\\-01)", True),
        ("url.path:\\/index.php", True),
        ("*", True),
    ],
)
def test_query_semantics(query: str, expected: bool, tmp_path: Path) -> None:
    assert matcher(query)(EVENT) is expected
    store = SQLiteStore(tmp_path / "q.db")
    try:
        store.write("events", [dict(EVENT, event={**EVENT["event"], "id": "e1"})])
        assert (store.count("events", query) == 1) is expected, "SQLite disagrees with the Python matcher"
    finally:
        store.close()


def test_bad_queries_are_query_errors() -> None:
    for query in ("user.name:(root", "a:[1 TO", "message:fuzzy~2"):
        with pytest.raises(QueryError):
            parse(query)


def test_tokens_follow_word_boundaries() -> None:
    assert tokens("GET /index.php?id=1 from 10.0.0.1:443 Người dùng") == [
        "get", "index.php", "id", "1", "from", "10.0.0.1", "443", "người", "dùng",
    ]  # fmt: skip


_users = st.sampled_from(["root", "admin", "Admin", "nguyen.van.a", "svc-backup", "ROOT"])
_ips = st.sampled_from(["10.0.0.5", "10.0.1.7", "203.0.113.5", "2001:db8::1", "fe80::2"])
_words = st.sampled_from(["failed", "accepted", "password", "root", "đăng", "nhập", "from", "port"])


@st.composite
def _events(draw: st.DrawFn) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        ev = new_event(
            timestamp=f"2026-11-22T0{draw(st.integers(0, 9))}:00:00.000Z", dataset="t", module="t",
            source="gen", position=i, message=" ".join(draw(st.lists(_words, min_size=1, max_size=6))),
        )  # fmt: skip
        fields = {"user.name": draw(st.none() | _users), "source.ip": draw(st.none() | _ips),
                  "destination.port": draw(st.none() | st.integers(1, 65535)),
                  "event.category": draw(st.none() | st.lists(st.sampled_from(["network", "authentication"]), max_size=2))}  # fmt: skip
        set_many(ev, fields)
        out.append(ev)
    return out


_leaf = st.one_of(
    _words,
    _users.map(lambda u: f"user.name:{u}"),
    _users.map(lambda u: f"user.name:{u[:2]}*"),
    _ips.map(lambda ip: f'source.ip:"{ip}"'),
    st.sampled_from(["source.ip:10.0.0.0/16", "source.ip:2001\\:db8\\:\\:/32", "_exists_:user.name",
                     "destination.port:[1 TO 1024]", "destination.port:>=8000", "event.category:network",
                     '"failed password"', "@timestamp:[2026-11-22T03:00:00Z TO *]"]),
)  # fmt: skip
_queries = st.recursive(
    _leaf,
    lambda sub: st.one_of(
        st.tuples(sub, sub).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"({p[0]} OR {p[1]})"),
        sub.map(lambda q: f"NOT {q}"),
    ),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=_events(), query=_queries)
def test_sqlite_translation_agrees_with_python_matcher(evs: list[dict], query: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path_factory.mktemp("diff") / "d.db")
    try:
        store.write("events", evs)
        match = matcher(query)
        expected = sorted(e["event"]["id"] for e in evs if match(e))
        got = sorted(e["event"]["id"] for e in store.search("events", query, limit=100))
        assert got == expected, query
    finally:
        store.close()
