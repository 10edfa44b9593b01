"""Which records a road core keeps for estates it has not (yet) accepted.

- Pending: under ``auto never`` (or ``once`` with new keys) a main keeps the record of a
  joining estate for the operator's decision; ``stack.pendings`` (uid -> expiry, in expiry
  order) forgets it, with its file, ``PendingTimeout`` after its last join attempt.
- Unproven: a join is unsigned, so anyone can make one. ``stack.unproven`` (uid -> when,
  in join order) holds the records of new estates joined in this run that no allow has
  proved yet; a full road (``MaxRemotes``) forgets the oldest of them past
  ``UnprovenTimeout`` to let a new estate in.
- Unjoined: the record of a new estate whose join ended unfinished is kept
  (``stack.unjoined_held``), the oldest forgotten past ``MaxPendingRemotes`` of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..raeting import Acceptance

if TYPE_CHECKING:
    from .core import RoadCore
    from .estating import RemoteEstate


def note_pending(stack: RoadCore, remote: RemoteEstate) -> None:
    """(Re)start the wait of ``remote``'s record for the operator (a join attempt)."""
    stack.pendings.pop(remote.uid, None)
    stack.pendings[remote.uid] = stack.now + stack.PendingTimeout


def still_pending(stack: RoadCore, remote: RemoteEstate) -> bool:
    """Whether ``remote``'s keys still await the operator (a failed lookup says yes)."""
    if remote.joined:
        return False
    status = stack.judge(remote.role, remote.verhex, remote.pubhex, remote)
    if status is not None:
        remote.acceptance = status
    return status is None or status == Acceptance.pending


def expire_pendings(stack: RoadCore) -> None:
    """Forget the records that awaited the operator ``PendingTimeout`` past their last
    join attempt, with their files (and a role's file when no record holds it any more)."""
    now, expired = stack.now, []
    pendings = stack.pendings
    while pendings:
        uid, expiry = next(iter(pendings.items()))
        if expiry > now:
            break
        del pendings[uid]
        remote = stack.remotes.get(uid)
        if remote is not None and still_pending(stack, remote):
            stack.removeRemote(remote)
            expired.append(remote)
    if not expired:
        return
    held = {remote.role for remote in stack.remotes.values()}
    for remote in expired:
        stack.incStat("pending_expired")
        stack.console.terse(f"Stack '{stack.name}': forgot remote {remote.name}, pending "
                            f"for {stack.PendingTimeout} s since its last join\n")
        if remote.role not in held:
            held.add(remote.role)
            stack.forget_role_file(remote.role)


def make_room(stack: RoadCore) -> bool:
    """Forget the record of the estate that joined first, over ``UnprovenTimeout`` ago in
    this run, and never completed an allow, to let a new estate join instead; False when
    there is none."""
    unproven = stack.unproven
    while unproven:
        uid, when = next(iter(unproven.items()))
        remote = stack.remotes.get(uid)
        if remote is None or remote.allowed:  # (an allow or a removal pops it; to be sure)
            del unproven[uid]
            continue
        if stack.now - when < stack.UnprovenTimeout:
            return False
        stack.incStat("join_unproven_evicted")
        stack.console.terse(f"Stack '{stack.name}'. Remote '{remote.name}' joined "
                            f"{stack.now - when:.0f} s ago and never allowed: forgotten "
                            "to make room for a new estate\n")
        stack.removeRemote(remote)
        return True
    return False


def no_room(stack: RoadCore, remote: RemoteEstate, name: str, status: int
            ) -> tuple[str, str] | None:
    """Why a join from a new estate ``name`` (its record ``remote``, its keys judged
    ``status``) is refused, as (stat, reason), or None: past ``MaxRemotes`` records (when
    no unproven one makes room), or while ``MaxPendingRemotes`` others await the operator
    if it would await him too. A known record or name is never refused here."""
    if remote.uid in stack.remotes or name in stack.nameRemotes:
        return None
    if len(stack.remotes) >= stack.MaxRemotes and not make_room(stack):
        return "join_remote_overload", f"{len(stack.remotes)} remotes"
    if status == Acceptance.pending and len(stack.pendings) >= stack.MaxPendingRemotes:
        return "join_pending_overload", f"{len(stack.pendings)} remotes await acceptance"
    return None


def hold_unjoined(stack: RoadCore, remote: RemoteEstate) -> None:
    """Keep the record of a new estate whose join ended unfinished; past
    ``MaxPendingRemotes`` of them the oldest still unjoined one is forgotten."""
    held = stack.unjoined_held
    held[remote.uid] = None
    while len(held) > stack.MaxPendingRemotes:
        uid = next(iter(held))
        del held[uid]
        old = stack.remotes.get(uid)
        if old is not None and not old.joined:
            stack.removeRemote(old, clear=False)
