"""The asyncio lane driver: a lane core on the running loop.

::

    async with await open_lane(name="alpha", lanename="zeus", sockdirpath=path) as lane:
        lane.add_yard("beta")
        await lane.send({"hello": "beta"}, to="beta")
        async for msg, source in lane.messages():
            ...

The yard's socket is bound as LaneStack binds it (owner-only, never a live yard's path)
and read through a datagram endpoint. Every input (a datagram, the timer, a send) goes
to the core, and what the core has to send goes out at once. The one timer is
``loop.call_at`` at the core's ``get_timer()`` (the earliest partial book's expiry),
re-armed after each input, so an idle lane costs no CPU.

Pages leave through the socket's own ``sendto``, not the transport's, so each failure is
known with its destination: the pages for a yard whose queue is full wait, in order, in
that yard's queue, and are tried again after ``BusyRetry`` seconds, twice as long each
time nothing could be sent, up to ``MaxBusyRetry`` (the kernel does not signal when an
unconnected Unix datagram peer has room), while other yards' pages go on; a yard
nobody is bound to any more is reaped by the core (``RemoteRemoved`` on
:meth:`Lane.events`) and its senders get :class:`YardUnreachable`.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

from ..coring import Core, StackError
from ..events import Event, MessageReceived
from ..lane.core import LaneCore
from ..lane.transport import BUSY_STAT, Outcome, UxdServer, open_server, send_page
from ..lane.yarding import RemoteYard, place

__all__ = ["open_lane", "Lane", "LaneError", "UnknownYard", "YardUnreachable"]


class LaneError(StackError):
    """The lane cannot do what was asked (it is closed, or a message could not go)."""


class UnknownYard(LaneError, LookupError):
    """No yard of that name is known to the lane: ``add_yard`` it first."""


class YardUnreachable(LaneError):
    """Nobody is bound at the yard's socket path any more; the yard was reaped."""


class Outgoing(NamedTuple):
    """One page waiting to be sent."""

    data: bytes
    ha: str
    done: asyncio.Future | None  # the waiting sender's, on every page of its message
    last: bool  # the last page of its message


class Inbox:
    """Items waiting for async iterators, at most ``size``: past it the oldest go."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: deque = deque()
        self.ready = asyncio.Event()
        self.closed = False

    def put(self, item: Any) -> bool:
        """Add ``item``; False when the oldest had to make room for it."""
        full = len(self.items) >= self.size
        if full:
            self.items.popleft()
        self.items.append(item)
        self.ready.set()
        return not full

    def close(self) -> None:
        """End the iterators once the items left are taken."""
        self.closed = True
        self.ready.set()

    async def drain(self) -> AsyncIterator:
        while True:
            while self.items:
                yield self.items.popleft()
            if self.closed:
                return
            self.ready.clear()
            await self.ready.wait()


class Lane(asyncio.DatagramProtocol):
    """A yard on the running loop; made by :func:`open_lane`, closed by ``async with`` or
    :meth:`close`. ``core`` is its :class:`~raetflo.lane.core.LaneCore`."""

    BusyRetry: ClassVar[float] = 0.0005  # seconds before pages for a busy yard are retried
    MaxBusyRetry: ClassVar[float] = 0.05  # the longest wait between retries of a busy yard
    MaxHeld: ClassVar[int] = Core.MaxTxes  # pages waiting for busy yards; a send past it
    # raises LaneError, core pages past it are dropped (both counted tx_overflow)
    MaxMessages: ClassVar[int] = 4096  # received messages not yet taken from messages();
    # past it the oldest go (counted rx_overflow)
    MaxEvents: ClassVar[int] = 4096  # other events not yet taken from events(); past it
    # the oldest go (counted event_overflow)

    def __init__(self, core: LaneCore, server: UxdServer) -> None:
        self.core = core
        self.server = server
        self.loop = asyncio.get_running_loop()
        self._outbox: dict[str, deque[Outgoing]] = {}  # ha -> its pages waiting, in order
        self._held = 0  # pages in the outbox
        self._busy: set[str] = set()  # yards whose queue was full: left to the retry
        self._messages = Inbox(self.MaxMessages)
        self._events = Inbox(self.MaxEvents)
        self._transport: asyncio.BaseTransport | None = None
        self._lost = self.loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._delay = self.BusyRetry  # before the next retry
        self._closed = False

    @property
    def name(self) -> str:
        return self.core.name

    @property
    def ha(self) -> str:
        """The path of this yard's socket."""
        return self.core.ha

    @property
    def stats(self) -> dict:
        return self.core.stats

    # the API --------------------------------------------------------------------------
    def add_yard(self, yard: str) -> str:
        """Know the yard ``yard`` (a name on this lane and directory, or a socket path) and
        return its name; known already at the same path is fine. StackError or YardError
        for a bad name or one taken by another path."""
        core = self.core
        remote = (RemoteYard(stack=core, ha=yard) if "/" in yard
                  else RemoteYard(stack=core, name=yard))
        known = core.nameRemotes.get(remote.name)
        if known is None or known.ha != remote.ha:
            core.addRemote(remote)
        return remote.name

    async def send(self, msg: Mapping, *, to: str) -> None:
        """Send ``msg`` to the yard named ``to``; return once every page is handed to the
        kernel (waiting while the yard's queue is full).

        UnknownYard if no such yard is known, YardUnreachable if nobody is bound at its
        path, TypeError or PageError (counted) if ``msg`` cannot be sent, LaneError if
        the lane closes first. Cancelling drops the pages not yet sent.
        """
        if self._closed:
            raise LaneError(f"Lane '{self.name}' is closed")
        if not isinstance(msg, Mapping):
            raise TypeError(f"a message is a mapping, not {type(msg).__name__}")
        remote = self.core.nameRemotes.get(to)
        if remote is None:
            raise UnknownYard(f"Lane '{self.name}' knows no yard {to!r}: add_yard it first")
        pages = self.core.page(msg, remote)
        done = self.loop.create_future()
        last = len(pages) - 1
        if not self._hold(Outgoing(page, remote.ha, done, number == last)
                          for number, page in enumerate(pages)):
            raise LaneError(f"Lane '{self.name}': more than {self.MaxHeld} pages wait for "
                            f"busy yards")
        self._service()
        await done

    def messages(self) -> AsyncIterator[tuple[Mapping, str]]:
        """``(msg, source_name)`` for each message received, until the lane closes."""
        return self._messages.drain()

    def events(self) -> AsyncIterator[Event]:
        """Every other event of the core (RemoteRemoved for a reaped yard), until the lane
        closes."""
        return self._events.drain()

    async def close(self) -> None:
        """Fail the sends not yet done, end the streams, close the socket and remove its
        path; returns once the socket is closed, however often it is called."""
        if not self._closed:
            self._closed = True
            for handle in (self._timer, self._retry):
                if handle is not None:
                    handle.cancel()
            self._timer = self._retry = None
            error = LaneError(f"Lane '{self.name}' closed before this was sent")
            for queue in self._outbox.values():
                for page in queue:
                    self._fail(page, error)
            self._outbox.clear()
            self._held = 0
            self._messages.close()
            self._events.close()
            if self._transport is not None:
                self._transport.close()
        if self._transport is not None:
            await asyncio.shield(self._lost)
        self.server.close()

    async def __aenter__(self) -> Lane:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # the datagram protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.core.receive_datagram(data, addr or None, self.loop.time())
        self._service()

    def error_received(self, exc: Exception) -> None:
        """A receive failed (sends do not go through the transport)."""
        self.core.incStat("error_receive_yard")
        self.core.console.concise(f"Stack '{self.name}': Error receiving: {exc}\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._lost.done():
            self._lost.set_result(None)

    # the glue -------------------------------------------------------------------------
    def _service(self) -> None:
        """After every input: send what is due, publish the events, re-arm the timer."""
        if self._closed:
            return
        self._hold(Outgoing(data, ha, None, True) for data, ha in self.core.datagrams_to_send())
        self._send()
        self._publish()
        self._arm()

    def _hold(self, pages: Iterable[Outgoing]) -> bool:
        """Queue ``pages`` behind their yards' others; False (counted tx_overflow) if they
        would pass MaxHeld."""
        pages = list(pages)
        if self._held + len(pages) > self.MaxHeld:
            self.core.incStat("tx_overflow", len(pages))
            return False
        for page in pages:
            self._outbox.setdefault(page.ha, deque()).append(page)
        self._held += len(pages)
        return True

    def _send(self) -> None:
        """Send each yard's pages in order, up to the first its full queue refuses."""
        for ha in [ha for ha in self._outbox if ha not in self._busy]:
            queue = self._outbox[ha]
            while queue and self._sent(queue[0]):
                queue.popleft()
                self._held -= 1
            if not queue:
                del self._outbox[ha]
        if self._busy and self._retry is None:
            self._retry = self.loop.call_later(self._delay, self._retried)
            self._delay = min(2 * self._delay, self.MaxBusyRetry)

    def _sent(self, page: Outgoing) -> bool:
        """Send ``page`` (or skip it: its sender is done); False if its yard is busy."""
        if page.done is not None and page.done.done():
            return True  # its sender gave up, or an earlier page of it failed
        outcome = send_page(self.server.send, self.core, page.data, page.ha)
        if outcome is Outcome.busy:
            self._busy.add(page.ha)
            self.core.incStat(BUSY_STAT)
            return False
        if outcome is Outcome.sent:
            self._delay = self.BusyRetry
            if page.last and page.done is not None:
                page.done.set_result(None)
        elif outcome is Outcome.gone:
            self._fail(page, YardUnreachable(f"No yard is bound at {page.ha!r} any more"))
        else:
            self._fail(page, LaneError(f"Sending to {page.ha!r} failed"))
        return True

    def _retried(self) -> None:
        self._retry = None
        self._busy.clear()
        self._service()

    @staticmethod
    def _fail(page: Outgoing, error: LaneError) -> None:
        if page.done is not None and not page.done.done():
            page.done.set_exception(error)

    def _publish(self) -> None:
        """Move the core's events to the streams."""
        core = self.core
        while (event := core.next_event()) is not None:
            if isinstance(event, MessageReceived):
                if not self._messages.put((event.body, event.source)):
                    core.incStat("rx_overflow")
            elif not self._events.put(event):
                core.incStat("event_overflow")

    def _arm(self) -> None:
        """Have ``call_at`` wake the core at its next deadline, and only then."""
        deadline = self.core.get_timer()
        if deadline == self._deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = deadline
        self._timer = None if deadline is None else self.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        deadline = self._deadline
        self._timer = self._deadline = None
        # call_at may run a little before its time: the core must see its deadline reached
        self.core.handle_timer(max(self.loop.time(), deadline or 0.0))
        self._service()


async def open_lane(name: str = "", lanename: str = "lane", sockdirpath: str = "",
                    ha: str = "", *, uid: int | None = None, accept: bool | None = None,
                    bufcnt: int = 100, console: Any = None) -> Lane:
    """Open a yard on the running loop, named and placed as a LaneStack is.

    The socket is ``<sockdirpath>/<lanename>.<name>.uxd`` (or ``ha``); ``accept``: add
    unknown senders as yards (default LaneCore.Accept); ``bufcnt``: socket buffers in
    pages; ``console``: the diagnostics sink (default: kept in memory). StackError if
    the socket cannot be bound, YardError for a bad name or directory.
    """
    loop = asyncio.get_running_loop()
    core = LaneCore(name=name, uid=uid, lanename=lanename, sockdirpath=sockdirpath, ha=ha,
                    accept=accept, console=console, now=loop.time())
    place(core.local, fallback=not ha)
    server = open_server(core.ha, bufcnt, f"Lane '{core.name}'")
    lane = Lane(core, server)
    try:
        await loop.create_datagram_endpoint(lambda: lane, sock=server.sock)
    except BaseException:
        server.close()
        raise
    return lane
