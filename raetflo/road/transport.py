"""UDP transport owned by a RoadStack: the only place road datagrams meet a socket.

A socket is IPv6 when its host is an IPv6 literal (``::`` is dual-stack where the system
allows), IPv4 otherwise. Either way addresses cross this line as (host, port): sources
are normalised by ``source_ha``, destinations shaped for the socket by ``destination``.

An address in use is refused, with one exception: a server of this same process holding
it (a stack built again on its address, say after a test failed before closing its
first) is closed, and the new one takes the address, as raet's sockets let a later one
(raet sets ``SO_REUSEADDR``, which lets any other process take the address too: we do
not, so a socket of another process is never shared).
"""
from __future__ import annotations

import errno
import os
import socket
import sys
import weakref

from .. import raeting
from ..coring import NOTHING
from ..servers import IofloNames

Address = tuple[str, int]

# The socket buffer is full: the datagram waits for a later send pass.
BUSY_ERRORS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
# The destination cannot be reached (now, or at all from this socket's address family):
# the datagram is dropped (redo timers resend).
UNREACHABLE_ERRORS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN,
                                errno.ENETDOWN, errno.ECONNREFUSED, errno.ECONNRESET,
                                errno.ETIMEDOUT, getattr(errno, "ETIME", errno.ETIMEDOUT),
                                errno.EAFNOSUPPORT})
MAPPED_PREFIX = "::ffff:"  # an IPv4 peer's address as a dual-stack socket reports it


class TransportError(OSError):
    """The socket could not be opened."""


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
_open_servers: weakref.WeakSet[UdpServer] = weakref.WeakSet()  # this process's open ones
# a forked child's inherited sockets are its parent's too: never taken over
os.register_at_fork(after_in_child=_open_servers.clear)


def clashes(held: Address, wanted: Address) -> bool:
    """Whether binding ``wanted`` clashes with a socket bound at ``held``: the same port and
    host, or either host a wildcard (IPv6's ``::`` being dual-stack)."""
    if held[1] != wanted[1]:
        return False
    hosts = (held[0], wanted[0])
    if hosts[0] == hosts[1] or "::" in hosts:
        return True
    return bool(WILDCARD_HOSTS.intersection(hosts)) and family_of(hosts[0]) == family_of(hosts[1])


def family_of(host: str) -> socket.AddressFamily:
    """The socket family for listening at ``host``: IPv6 for an IPv6 literal, else IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def source_ha(addr: tuple) -> Address:
    """(host, port) of a source address as ``recvfrom`` gives it: an IPv6 socket's
    4-tuple cut to two, an IPv4-mapped host (from a dual-stack socket) as dotted IPv4, so
    the source matches the ``ha`` of the remote's record."""
    if len(addr) == 2:
        return addr  # type: ignore[return-value]
    host = addr[0]
    if host.startswith(MAPPED_PREFIX) and "." in host:
        host = host[len(MAPPED_PREFIX):]
    return (host, addr[1])


def destination(family: int, ha: Address) -> Address:
    """``ha`` as a socket of ``family`` addresses it: an IPv4 host IPv4-mapped for an IPv6
    socket; OSError (EAFNOSUPPORT) for an IPv6 host and an IPv4 socket."""
    host = ha[0]
    if family == socket.AF_INET6:
        return ha if ":" in host else (MAPPED_PREFIX + host, ha[1])
    if ":" in host:
        raise OSError(errno.EAFNOSUPPORT, f"IPv6 address {host} from an IPv4 socket")
    return ha


def allow_ipv4(sock: socket.socket) -> None:
    """Let an IPv6 socket take IPv4 peers too (dual-stack), where the system allows."""
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    except (OSError, AttributeError):  # no dual-stack here: IPv6 peers only
        pass


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


class UdpServer(IofloNames):
    """Non-blocking UDP socket bound to ``ha`` (IPv6 for an IPv6 host, see ``family_of``).

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
        self.family = family_of(self.ha[0])
        self.took_over: list[Address] = []  # addresses taken from servers of this process
        if opened:
            self.open()

    def open(self, ha: Address | None = None) -> bool:
        """Bind a fresh socket at ``ha`` (default: the address given at construction) and
        return True; TransportError when that fails."""
        if ha is not None:
            self._wanted = tuple(ha)  # type: ignore[assignment]
        ha = self._wanted
        family = family_of(ha[0])
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                allow_ipv4(sock)
            raise_buffer(sock, socket.SO_SNDBUF, max(self.bufsize, self.SockBufSize))
            raise_buffer(sock, socket.SO_RCVBUF, max(self.bufsize, self.RxBufSize),
                         SO_RCVBUFFORCE)
            self._bind(sock, ha)
            sock.setblocking(False)
        except OSError as ex:
            sock.close()
            raise TransportError(ex.errno, f"Failed opening server at {ha}: {ex.strerror or ex}") \
                from None
        self.close()
        self.sock = sock
        self.family = family
        self.ha = sock.getsockname()[:2]
        _open_servers.add(self)
        return True

    def _bind(self, sock: socket.socket, ha: Address) -> None:
        """Bind ``sock`` at ``ha``; when that is in use by servers of this process, close
        them (noted in ``took_over``) and bind again."""
        try:
            sock.bind(ha)
        except OSError as ex:
            holders = [server for server in list(_open_servers)
                       if server is not self and server.opened and clashes(server.ha, ha)]
            if ex.errno != errno.EADDRINUSE or not holders:
                raise
            for server in holders:
                self.took_over.append(server.ha)
                server.close()
            sock.bind(ha)

    def reopen(self) -> bool:
        """Close the socket and bind a new one at the same address."""
        self.close()
        return self.open()


    def receive(self) -> tuple[bytes, Address | None]:
        """One datagram and its source, or ``(b'', None)`` when nothing is waiting (or the
        server is closed, or its address taken over), as raet's servers say it."""
        if self.sock is None:
            return NOTHING
        try:
            data, addr = self.sock.recvfrom(self.bufsize)
        except (BlockingIOError, InterruptedError, ConnectionResetError):
            return NOTHING
        return data, source_ha(addr)

    def send(self, data: bytes, ha: Address) -> int:
        if self.sock is None:
            raise OSError(errno.EBADF, "the server is closed")
        return self.sock.sendto(data, destination(self.family, ha))

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            _open_servers.discard(self)

    @property
    def opened(self) -> bool:
        return self.sock is not None
