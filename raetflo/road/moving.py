"""A record moved to another address by a join, undone when its old address speaks first.

On a mutable road a join moves an established record (address, ids, keys) when it
completes, as raet does. Join packets are unsigned: anyone can send one naming an estate,
with its public keys or (under auto always) keys of their own, and the estate's own signed
packets would then be dropped as coming from the wrong source, for good. So until an
allow completes at the new address (which proves the keys there), the record remembers
where it was and what it was (a :class:`Former`); a signed packet from the old address
that verifies with the old keys moves it back, session and all, and is then handled as
usual (``join_move_reverted``). One per record, cleared by an allow; the first move kept
(a second move of an unproven record keeps the first one's former state).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..nacling import Publican, Verifier
from ..raeting import FootKind, StackError
from . import outbox

if TYPE_CHECKING:
    from .core import RoadCore
    from .estating import RemoteEstate
    from .packeting import Packet


@dataclass(slots=True)
class Former:
    """What a record was before a move: where, who, and its session."""

    ha: tuple
    name: str
    fuid: int
    main: Any
    kind: Any
    role: str
    verfer: Verifier | None
    pubber: Publican | None
    allowed: bool | None
    rsid: int


def remember(remote: RemoteEstate, sa: Any) -> Former | None:
    """The former state of ``remote`` when a join from ``sa`` is about to move it (None
    when it stays where it is, or already remembers an unproven move)."""
    if remote.former is not None or tuple(sa) == tuple(remote.ha):
        return None
    return Former(tuple(remote.ha), remote.name, remote.fuid, remote.main, remote.kind,
                  remote.role, remote.verfer, remote.pubber, remote.allowed, remote.rsid)


def former_key(remote: RemoteEstate, sa: Any) -> Verifier | None:
    """The old verify key, for a packet from the address ``remote`` moved away from."""
    former = remote.former
    if former is None or tuple(sa) != former.ha or tuple(sa) == tuple(remote.ha):
        return None
    return former.verfer


def move_back(stack: RoadCore, remote: RemoteEstate, packet: Packet, sa: Any) -> bool:
    """Undo ``remote``'s unproven move when ``packet`` (verified with the key of
    :func:`former_key`) came from its old address; whether it did."""
    former = remote.former
    if (former is None or packet.head.fk != FootKind.nacl or tuple(sa) != former.ha
            or former.verfer is None):
        return False
    remote.former = None
    moved_to = remote.ha
    if former.name != remote.name:
        try:
            stack.renameRemote(remote, former.name)
        except StackError:  # its old name is another record's now: it keeps the new one
            pass
    remote.ha = former.ha
    remote.fuid, remote.main, remote.kind, remote.role = (former.fuid, former.main,
                                                          former.kind, former.role)
    remote.verfer, remote.pubber = former.verfer, former.pubber
    remote.rsid = former.rsid
    if former.allowed and remote.publee is not None:
        remote.moved("allowed")
    stack.incStat("join_move_reverted")
    stack.console.terse(f"Stack '{stack.name}'. Remote '{remote.name}' moved to {moved_to} by "
                        f"a join that no allow proved, and spoke from {former.ha} with its "
                        "keys: moved back\n")
    stack.persist_remote(remote)
    if remote.allowed and remote.messages:
        outbox.send_saved(stack, remote)
    return True
