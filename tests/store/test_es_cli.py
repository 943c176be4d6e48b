"""`canh` against an Elasticsearch store configured in canh.yml: ingest, search, status."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture
def es_home(home: Path) -> Iterator[Path]:
    from elasticsearch import Elasticsearch

    from tests.store.es_node import require_node

    url = require_node()
    prefix = "canhtest-" + uuid.uuid4().hex[:12]
    (home / "canh.yml").write_text(
        f"store:\n  type: elasticsearch\n  elasticsearch:\n    url: {url}\n    index_prefix: {prefix}\n"
    )
    try:
        yield home
    finally:
        client = Elasticsearch(url)
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        for name in (f"{prefix}-events", f"{prefix}-base"):
            with contextlib.suppress(Exception):
                client.indices.delete_index_template(name=name)
        client.close()


def canh(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from canh.cli import main; main()", "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_status_shows_cluster_indices_and_spool(es_home: Path) -> None:
    lines = "\n".join(
        json.dumps(
            {"@timestamp": f"2026-11-22T01:00:0{i}Z", "message": f"hello {i}", "event": {"id": f"c{i}"}}
        )
        for i in range(5)
    )
    src = es_home / "in.ndjson"
    src.write_text(lines + "\n")
    ingest = canh(es_home, "ingest", str(src))
    assert ingest.returncode == 0, ingest.stderr
    out = canh(es_home, "--lang", "en", "status")
    assert out.returncode == 0, out.stderr
    assert "Cluster:" in out.stdout and ("status green" in out.stdout or "status yellow" in out.stdout)
    assert "events-2026.11.22: 5 documents" in out.stdout
    assert "Spool backlog: 0.0 kB" in out.stdout
    data = json.loads(canh(es_home, "status", "--json").stdout)
    assert data["store"] == "elasticsearch" and data["records"]["events"] == 5
    vi = canh(es_home, "--lang", "vi", "status")
    assert "Cụm:" in vi.stdout and "Hàng đợi tạm tồn" in vi.stdout
