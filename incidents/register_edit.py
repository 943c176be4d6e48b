"""``canh systems update``: field edits (set, add to a list, remove from it) applied to a system.

The fields are the spreadsheet's columns, read by the same cell parsers, so a value that imports from
a spreadsheet is accepted here and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from canh.errors import InputError
from canh.incidents.register import System, supersede_if_redetermined
from canh.incidents.register_io import (
    FIELDS,
    CellError,
    Column,
    column_of,
    field_at,
    parse_cell,
    parse_item,
    set_field,
    validation_problem,
)

# Fields with a command of their own (the workflow or the record they belong to checks them).
PROTECTED = {
    "code": "systems add",
    "dossier_status": "systems dossier",
    "decision_number": "systems dossier",
    "decision_date": "systems dossier",
    "decision_authority": "systems dossier",
    "approved_level": "systems dossier",
}
LIST_KINDS = ("list", "codes", "labels")
# Contacts are one per row in the spreadsheet; here any number, as NAME|ROLE|PHONE|EMAIL.
CONTACTS = Column("contacts", ("contacts",), "contacts")
Edit = tuple[str, str, str]  # (set|add|remove, field, value)


def editable_fields() -> list[str]:
    """Every field ``update`` may change."""
    return [name for name in FIELDS if name not in PROTECTED] + [CONTACTS.name]


def apply_edits(system: System, edits: Iterable[Edit], *, by: str, at: datetime) -> System:
    """The system with ``edits`` applied; a bad one is an InputError naming the option (``--add hosts``)."""
    doc = system.doc()
    options: dict[str, str] = {}  # field → the option that changed it, for validation messages
    for op, name, value in edits:
        option = f"--{op} {name}"
        if name in PROTECTED:
            raise InputError("register.edit_protected", where=option, command=PROTECTED[name])
        col = CONTACTS if name == CONTACTS.name else FIELDS.get(name)
        if col is None:
            raise InputError("register.edit_unknown", where=option, known=", ".join(editable_fields()))
        try:
            _apply(doc, col, op, value, option)
        except CellError as exc:
            raise InputError("register.bad_option", where=option, reason=exc.reason) from None
        options[name] = option
    try:
        new = System.model_validate(doc)
    except ValidationError as exc:
        loc, reason = validation_problem(exc)
        name = "contacts" if loc[:1] == ("contacts",) else column_of(loc)
        raise InputError("register.bad_option", where=options.get(name, name), reason=reason) from exc
    return supersede_if_redetermined(system, new, by=by, at=at)


def _apply(doc: dict[str, Any], col: Column, op: str, value: str, option: str) -> None:
    if op == "set":
        if col.kind == "contacts":
            raise InputError("register.edit_list_only", where=option)
        set_field(doc, col.path, parse_cell(col, value))
        return
    if col.kind not in (*LIST_KINDS, "contacts"):
        raise InputError("register.edit_not_list", where=option)
    items: list[Any] = list(field_at(doc, col.path) or [])
    item = parse_item(col, value)
    same = [i for i, old in enumerate(items) if _key(old) == _key(item)]
    if op == "add":
        if same:  # a label or a contact given again replaces the one it names
            items[same[0]] = item
        else:
            items.append(item)
    else:
        if not same:
            raise InputError("register.edit_no_item", where=option, value=value)
        items = [old for i, old in enumerate(items) if i not in same]
    set_field(doc, col.path, items)


def _key(item: Any) -> str:
    """What names a list item: a label by its asset, a contact by name, a value by itself (any case)."""
    if isinstance(item, dict):
        item = item.get("asset") or item.get("name") or ""
    return str(item).strip().lower()
