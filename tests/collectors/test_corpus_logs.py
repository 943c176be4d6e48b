"""The shared corpus of real third-party logs: every line accounted for, and the fields rules need."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from canh.collectors.registry import get_parser
from canh.events import decode_line, get
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore
from tests.collectors.parsing import ctx

NOT_LOGS = {"LICENSE", "LICENSE.GPL", "COPYING", "CITATION"}


def log_files(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in NOT_LOGS and p.suffix not in (".csv", ".md")
    ]


def test_every_line_is_stored_or_dead_lettered_with_a_reason(corpus: Path, tmp_path: Path) -> None:
    files = log_files(corpus / "logs")
    assert len(files) > 100
    store = SQLiteStore(tmp_path / "canh.db")
    report = Ingester(store, dead_letter=tmp_path / "dead.jsonl").run(files)
    non_blank = sum(
        1 for f in files for raw in f.read_bytes().split(b"\n") if raw.strip(b"\r\n\t \xef\xbb\xbf")
    )
    assert report.events + len(report.problems) == non_blank
    assert report.written == report.events == store.count("events")
    # The only lines refused are the ones that are not log lines of the detected format at all
    # (fail2ban's "# failJSON" annotations inside web and JSON logs, syslog lines mixed into them).
    reasons = {p.message.split(":")[0] for p in report.problems}
    assert reasons <= {"not an nginx/Apache access or error log line", "not a JSON object"}, reasons
    assert len(report.problems) < 0.01 * non_blank
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert len(dead) == len(report.problems) and all(d["raw"] for d in dead)
    # Lines kept as generic syslog still carry their text.
    assert store.count("events", "event.dataset:syslog AND NOT _exists_:message") == 0
    assert report.formats[str(corpus / "logs/loghub/OpenSSH/OpenSSH_2k.log")] == "syslog"
    assert report.formats[str(corpus / "logs/elastic-examples/apache_logs")] == "web"
    assert report.formats[str(corpus / "logs/loghub/Apache/Apache_2k.log")] == "web"
    store.close()


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(re.escape("<*>"), "(.*?)") + "$")


def test_openssh_lines_match_the_loghub_ground_truth(corpus: Path) -> None:
    root = corpus / "logs/loghub/OpenSSH"
    rows = list(csv.DictReader((root / "OpenSSH_2k.log_structured.csv").open(encoding="utf-8")))
    lines = (root / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(lines)
    parser = get_parser("syslog")
    checked = 0
    for row, line in zip(rows, lines, strict=True):
        ev = parser.parse(line, ctx("/var/log/secure"))
        assert ev is not None
        assert get(ev, "event.dataset") == "system.auth", line
        assert get(ev, "process.name") == "sshd"
        assert get(ev, "process.pid") == int(row["Pid"])
        assert get(ev, "host.name") == row["Component"]
        params = _template_regex(row["EventTemplate"]).match(row["Content"])
        eid = row["EventId"]
        if eid in (
            "E1",
            "E9",
            "E10",
            "E8",
        ):  # Accepted/Failed <method> for [invalid user] <user> from <ip> port <port>
            assert params is not None
            user, ip, port = params.groups()
            assert get(ev, "event.action") == "ssh_login"
            assert get(ev, "event.outcome") == ("success" if eid == "E1" else "failure")
            assert (get(ev, "user.name"), get(ev, "source.ip"), get(ev, "source.port")) == (
                user,
                ip,
                int(port),
            )
        elif eid == "E13":  # Invalid user <user> from <ip>
            assert params is not None
            assert get(ev, "event.action") == "ssh_invalid_user"
            assert (get(ev, "user.name"), get(ev, "source.ip")) == params.groups()
        elif eid in ("E2", "E24", "E25", "E26", "E6", "E7"):  # disconnects: the peer address
            assert params is not None
            assert get(ev, "event.action") == "ssh_disconnect", line
            assert get(ev, "source.ip") == params.group(1)
        elif eid in ("E19", "E20"):  # pam_unix authentication failure ... rhost=<host> [user=<user>]
            assert params is not None
            assert get(ev, "event.outcome") == "failure"
            rhost = params.groups()[2].strip()
            assert rhost in (get(ev, "source.ip"), get(ev, "source.domain"))
            if eid == "E20":
                assert get(ev, "user.name") == params.groups()[3]
        elif eid == "E14":  # message repeated N times: [ Failed password for root from <ip> port <port>]
            assert get(ev, "event.action") == "ssh_login" and get(ev, "user.name") == "root"
        elif eid == "E27":  # reverse mapping checking ... [<ip>] failed
            assert params is not None
            assert get(ev, "source.ip") == params.group(2)
        else:
            continue
        checked += 1
    assert checked > 1500


def test_fail2ban_attacker_hosts_are_found(corpus: Path) -> None:
    """fail2ban annotates the attacker host of the next line; sshd lines naming it must carry it."""
    parser = get_parser("syslog")
    found = missed = 0
    for name in ("sshd", "pam-generic"):
        lines = (corpus / "logs/fail2ban/logs" / name).read_bytes().split(b"\n")
        for i, raw in enumerate(lines[:-1]):
            text = decode_line(raw)[0]
            if not text.startswith("# failJSON:"):
                continue
            try:
                meta = json.loads(text[len("# failJSON:") :])
            except ValueError:
                continue
            host = meta.get("host")
            nxt = decode_line(lines[i + 1])[0]
            # Only lines that name the host themselves (others rely on an earlier line of the session).
            if (
                not meta.get("match")
                or not host
                or not re.search(rf"(?<![\d.]){re.escape(host)}(?![\d])", nxt)
            ):
                continue
            ev = parser.parse(nxt, ctx())
            assert ev is not None
            if host in (get(ev, "source.ip"), get(ev, "source.domain")):
                found += 1
            else:
                missed += 1
    assert found >= 90
    # The misses are deliberate injection tests (a second "from <ip>" smuggled into a user name) and
    # header-less journal lines; Canh keeps the first address, as OpenSSH wrote it.
    assert missed <= 0.15 * (found + missed)


def test_web_access_logs_carry_the_web_fields(corpus: Path) -> None:
    parser = get_parser("web")
    for rel, vendor in (
        ("logs/elastic-examples/apache_logs", "apache"),
        ("logs/evtx-attack-samples/web_attack_and_isp_webshell_localhost_access_log.txt", "apache"),
    ):
        path = corpus / rel
        for pos, raw in enumerate(path.read_bytes().splitlines()):
            text, _bad = decode_line(raw)
            ev = parser.parse(text, ctx(str(path), position=pos))
            assert ev is not None
            assert get(ev, "event.dataset") == f"{vendor}.access"
            assert get(ev, "source.ip"), text
            assert isinstance(get(ev, "http.response.status_code"), int)
            if re.search(r'"[A-Z]+ \S+ HTTP/\d', text):
                assert get(ev, "http.request.method") and get(ev, "url.path"), text
            elif '"-"' not in text:
                assert get(ev, "url.original"), text  # junk a scanner sent is kept whole


@pytest.mark.parametrize("name", ["Apache/Apache_2k.log"])
def test_apache_error_log_levels(corpus: Path, name: str) -> None:
    parser = get_parser("web")
    levels = set()
    for line in (corpus / "logs/loghub" / name).read_text(encoding="utf-8").splitlines():
        ev = parser.parse(line, ctx())
        assert ev is not None and get(ev, "event.dataset") == "apache.error"
        levels.add(get(ev, "log.level"))
    assert levels == {"notice", "error"}


def test_invalid_utf8_in_attack_payloads_is_kept_escaped(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "logs/evtx-attack-samples/web_attack_and_isp_webshell_localhost_access_log.txt"
    bad_lines = [raw for raw in path.read_bytes().splitlines() if decode_line(raw)[1]]
    assert bad_lines
    store = SQLiteStore(tmp_path / "canh.db")
    Ingester(store, dead_letter=tmp_path / "dead.jsonl").run([path])
    tagged = store.search("events", "tags:canh_invalid_utf8", limit=1000)
    assert len(tagged) == len(bad_lines)
    originals = {ev["event"]["original"] for ev in tagged}
    assert originals == {raw.rstrip(b"\r").decode("utf-8", "backslashreplace") for raw in bad_lines}
    store.close()
