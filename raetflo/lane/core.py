"""The lane core: one yard, its remote yards, paging and the partial books, with no I/O.

A driver feeds it datagrams with their sender's socket path and the time
(``receive_datagram(data, sa, now)``), runs ``handle_timer(now)`` at ``get_timer()`` (the
earliest expiry of a partial book, None when there is none) and sends what
``datagrams_to_send()`` hands over. The core cannot see a yard vanish; a driver whose
send finds nobody bound at a path says so with :meth:`LaneCore.unreachable`.

Received messages go to exactly one place: a core used bare (``EmitMessages`` true, the
asyncio driver's way) reports each as a :class:`~raetflo.events.MessageReceived` event;
the polled :class:`~raetflo.lane.stacking.LaneStack` (``EmitMessages`` false) appends
``(msg, source_name)`` to ``rxMsgs`` as the reference does. A reaped yard is reported as
:class:`~raetflo.events.RemoteRemoved` by both.
"""
from __future__ import annotations

from collections.abc import Mapping
from posixpath import join, normpath
from typing import Any, ClassVar

from ..coring import Core, Registry, StackError
from ..events import MessageReceived, RemoteRemoved
from . import paging
from .paging import Books, DeliveredBooks, PackKind, PageError, PageHead
from .yarding import UXD_EXT, RemoteYard, Yard, YardError, namesFromHa

__all__ = ["LaneCore"]


def rekey(mapping: dict, old: Any, new: Any) -> None:
    """Replace key ``old`` of ``mapping`` by ``new`` in place, keeping the order."""
    items = [(new if key == old else key, value) for key, value in mapping.items()]
    mapping.clear()
    mapping.update(items)


class LaneCore(Core):
    """A yard on a lane: pages messages to remote yards and reassembles theirs.

    ``transmit(msg, uid)`` queues a message, ``datagrams_to_send()`` pages it. Unknown
    senders are added as remotes (unless ``accept`` is false) when their socket path names
    them. Bad pages are dropped and counted in ``stats``, never raised.
    """

    Pk: ClassVar[PackKind] = PackKind.json  # body serialization of sent messages
    Accept: ClassVar[bool] = True  # add unknown senders as remotes
    EmitMessages: ClassVar[bool] = True  # MessageReceived events (else rxMsgs entries)
    BodyMap: ClassVar[type] = dict  # the mapping type received bodies decode to
    BookTimeout: ClassVar[float] = 10.0  # seconds a partial book may wait for its next page
    MaxBooks: ClassVar[int] = 64  # partial books held at once
    MaxRemotes: ClassVar[int] = 1024  # yards known; past it an unknown writer is not added
    MaxBookBytes: ClassVar[int] = 2 * paging.MAX_MESSAGE_SIZE  # bytes held in partial books
    MaxSenderBooks: ClassVar[int] = 8  # partial books held from one yard
    MaxSenderBookBytes: ClassVar[int] = paging.MAX_MESSAGE_SIZE  # bytes of them

    def __init__(self, name: str = "", uid: int | None = None, lanename: str | None = "lane",
                 sockdirpath: str = "", ha: str = "", accept: bool | None = None,
                 main: Any = None, local: Yard | None = None, version: int = 0,
                 **kwa: Any) -> None:
        """The local yard is ``local``, or one made from the names, ``ha`` and
        ``sockdirpath`` (paths are computed, no directory is made); ``kwa`` goes on to
        :class:`~raetflo.coring.Core` (puid, stats, console, now and the queues)."""
        super().__init__(**kwa)
        self.main = main
        self.version = version
        self.accept = self.Accept if accept is None else accept
        self.haRemotes: Registry = Registry()  # ha -> RemoteYard
        self.books = Books(self.BookTimeout, self.MaxBooks, self.MaxBookBytes,
                           self.MaxSenderBooks, self.MaxSenderBookBytes,
                           on_evict=self.book_evicted)
        if local is None:
            local = Yard(stack=self, uid=uid, name=name, ha=ha, dirpath=sockdirpath,
                         lanename=lanename or "")
        local.stack = self
        self.local = local

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
        """Forget the remote at ``ha`` (nobody is bound there any more), reported as
        RemoteRemoved."""
        remote = self.haRemotes.get(ha)
        if remote is not None:
            self.removeRemote(remote)
            self.console.terse(f"Stack '{self.name}': Reaped yard {remote.name}\n")
            self.emit(RemoteRemoved(remote.name, remote.uid))

    def reap_gone(self) -> bool:
        """Reap the known yards no live socket is bound at any more, to make room; whether
        any was. A driver that can look answers (a core has no sockets: none)."""
        return False

    def unreachable(self, ha: str) -> None:
        """The driver could not send a page to ``ha``: nobody is bound there. The page is
        lost (counted ``stale_transmit_yard``) and the yard there reaped."""
        self.incStat("stale_transmit_yard")
        self.reap(ha)

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

    def page(self, body: Mapping, remote: RemoteYard) -> list[bytes]:
        """The pages of ``body`` for ``remote``, its next book; PageError (counted and
        logged) if it cannot be sent."""
        bid = remote.nextBid()
        try:
            data = paging.pack_body(body, self.Pk)
            return paging.paginate(data, self.local.name, remote.name, remote.sid, bid,
                                   pk=self.Pk)
        except PageError as ex:
            self.incStat(ex.stat)
            self.console.terse(f"Stack '{self.name}': Dropped message to {remote.name}: "
                               f"{ex}\n")
            raise

    def message(self, body: Mapping, uid: int | None = None) -> None:
        """Page ``body`` for the remote ``uid`` (the first remote if None) onto ``txes``
        now."""
        if uid is None and self.remotes:
            uid = next(iter(self.remotes))
        remote = self.remotes.get(uid)
        if remote is None:
            self.incStat("invalid_destination")
            self.console.terse(f"Stack '{self.name}': Invalid destination uid {uid}\n")
            return
        try:
            pages = self.page(body, remote)
        except PageError:
            return
        ha = remote.ha
        self.txes.extend((page, ha) for page in pages)

    # receiving ------------------------------------------------------------------------
    def source(self, head: PageHead, sa: str | None) -> RemoteYard:
        """The remote that sent a page, added if new; PageError if it must be dropped (a
        page naming a known yard must come from that yard's socket)."""
        if head.dn != self.local.name:
            raise PageError("invalid_destination", f"page for {head.dn!r}")
        remote = self.nameRemotes.get(head.sn)
        if remote is None:
            return self.admit(head.sn, sa)
        if sa != remote.ha:
            path = None if sa is None else normpath(sa)
            if path != normpath(remote.ha):
                if path is None or path != self.home_of(head.sn):
                    raise PageError("invalid_source_yard",
                                    f"yard {head.sn!r} sent from {sa!r}, not from its socket")
                self.move_home(remote, path)
        return remote

    def home_of(self, name: str) -> str:
        """The socket path of yard ``name`` in this lane's own directory."""
        local = self.local
        return normpath(join(local.dirpath, f"{local.lanename}.{name}{UXD_EXT}"))

    def move_home(self, remote: RemoteYard, sa: str) -> None:
        """The yard of ``remote``'s name in this lane's own directory wrote: the name is
        its (the record was a writer elsewhere's, which took it first), and so are the
        replies from now on (``yard_moved``)."""
        before = remote.ha
        del self.haRemotes[before]
        remote.ha, remote.dirpath, remote.lanename = sa, self.local.dirpath, self.local.lanename
        self.haRemotes[sa] = remote
        self.incStat("yard_moved")
        self.console.terse(f"Stack '{self.name}': yard {remote.name} is this lane's, at "
                           f"'{sa}' (it was taken by a writer at '{before}')\n")

    def admit(self, sn: str, sa: str | None) -> RemoteYard:
        """Add the unknown yard ``sn``, bound at ``sa``, as a remote; PageError if refused.

        Its socket path must name it and be absolute: replies go there, and an unbound
        sender has none.
        """
        if not self.accept:
            raise PageError("unaccepted_source_yard", f"unknown yard {sn!r}")
        if len(self.remotes) >= self.MaxRemotes and not self.reap_gone():
            raise PageError("remote_overload", f"{len(self.remotes)} yards known: not adding "
                                               f"yard {sn[:40]!r}")
        try:
            if sa is None or not sa.startswith("/") or namesFromHa(sa)[1] != sn:
                raise PageError("invalid_source_yard", f"yard {sn!r} sent from {sa!r}")
            remote = RemoteYard(stack=self, ha=sa)
            self.addRemote(remote)
        except (YardError, StackError) as ex:
            raise PageError("invalid_source_yard", str(ex)) from None
        self.console.verbose(f"Stack '{self.name}': Added yard {remote.name} at '{sa}'\n")
        return remote

    def processRx(self, received: Any, remote: Any) -> None:
        """raet's: take one received page (raet's ``RxPage``, or its bytes) from yard
        ``remote``: its message is delivered, or its page filed, or it is dropped."""
        LaneCore.handle_datagram(self, getattr(received, "packed", received), remote.ha)

    def handle_datagram(self, raw: bytes, sa: str | None) -> None:
        """Handle one datagram: deliver its message, file its page, or drop it."""
        try:
            head, section = paging.parse(raw)
            remote = self.source(head, sa)
            if head.si != remote.rsid:
                remote.rsid = head.si
                remote.delivered = DeliveredBooks()
                remote.removeStaleBooks()
            if not remote.delivered.fresh(head.bi):
                raise PageError("duplicate_book", f"book {head.bi} was delivered already")
            if head.pc > 1:
                whole = self.books.add(head, section, self.now)
                if whole is None:
                    return
                section = whole
            msg = paging.unpack_body(section, head.pk, self.BodyMap)
            if head.bi:
                remote.delivered.add(head.bi)
        except PageError as ex:
            self.incStat(ex.stat)
            self.console.terse(f"Stack '{self.name}': Dropped page from '{sa}': {ex}\n")
            return
        self.deliver(msg, remote.name)

    def deliver(self, msg: Mapping, source: str) -> None:
        """Hand a whole message on: an event, or an ``rxMsgs`` entry (``EmitMessages``)."""
        if self.EmitMessages:
            self.emit(MessageReceived(msg, source))
        else:
            self.rxMsgs.append((msg, source))

    def book_evicted(self, key: tuple[str, str, int], why: str) -> None:
        """A partial book was dropped to make room for another's page (``book_overflow``)."""
        self.incStat("book_overflow")
        self.console.terse(f"Stack '{self.name}': Dropped partial book {key[2]} from "
                           f"{key[0]!r}: {why}\n")

    # time -----------------------------------------------------------------------------
    def process(self) -> None:
        """Expire partial books that waited too long for their next page."""
        if self.books:
            expired = self.books.expire(self.now)
            if expired:
                self.incStat("expired_book", expired)
                self.console.terse(f"Stack '{self.name}': Expired {expired} partial book(s)\n")

    def get_timer(self) -> float | None:
        """When the earliest partial book expires (None: no book is waiting)."""
        return self.books.deadline()
