"""The polled driver base of road and lane stacks: a server, ioflo's console and Store
time around a core (see :mod:`raetflo.coring`).

``serviceAll()`` reads every waiting datagram from the server into ``rxes``, feeds them
to the core, runs its timers, turns queued ``txMsgs`` into datagrams, writes what the
core asks to persist (``flush``) and only then sends. Subclasses provide
``transmitted(data, ha)`` and, when they persist anything, ``flush()``.
"""
from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from ioflo.aid.odicting import odict
from ioflo.aid.timing import StoreTimer
from ioflo.base.consoling import getConsole
from ioflo.base.storing import Store

from .bodies import BUILDERS
from .coring import NOTHING, Core, Registry, StackError

__all__ = ["Stack", "StackError", "Registry"]


def odict_of(pairs: list[tuple[Any, Any]], _new: Any = dict.__new__,
             _update: Any = dict.update, _keys: Any = dict.keys) -> odict:
    """The odict of a decoded map's pairs (first places, last values), as ``odict(pairs)``
    makes it, without its per-key Python steps: a received body's maps are built twice as
    fast, and a body of many small maps costs a peer's time less."""
    new = _new(odict)
    if pairs:
        _update(new, pairs)
        new._keys = list(_keys(new))
    else:
        new._keys = []
    return new


BUILDERS[odict] = odict_of


class Stack(Core):
    """Base of RoadStack and LaneStack: a core whose time is its Store's stamp.

    A driver lists it before its core (``class RoadStack(Stack, RoadCore)``): its ``now``
    is the Store's and its ``__init__`` hands the rest on to the core's."""

    server: Any  # the socket (or anything with send/receive/close), set by the driver
    RxBudget: ClassVar[int] = 4096  # most datagrams read in one serviceReceives
    BusyStat: ClassVar[str] = "tx_busy"  # counted when a destination cannot take more now
    InPlaceStats = (dict, odict)  # an odict keeps its order by key (see Core.incStat)

    def __init__(self, store: Store | None = None, stats: odict | None = None,
                 console: Any = None, **kwa: Any) -> None:
        """``kwa`` goes on to the core (the next class in the driver's MRO)."""
        self.store = store if store is not None else Store(stamp=0.0)
        super().__init__(stats=stats if stats is not None else odict(),
                         console=console if console is not None else getConsole(),
                         now=self.store.stamp, **kwa)
        self.statTimer = StoreTimer(self.store)

    @property
    def now(self) -> float:
        """The Store's stamp: the driver's clock is the house's (or the test's)."""
        return self.store.stamp

    @now.setter
    def now(self, value: float) -> None:
        if value != self.store.stamp:
            self.store.changeStamp(value)

    def clearStats(self) -> None:
        for key in self.stats:
            self.stats[key] = 0
        self.statTimer.restart()

    # hooks ------------------------------------------------------------------------------
    def transmitted(self, data: bytes, ha: Any) -> bool:
        """Send one datagram; False when ``ha`` cannot take it now (it is kept for later)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Persist what the core asked for, before any datagram that depends on it goes."""

    # service ----------------------------------------------------------------------------
    rx_drained = True  # the last serviceReceives emptied the socket

    def serviceReceives(self, budget: int | None = None) -> None:
        """Read up to ``budget`` (``RxBudget``) waiting datagrams into ``rxes``;
        ``rx_drained`` says whether the socket had no more."""
        receive, append = self.server.receive, self.rxes.append
        self.rx_drained = False
        for _ in range(self.RxBudget if budget is None else budget):
            item = receive()
            if item == NOTHING:  # nothing waiting
                self.rx_drained = True
                return
            append(item)

    def serviceReceiveOnce(self) -> None:
        item = self.server.receive()
        if item != NOTHING:
            self.rxes.append(item)

    def serviceTxes(self) -> None:
        """Persist, then send everything queued; a busy destination keeps its datagrams,
        in order."""
        self.flush()
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
        self.flush()
        if self.txes:
            data, ha = self.txes.popleft()
            if not self.transmitted(data, ha):
                self.incStat(self.BusyStat)
                self.txes.appendleft((data, ha))
                self.bound_txes()

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

    def close(self) -> None:
        """Close the server: from then on nothing is read, and what is sent is counted as
        not sent (closing again does nothing)."""
        self.server.close()
