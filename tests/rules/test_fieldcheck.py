"""Rule fields no collector produces for the rule's log source: warned about, with the log source."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from canh.cli import cli
from canh.rules.emitted import fields_for, observed, sample_events
from canh.rules.emitted_fields import EMITTED
from canh.rules.fieldcheck import unknown_fields
from canh.rules.loader import load_paths
from tests.rules.ruleutil import sigma


def _rule(tmp_path: Path, detection: str, logsource: str) -> Path:
    path = tmp_path / "r.yml"
    path.write_text(sigma(detection, logsource=logsource), encoding="utf-8")
    return path


def test_an_unknown_field_is_a_warning_naming_the_log_source(home: Path, tmp_path: Path) -> None:
    text = "  sel:\n    NoSuchFieldAnywhere: x\n    event.action: ssh_login\n    pam_user: root\n  condition: sel"
    path = _rule(tmp_path, text, "product: linux\n  service: sshd")
    res = CliRunner().invoke(cli, ["--home", str(home), "--lang", "en", "rules", "check", str(path)])
    assert res.exit_code == 0  # a warning, not an error
    (line,) = [x for x in res.output.splitlines() if "warning:" in x]
    field_line = path.read_text().splitlines().index("    NoSuchFieldAnywhere: x") + 1
    assert line.startswith(f"{path}:{field_line}: warning: field 'NoSuchFieldAnywhere'")
    assert "(product: linux, service: sshd)" in line and "system.auth" in line
    assert "0 problem(s), 1 warning(s)" in res.output


def test_mapped_emitted_and_windows_fields_are_not_warned_about(tmp_path: Path) -> None:
    cases = [
        (
            "  sel:\n    c-uri|contains: x\n    http.response.status_code: 200\n  condition: sel",
            "category: webserver",
        ),
        ("  sel:\n    query|endswith: .vn\n  condition: sel", "category: dns"),
        ("  sel:\n    SomeEventDataName: x\n  condition: sel", "product: windows\n  service: security"),
        (
            "  sel:\n    whatever: x\n  condition: sel",
            "product: macos\n  category: process_creation",
        ),  # no collector
    ]
    for detection, logsource in cases:
        (rule,) = load_paths([_rule(tmp_path, detection, logsource)]).rules
        assert unknown_fields(rule) == [], (detection, logsource)


def test_a_field_another_log_source_has_is_still_unknown_here(tmp_path: Path) -> None:
    (rule,) = load_paths(
        [_rule(tmp_path, "  sel:\n    url.path: /x\n  condition: sel", "product: linux\n  service: sshd")]
    ).rules
    assert [w.field for w in unknown_fields(rule)] == ["url.path"]
    routes, fields, _ = fields_for(None, "webserver", None)
    assert "url.path" in fields and any(r.startswith("nginx.access") for r in routes)


def test_the_field_table_covers_what_the_parsers_produce() -> None:
    """Regenerate with ``python -m canh.rules.emitted --write`` when a parser adds fields."""
    for route, names in observed(sample_events(None)).items():
        if route.startswith("windows.") or not route.split("|")[0]:
            continue
        missing = names - EMITTED.get(route, frozenset())
        assert not missing, f"{route}: {sorted(missing)}"
