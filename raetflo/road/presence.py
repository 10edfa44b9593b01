"""Presence and timers of one remote record, run by the road core (records start nothing).

``manage`` starts an alive when one is due and, on a main, reaps a remote silent past the
interim; ``process`` runs the record's transaction timers and gives up saved messages past
their deadline; ``refresh`` records what an exchange with the remote showed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import outbox

if TYPE_CHECKING:
    from .core import RoadCore
    from .estating import RemoteEstate


def manage(core: RoadCore, remote: RemoteEstate, cascade: bool = False,
           immediate: bool = False) -> None:
    """Start an alive when presence is due; reap when silent past the interim.

    Messages waiting for an allow that is not under way start one (with its join); on an
    allowed link they are sent.
    """
    if remote.messages and not remote.allowInProcess():
        if not remote.allowed and not remote.transactions:
            core.allow(uid=remote.uid, cascade=True)
            return
        if remote.allowed:
            outbox.send_saved(core, remote)
    if remote.reaped:
        return
    if immediate or remote.timer.expired:
        core.alive(uid=remote.uid, cascade=cascade)
    if core.interim > 0 and remote.reapTimer.expired:
        reap(core, remote)


def process(core: RoadCore, remote: RemoteEstate) -> None:
    """Run the timers of every transaction, then drop saved messages past their deadline."""
    for transaction in remote.transactions.values():
        core.run_timer(transaction)
    for entry in remote.messages.expire(core.now):
        outbox.give_up(core, remote, entry, "timed out")


def refresh(core: RoadCore, remote: RemoteEstate, alived: bool | None = True) -> None:
    """Restart the presence timer; record liveness when ``alived`` is not None."""
    remote.timer.restart(duration=core.period)
    if alived is None:
        return
    if remote.alived or alived:
        remote.reapTimer.restart(duration=core.interim)
        if remote.reaped:
            unreap(core, remote)
    remote.moved("alive" if alived else "dead")


def reap(core: RoadCore, remote: RemoteEstate) -> None:
    """A main gives up on a silent remote (until it is heard again)."""
    if core.main:
        remote.moved("reaped")
        core.incStat("remote_reap")
        core.console.concise(f"Stack {core.name}: Reaping dead remote {remote.name} at "
                             f"{core.now}\n")


def unreap(core: RoadCore, remote: RemoteEstate) -> None:
    """A reaped remote was heard again."""
    remote.reapTimer.restart(duration=core.interim)
    if core.main:
        remote.moved("unreaped")
        core.incStat("remote_unreap")
        core.console.concise(f"Stack {core.name}: Unreaping dead remote {remote.name} at "
                             f"{core.now}\n")
