"""What the road core asks of a keep it never touches: the writes to make, and a book of
role acceptance records (decisions made since the last flush, over what the driver looks
up)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .acceptance import RoleRecord


class RoleLookupError(Exception):
    """A driver could not look up a role record (its keep failed)."""


RoleSource = Callable[[str], tuple[RoleRecord | None, bool]]


class RoleBook:
    """Acceptance records by role.

    ``source(role)`` (given by a driver) looks a role up where it is persisted and returns
    ``(record or None, damaged)``, ``damaged`` saying the persisted record was lost; it may
    raise :class:`RoleLookupError`. Decisions made since the last ``settle()`` override
    it (they are not persisted yet). With no source the book is all in memory.
    """

    def __init__(self, source: RoleSource | None = None) -> None:
        self.source = source
        self.decided: dict[str, RoleRecord] = {}
        self.damaged: set[str] = set()  # roles the source said were lost, until settled

    def get(self, role: str) -> tuple[RoleRecord | None, bool]:
        record = self.decided.get(role)
        if record is not None or self.source is None:
            return record, role in self.damaged
        record, damaged = self.source(role)
        if damaged:
            self.damaged.add(role)
        return record, damaged

    def put(self, record: RoleRecord) -> None:
        self.decided[record.role] = record

    def settle(self) -> None:
        """What was decided is persisted now: the source is the truth again."""
        if self.source is not None:
            self.decided.clear()
            self.damaged.clear()


@dataclass(frozen=True, slots=True)
class KeepWrite:
    """One write the driver makes to the keep: ``kind`` is ``remote`` (the record
    ``target`` and its role), ``local`` (the local estate ``target`` and its role),
    ``forget_remote`` (the file of remote name ``target``), ``forget_role`` (the file
    of role ``target``) or ``journal`` (lines ``target`` to add to the delivery journal;
    none: write it whole again, as the driver does after a failed append)."""

    kind: str
    target: Any

    @property
    def label(self) -> str:
        """What is written, for a log line."""
        if self.kind == "journal":
            lines = self.target.count(b"\n")
            return f"journal of {lines} deliveries" if lines else "journal, whole"
        return f"{self.kind.replace('_', ' ')} {getattr(self.target, 'name', self.target)}"
