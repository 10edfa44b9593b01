"""Name lookups for the road's drivers: host names to addresses and addresses to fully
qualified names. The core never calls these (a lookup can block for seconds); a driver
resolves when a remote is added, and on the packet path uses only what is cached.
"""
from __future__ import annotations

import socket

from .estating import EstateError

FQDN_CACHE_SIZE = 256  # hosts whose looked-up names are remembered
_fqdns: dict[str, str] = {}
FAMILY_AFTER = {socket.AF_INET: socket.AF_INET6, socket.AF_INET6: socket.AF_INET}


def host_fqdn(host: str, lookup: bool = True) -> str:
    """Fully qualified domain name of ``host``, looked up once and cached; without
    ``lookup`` the cached name, or ``host`` itself when it was never looked up."""
    name = _fqdns.get(host)
    if name is None:
        if not lookup:
            return host
        name = socket.getfqdn(host)
        if len(_fqdns) >= FQDN_CACHE_SIZE:
            del _fqdns[next(iter(_fqdns))]
        _fqdns[host] = name
    return name


class UnresolvableHost(EstateError, socket.gaierror):
    """A host name that resolves to no address: an EstateError, and the ``socket.gaierror``
    raet lets through (code written for it catches that, or ``OSError``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno, self.strerror = socket.EAI_NONAME, message

    def __str__(self) -> str:
        return str(self.strerror)


def resolve_host(name: str, first: socket.AddressFamily = socket.AF_INET) -> str:
    """First address ``name`` resolves to in family ``first`` (default IPv4, as the
    reference prefers), else in the other family; UnresolvableHost (an EstateError)
    naming ``name`` when none."""
    for family in (first, FAMILY_AFTER[first]):
        try:
            info = socket.getaddrinfo(name, None, family, socket.SOCK_DGRAM)
        except (OSError, UnicodeError):
            continue
        if info:
            return str(info[0][4][0])
    raise UnresolvableHost(f"Cannot resolve address for host '{name}'")
