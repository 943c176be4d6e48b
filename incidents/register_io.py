"""Register import and export as CSV (the agencies' spreadsheets) and YAML.

A bad row is reported with its row number and column and the good rows still import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from canh.config import _reason as config_reason
from canh.errors import InputError
from canh.i18n import t
from canh.incidents.register import System
from canh.incidents.regulation import VOCABULARIES, vocabulary_code


@dataclass(frozen=True)
class Column:
    """A spreadsheet column that maps to one field of the System document.

    ``kind`` says how a cell reads and writes: text, bool, int, date, list (``;``-separated), code
    (one code of a regulation vocabulary, by code or by name), codes (a list of them), labels (trust
    labels as ``kind|asset|status|expiry``).
    """

    name: str
    path: tuple[str, ...]
    kind: str = "text"
    vocabulary: str = ""
    default: Any = None


_C = Column
# Columns filled straight from one cell; the others (dossier date, latest inspection, first contact)
# are assembled by row_to_doc from several.
FIELD_COLUMNS: tuple[Column, ...] = (
    _C("code", ("code",)),
    _C("name_vi", ("name_vi",)),
    _C("name_en", ("name_en",)),
    _C("owner_org", ("owner_org",)),
    _C("operator_unit", ("operator_unit",)),
    _C("security_unit", ("security_unit",)),
    _C("system_type", ("system_type",), default="internal"),
    _C("regime", ("regime",), default="ND85"),
    _C("proposed_level", ("proposed_level",), "int"),
    _C("approved_level", ("approved_level",), "int"),
    _C("dossier_status", ("dossier", "status"), default="draft"),
    _C("decision_number", ("dossier", "decision", "number")),
    _C("decision_date", ("dossier", "decision", "date"), "date"),
    _C("decision_authority", ("dossier", "decision", "authority")),
    _C("onsite_team", ("coverage", "onsite_team"), "bool"),
    _C("monitoring_provider", ("coverage", "monitoring_provider")),
    _C("national_connection", ("coverage", "national_connection"), "bool"),
    _C("requires_24x7", ("requires_24x7",), "bool"),
    _C("admin_procedures", ("admin_procedures",), "bool"),
    _C("hosts", ("assets", "hosts"), "list"),
    _C("cidrs", ("assets", "cidrs"), "list"),
    _C("urls", ("assets", "urls"), "list"),
    _C("national_security", ("national_security",), "bool"),
    _C("parent", ("parent",)),
    _C("info_classes", ("info_classes",), "codes", "info_class"),
    _C("secret_grade", ("secret_grade",), "code", "secret_grade"),
    _C("personal_basic", ("personal_data", "basic"), "int"),
    _C("personal_sensitive", ("personal_data", "sensitive"), "int"),
    _C("hosting", ("hosting",), "code", "hosting"),
    _C("public_ips", ("public_ips",), "list"),
    _C("domains", ("domains",), "list"),
    _C("services", ("services",), "codes", "service"),
    _C("os", ("os",), "list"),
    _C("regulation_number", ("security_regulation", "number")),
    _C("regulation_date", ("security_regulation", "date"), "date"),
    _C("plan_status", ("plan", "status"), "code", "plan_status", "not_started"),
    _C("plan_eta", ("plan", "eta"), "date"),
    _C("last_risk_assessment", ("last_risk_assessment",), "date"),
    _C("trust_labels", ("trust_labels",), "labels"),
    _C("notes", ("notes",)),
)
FIELDS: dict[str, Column] = {c.name: c for c in FIELD_COLUMNS}
_INSPECTION_COLUMNS = (
    "last_inspection",
    "last_inspection_assessor",
    "last_inspection_external",
    "last_inspection_result",
    "last_inspection_test_class",
)
_CONTACT_COLUMNS = ("contact_name", "contact_role", "contact_phone", "contact_email")
# Spreadsheet columns, in order; list cells are separated by ";".
COLUMNS: tuple[str, ...] = (
    *(c.name for c in FIELD_COLUMNS[:11]),
    "dossier_status_date",
    *(c.name for c in FIELD_COLUMNS[11:14]),
    *_INSPECTION_COLUMNS,
    *(c.name for c in FIELD_COLUMNS[14:22]),
    *_CONTACT_COLUMNS,
    *(c.name for c in FIELD_COLUMNS[22:]),
)
# Vietnamese headers people type in their own spreadsheets.
HEADER_ALIASES = {
    "mã": "code",
    "mã hệ thống": "code",
    "tên hệ thống": "name_vi",
    "tên tiếng anh": "name_en",
    "chủ quản": "owner_org",
    "cơ quan chủ quản": "owner_org",
    "đơn vị vận hành": "operator_unit",
    "đơn vị chuyên trách": "security_unit",
    "loại hệ thống": "system_type",
    "chế độ áp dụng": "regime",
    "cấp độ đề xuất": "proposed_level",
    "cấp độ được phê duyệt": "approved_level",
    "trạng thái hồ sơ": "dossier_status",
    "ngày trạng thái hồ sơ": "dossier_status_date",
    "ngày nộp hồ sơ": "dossier_status_date",
    "số quyết định": "decision_number",
    "ngày quyết định": "decision_date",
    "cơ quan phê duyệt": "decision_authority",
    "kiểm tra gần nhất": "last_inspection",
    "đơn vị kiểm tra": "last_inspection_assessor",
    "kiểm tra độc lập": "last_inspection_external",
    "kết quả kiểm tra": "last_inspection_result",
    "loại kiểm thử": "last_inspection_test_class",
    "lực lượng tại chỗ": "onsite_team",
    "đơn vị giám sát": "monitoring_provider",
    "kết nối giám sát quốc gia": "national_connection",
    "vận hành 24/7": "requires_24x7",
    "thủ tục hành chính": "admin_procedures",
    "máy chủ": "hosts",
    "dải địa chỉ ip": "cidrs",
    "địa chỉ url": "urls",
    "người liên hệ": "contact_name",
    "chức vụ": "contact_role",
    "điện thoại": "contact_phone",
    "thư điện tử": "contact_email",
    "danh mục an ninh quốc gia": "national_security",
    "hệ thống cha": "parent",
    "phân loại thông tin": "info_classes",
    "độ mật": "secret_grade",
    "số chủ thể dữ liệu cá nhân cơ bản": "personal_basic",
    "số chủ thể dữ liệu cá nhân nhạy cảm": "personal_sensitive",
    "hình thức triển khai": "hosting",
    "địa chỉ ip công khai": "public_ips",
    "tên miền": "domains",
    "dịch vụ": "services",
    "hệ điều hành": "os",
    "số quy chế": "regulation_number",
    "ngày ban hành quy chế": "regulation_date",
    "tình trạng phương án": "plan_status",
    "hạn hoàn thành phương án": "plan_eta",
    "đánh giá rủi ro gần nhất": "last_risk_assessment",
    "nhãn tín nhiệm mạng": "trust_labels",
    "ghi chú": "notes",
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
        raise CellError(column, t("register.cell_not_bool", value=cell))
    return _BOOL[key]


def _int(cell: str, column: str) -> int | None:
    text = cell.strip()
    if not text:
        return None
    if _GROUPED.fullmatch(text):
        text = re.sub(r"[. ]", "", text)
    try:
        return int(text)
    except ValueError:
        raise CellError(column, t("register.cell_not_number", value=cell)) from None


# 120.000 or 120 000: thousands as Vietnamese spreadsheets group them.
_GROUPED = re.compile(r"\d{1,3}(?:[. ]\d{3})+")


def _date(cell: str, column: str) -> str | None:
    text = cell.strip()
    if not text:
        return None
    for parse in (date.fromisoformat, _dmy):
        try:
            return parse(text).isoformat()
        except ValueError:
            continue
    raise CellError(column, t("register.cell_not_date", value=cell))


def _dmy(text: str) -> date:
    d, m, y = text.split("/")
    return date(int(y), int(m), int(d))


def _code(cell: str, column: str, vocabulary: str) -> str:
    code = vocabulary_code(vocabulary, cell)
    if code is None:
        known = ", ".join(VOCABULARIES[vocabulary])
        raise CellError(column, t("register.not_one_of", value=cell.strip(), known=known))
    return code


def _label(item: str, column: str) -> dict[str, Any]:
    """``[kind|]asset[|status[|expiry]]`` → a trust label (kind website, status valid by default)."""
    parts = [p.strip() for p in item.split("|")]
    kind = "website"
    if len(parts) > 1 and vocabulary_code("trust_label_kind", parts[0]):
        kind = _code(parts.pop(0), column, "trust_label_kind")
    if not parts[0] or len(parts) > 3:
        raise CellError(column, t("register.cell_bad_label", value=item))
    return {
        "kind": kind,
        "asset": parts[0],
        "status": _code(parts[1], column, "trust_label_status") if len(parts) > 1 and parts[1] else "valid",
        "expires": _date(parts[2], column) if len(parts) > 2 else None,
    }


def _contact(item: str, column: str) -> dict[str, str]:
    """``name|role|phone|email`` → a contact."""
    parts = [p.strip() for p in item.split("|")]
    if not parts[0] or len(parts) > 4:
        raise CellError(column, t("register.cell_bad_contact", value=item))
    parts += [""] * (4 - len(parts))
    return dict(zip(("name", "role", "phone", "email"), parts, strict=True))


class CellError(Exception):
    """A cell (or an option value) that does not read as its column's kind."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def parse_cell(col: Column, cell: str) -> Any:
    """A cell's value for the System document (CellError naming the column when it does not read)."""
    cell = cell.strip()
    kind, name = col.kind, col.name
    if kind == "bool":
        return _bool(cell, name)
    if kind == "int":
        return _int(cell, name)
    if kind == "date":
        return _date(cell, name)
    if kind == "list":
        return _split(cell)
    if kind == "codes":  # codes and their names hold no comma: a ", " list reads too
        return [_code(p, name, col.vocabulary) for p in _split(cell.replace(",", ";"))]
    if kind == "labels":
        return [_label(p, name) for p in _split(cell)]
    if kind == "code":
        return _code(cell, name, col.vocabulary) if cell else col.default
    return cell or (col.default if col.default is not None else "")


def parse_item(col: Column, cell: str) -> Any:
    """One item of a list column (``--add hosts=web-03``), as the document holds it."""
    if col.kind == "contacts":
        return _contact(cell, col.name)
    if col.kind == "labels":
        return _label(cell, col.name)
    if col.kind == "codes":
        return _code(cell, col.name, col.vocabulary)
    return cell.strip()


def render_cell(col: Column, value: Any) -> str:
    """A document value as its spreadsheet cell (the inverse of parse_cell)."""
    kind = col.kind
    if kind == "bool":
        return "yes" if value else "no"
    if kind in ("list", "codes"):
        return ";".join(value or [])
    if kind == "labels":
        return ";".join(
            f"{lb['kind']}|{lb['asset']}|{lb['status']}|{lb['expires'] or ''}".rstrip("|")
            for lb in value or []
        )
    return "" if value is None else str(value)


def set_field(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a (nested) field of a document, making the mappings on the way."""
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def field_at(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    """A (nested) field of a document, None when absent."""
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None  # type: ignore[assignment]
    return doc


def row_to_doc(row: dict[str, str]) -> dict[str, Any]:
    """A spreadsheet row as a System document (cell errors raise CellError naming the column)."""
    c = {k: (v or "").strip() for k, v in row.items()}
    g = c.get
    doc: dict[str, Any] = {}
    for col in FIELD_COLUMNS:
        set_field(doc, col.path, parse_cell(col, g(col.name, "")))
    status, since = doc["dossier"]["status"], _date(g("dossier_status_date", ""), "dossier_status_date")
    if since and status != "draft":
        # The dossier's deadlines (appraisal, approval) run from the day it reached this status.
        doc["dossier"]["history"] = [
            {"status": status, "at": f"{since}T00:00:00+00:00", "by": "import", "reasons": ""}
        ]
    last = _date(g("last_inspection", ""), "last_inspection")
    if last:
        test_class = g("last_inspection_test_class", "")
        doc["inspections"] = [
            {
                "date": last,
                "assessor": g("last_inspection_assessor", ""),
                "external": _bool(g("last_inspection_external", ""), "last_inspection_external"),
                "result": g("last_inspection_result", ""),
                "test_class": _code(test_class, "last_inspection_test_class", "test_class")
                if test_class
                else None,
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
_FIELD_COLUMN = {".".join(c.path): c.name for c in FIELD_COLUMNS} | {
    "inspections.date": "last_inspection",
    "inspections.assessor": "last_inspection_assessor",
    "inspections.result": "last_inspection_result",
    "inspections.test_class": "last_inspection_test_class",
    "contacts.name": "contact_name",
}


def column_of(loc: tuple[Any, ...]) -> str:
    """The spreadsheet column of a validation error's location (the field's own name if none)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in _FIELD_COLUMN:
            return _FIELD_COLUMN[".".join(parts[:n])]
    return ".".join(parts)


def validation_problem(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    """The first problem of a validation error: where, and why in the user's language."""
    err = exc.errors()[0]
    kind = err["type"]
    if kind == "missing":
        reason = t("register.missing_field")
    elif kind == "extra_forbidden":
        reason = t("register.unknown_field")
    elif kind.startswith(("date_", "datetime_")):
        reason = t("register.cell_not_date", value=err.get("input"))
    else:
        reason = config_reason(err)  # the config's wording for types, choices and ranges
    return tuple(err["loc"]), reason


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
        except CellError as exc:
            result.errors.append(
                InputError("register.bad_cell", where=where, column=exc.column, reason=exc.reason)
            )
            continue
        except ValidationError as exc:
            loc, reason = validation_problem(exc)
            result.errors.append(
                InputError("register.bad_cell", where=where, column=column_of(loc), reason=reason)
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
    doc = s.doc()
    row = {col.name: render_cell(col, field_at(doc, col.path)) for col in FIELD_COLUMNS}
    last = max(s.inspections, key=lambda i: i.date, default=None)
    contact = s.contacts[0] if s.contacts else None
    row["dossier_status_date"] = next(
        (h.at.date().isoformat() for h in reversed(s.dossier.history) if h.status == s.dossier.status), ""
    )
    row |= {
        "last_inspection": last.date.isoformat() if last else "",
        "last_inspection_assessor": last.assessor if last else "",
        "last_inspection_external": ("yes" if last.external else "no") if last else "",
        "last_inspection_result": last.result if last else "",
        "last_inspection_test_class": (last.test_class or "") if last else "",
        "contact_name": contact.name if contact else "",
        "contact_role": contact.role if contact else "",
        "contact_phone": contact.phone if contact else "",
        "contact_email": contact.email if contact else "",
    }
    return {name: row[name] for name in COLUMNS}


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
            loc, reason = validation_problem(exc)
            result.errors.append(
                InputError(
                    "register.bad_field", where=where, field=".".join(str(p) for p in loc), reason=reason
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
