"""LaneStack: the polled driver of a lane core (one yard's Unix datagram socket).

The yards, paging and books are the core's (:mod:`raetflo.lane.core`); this driver adds
what touches the system: the socket directory, the bound socket, ioflo's console and
Store time. ``serviceAll()`` reads the socket, feeds the core, expires books and sends.
"""
from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from ioflo.aid.odicting import odict
from ioflo.base.storing import Store

from ..stacking import Stack, StackError
from . import pages, paging, transport
from ..raeting import PackKind
from .core import LaneCore
from .paging import PageError
from .transport import Outcome, UxdServer
from .yarding import Yard, place

__all__ = ["LaneStack", "StackError", "PackKind"]  # (raet code takes PackKind from here)


class LaneStack(Stack, LaneCore):
    """A yard on a lane: sends message mappings to remote yards and receives theirs.

    ``transmit(msg, uid)`` queues, ``serviceAll()`` receives, delivers ``(msg, source_name)``
    to ``rxMsgs`` and sends. Unknown senders are added as remotes (unless ``accept`` is
    false). Bad pages are dropped and counted in ``stats``, never raised.
    """

    EmitMessages: ClassVar[bool] = False  # received messages go to rxMsgs only
    MaxRxMsgs: ClassVar[int] = 65536  # messages waiting in rxMsgs; past it none is read
    GoneCheckPeriod: ClassVar[float] = 1.0  # least seconds between looks for gone yards
    BodyMap: ClassVar[type] = odict  # as ioflo odicts, as the reference delivers them
    BusyStat: ClassVar[str] = transport.BUSY_STAT

    def __init__(self, name: str = "", uid: int | None = None, lanename: str = "lane",
                 sockdirpath: str = "", ha: str = "", bufcnt: int = 100,
                 accept: bool | None = None, store: Store | None = None, main: Any = None,
                 puid: int | None = None, local: Yard | None = None, server: Any = None,
                 version: int = 0, rxMsgs: deque | None = None, txMsgs: deque | None = None,
                 rxes: deque | None = None, txes: deque | None = None,
                 stats: odict | None = None, console: Any = None) -> None:
        super().__init__(store=store, stats=stats, console=console, name=name, uid=uid,
                         lanename=lanename, sockdirpath=sockdirpath, ha=ha, accept=accept,
                         main=main, puid=puid, local=local, version=version, rxMsgs=rxMsgs,
                         txMsgs=txMsgs, rxes=rxes, txes=txes)
        self.bufcnt = bufcnt
        self.gone_checked: float | None = None  # when reap_gone last looked
        self.gone_asks = 0  # asks since
        place(self.local, fallback=local is None and not ha)
        self.server = server if server is not None else self.serverFromLocal()
        self.console.verbose(f"Stack '{self.name}': Opened server at '{self.ha}'\n")

    def serviceReceives(self, budget: int | None = None) -> None:
        """Read what the socket holds, but no more datagrams (each at most a message) than
        ``rxMsgs`` has room for under ``MaxRxMsgs``: the rest wait in the socket, and its
        writers, as for any full socket (``rx_held`` counts the passes that held)."""
        room = self.MaxRxMsgs - len(self.rxMsgs)
        if room <= 0:
            self.incStat("rx_held")
            self.rx_drained = True
            return
        super().serviceReceives(min(room, self.RxBudget if budget is None else budget))

    def reap_gone(self) -> bool:
        """Reap the known yards with no live socket at their paths (at most one look per
        ``GoneCheckPeriod``, or per 256 asks while the Store's stamp stands still: a flood
        of unknown writers asks at every page)."""
        now = self.now
        self.gone_asks += 1
        if (self.gone_checked is not None and now < self.gone_checked + self.GoneCheckPeriod
                and self.gone_asks < 256):
            return False
        self.gone_checked, self.gone_asks = now, 0
        gone = [remote.ha for remote in self.remotes.values() if not transport.probe(remote.ha)]
        for ha in gone:
            self.reap(ha)
        return bool(gone)

    def handle_datagram(self, raw: bytes, sa: str | None) -> None:
        """As the core's; a subclass overriding raet's ``processRx`` gets each page as raet
        hands it over (an ``RxPage`` whose head is parsed, and the yard it came from)."""
        if type(self).processRx is LaneCore.processRx:
            LaneCore.handle_datagram(self, raw, sa)
            return
        try:
            head, _ = paging.parse(raw)
            remote = self.source(head, sa)
        except PageError as ex:
            self.incStat(ex.stat)
            self.console.terse(f"Stack '{self.name}': Dropped page from '{sa}': {ex}\n")
            return
        page = pages.RxPage(stack=self, packed=raw)
        page.head.parse()
        self.processRx(page, remote)

    def serverFromLocal(self) -> UxdServer:
        """A new socket bound at the local yard's ha; StackError if it cannot be opened."""
        return transport.open_server(self.local.ha, self.bufcnt, f"LaneStack '{self.name}'")

    def transmitted(self, page: bytes, ha: str) -> bool:
        """Send one page; False if it must wait because ``ha``'s queue is full.

        A page for a vanished yard is dropped and the yard reaped; a page that fails
        otherwise is dropped. Both are counted and logged, never raised.
        """
        return transport.send_page(self.server.send, self, page, ha) is not Outcome.busy
