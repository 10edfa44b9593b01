"""The asyncio road driver: a RoadStack served by the running event loop.

:func:`open_road` binds the UDP socket, builds a :class:`RoadStack` whose ``server`` is a
datagram endpoint over it and whose clock is ``loop.time()``, and returns the
:class:`Road`. Each datagram is handed to the stack as it arrives; after each batch of
input one *pass* runs the stack's send half (``serviceAllTx``: queued messages become
datagrams, the keep is written, then they are sent, a paused transport's held in order),
hands out the stack's events (resolving sends, joins and allows) and re-arms a single
``loop.call_at`` at the stack's next deadline or the next presence round. Nothing polls:
an idle road costs no CPU between deadlines.
"""
from __future__ import annotations

import asyncio
import errno
import inspect
import socket
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ioflo.base.storing import Store

from .. import raeting
from ..coring import NOTHING, StackError
from ..events import Event, MessageDelivered, RemoteRejected
from ..events import MessageDropped as Dropped
from ..road.addressing import show_ha
from ..road.estating import Address, RemoteEstate, normalize_ha
from ..road.stacking import RoadStack, listen_ha
from ..road.transport import UNREACHABLE_ERRORS, TransportError, UdpServer, destination, source_ha
from ._loop import Alarm, Inbox

__all__ = ["open_road", "Road", "RoadError", "RoadClosed", "MessageDropped", "LinkError",
           "LinkRejected"]


class RoadError(Exception):
    """Base of the errors of the asyncio road."""


class RoadClosed(RoadError):
    """The road is closed: raised by calls after ``close()`` and by what was pending then."""


class MessageDropped(RoadError):
    """The road gave up a message; ``reason`` says why. ``unconfirmed``: a copy may have
    been delivered (the peer's confirmation was lost)."""

    def __init__(self, name: str, reason: str, unconfirmed: bool = False) -> None:
        super().__init__(f"message to {name} dropped: {reason}")
        self.name = name
        self.reason = reason
        self.unconfirmed = unconfirmed


class LinkError(RoadError):
    """A join or allow ended without success."""


class LinkRejected(LinkError):
    """A join or allow ended because the keys were rejected (by either side)."""


# RoadStack keywords open_road does not pass on: it makes these itself
DRIVER_KEYWORDS = frozenset({"server", "store"})
STACK_KEYWORDS = frozenset(inspect.signature(RoadStack.__init__).parameters) - {"self", "ha"}


def check_keywords(kwa: Mapping[str, Any]) -> None:
    """TypeError naming the first keyword RoadStack does not take or the driver owns."""
    for name in kwa:
        if name in DRIVER_KEYWORDS:
            raise TypeError(f"open_road() does not take {name!r}: the asyncio driver makes it")
        if name not in STACK_KEYWORDS:
            raise TypeError(f"open_road() got an unexpected keyword argument {name!r}")


class DatagramServer:
    """What a RoadStack needs of its server, over an asyncio datagram transport.

    Datagrams arrive through the protocol, so ``receive`` has nothing; while the transport
    asks the protocol to pause writing, ``send`` reports the socket busy and the stack keeps
    the datagram for a later pass.
    """

    def __init__(self, ha: Address, bufsize: int) -> None:
        bound = UdpServer(ha, bufsize=bufsize)  # with the kernel buffers raised
        self.sock: socket.socket = bound.sock  # type: ignore[assignment]  # open once made
        self.ha: Address = bound.ha
        self.family = bound.family
        self.transport: asyncio.DatagramTransport | None = None
        self.paused = False

    def send(self, data: bytes, ha: Address) -> int:
        if self.paused or self.transport is None:
            raise BlockingIOError(errno.EAGAIN, "datagram transport is paused")
        self.transport.sendto(data, destination(self.family, ha))
        return len(data)

    def receive(self) -> tuple[bytes, None]:
        return NOTHING  # datagrams come by the protocol's datagram_received

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


class TakenRoadStack(RoadStack):
    """The road's stack: the road takes its events after every call, so the stack's own
    bound on untaken events (which drops the oldest) never applies; the road's does."""

    MaxEvents = sys.maxsize


class LoopStore(Store):
    """The store of an asyncio road: only its stamp moves (to ``loop.time()``); no house
    reads its time shares, so they are not kept up to date on every input."""

    def changeStamp(self, stamp: float) -> None:
        self.stamp = float(stamp)


@dataclass
class LinkWait:
    """A join or allow someone awaits: its outcome is read from the remote after a pass."""

    what: str  # "join" or "allow"
    remote: RemoteEstate
    future: asyncio.Future[str]

    def busy(self) -> bool:
        remote = self.remote
        return bool(remote.joinInProcess() if self.what == "join" else remote.allowInProcess())

    def done(self) -> bool:
        return bool(self.remote.joined if self.what == "join" else self.remote.allowed)


def called(remote: RemoteEstate) -> str:
    """How an error names a remote: by name once it joined, else by its address (the
    name of a record made for a first join is a placeholder)."""
    return remote.name if remote.fuid else f"the estate at {show_ha(remote.ha)}"


async def open_road(*, ha: Any = None, presence: bool = True, **kwa: Any) -> Road:
    """Open a road on the running loop at ``ha`` (host, port; port 0 picks a free one).

    ``kwa`` are RoadStack's keywords (``name``, ``main``, ``auto``, ``basedirpath``,
    ``dirpath``, ``period``, ...). ``presence``: run ``stack.manage()`` every
    ``stack.period`` seconds (alives, reaping) so presence events flow. StackError when the
    socket or the keep cannot be opened; TypeError for a keyword RoadStack does not take.
    """
    check_keywords(kwa)
    loop = asyncio.get_running_loop()
    try:
        server = DatagramServer(listen_ha(ha), raeting.UDP_MAX_PACKET_SIZE * kwa.get("bufcnt", 2))
    except TransportError as ex:
        raise StackError(f"Cannot open road at {ha}: {ex.strerror}") from ex
    try:
        stack = TakenRoadStack(ha=server.ha, server=server, store=LoopStore(stamp=loop.time()),
                               **kwa)
        road = Road(stack, server, presence)
        await loop.create_datagram_endpoint(lambda: road, sock=server.sock)
    except BaseException:
        server.close()
        raise
    return road


class Road(asyncio.DatagramProtocol):
    """A RoadStack on the running loop; open one with :func:`open_road`.

    ``road.stack`` is the RoadStack (the whole reference API); use it only from the loop's
    thread, and call ``road.kick()`` after driving it directly so the road sends and
    re-arms its timer.
    """

    MaxEvents: ClassVar[int] = 4096  # events held for events(); past it the oldest go
    MaxHeldMessages: ClassVar[int] = 10000  # received messages not yet taken; at it the
    # socket is not read until messages() has taken half of them (the peer's redo waits)
    CloseTimeout: ClassVar[float] = 1.0  # seconds close() waits for the last datagrams

    def __init__(self, stack: RoadStack, server: DatagramServer, presence: bool) -> None:
        self.stack = stack
        self.server = server
        self.presence = presence
        self._loop = asyncio.get_running_loop()
        self._alarm = Alarm(self._loop, self._timer)
        self._soon: asyncio.Handle | None = None
        self._manage_at = self._loop.time() + stack.period
        self._sends: dict[int, asyncio.Future[None]] = {}
        self._links: list[LinkWait] = []
        self._events: deque[Event] = deque()
        self._reading = True
        self._lost: asyncio.Future[None] = self._loop.create_future()
        self.closed = False
        self.inbox: Inbox[tuple[Any, str]] = Inbox(stack.rxMsgs, self._closed_error,
                                                   taken=self._taken)
        self.eventbox: Inbox[Event] = Inbox(self._events, self._closed_error)

    @property
    def name(self) -> str:
        return self.stack.name

    @property
    def ha(self) -> Address:
        """The bound address (the real port when opened at port 0)."""
        return self.server.ha

    async def __aenter__(self) -> Road:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # links ------------------------------------------------------------------------------
    async def join(self, target: str | Address, timeout: float | None = None) -> str:
        """Join the estate named ``target``, or at address ``target`` (a record is added
        for a new address); the joined remote's name. LinkError (LinkRejected) when the join
        ends without success; ``timeout`` is the join's (default ``JoinerTimeout``)."""
        remote, made = await self._remote(target)
        try:
            return await self._link("join", remote,
                                    lambda: self.stack.join(remote.uid, timeout))
        except BaseException:  # failed or cancelled: a record this call made goes too
            if (made and not remote.joined and not self.closed
                    and self.stack.remotes.get(remote.uid) is remote):
                self.stack.removeRemote(remote)
                self.kick()
            raise

    async def allow(self, target: str | Address, timeout: float | None = None) -> str:
        """Allow (exchange session keys with) a joined remote; as :meth:`join`."""
        remote, _ = await self._remote(target)
        return await self._link("allow", remote, lambda: self.stack.allow(remote.uid, timeout))

    async def _link(self, what: str, remote: RemoteEstate, start: Callable[[], None]) -> str:
        self._check_open()
        self._clock()
        start()
        wait = LinkWait(what, remote, self._loop.create_future())
        self._links.append(wait)
        self.kick()
        return await wait.future

    async def _remote(self, target: str | Address) -> tuple[RemoteEstate, bool]:
        """The remote named ``target``, or the one at address ``target`` (added when new;
        its host is looked up off the loop); and whether it was added."""
        self._check_open()
        if isinstance(target, str):
            return self.remote(target), False
        ha, fqdn = await self._loop.run_in_executor(None, lookup, self.stack, target)
        self._check_open()
        for remote in self.stack.remotes.values():
            if remote.ha == ha:
                return remote, False
        self._clock()
        return self.stack.addRemote(RemoteEstate(stack=self.stack, ha=ha, fqdn=fqdn)), True

    def remote(self, name: str) -> RemoteEstate:
        """The record of the remote ``name``; LookupError when there is none."""
        remote = self.stack.nameRemotes.get(name)
        if remote is None:
            raise LookupError(f"Road '{self.name}' has no remote named {name!r}")
        return remote

    # messages ---------------------------------------------------------------------------
    def send(self, msg: Mapping, *, to: str, timeout: float | None = None) -> asyncio.Future[None]:
        """Send ``msg`` to the remote named ``to``; the future resolves when the peer
        confirms it and raises MessageDropped (with the reason) when the road gives it up.

        The message is queued at once, awaited or not. StackError for a body that cannot
        be sent, LookupError for an unknown remote, RoadClosed once closed.
        """
        self._check_open()
        self._clock()
        ref = self.stack.send_message(msg, uid=self.remote(to).uid, timeout=timeout)
        future: asyncio.Future[None] = self._loop.create_future()
        self._sends[ref] = future
        self.kick()
        return future

    async def receive(self) -> tuple[Any, str]:
        """The next received message and the name of its source; RoadClosed once closed
        with none left."""
        return await self.inbox.get()

    def messages(self) -> Inbox[tuple[Any, str]]:
        """``async for msg, source in road.messages()``: received messages until closed."""
        return self.inbox

    def events(self) -> Inbox[Event]:
        """``async for event in road.events()``: the stack's events (remote joined, allowed,
        alive, dead, reaped, pending, rejected, removed, and message outcomes of sends not
        made with :meth:`send`) until closed; the oldest go past ``MaxEvents``."""
        return self.eventbox

    # shutdown ---------------------------------------------------------------------------
    async def close(self) -> None:
        """Send what is queued, write the keep, fail whatever is pending with RoadClosed
        and close the socket."""
        if self.closed:
            return
        self._clock()
        self.stack.serviceAllTx()
        self._shut(RoadClosed(f"Road '{self.name}' closed"))
        self.stack.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), self.CloseTimeout)
        except asyncio.TimeoutError:
            self.stack.console.terse(f"Road '{self.name}': socket did not close in "
                                     f"{self.CloseTimeout} s\n")

    def _shut(self, error: RoadClosed) -> None:
        self.closed = True
        self._alarm.cancel()
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        pending: list[asyncio.Future[Any]] = [*self._sends.values(),
                                              *(wait.future for wait in self._links)]
        self._sends.clear()
        self._links.clear()
        for future in pending:
            if not future.done():
                future.set_exception(error)
        self.inbox.close()
        self.eventbox.close()

    def _check_open(self) -> None:
        if self.closed:
            raise self._closed_error()

    def _closed_error(self) -> RoadClosed:
        return RoadClosed(f"Road '{self.name}' is closed")

    # the protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.server.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.stack.receive_datagram(data, source_ha(addr), self._loop.time())
        self.kick()

    def error_received(self, exc: Exception) -> None:
        """A send failed, or the kernel reported an earlier one (ICMP): counted, logged."""
        unreachable = getattr(exc, "errno", None) in UNREACHABLE_ERRORS
        self.stack.incStat("tx_unreachable" if unreachable else "tx_error")
        self.stack.console.terse(f"Road '{self.name}': datagram error: {exc}\n")

    def pause_writing(self) -> None:
        self.server.paused = True

    def resume_writing(self) -> None:
        self.server.paused = False
        self.kick()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._shut(RoadClosed(f"Road '{self.name}' lost its socket: {exc}"))
        if not self._lost.done():
            self._lost.set_result(None)

    # passes -----------------------------------------------------------------------------
    def _clock(self) -> float:
        """Bring the stack's clock to the loop's before it starts or checks any timer."""
        now = self.stack.now = self._loop.time()
        return now

    def kick(self) -> None:
        """Run a pass once the input of this loop iteration is in."""
        if self._soon is None and not self.closed:
            self._soon = self._loop.call_soon(self._pass)

    def _timer(self) -> None:
        """The alarm: presence when its round is due, the stack's timers, then a pass."""
        now = self._clock()
        if self.presence and now >= self._manage_at:
            self.stack.manage()
            self._manage_at = now + self.stack.period
        self.stack.handle_timer(now)
        self._pass()

    def _pass(self) -> None:
        self._soon = None
        stack = self.stack
        try:
            self._clock()
            stack.serviceAllTx()  # queued messages to datagrams; keep written before sending
            self._take_events()
            self.inbox.wake()
            if self._reading and len(stack.rxMsgs) >= self.MaxHeldMessages:
                self._pause_reading()
        finally:
            if not self.closed:
                self._alarm.arm(self._deadline())

    def _deadline(self) -> float | None:
        deadline = self.stack.get_timer()
        if not self.presence:
            return deadline
        return self._manage_at if deadline is None else min(deadline, self._manage_at)

    def _take_events(self) -> None:
        rejected: set[int] = set()
        while (event := self.stack.next_event()) is not None:
            if isinstance(event, (MessageDelivered, Dropped)):
                if self._settle_send(event):
                    continue
            elif isinstance(event, RemoteRejected):
                rejected.add(event.uid)
            self._publish(event)
        if self._links:
            self._settle_links(rejected)

    def _settle_send(self, event: MessageDelivered | Dropped) -> bool:
        """Resolve the send awaiting ``event``; False when no send of ours awaits it."""
        future = self._sends.pop(event.ref, None)
        if future is None:
            return False
        if not future.done():
            if isinstance(event, MessageDelivered):
                future.set_result(None)
            else:
                future.set_exception(MessageDropped(event.name, event.reason, event.unconfirmed))
        return True

    def _settle_links(self, rejected: set[int]) -> None:
        """Resolve each awaited join or allow that is no longer under way."""
        waiting = []
        for wait in self._links:
            if wait.future.done():  # its awaiter was cancelled
                continue
            error = self._link_error(wait, rejected)
            if error is not None:
                wait.future.set_exception(error)
            elif wait.busy():
                waiting.append(wait)
            elif wait.done():
                wait.future.set_result(wait.remote.name)
            else:
                wait.future.set_exception(LinkError(
                    f"{wait.what} with {called(wait.remote)} ended without success"))
        self._links = waiting

    def _link_error(self, wait: LinkWait, rejected: set[int]) -> LinkError | None:
        remote = wait.remote
        if remote.uid in rejected:
            return LinkRejected(f"{wait.what} with {called(remote)} rejected")
        if self.stack.remotes.get(remote.uid) is not remote:
            return LinkError(f"{wait.what} with {called(remote)} ended: the remote was removed")
        return None

    def _publish(self, event: Event) -> None:
        if len(self._events) >= self.MaxEvents:
            self._events.popleft()
            self.stack.incStat("aio_event_overflow")
        self._events.append(event)
        self.eventbox.wake()

    def _pause_reading(self) -> None:
        self._reading = False
        self.server.transport.pause_reading()  # type: ignore[union-attr]
        self.stack.incStat("aio_rx_paused")
        self.stack.console.terse(f"Road '{self.name}': {len(self.stack.rxMsgs)} received "
                                 f"messages not taken; not reading until half are\n")

    def _taken(self) -> None:
        if not self._reading and len(self.stack.rxMsgs) <= self.MaxHeldMessages // 2:
            self._reading = True
            self.server.transport.resume_reading()  # type: ignore[union-attr]


def lookup(stack: RoadStack, target: Any) -> tuple[Address, str]:
    """The normalized address of ``target`` and its host's name, by ``stack``'s resolver
    (both may block on DNS)."""
    ha = normalize_ha(target, resolve=stack.resolve_host)
    return ha, stack.host_fqdn(ha[0])
