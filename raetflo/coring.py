"""What road and lane cores share: records, queues, statistics, events and the clock.

A core does no I/O. Its driver feeds it datagrams and the time
(``receive_datagram(data, source, now)``, ``handle_timer(now)``) and takes out what it
made: ``datagrams_to_send()``, ``next_event()`` and, for a road, the keep writes; it asks
``get_timer()`` when the core next needs ``handle_timer``. Diagnostics go to the one
``console`` sink the driver gives (anything with ioflo's console methods); by default
they are kept, bounded, in :class:`Diagnostics`.

The reference API's queues stay as attributes: ``rxes`` (datagrams in, with their
sources), ``txes`` (datagrams out, with their destinations), ``txMsgs`` (messages
waiting to be turned into datagrams) and ``rxMsgs`` (received messages, with the name of
their source).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

from . import raeting
from .events import Event


NOTHING: tuple[bytes, None] = (b"", None)  # what a server's receive gives when idle


class StackError(raeting.StackError):
    """A bad stack argument or operation (names, uids, addresses, sockets, keeps)."""


class Registry(dict):
    """A plain dict (O(1) insert and delete) whose ``keys()``, ``values()`` and ``items()``
    are lists and whose iteration tolerates removal, as the ordered dicts the reference API
    hands out do."""

    __slots__ = ()

    def __iter__(self) -> Iterator:
        """Over a snapshot of the keys: entries may be removed while iterating."""
        return iter(list(dict.keys(self)))

    def keys(self) -> list:  # type: ignore[override]
        return list(dict.keys(self))

    def values(self) -> list:  # type: ignore[override]
        return list(dict.values(self))

    def items(self) -> list:  # type: ignore[override]
        return list(dict.items(self))


class Diagnostics:
    """The default diagnostics sink: the last ``size`` lines at or below ``verbosity``.

    It speaks the console interface the cores use (``terse``, ``concise``, ``verbose``,
    ``profuse``, ``Wordage``), so a driver can give ioflo's console instead.
    """

    Wordage = SimpleNamespace(mute=0, terse=1, concise=2, verbose=3, profuse=4)

    def __init__(self, verbosity: int = 1, size: int = 1000) -> None:
        self._verbosity = verbosity
        self.lines: deque[str] = deque(maxlen=size)

    def _say(self, level: int, msg: str) -> None:
        if level <= self._verbosity:
            self.lines.append(msg)

    def terse(self, msg: str) -> None:
        self._say(1, msg)

    def concise(self, msg: str) -> None:
        self._say(2, msg)

    def verbose(self, msg: str) -> None:
        self._say(3, msg)

    def profuse(self, msg: str) -> None:
        self._say(4, msg)


class Core:
    """Base of the road and lane cores: everything here is memory and arithmetic."""

    local: Any  # the local estate or yard, set by the concrete core
    Uid: ClassVar[int] = 0  # start of the uid counter
    Count: ClassVar[int] = 0  # cores made so far, of every kind (raet's Stack.Count)
    MaxTxes: ClassVar[int] = 65536  # datagrams held in txes; past it the oldest are dropped
    MaxEvents: ClassVar[int] = 4096  # events held for next_event; past it the oldest go
    # stats types whose count of a key already held is replaced with dict's own __setitem__
    # (a driver whose stats keep their order by key adds its type: only a new key needs it)
    InPlaceStats: ClassVar[tuple[type, ...]] = (dict,)

    def __init__(self, puid: int | None = None, stats: Any = None, console: Any = None,
                 now: float = 0.0, rxMsgs: deque | None = None, txMsgs: deque | None = None,
                 rxes: deque | None = None, txes: deque | None = None) -> None:
        Core.Count += 1
        self.console = console if console is not None else Diagnostics()
        self.now = now
        self.puid = self.Uid if puid is None else puid
        self.stats = stats if stats is not None else {}
        self.rxMsgs = rxMsgs if rxMsgs is not None else deque()
        self.txMsgs = txMsgs if txMsgs is not None else deque()
        self.rxes = rxes if rxes is not None else deque()
        self.txes = txes if txes is not None else deque()
        self.events: deque[Event] = deque()
        self.remotes: Registry = Registry()  # uid -> remote
        self.nameRemotes: Registry = Registry()  # name -> remote

    uidRemotes = property(lambda self: self.remotes)

    # identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.local.name

    @name.setter
    def name(self, value: str) -> None:
        self.local.name = value

    def nextUid(self) -> int:
        """Next uid used neither by the local estate or yard nor by a remote."""
        local = getattr(self, "local", None)
        while True:
            self.puid = raeting.next_id(self.puid, raeting.UID_ROLLOVER)
            if self.puid not in self.remotes and (local is None or local.uid != self.puid):
                return self.puid

    def fetchUidByName(self, name: str) -> int | None:
        remote = self.nameRemotes.get(name)
        return remote.uid if remote is not None else None

    # statistics ---------------------------------------------------------------------------
    def incStat(self, key: str, delta: int = 1) -> None:
        stats = self.stats
        count = stats.get(key)
        if count is not None and type(stats) in self.InPlaceStats:
            dict.__setitem__(stats, key, count + delta)
        else:
            stats[key] = (0 if count is None else count) + delta

    def updateStat(self, key: str, value: int) -> None:
        self.stats[key] = value

    def clearStat(self, key: str) -> None:
        if key in self.stats:
            self.stats[key] = 0

    # events -----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Report ``event``; past ``MaxEvents`` untaken ones the oldest is dropped
        (counted ``event_overflow``), so a driver that never asks costs nothing."""
        events = self.events
        if len(events) >= self.MaxEvents:
            events.popleft()
            self.incStat("event_overflow")
        events.append(event)

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self.events.popleft() if self.events else None

    # the sans-I/O contract ------------------------------------------------------------
    def receive_datagram(self, data: bytes, source: Any, now: float) -> None:
        """Handle one datagram from ``source`` received at ``now``; never raises."""
        self.now = now
        self.handle_datagram(data, source)

    def handle_timer(self, now: float) -> None:
        """Run whatever is due at ``now``."""
        self.now = now
        self.process()

    def get_timer(self) -> float | None:
        """When ``handle_timer`` next has something to do (None: nothing is pending)."""
        return None

    def datagrams_to_send(self) -> list[tuple[bytes, Any]]:
        """Turn queued messages into datagrams and hand over every datagram to send, with
        its destination, in order."""
        self.serviceTxMsgs()
        out = list(self.txes)
        self.txes.clear()
        return out

    # hooks ------------------------------------------------------------------------------
    def handle_datagram(self, data: bytes, sa: Any) -> None:
        """Handle one received datagram; must never raise."""
        raise NotImplementedError

    def process(self) -> None:
        """Run timers."""

    def message(self, *entry: Any) -> None:
        """Turn one ``txMsgs`` entry into datagrams on ``txes``."""
        raise NotImplementedError

    # queues -----------------------------------------------------------------------------
    def serviceRxes(self) -> None:
        while self.rxes:
            self.handle_datagram(*self.rxes.popleft())

    def serviceRxOnce(self) -> None:
        if self.rxes:
            self.handle_datagram(*self.rxes.popleft())

    def serviceTxMsgs(self) -> None:
        while self.txMsgs:
            self.message(*self.txMsgs.popleft())

    def serviceTxMsgOnce(self) -> None:
        if self.txMsgs:
            self.message(*self.txMsgs.popleft())

    def tx(self, packed: Any, duid: int) -> None:
        """Queue ``packed`` (a whole datagram) for the address of remote ``duid``."""
        remote = self.remotes.get(duid)
        if remote is None:
            raise StackError(f"Invalid destination remote id '{duid}'")
        self.tx_to(packed, remote.ha)

    def tx_to(self, packed: Any, ha: Any) -> None:
        """Queue ``packed`` for address ``ha``."""
        self.txes.append((packed, ha))

    def bound_txes(self) -> None:
        """Drop the oldest held datagrams past ``MaxTxes``, counted ``tx_overflow``."""
        excess = len(self.txes) - self.MaxTxes
        if excess <= 0:
            return
        for _ in range(excess):
            self.txes.popleft()
        self.incStat("tx_overflow", excess)
        self.console.terse(f"Stack '{self.name}': dropped {excess} held datagrams past "
                           f"{self.MaxTxes}\n")
