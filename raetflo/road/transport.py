"""UDP transport owned by a RoadStack: the only place road datagrams meet a socket."""
from __future__ import annotations

import errno
import socket

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


class UdpServer:
    """Non-blocking IPv4 UDP socket bound to ``ha``.

    ``bufsize`` is the largest datagram read; the kernel socket buffers are raised towards
    ``SockBufSize`` (as far as the system allows) so bursts of segments are not dropped.
    """

    SockBufSize = 4 * 1024 * 1024

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
            wanted = max(self.bufsize, self.SockBufSize)
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                if sock.getsockopt(socket.SOL_SOCKET, opt) < wanted:
                    sock.setsockopt(socket.SOL_SOCKET, opt, wanted)
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
