"""Key-acceptance policy: how a remote role's keys are judged against the persisted record.

Pure decision logic with no I/O; the keep loads the stored record and persists the result.
"""
from __future__ import annotations

from dataclasses import dataclass

from raetflo.raeting import Acceptance, AutoMode


@dataclass(frozen=True)
class RoleRecord:
    """The persisted acceptance state of one remote role."""

    role: str
    acceptance: Acceptance | None
    verhex: str | None
    pubhex: str | None


@dataclass(frozen=True)
class Decision:
    """Outcome of judging a role's keys.

    ``write`` is the record to persist, or ``None`` when nothing changes (a rejection never
    writes). ``reason`` says why the keys were rejected.
    """

    status: Acceptance
    write: RoleRecord | None = None
    reason: str | None = None


_PRIOR = {Acceptance.accepted: "not match prior accepted",
          Acceptance.pending: "not match prior pended",
          Acceptance.rejected: "already rejected"}


def role_status(auto: AutoMode, stored: RoleRecord | None, verhex: str, pubhex: str, *,
                role: str | None = None) -> Decision:
    """Judge the keys ``verhex``/``pubhex`` of a role under auto mode ``auto``.

    ``stored`` is the persisted record (``None`` when there is none; a record whose
    acceptance is ``None`` counts the same). ``role`` names the role when ``stored`` is
    ``None`` and defaults to the stored record's role.
    """
    auto = AutoMode(auto)
    prior = None if stored is None or stored.acceptance is None \
        else Acceptance(stored.acceptance)
    same = stored is not None and stored.verhex == verhex and stored.pubhex == pubhex
    if auto is AutoMode.always:
        status = Acceptance.accepted
    elif prior is None:
        status = Acceptance.accepted if auto is AutoMode.once else Acceptance.pending
    elif prior is Acceptance.rejected or not same:
        return Decision(Acceptance.rejected,
                        reason=f"{auto.name.capitalize()} keys {_PRIOR[prior]}")
    else:
        status = Acceptance.accepted if auto is AutoMode.once else prior
    if same and prior is status:
        return Decision(status)
    name = role if role is not None else (stored.role if stored is not None else "")
    return Decision(status, RoleRecord(name, status, verhex, pubhex))
