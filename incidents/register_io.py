"""Register import and export as CSV (the agencies' spreadsheets) and YAML.

A bad row is reported with its row number and column and the good rows still import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from canh.incidents.register import System
from pydantic import ValidationError

from canh.errors import InputError

# Spreadsheet columns, in order; list cells are separated by ";".
COLUMNS = (
    "code",
    "name_vi",
    "name_en",
    "owner_org",
    "operator_unit",
    "security_unit",
    "system_type",
    "regime",
    "proposed_level",
    "approved_level",
    "dossier_status",
    "dossier_status_date",
    "decision_number",
    "decision_date",
    "decision_authority",
    "last_inspection",
    "last_inspection_assessor",
    "last_inspection_external",
    "onsite_team",
    "monitoring_provider",
    "national_connection",
    "requires_24x7",
    "admin_procedures",
    "hosts",
    "cidrs",
    "urls",
    "contact_name",
    "contact_role",
    "contact_phone",
    "contact_email",
    "notes",
)
# Vietnamese headers people type in their own spreadsheets.
HEADER_ALIASES = {
    "mã": "code",
    "mã hệ thống": "code",
    "tên hệ thống": "name_vi",
    "tên tiếng anh": "name_en",
    "chủ quản": "owner_org",
    "đơn vị vận hành": "operator_unit",
    "đơn vị chuyên trách": "security_unit",
    "cấp độ đề xuất": "proposed_level",
    "cấp độ được phê duyệt": "approved_level",
    "trạng thái hồ sơ": "dossier_status",
    "ngày trạng thái hồ sơ": "dossier_status_date",
    "ngày nộp hồ sơ": "dossier_status_date",
    "số quyết định": "decision_number",
    "ngày quyết định": "decision_date",
    "cơ quan phê duyệt": "decision_authority",
    "kiểm tra gần nhất": "last_inspection",
}
_BOOL = {
    "1": True,
    "true": True,
    "yes": True,
    "x": True,
    "có": True,
    "co": True,
    "0": False,
    "false": False,
    "no": False,
    "": False,
    "không": False,
    "khong": False,
}


@dataclass
class ImportResult:
    """Systems read, and one message per bad row (``row N, column C: reason``)."""

    systems: list[System] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def _split(cell: str) -> list[str]:
    return [p.strip() for p in cell.replace("\n", ";").split(";") if p.strip()]


def _bool(cell: str, column: str) -> bool:
    key = cell.strip().lower()
    if key not in _BOOL:
        raise _CellError(column, f"not yes/no: {cell!r}")
    return _BOOL[key]


def _int(cell: str, column: str) -> int | None:
    if not cell.strip():
        return None
    try:
        return int(cell.strip())
    except ValueError:
        raise _CellError(column, f"not a number: {cell!r}") from None


def _date(cell: str, column: str) -> str | None:
    text = cell.strip()
    if not text:
        return None
    for parse in (date.fromisoformat, _dmy):
        try:
            return parse(text).isoformat()
        except ValueError:
            continue
    raise _CellError(column, f"not a date (YYYY-MM-DD or DD/MM/YYYY): {cell!r}")


def _dmy(text: str) -> date:
    d, m, y = text.split("/")
    return date(int(y), int(m), int(d))


class _CellError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def row_to_doc(row: dict[str, str]) -> dict[str, Any]:
    """A spreadsheet row as a System document (cell errors raise _CellError naming the column)."""
    c = {k: (v or "").strip() for k, v in row.items()}
    g = c.get
    doc: dict[str, Any] = {
        "code": g("code", ""),
        "name_vi": g("name_vi", ""),
        "name_en": g("name_en", ""),
        "owner_org": g("owner_org", ""),
        "operator_unit": g("operator_unit", ""),
        "security_unit": g("security_unit", ""),
        "system_type": g("system_type") or "internal",
        "regime": g("regime") or "ND85",
        "proposed_level": _int(g("proposed_level", ""), "proposed_level"),
        "approved_level": _int(g("approved_level", ""), "approved_level"),
        "requires_24x7": _bool(g("requires_24x7", ""), "requires_24x7"),
        "admin_procedures": _bool(g("admin_procedures", ""), "admin_procedures"),
        "dossier": {
            "status": g("dossier_status") or "draft",
            "decision": {
                "number": g("decision_number", ""),
                "date": _date(g("decision_date", ""), "decision_date"),
                "authority": g("decision_authority", ""),
            },
        },
        "coverage": {
            "onsite_team": _bool(g("onsite_team", ""), "onsite_team"),
            "monitoring_provider": g("monitoring_provider", ""),
            "national_connection": _bool(g("national_connection", ""), "national_connection"),
        },
        "assets": {
            "hosts": _split(g("hosts", "")),
            "cidrs": _split(g("cidrs", "")),
            "urls": _split(g("urls", "")),
        },
        "notes": g("notes", ""),
    }
    status, since = doc["dossier"]["status"], _date(g("dossier_status_date", ""), "dossier_status_date")
    if since and status != "draft":
        # The dossier's deadlines (appraisal, approval) run from the day it reached this status.
        doc["dossier"]["history"] = [
            {"status": status, "at": f"{since}T00:00:00+00:00", "by": "import", "reasons": ""}
        ]
    last = _date(g("last_inspection", ""), "last_inspection")
    if last:
        doc["inspections"] = [
            {
                "date": last,
                "assessor": g("last_inspection_assessor", ""),
                "external": _bool(g("last_inspection_external", ""), "last_inspection_external"),
            }
        ]
    if g("contact_name"):
        doc["contacts"] = [
            {
                "name": g("contact_name", ""),
                "role": g("contact_role", ""),
                "phone": g("contact_phone", ""),
                "email": g("contact_email", ""),
            }
        ]
    return doc


# Model fields → the spreadsheet column that fed them, so a validation error names the column.
_FIELD_COLUMN = {
    "dossier.status": "dossier_status",
    "dossier.decision.number": "decision_number",
    "assets.cidrs": "cidrs",
    "assets.hosts": "hosts",
    "assets.urls": "urls",
}


def _column_of(loc: tuple[Any, ...]) -> str:
    dotted = ".".join(str(p) for p in loc if not isinstance(p, int))
    return _FIELD_COLUMN.get(dotted, dotted.split(".")[-1])


def read_csv(text: str, source: str = "<csv>") -> ImportResult:
    """Systems from a CSV export (UTF-8, with or without BOM; ``,`` or ``;`` separated)."""
    text = text.lstrip("\ufeff")
    # Only the separator is guessed (spreadsheets in a Vietnamese locale write ";"); quoting is Excel's.
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text), dialect=csv.excel, delimiter=delimiter)
    reader.fieldnames = [HEADER_ALIASES.get(h.strip().lower(), h.strip()) for h in reader.fieldnames or []]
    unknown = [h for h in reader.fieldnames if h not in COLUMNS]
    result = ImportResult()
    if "code" not in reader.fieldnames or "name_vi" not in reader.fieldnames:
        result.errors.append(
            InputError("register.missing_columns", where=f"{source}:1", columns="code, name_vi")
        )
        return result
    if unknown:
        result.errors.append(
            InputError("register.unknown_columns", where=f"{source}:1", columns=", ".join(unknown))
        )
    seen: set[str] = set()
    for rowno, row in enumerate(reader, start=2):  # row 1 is the header, as the spreadsheet numbers it
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        where = f"{source}: row {rowno}"
        try:
            doc = row_to_doc({k: v for k, v in row.items() if k in COLUMNS})
            system = System.model_validate(doc)
        except _CellError as exc:
            result.errors.append(
                InputError("register.bad_cell", where=where, column=exc.column, reason=exc.reason)
            )
            continue
        except ValidationError as exc:
            err = exc.errors()[0]
            result.errors.append(
                InputError("register.bad_cell", where=where, column=_column_of(err["loc"]), reason=err["msg"])
            )
            continue
        if system.code in seen:
            result.errors.append(
                InputError("register.duplicate", where=where, column="code", code=system.code)
            )
            continue
        seen.add(system.code)
        result.systems.append(system)
    return result


def system_to_row(s: System) -> dict[str, str]:
    """A System as one spreadsheet row (the latest inspection and first contact only)."""
    last = max(s.inspections, key=lambda i: i.date, default=None)
    contact = s.contacts[0] if s.contacts else None

    def yn(b: bool) -> str:
        return "yes" if b else "no"

    return {
        "code": s.code,
        "name_vi": s.name_vi,
        "name_en": s.name_en,
        "owner_org": s.owner_org,
        "operator_unit": s.operator_unit,
        "security_unit": s.security_unit,
        "system_type": s.system_type,
        "regime": s.regime,
        "proposed_level": str(s.proposed_level or ""),
        "approved_level": str(s.approved_level or ""),
        "dossier_status": s.dossier.status,
        "dossier_status_date": next(
            (h.at.date().isoformat() for h in reversed(s.dossier.history) if h.status == s.dossier.status), ""
        ),
        "decision_number": s.dossier.decision.number,
        "decision_date": s.dossier.decision.date.isoformat() if s.dossier.decision.date else "",
        "decision_authority": s.dossier.decision.authority,
        "last_inspection": last.date.isoformat() if last else "",
        "last_inspection_assessor": last.assessor if last else "",
        "last_inspection_external": yn(last.external) if last else "",
        "onsite_team": yn(s.coverage.onsite_team),
        "monitoring_provider": s.coverage.monitoring_provider,
        "national_connection": yn(s.coverage.national_connection),
        "requires_24x7": yn(s.requires_24x7),
        "admin_procedures": yn(s.admin_procedures),
        "hosts": ";".join(s.assets.hosts),
        "cidrs": ";".join(s.assets.cidrs),
        "urls": ";".join(s.assets.urls),
        "contact_name": contact.name if contact else "",
        "contact_role": contact.role if contact else "",
        "contact_phone": contact.phone if contact else "",
        "contact_email": contact.email if contact else "",
        "notes": s.notes,
    }


def write_csv(systems: Iterable[System]) -> str:
    """The register as CSV with a BOM, so spreadsheet programs read the Vietnamese correctly."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\r\n")
    w.writeheader()
    for s in systems:
        w.writerow(system_to_row(s))
    return "\ufeff" + buf.getvalue()


def read_yaml(text: str, source: str = "<yaml>") -> ImportResult:
    """Systems from YAML: a list of system mappings (or ``{systems: [...]}``)."""
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise InputError(
            "register.bad_yaml", where=f"{source}{line}", reason=str(exc).splitlines()[0]
        ) from exc
    if isinstance(data, dict):
        data = data.get("systems", [])
    result = ImportResult()
    for i, item in enumerate(data if isinstance(data, list) else [], start=1):
        where = f"{source}: system {i}"
        try:
            result.systems.append(System.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            result.errors.append(
                InputError(
                    "register.bad_cell",
                    where=where,
                    column=".".join(str(p) for p in err["loc"]),
                    reason=err["msg"],
                )
            )
    return result


def write_yaml(systems: Iterable[System]) -> str:
    """The register as YAML (every field, whole histories)."""
    return yaml.safe_dump({"systems": [s.doc() for s in systems]}, allow_unicode=True, sort_keys=False)


def read_file(path: Path) -> ImportResult:
    """Import by extension: .csv, or .yml/.yaml."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("register.unreadable", where=str(path), reason=str(exc)) from exc
    if path.suffix.lower() in (".yml", ".yaml"):
        return read_yaml(text, path.name)
    return read_csv(text, path.name)
