"""Unix datagram transport of the lane drivers: the only place lane pages meet a socket.

:class:`UxdServer` binds a yard's socket (owner-only, never taking a live one's path);
:func:`send_page` sends one page and turns the socket's answer into what the core must
know. Both the polled LaneStack and the asyncio lane use them.
"""
from __future__ import annotations

import enum
import errno
import os
import socket
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..coring import NOTHING, StackError
from ..servers import IofloNames
from .paging import UXD_MAX_PACKET_SIZE

if TYPE_CHECKING:
    from .core import LaneCore

SOCKET_MODE = 0o600  # owner-only: sending to a Unix socket needs write permission on it

# sendto errors: the peer's queue is full (try again later) / nobody is bound at the path.
BUSY_ERRORS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
STALE_ERRORS = frozenset({errno.ENOENT, errno.ECONNREFUSED})
BUSY_STAT = "busy_transmit_yard"  # counted when a yard's queue is full and its pages wait


class TransportError(OSError):
    """The socket could not be opened."""


def probe(ha: str) -> bool:
    """Whether a live socket is bound at ``ha`` (False for a stale socket file)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(ha)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True  # e.g. another user's socket: not ours to take
    return True


class UxdServer(IofloNames):
    """Non-blocking Unix datagram socket bound at ``ha``, owner-only.

    Opening refuses a path held by a live socket or by something that is not a socket,
    and replaces a stale socket file. Closing removes the file only if it is still ours.
    """

    def __init__(self, ha: str, bufsize: int = UXD_MAX_PACKET_SIZE * 100) -> None:
        self.ha = ha
        self.bufsize = bufsize
        self.sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._buffer = bytearray(UXD_MAX_PACKET_SIZE + 1)  # one more: oversize shows
        self._view = memoryview(self._buffer)
        self.open()

    def open(self) -> None:
        self.claim()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            os.fchmod(sock.fileno(), SOCKET_MODE)  # Linux creates the file with this mode
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                if sock.getsockopt(socket.SOL_SOCKET, opt) < self.bufsize:
                    sock.setsockopt(socket.SOL_SOCKET, opt, self.bufsize)
            sock.bind(self.ha)
            os.chmod(self.ha, SOCKET_MODE)  # where fchmod does not carry over to the file
            sock.setblocking(False)
            info = os.stat(self.ha)
        except OSError as ex:
            sock.close()
            raise TransportError(ex.errno, f"Failed opening socket at '{self.ha}': "
                                           f"{ex.strerror or ex}") from None
        self.sock = sock
        self._inode = (info.st_dev, info.st_ino)

    def claim(self) -> None:
        """Make way at ``ha``: remove a stale socket file, refuse anything else."""
        try:
            mode = os.lstat(self.ha).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise TransportError(errno.EEXIST, f"'{self.ha}' exists and is not a socket")
        if probe(self.ha):
            raise TransportError(errno.EADDRINUSE,
                                 f"Socket '{self.ha}' is in use by a live process")
        try:
            os.unlink(self.ha)
        except FileNotFoundError:
            pass

    def receive(self) -> tuple[bytes, str | None]:
        """One datagram and its sender's path (None if unbound), or ``(b'', None)`` when
        idle or closed, as raet's servers say it.

        A datagram over the page size comes back cut to one byte over it.
        """
        if self.sock is None:
            return NOTHING
        try:
            size, sa = self.sock.recvfrom_into(self._buffer)
        except (BlockingIOError, InterruptedError, ConnectionResetError):
            return NOTHING
        # an unbound sender, or one bound to an abstract address (given as bytes), has no
        # path to answer or to name it by; an empty datagram from one is told from the
        # idle answer by its empty path, so it is counted and the reading goes on
        if not (sa and isinstance(sa, str)):
            sa = None if size else ""
        return bytes(self._view[:size]), sa

    def send(self, data: bytes, ha: str) -> int:
        if self.sock is None:
            raise OSError(errno.EBADF, "the server is closed")
        return self.sock.sendto(data, ha)

    def close(self) -> None:
        """Close the socket and remove its file, unless another socket has replaced it."""
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        try:
            info = os.lstat(self.ha)
            if (info.st_dev, info.st_ino) == self._inode:
                os.unlink(self.ha)
        except FileNotFoundError:
            pass

    def reopen(self) -> bool:
        """Close the socket (and its file) and bind a new one at the same path."""
        self.close()
        self.open()
        return True

    @property
    def opened(self) -> bool:
        return self.sock is not None



def open_server(ha: str, bufcnt: int, owner: str) -> UxdServer:
    """A socket bound at ``ha`` with buffers for ``bufcnt`` pages; StackError naming
    ``owner`` if it cannot be opened."""
    try:
        return UxdServer(ha, bufsize=UXD_MAX_PACKET_SIZE * bufcnt)
    except TransportError as ex:
        raise StackError(f"{owner}: {ex.strerror}") from ex


class Outcome(enum.Enum):
    """What became of one page handed to :func:`send_page`."""

    sent = "sent"
    busy = "busy"  # the destination's queue is full: keep the page and try again later
    gone = "gone"  # nobody is bound at the destination: dropped, the core told
    failed = "failed"  # any other error: dropped, counted error_transmit_yard


def send_page(send: Callable[[bytes, str], Any], core: LaneCore, page: bytes,
              ha: str) -> Outcome:
    """Send ``page`` to ``ha`` with ``send``; errors are logged and counted, never raised.

    A vanished yard (ENOENT, ECONNREFUSED) is reported with ``core.unreachable(ha)``.
    """
    try:
        send(page, ha)
    except OSError as ex:
        if ex.errno in BUSY_ERRORS:
            return Outcome.busy
        core.console.concise(f"Stack '{core.name}': Error sending to '{ha}': {ex}\n")
        if ex.errno in STALE_ERRORS:
            core.unreachable(ha)
            return Outcome.gone
        core.incStat("error_transmit_yard")
        return Outcome.failed
    return Outcome.sent
