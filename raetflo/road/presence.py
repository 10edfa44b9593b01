"""Presence and timers of one remote record, run by the road core (records start nothing).

``manage`` starts an alive when one is due and, on a main, reaps a remote silent past the
interim; ``process`` runs the record's transaction timers and gives up saved messages past
their deadline; ``refresh`` records what an exchange with the remote showed;
``update_views`` brings the core's presence views up to date by the links that changed.
:class:`Schedule` keeps the records' presence deadlines in a heap, so a core's ``manage``
visits only the records that are due.
"""
from __future__ import annotations

import heapq
import itertools
import math
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
    timer, reap_timer, now = remote.timer, remote.reapTimer, core.now
    if (alived and timer.start == now and reap_timer.start == now
            and timer.duration == core.period and reap_timer.duration == core.interim
            and remote.link.presence is True and not remote.link.reap):
        return  # heard already at this time (every segment of a burst): nothing changes
    timer.restart(duration=core.period)
    if alived is None:
        return
    if remote.alived or alived:
        reap_timer.restart(duration=core.interim)
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


UNFILED = (math.inf, 0)  # the presence_filed of a record with no entry in the heap


def update_views(core: RoadCore) -> None:
    """Bring the core's presence views (``aliveds``, ``alloweds``, ``reapeds``,
    ``availables``) up to date for the names touched since the last call (all of them
    when more than ``MaxTouched`` were); ``changeds`` says which came alive and which went."""
    plus: set[str] = set()
    minus: set[str] = set()
    names = core.touched
    if names is None:
        names = {*core.nameRemotes, *core.aliveds, *core.alloweds, *core.reapeds}
    views = ((core.aliveds, "alived"), (core.alloweds, "allowed"), (core.reapeds, "reaped"))
    for name in names:
        remote = core.nameRemotes.get(name)
        was = name in core.aliveds
        for view, flag in views:
            if remote is not None and getattr(remote, flag):
                view[name] = remote
            else:
                view.pop(name, None)
        now = name in core.aliveds
        if now != was:
            (plus if now else minus).add(name)
            (core.availables.add if now else core.availables.discard)(name)
    core.touched = set()
    core.changeds = dict(plus=plus, minus=minus)


def deadline(remote: RemoteEstate) -> float:
    """When ``manage`` next has something to do for ``remote``: its alive timer, or its
    reap timer on a main that reaps."""
    core = remote.stack
    if core.main and core.interim > 0:
        return min(remote.timer.stop, remote.reapTimer.stop)
    return remote.timer.stop


class Schedule:
    """The presence deadlines of a core's records, in a heap.

    A record is filed when it is added and whenever one of its presence timers is moved
    earlier than the deadline it is filed at (later moves are found when its entry comes
    up, and filed again then), so the heap holds about one entry per record.
    """

    Slack = 1024  # entries past twice the records (plus this) make the heap be rebuilt

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, RemoteEstate]] = []
        self.counter = itertools.count(1)

    def file(self, remote: RemoteEstate, when: float | None = None) -> None:
        """Note ``remote``'s presence deadline (``when``, if just found) if it is earlier
        than the one filed."""
        if when is None:
            when = deadline(remote)
        if when < remote.presence_filed[0]:
            entry = (when, next(self.counter), remote)
            remote.presence_filed = entry[:2]
            heapq.heappush(self.heap, entry)

    def due(self, core: RoadCore) -> list[RemoteEstate]:
        """Take out the records of ``core`` whose presence deadline has come, in deadline
        order (file them again with ``settle`` once managed); the others that came up are
        filed again where their timers are now."""
        heap, now, remotes = self.heap, core.now, core.remotes
        due = []
        while heap and heap[0][0] <= now:
            when, seq, remote = heapq.heappop(heap)
            if remote.presence_filed[1] != seq:
                continue  # superseded by an earlier entry of the same record
            remote.presence_filed = UNFILED
            if remotes.get(remote.uid) is not remote:
                continue
            when = deadline(remote)
            if when <= now:
                due.append(remote)
            else:
                self.file(remote, when)
        self.bound(len(remotes))
        return due

    def settle(self, managed: list[RemoteEstate], now: float) -> None:
        """File the records just managed where their timers are now; a reaped one still
        past its deadline (manage leaves it alone) waits until its timers move."""
        for remote in managed:
            if not (remote.reaped and deadline(remote) <= now):
                self.file(remote)

    def bound(self, records: int) -> None:
        """Rebuild the heap from the live entries once it holds too many stale ones."""
        heap = self.heap
        if len(heap) > 2 * records + self.Slack:
            heap[:] = [entry for entry in heap if entry[2].presence_filed == entry[:2]]
            heapq.heapify(heap)
