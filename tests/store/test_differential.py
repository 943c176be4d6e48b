"""Differential: the same hunting queries over the same events give the same ids on both stores.

Events and queries are generated from a small vocabulary full of the cases where stores tend to
disagree (case, hyphens, dots, apostrophes, Vietnamese words, IPv4/IPv6, numbers as numbers and as
strings, booleans, lists); the Python matcher (:mod:`canh.query`) is the referee.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canh.query import matcher
from canh.store.base import Store

WORDS = [
    "failed",
    "Failed",
    "PASSWORD",
    "root",
    "admin",
    "web-01",
    "it's",
    "đăng",
    "nhập",
    "thất",
    "bại",
    "x.com",
    "user@x.com",
    "10.0.0.1",
    "foo_bar",
    "v2.1",
    "sql",
    "Select",
    "union",
    "/etc/passwd",
]
HOSTS = ["web-01", "WEB-01", "web-02", "db-01", "dc-01.corp.local", "sensor_1"]
USERS = ["root", "Root", "admin", "quantri", "nguyen.van.a", "svc$"]
IPS = [
    "10.0.0.1",
    "10.0.0.200",
    "10.1.2.3",
    "192.168.1.5",
    "203.0.113.9",
    "2001:db8::1",
    "fe80::2",
    "8.8.8.8",
]
DATASETS = ["linux.auth", "nginx.access", "windows.security", "zeek.conn"]
URLS = [
    "/index.php?id=1' OR '1'='1",
    "/INDEX.PHP?page=../../etc/passwd",
    "/download?f=%2e%2e%2fetc%2fpasswd",
    "/tin-tuc/thông-báo",
    "/search?q=union select",
    "/",
    "/api/v2.1/users",
]


def _events(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ev: dict[str, Any] = {
            "@timestamp": f"2026-11-{20 + i % 3:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z",
            "event": {
                "id": f"d{i:05d}",
                "dataset": rnd.choice(DATASETS),
                "ingested": "2026-11-22T12:00:00.000Z",
            },
            "host": {"name": rnd.choice(HOSTS)},
        }
        if rnd.random() < 0.8:
            ev["message"] = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 7)))
        if rnd.random() < 0.7:
            ev["source"] = {"ip": rnd.choice(IPS)}
        if rnd.random() < 0.6:
            ev["destination"] = {"port": rnd.choice([22, 53, 80, 443, 3389, 8080])}
        if rnd.random() < 0.5:
            ev["user"] = {"name": rnd.choice(USERS)}
        if rnd.random() < 0.3:
            ev["tags"] = rnd.sample(["tls", "dns", "brute", "scan"], rnd.randint(1, 3))
        if rnd.random() < 0.3:
            ev["labels"] = {"critical": rnd.random() < 0.5}
        if rnd.random() < 0.3:
            ev["event"]["code"] = rnd.choice(["4624", "4625", "4688"])
        if rnd.random() < 0.4:
            ev["url"] = {"original": rnd.choice(URLS)}
        out.append(ev)
    return out


TEXT_PATTERNS = [
    *(f"message:{p}" for p in ["*fail*", "*PASS*", "*root", "*x.com*", "*đăng\\ nhập*", "*web\\-01*", "it?s*",
                               "*\\/etc\\/passwd*", "/.*[Ff]ailed.*/", "/(?i).*root.*/", "/[a-z ]+/", "/.*v2\\.1.*/"]),
    *(f"url.original:{p}" for p in ["*etc\\/passwd*", "*PASSWD", "\\/index.php*", "*union\\ select*", "\\/*",
                                    "*thông*", "/.*etc.passwd/", "/(?i)\\/index.*/", "/\\/api\\/v[0-9.]+\\/.*/"]),
    "*root*", "fail*", "*admin",
]  # fmt: skip


def _queries(seed: int, n: int) -> list[str]:
    rnd = random.Random(seed)
    leaves = [
        lambda: f"host.name:{rnd.choice(HOSTS)}",
        lambda: f"host.name:{rnd.choice(['web*', 'WEB*', '*-01', 'db-0?', 'dc-01.*'])}",
        lambda: f"user.name:{rnd.choice(USERS).replace('$', chr(92) + '$')}",
        lambda: (
            f"message:{rnd.choice(['failed', 'password', 'root', 'đăng', 'union', 'x.com', 'foo_bar', 'v2.1'])}"
        ),
        lambda: f"message:{rnd.choice(['fail*', 'pass*', '*min', 'đ*'])}",
        # patterns and expressions on text fields test the whole value (wildcards in any case)
        lambda: rnd.choice(TEXT_PATTERNS),
        lambda: "url.original:" + rnd.choice(["passwd", "union", '"etc passwd"', "index.php"]),
        lambda: f'message:"{rnd.choice(WORDS).lower()} {rnd.choice(WORDS).lower()}"',
        lambda: rnd.choice(["failed", "root", "nhập", '"thất bại"', "admin"]),
        lambda: (
            f"source.ip:{rnd.choice(['10.0.0.0/8', '10.0.0.0/24', '192.168.0.0/16', '2001:db8::/32'])}".replace(
                ":", "\\:"
            ).replace("source.ip\\:", "source.ip:")
        ),
        lambda: f"source.ip:{rnd.choice(IPS)}".replace(":", "\\:").replace("source.ip\\:", "source.ip:"),
        lambda: (
            f"destination.port:{rnd.choice(['22', '443', '[50 TO 500]', '{22 TO 443]', '>=3389', '<80'])}"
        ),
        lambda: (
            f"_exists_:{rnd.choice(['user.name', 'tags', 'labels.critical', 'message', 'event.code', 'url.original'])}"
        ),
        lambda: f"tags:{rnd.choice(['tls', 'dns', 'br*'])}",
        lambda: f"labels.critical:{rnd.choice(['true', 'false'])}",
        lambda: f"event.code:{rnd.choice(['4624', '4625', '46*'])}",
        lambda: f"event.dataset:{rnd.choice([*DATASETS, 'linux.*'])}",
        lambda: f"@timestamp:[2026-11-21T00:00:00Z TO {rnd.choice(['2026-11-21T12:00:00Z', '*'])}]",
    ]

    def expr(depth: int) -> str:
        if depth == 0 or rnd.random() < 0.4:
            leaf = rnd.choice(leaves)()
            return f"NOT {leaf}" if rnd.random() < 0.15 else leaf
        op = rnd.choice([" AND ", " OR ", " "])
        return "(" + op.join(expr(depth - 1) for _ in range(rnd.randint(2, 3))) + ")"

    return [expr(2) for _ in range(n)]


EVENTS = _events(400, seed=6)
QUERIES = _queries(seed=66, n=150)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    from tests.store.es_node import both_stores

    with both_stores(Path(tmp_path_factory.mktemp("diff")), EVENTS) as pair:
        yield pair


def _ids(store: Store, query: str) -> list[str]:
    return sorted(r["event"]["id"] for r in store.scan("events", query, batch=1000))


@pytest.mark.parametrize("query", QUERIES)
def test_same_ids_on_both_stores(both: tuple[Store, Store], query: str) -> None:
    lite, es = both
    expected = sorted(e["event"]["id"] for e in EVENTS if matcher(query)(e))
    assert _ids(lite, query) == expected, "SQLite differs from the matcher"
    assert _ids(es, query) == expected, "Elasticsearch differs from the matcher"


@pytest.mark.parametrize(
    "field", ["host.name", "user.name", "destination.port", "tags", "source.ip", "event.code"]
)
def test_same_terms_on_both_stores(both: tuple[Store, Store], field: str) -> None:
    lite, es = both
    assert es.terms("events", field, size=20) == lite.terms("events", field, size=20)


@pytest.mark.parametrize("query", TEXT_PATTERNS)
def test_text_patterns_alone(both: tuple[Store, Store], query: str) -> None:
    lite, es = both
    expected = sorted(e["event"]["id"] for e in EVENTS if matcher(query)(e))
    assert 0 < len(expected) < len(EVENTS), "the pattern must select some events, not all"
    assert _ids(lite, query) == expected, "SQLite differs from the matcher"
    assert _ids(es, query) == expected, "Elasticsearch differs from the matcher"
