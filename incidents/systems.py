"""The register in the store: ``systems`` documents, audited, with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from canh.clock import Clock
from canh.errors import ConflictError, InputError, NotFoundError
from canh.incidents.audit import audit_entry, diff, write_audit
from canh.incidents.register import (
    HOST_FIELDS,
    AssetIndex,
    Decision,
    Inspection,
    System,
    monitored_systems,
    move_dossier,
)
from canh.incidents.register_io import validation_problem
from canh.store.base import NEW, Store, Versioned

# Fields that name the machine an event came from: a system is monitored when its own assets send
# events, not when they only appear as a destination in someone else's firewall log.
SEEN_FIELDS = (*HOST_FIELDS[:3], "host.ip", "observer.ip")


def system_from_doc(doc: dict[str, Any], where: str = "") -> System:
    """A System from a stored or imported dict; a bad one is an InputError naming the field."""
    try:
        return System.model_validate(doc)
    except ValidationError as exc:
        loc, reason = validation_problem(exc)
        field = ".".join(str(p) for p in loc)
        raise InputError(
            "register.bad_field", where=where or str(doc.get("code", "?")), field=field, reason=reason
        ) from exc


class Register:
    """Read and change the register; every change is written to the audit stream."""

    def __init__(self, store: Store, clock: Clock, actor: str = "canh") -> None:
        self.store = store
        self.clock = clock
        self.actor = actor

    def get(self, code: str) -> System:
        v = self.store.get_doc("systems", code)
        if v is None:
            raise NotFoundError("register.not_found", where=code)
        return system_from_doc(v.doc, code)

    def get_versioned(self, code: str) -> tuple[System, Versioned]:
        v = self.store.get_doc("systems", code)
        if v is None:
            raise NotFoundError("register.not_found", where=code)
        return system_from_doc(v.doc, code), v

    def all(self) -> list[System]:
        self.store.refresh()
        return [
            system_from_doc(v.doc, v.id) for v in self.store.find_docs("systems", limit=100_000, sort="code")
        ]

    def save(self, system: System, *, expect: Versioned | None = None, action: str = "update") -> Versioned:
        """Create (no ``expect``) or update a system, auditing the changed fields."""
        doc = system.doc()
        before = expect.doc if expect is not None else None
        try:
            v = self.store.put_doc("systems", system.code, doc, expect=expect if expect is not None else NEW)
        except ConflictError as exc:
            current = exc.current if isinstance(exc.current, Versioned) else None
            raise _conflict(system.code, current or self.store.get_doc("systems", system.code)) from exc
        write_audit(
            self.store,
            audit_entry(
                "systems",
                system.code,
                "create" if expect is None else action,
                self.actor,
                self.clock.now(),
                diff(before, doc),
                v.version,
            ),
        )
        return v

    def upsert(self, system: System) -> str:
        """Create or replace a system from an import; returns created|updated|unchanged."""
        current = self.store.get_doc("systems", system.code)
        if current is None:
            self.save(system)
            return "created"
        if current.doc == system.doc():
            return "unchanged"
        self.save(system, expect=current, action="import")
        return "updated"

    def change(
        self,
        code: str,
        fn: Callable[[System, datetime], System],
        *,
        expect: int | None = None,
        action: str = "update",
    ) -> tuple[System, Versioned]:
        """Apply ``fn`` to the system and write it back with the version read.

        ``expect`` is the version the user looked at (``--expect-version``): if the system moved on
        since, the change is refused with the fresh state, as for incidents.
        """
        system, v = self.get_versioned(code)
        if expect is not None and expect != v.version:
            raise _conflict(code, v)
        new = fn(system, self.clock.now())
        if new.code != code:
            raise InputError("register.code_fixed", where=code)
        return new, self.save(new, expect=v, action=action)

    def move(
        self,
        code: str,
        target: str,
        *,
        reasons: str = "",
        decision: Decision | None = None,
        expect: int | None = None,
    ) -> System:
        """Move a system's dossier along its workflow (audited)."""

        def fn(system: System, now: datetime) -> System:
            return move_dossier(system, target, by=self.actor, at=now, reasons=reasons, decision=decision)

        return self.change(code, fn, expect=expect, action=f"dossier.{target}")[0]

    def inspect(self, code: str, inspection: Inspection, *, expect: int | None = None) -> System:
        """Record an inspection or assessment (the next due date follows from it)."""

        def fn(system: System, now: datetime) -> System:
            new = system.model_copy(deep=True)
            new.inspections.append(inspection)
            new.inspections.sort(key=lambda i: i.date)
            return new

        return self.change(code, fn, expect=expect, action="inspect")[0]

    def history(self, code: str) -> list[dict[str, Any]]:
        """The audit trail of one system, oldest first: who changed what, when."""
        self.store.refresh()
        entries = self.store.search(
            "audit", "object.id:" + quoted(f"systems/{code}"), limit=100_000, order="asc"
        )
        return sorted(entries, key=lambda e: (str(e.get("@timestamp", "")), e["object"]["version"]))

    def delete(self, code: str) -> None:
        _, v = self.get_versioned(code)
        self.store.delete_doc("systems", code, expect=v)
        write_audit(
            self.store,
            audit_entry(
                "systems", code, "delete", self.actor, self.clock.now(), diff(v.doc, None), v.version + 1
            ),
        )

    def index(self, systems: Iterable[System] | None = None) -> AssetIndex:
        return AssetIndex(self.all() if systems is None else systems)

    def monitored(self, index: AssetIndex, window: timedelta = timedelta(hours=24)) -> set[str]:
        """Systems whose assets sent events within ``window`` (the derived monitoring layer)."""
        since = self.clock.now() - window
        seen = {
            f: [
                str(b.key)
                for b in self.store.terms("events", f, since=since, until=self.clock.now(), size=5000)
            ]
            for f in SEEN_FIELDS
        }
        return monitored_systems(index, seen)


def quoted(text: str) -> str:
    """``text`` as a Lucene phrase (quotes and backslashes escaped), for a query on an exact value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _conflict(code: str, current: Versioned | None) -> ConflictError:
    return ConflictError(
        "register.conflict", where=code, current=current, version=current.version if current else "?"
    )
