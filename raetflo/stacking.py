"""What road and lane stacks share: queues, statistics, uids and the service loop.

A stack reads datagrams from its server into ``rxes``, handles each with
``processRx(data, sa)``, runs its timers in ``process()``, turns queued ``txMsgs`` into
datagrams with ``message(...)`` and sends ``txes`` through ``transmitted(data, ha)``.
Subclasses provide those four; everything else lives here once.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, ClassVar

from ioflo.aid.odicting import odict
from ioflo.aid.timing import StoreTimer
from ioflo.base.consoling import getConsole
from ioflo.base.storing import Store

from . import raeting


class StackError(raeting.StackError):
    """A bad stack argument or operation (names, uids, addresses, sockets, keeps)."""


class Registry(dict):
    """A plain dict (O(1) insert and delete) whose ``keys()``, ``values()`` and ``items()``
    are lists and whose iteration tolerates removal, as the ordered dicts the reference API
    hands out do."""

    def __iter__(self) -> Iterator:
        """Over a snapshot of the keys: entries may be removed while iterating."""
        return iter(list(dict.keys(self)))

    def keys(self) -> list:  # type: ignore[override]
        return list(dict.keys(self))

    def values(self) -> list:  # type: ignore[override]
        return list(dict.values(self))

    def items(self) -> list:  # type: ignore[override]
        return list(dict.items(self))


class Stack:
    """Base of RoadStack and LaneStack."""

    Uid: ClassVar[int] = 0  # start of the uid counter
    RxBudget: ClassVar[int] = 4096  # most datagrams read in one serviceReceives
    BusyStat: ClassVar[str] = "tx_busy"  # counted when a destination cannot take more now
    MaxTxes: ClassVar[int] = 65536  # datagrams held in txes; past it the oldest are dropped

    def __init__(self, store: Store | None = None, puid: int | None = None,
                 rxMsgs: deque | None = None, txMsgs: deque | None = None,
                 rxes: deque | None = None, txes: deque | None = None,
                 stats: odict | None = None, console: Any = None) -> None:
        self.console = console if console is not None else getConsole()
        self.store = store if store is not None else Store(stamp=0.0)
        self.puid = self.Uid if puid is None else puid
        self.stats = stats if stats is not None else odict()
        self.statTimer = StoreTimer(self.store)
        self.rxMsgs = rxMsgs if rxMsgs is not None else deque()
        self.txMsgs = txMsgs if txMsgs is not None else deque()
        self.rxes = rxes if rxes is not None else deque()
        self.txes = txes if txes is not None else deque()
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
        self.stats[key] = self.stats.get(key, 0) + delta

    def updateStat(self, key: str, value: int) -> None:
        self.stats[key] = value

    def clearStat(self, key: str) -> None:
        if key in self.stats:
            self.stats[key] = 0

    def clearStats(self) -> None:
        for key in self.stats:
            self.stats[key] = 0
        self.statTimer.restart()

    # hooks ------------------------------------------------------------------------------
    def processRx(self, data: bytes, sa: Any) -> None:
        """Handle one received datagram; must never raise."""
        raise NotImplementedError

    def process(self) -> None:
        """Run timers."""

    def message(self, *entry: Any) -> None:
        """Turn one ``txMsgs`` entry into datagrams on ``txes``."""
        raise NotImplementedError

    def transmitted(self, data: bytes, ha: Any) -> bool:
        """Send one datagram; False when ``ha`` cannot take it now (it is kept for later)."""
        raise NotImplementedError

    # service ----------------------------------------------------------------------------
    def serviceReceives(self) -> None:
        receive, append = self.server.receive, self.rxes.append
        for _ in range(self.RxBudget):
            item = receive()
            if item is None:
                break
            append(item)

    def serviceReceiveOnce(self) -> None:
        item = self.server.receive()
        if item is not None:
            self.rxes.append(item)

    def serviceRxes(self) -> None:
        while self.rxes:
            self.processRx(*self.rxes.popleft())

    def serviceRxOnce(self) -> None:
        if self.rxes:
            self.processRx(*self.rxes.popleft())

    def serviceTxMsgs(self) -> None:
        while self.txMsgs:
            self.message(*self.txMsgs.popleft())

    def serviceTxMsgOnce(self) -> None:
        if self.txMsgs:
            self.message(*self.txMsgs.popleft())

    def serviceTxes(self) -> None:
        """Send everything queued; a busy destination keeps its datagrams, in order."""
        busy: set = set()
        held: deque = deque()
        txes = self.txes
        while txes:
            data, ha = txes.popleft()
            if ha in busy or not self.transmitted(data, ha):
                if ha not in busy:
                    busy.add(ha)
                    self.incStat(self.BusyStat)
                held.append((data, ha))
        txes.extend(held)
        self.bound_txes()

    def serviceTxOnce(self) -> None:
        if self.txes:
            data, ha = self.txes.popleft()
            if not self.transmitted(data, ha):
                self.incStat(self.BusyStat)
                self.txes.appendleft((data, ha))
                self.bound_txes()

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

    def serviceAllRx(self) -> None:
        self.serviceReceives()
        self.serviceRxes()
        self.process()

    def serviceAllTx(self) -> None:
        self.serviceTxMsgs()
        self.serviceTxes()

    def serviceAll(self) -> None:
        """Receive and handle everything waiting, run timers, then send everything queued."""
        self.serviceAllRx()
        self.serviceAllTx()

    def serviceOneAllRx(self) -> None:
        self.serviceReceiveOnce()
        self.serviceRxOnce()
        self.process()

    def serviceOneAllTx(self) -> None:
        self.serviceTxMsgOnce()
        self.serviceTxOnce()

    def serviceServer(self) -> None:
        self.serviceReceives()
        self.serviceTxes()
