"""LaneStack: one yard's Unix datagram socket, its remote yards, and message paging."""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.base.storing import Store

from ..stacking import Stack, StackError
from . import paging
from .paging import Books, PackKind, PageError
from .transport import BUSY_ERRORS, STALE_ERRORS, TransportError, UxdServer
from .yarding import RemoteYard, Yard, YardError, namesFromHa


def rekey(mapping: odict, old: Any, new: Any) -> None:
    """Replace key ``old`` of ``mapping`` by ``new`` in place, keeping the order."""
    items = [(new if key == old else key, value) for key, value in mapping.items()]
    mapping.clear()
    mapping.update(items)


class LaneStack(Stack):
    """A yard on a lane: sends message mappings to remote yards and receives theirs.

    ``transmit(msg, uid)`` queues, ``serviceAll()`` receives, delivers ``(msg, source_name)``
    to ``rxMsgs`` and sends. Unknown senders are added as remotes (unless ``accept`` is
    false). Bad pages are dropped and counted in ``stats``, never raised.
    """

    Pk = PackKind.json  # body serialization of sent messages
    Accept = True  # add unknown senders as remotes
    BusyStat = "busy_transmit_yard"
    BookTimeout = 10.0  # store seconds a partial book may wait for its next page
    MaxBooks = 64  # partial books held at once
    MaxBookBytes = 2 * paging.MAX_MESSAGE_SIZE  # bytes held in partial books

    def __init__(self, name: str = "", uid: int | None = None, lanename: str = "lane",
                 sockdirpath: str = "", ha: str = "", bufcnt: int = 100,
                 accept: bool | None = None, store: Store | None = None, main: Any = None,
                 puid: int | None = None, local: Yard | None = None, server: Any = None,
                 version: int = 0, rxMsgs: deque | None = None, txMsgs: deque | None = None,
                 rxes: deque | None = None, txes: deque | None = None,
                 stats: odict | None = None, console: Any = None) -> None:
        super().__init__(store=store, puid=puid, rxMsgs=rxMsgs, txMsgs=txMsgs, rxes=rxes,
                         txes=txes, stats=stats, console=console)
        self.main = main
        self.version = version
        self.bufcnt = bufcnt
        self.accept = self.Accept if accept is None else accept
        self.haRemotes: odict = odict()  # ha -> RemoteYard
        self.books = Books(self.BookTimeout, self.MaxBooks, self.MaxBookBytes)
        if local is None:
            local = Yard(stack=self, uid=uid, name=name, ha=ha, dirpath=sockdirpath,
                         lanename=lanename or "")
        local.stack = self
        self.local = local
        self.server = server if server is not None else self.serverFromLocal()
        self.console.verbose(f"Stack '{self.name}': Opened server at '{self.ha}'\n")

    def serverFromLocal(self) -> UxdServer:
        """A new socket bound at the local yard's ha; StackError if it cannot be opened."""
        try:
            return UxdServer(self.local.ha, bufsize=paging.UXD_MAX_PACKET_SIZE * self.bufcnt)
        except TransportError as ex:
            raise StackError(f"LaneStack '{self.name}': {ex.strerror}") from ex

    # identity -------------------------------------------------------------------------
    @property
    def ha(self) -> str:
        return self.local.ha

    @ha.setter
    def ha(self, value: str) -> None:
        self.local.ha = value

    # remotes --------------------------------------------------------------------------
    def addRemote(self, remote: RemoteYard) -> None:
        """Index ``remote`` by uid, name and ha; StackError if any is taken."""
        local = self.local
        for value, index, own, what in ((remote.uid, self.remotes, local.uid, "uid"),
                                        (remote.name, self.nameRemotes, local.name, "name"),
                                        (remote.ha, self.haRemotes, local.ha, "ha")):
            if value in index or value == own:
                raise StackError(f"LaneStack '{self.name}': remote {what} {value!r} "
                                 f"is already in use")
        remote.stack = self
        self.remotes[remote.uid] = remote
        self.nameRemotes[remote.name] = remote
        self.haRemotes[remote.ha] = remote

    def removeRemote(self, remote: RemoteYard) -> None:
        if self.remotes.get(remote.uid) is not remote:
            raise StackError(f"LaneStack '{self.name}': no remote with uid {remote.uid}")
        del self.remotes[remote.uid]
        del self.nameRemotes[remote.name]
        del self.haRemotes[remote.ha]

    def removeAllRemotes(self) -> None:
        for remote in self.remotes.values():
            self.removeRemote(remote)

    def moveRemote(self, remote: RemoteYard, new: int) -> None:
        """Give ``remote`` uid ``new``, keeping its place among the remotes."""
        if new != remote.uid and (new in self.remotes or new == self.local.uid):
            raise StackError(f"LaneStack '{self.name}': uid {new} is already in use")
        rekey(self.remotes, remote.uid, new)
        remote.uid = new

    def renameRemote(self, remote: RemoteYard, new: str) -> None:
        """Give ``remote`` name ``new``, keeping its place among the remotes."""
        if new != remote.name and (new in self.nameRemotes or new == self.local.name):
            raise StackError(f"LaneStack '{self.name}': name {new!r} is already in use")
        rekey(self.nameRemotes, remote.name, new)
        remote.name = new

    def reap(self, ha: str) -> None:
        """Forget the remote at ``ha``: nobody is bound there any more."""
        remote = self.haRemotes.get(ha)
        if remote is not None:
            self.removeRemote(remote)
            self.console.terse(f"Stack '{self.name}': Reaped yard {remote.name}\n")

    # sending --------------------------------------------------------------------------
    def transmit(self, msg: Mapping, uid: int | None = None) -> None:
        """Queue ``msg`` for the remote ``uid`` (the first remote if None)."""
        if not isinstance(msg, Mapping):
            self.incStat("invalid_transmit_body")
            self.console.terse(f"Stack '{self.name}': Invalid message body {msg!r}\n")
            return
        if uid is None:
            if not self.remotes:
                self.incStat("invalid_destination")
                self.console.terse(f"Stack '{self.name}': No remote to send to\n")
                return
            uid = next(iter(self.remotes))
        self.txMsgs.append((msg, uid))

    def message(self, body: Mapping, uid: int | None = None) -> None:
        """Page ``body`` for the remote ``uid`` onto ``txes`` now."""
        remote = self.remotes.get(uid)
        if remote is None:
            self.incStat("invalid_destination")
            self.console.terse(f"Stack '{self.name}': Invalid destination uid {uid}\n")
            return
        bid = remote.nextBid()
        try:
            data = paging.pack_body(body, self.Pk)
            pages = paging.paginate(data, self.local.name, remote.name, remote.sid, bid,
                                    pk=self.Pk)
        except PageError as ex:
            self.incStat(ex.stat)
            self.console.terse(f"Stack '{self.name}': Dropped message to {remote.name}: "
                               f"{ex}\n")
            return
        ha = remote.ha
        self.txes.extend((page, ha) for page in pages)

    def transmitted(self, page: bytes, ha: str) -> bool:
        """Send one page; False if it must wait because ``ha``'s queue is full.

        A page for a vanished yard is dropped and the yard reaped; a page that fails
        otherwise is dropped. Both are counted and logged, never raised.
        """
        try:
            self.server.send(page, ha)
        except OSError as ex:
            if ex.errno in BUSY_ERRORS:
                return False
            stale = ex.errno in STALE_ERRORS
            self.incStat("stale_transmit_yard" if stale else "error_transmit_yard")
            self.console.concise(f"Stack '{self.name}': Error sending to '{ha}': {ex}\n")
            if stale:
                self.reap(ha)
        return True

    # receiving ------------------------------------------------------------------------
    def source(self, head: paging.PageHead, sa: str | None) -> RemoteYard:
        """The remote that sent a page, added if new; PageError if it must be dropped."""
        if head.dn != self.local.name:
            raise PageError("invalid_destination", f"page for {head.dn!r}")
        remote = self.nameRemotes.get(head.sn)
        return remote if remote is not None else self.admit(head.sn, sa)

    def admit(self, sn: str, sa: str | None) -> RemoteYard:
        """Add the unknown yard ``sn``, bound at ``sa``, as a remote; PageError if refused.

        Its socket path must name it: replies go there, and an unbound sender has none.
        """
        if not self.accept:
            raise PageError("unaccepted_source_yard", f"unknown yard {sn!r}")
        try:
            if sa is None or namesFromHa(sa)[1] != sn:
                raise PageError("invalid_source_yard", f"yard {sn!r} sent from {sa!r}")
            remote = RemoteYard(stack=self, ha=sa)
            self.addRemote(remote)
        except (YardError, StackError) as ex:
            raise PageError("invalid_source_yard", str(ex)) from None
        self.console.verbose(f"Stack '{self.name}': Added yard {remote.name} at '{sa}'\n")
        return remote

    def processRx(self, raw: bytes, sa: str | None) -> None:
        """Handle one datagram: deliver its message, file its page, or drop it."""
        try:
            head, section = paging.parse(raw)
            remote = self.source(head, sa)
            if head.si != remote.rsid:
                remote.rsid = head.si
                remote.removeStaleBooks()
            if head.pc > 1:
                section = self.books.add(head, section, self.store.stamp)
                if section is None:
                    return
            msg = paging.unpack_body(section, head.pk)
        except PageError as ex:
            self.incStat(ex.stat)
            self.console.terse(f"Stack '{self.name}': Dropped page from '{sa}': {ex}\n")
            return
        self.rxMsgs.append((msg, remote.name))

    def process(self) -> None:
        """Expire partial books that waited too long for their next page."""
        if self.books:
            expired = self.books.expire(self.store.stamp)
            if expired:
                self.incStat("expired_book", expired)
                self.console.terse(f"Stack '{self.name}': Expired {expired} partial book(s)\n")
