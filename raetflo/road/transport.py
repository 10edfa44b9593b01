"""UDP transport owned by a RoadStack: the only place road datagrams meet a socket."""
from __future__ import annotations

import errno
import socket
import sys

from .. import raeting

Address = tuple[str, int]

# The socket buffer is full: the datagram waits for a later send pass.
BUSY_ERRORS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
# The destination cannot be reached now: the datagram is dropped (redo timers resend).
UNREACHABLE_ERRORS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN,
                                errno.ENETDOWN, errno.ECONNREFUSED, errno.ECONNRESET,
                                errno.ETIMEDOUT, getattr(errno, "ETIME", errno.ETIMEDOUT)})


class TransportError(OSError):
    """The socket could not be opened."""


SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux")
                         else None)  # SO_RCVBUF past rmem_max, for a privileged process


def raise_buffer(sock: socket.socket, opt: int, wanted: int, force: int | None = None) -> None:
    """Raise the kernel buffer ``opt`` of ``sock`` towards ``wanted`` bytes; past the
    system's limit with option ``force`` when given and allowed."""
    if sock.getsockopt(socket.SOL_SOCKET, opt) >= wanted:
        return
    sock.setsockopt(socket.SOL_SOCKET, opt, wanted)
    if force is not None and sock.getsockopt(socket.SOL_SOCKET, opt) < wanted:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, wanted)
        except OSError:
            pass  # not privileged: the system's limit stands


class UdpServer:
    """Non-blocking IPv4 UDP socket bound to ``ha``.

    ``bufsize`` is the largest datagram read; the kernel socket buffers are raised towards
    ``SockBufSize`` (send) and ``RxBufSize`` (receive), as far as the system allows (past
    ``net.core.rmem_max`` only where privileged), so bursts are not dropped.
    """

    SockBufSize = 4 * 1024 * 1024  # the send buffer asked for
    # the receive buffer asked for (the kernel doubles it for its bookkeeping): a burst of
    # 10,000 join requests takes some 12 MiB there (a small datagram costs about 1.2 kB);
    # bounds the kernel memory a burst of peers can make this socket hold
    RxBufSize = 16 * 1024 * 1024

    def __init__(self, ha: Address, bufsize: int = raeting.UDP_MAX_PACKET_SIZE * 2,
                 opened: bool = True) -> None:
        self.bufsize = bufsize
        self.sock: socket.socket | None = None
        self.ha: Address = tuple(ha)  # type: ignore[assignment]  # the bound one once open
        self._wanted = self.ha
        if opened:
            self.open()

    def open(self, ha: Address | None = None) -> bool:
        """Bind a fresh socket at ``ha`` (default: the address given at construction) and
        return True; TransportError when that fails."""
        if ha is not None:
            self._wanted = tuple(ha)  # type: ignore[assignment]
        ha = self._wanted
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            raise_buffer(sock, socket.SO_SNDBUF, max(self.bufsize, self.SockBufSize))
            raise_buffer(sock, socket.SO_RCVBUF, max(self.bufsize, self.RxBufSize),
                         SO_RCVBUFFORCE)
            sock.bind(ha)
            sock.setblocking(False)
        except OSError as ex:
            sock.close()
            raise TransportError(ex.errno, f"Failed opening server at {ha}: {ex.strerror or ex}") \
                from None
        self.close()
        self.sock = sock
        self.ha = sock.getsockname()
        return True

    def reopen(self) -> bool:
        """Close the socket and bind a new one at the same address."""
        self.close()
        return self.open()

    def receive(self) -> tuple[bytes, Address] | None:
        """One datagram and its source, or None when nothing is waiting."""
        try:
            return self.sock.recvfrom(self.bufsize)
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionResetError:
            return None

    def send(self, data: bytes, ha: Address) -> int:
        return self.sock.sendto(data, ha)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    @property
    def opened(self) -> bool:
        return self.sock is not None
