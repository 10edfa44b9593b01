"""Yards: the endpoints of a lane, each one Unix datagram socket path.

The path of a yard (its host address ``ha``) is ``<dirpath>/<lanename>.<yardname>.uxd``;
peers find each other by computing it, and a receiver names an unknown sender from it.

Yard records only compute paths: they never look at the file system. Making and checking
socket directories (:func:`usable_dir`, :func:`socket_dir`, :func:`place`, and
:func:`computeHa` with ``create``) is for the drivers that bind sockets.
"""
from __future__ import annotations

import os
import secrets
import time
from typing import TYPE_CHECKING


from .. import raeting
from .paging import DeliveredBooks

if TYPE_CHECKING:
    from .core import LaneCore

YARD_UXD_DIR = "/var/cache/raet"  # default socket directory
ALT_YARD_UXD_DIR = "~/.raet/uxd"  # used when the default cannot be
UXD_EXT = ".uxd"
DIR_MODE = 0o700  # directories this package creates


class YardError(ValueError):
    """A bad yard name, lane name or socket path."""


def uuid(size: int = 18) -> str:
    """Lowercase hex id: microseconds since the epoch, then random digits, ``size`` long."""
    return (f"{time.time_ns() // 1000:x}" + secrets.token_hex(size // 2 + 1))[:size]


def validate(name: str, what: str, dots: bool = False) -> str:
    """``name`` if it can sit in a socket file name and a page head, else YardError."""
    if not isinstance(name, str) or not name:
        raise YardError(f"Invalid {what} name {name!r}: must be a non-empty string")
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        raise YardError(f"Invalid {what} name {name!r}: not Latin-1") from None
    if "/" in name or (not dots and "." in name) or not name.isprintable() \
            or any(char.isspace() for char in name):
        raise YardError(f"Invalid {what} name {name!r}: no spaces, slashes"
                        f"{'' if dots else ', dots'} or control characters allowed")
    return name


def namesFromHa(ha: str) -> tuple[str, str]:
    """``(lanename, yardname)`` of a socket path ``.../<lane>.<yard>.uxd``."""
    base = os.path.basename(ha)
    stem, ext = os.path.splitext(base)
    lanename, dot, yardname = stem.rpartition(".")
    if ext != UXD_EXT or not dot:
        raise YardError(f"Invalid yard ha {ha!r}: expected '<dir>/<lane>.<yard>{UXD_EXT}'")
    return validate(lanename, "lane", dots=True), validate(yardname, "yard")


def normal_path(path: str) -> str:
    """``path`` with ``~`` expanded, made absolute and normalized (no file is looked at)."""
    return os.path.abspath(os.path.expanduser(path))


def computeHa(dirpath: str, lanename: str, yardname: str,
              create: bool = True) -> tuple[str, str]:
    """``(ha, dirpath)`` for a yard: ``dirpath`` normalized (YARD_UXD_DIR if empty).

    With ``create`` the directory is made, or ALT_YARD_UXD_DIR used instead
    (:func:`socket_dir`); without it this is string arithmetic only.
    """
    dirpath = normal_path(dirpath or YARD_UXD_DIR)
    if create:
        dirpath = socket_dir(dirpath)
    return os.path.join(dirpath, f"{lanename}.{yardname}{UXD_EXT}"), dirpath


# the file-system side, for drivers ------------------------------------------------------
def usable_dir(dirpath: str) -> bool:
    """Whether ``dirpath`` exists (made owner-only if missing) and is readable and writable."""
    try:
        os.makedirs(dirpath, mode=DIR_MODE, exist_ok=True)
    except OSError:
        return False
    return os.access(dirpath, os.R_OK | os.W_OK | os.X_OK)


def socket_dir(dirpath: str) -> str:
    """``dirpath`` if it is usable (made if missing), else ALT_YARD_UXD_DIR if that is;
    YardError if neither is."""
    alt = normal_path(ALT_YARD_UXD_DIR)
    for candidate in (dirpath, alt):
        if usable_dir(candidate):
            return candidate
    raise YardError(f"No usable socket directory: neither {dirpath!r} nor {alt!r}")


def place(yard: Yard, fallback: bool) -> None:
    """Make ``yard``'s socket directory; YardError if it cannot be used.

    With ``fallback`` (its path was computed, not given) an unusable directory gives way
    to ALT_YARD_UXD_DIR and the yard's ``dirpath`` and ``ha`` move there.
    """
    if not fallback:
        if not usable_dir(yard.dirpath):
            raise YardError(f"Unusable socket directory {yard.dirpath!r}")
        return
    dirpath = socket_dir(yard.dirpath)
    if dirpath != yard.dirpath:
        yard.ha, yard.dirpath = computeHa(dirpath, yard.lanename, yard.name, create=False)


class Yard:
    """An endpoint of a lane: name, lane, socket path, uid and id counters.

    Give either ``ha`` (names are taken from it; a ``name`` or ``lanename`` given as well
    must agree) or the names and ``dirpath``. The record makes no directory: the driver
    that binds its socket does (:func:`place`). See :class:`RemoteYard` for peers.
    """

    Prefix = "lane"  # of generated names
    computeHa = staticmethod(computeHa)
    namesFromHa = staticmethod(namesFromHa)

    def __init__(self, stack: LaneCore | None = None, uid: int | None = None,
                 prefix: str | None = None, name: str = "", ha: str = "",
                 sid: str | None = None, dirpath: str = "", lanename: str = "",
                 bid: int = 0) -> None:
        self.stack = stack
        if ha:
            ha = normal_path(ha)
            lane, yard = namesFromHa(ha)
            for given, found, what in ((name, yard, "name"), (lanename, lane, "lanename")):
                if given and given != found:
                    raise YardError(f"Yard {what} {given!r} disagrees with ha {ha!r}")
            name, lanename, dirpath = yard, lane, os.path.dirname(ha)
        else:
            name = validate(name or f"{prefix or self.Prefix}_{uuid()}", "yard")
            lanename = validate(lanename or self.default_lanename(), "lane", dots=True)
            ha, dirpath = computeHa(dirpath or self.default_dirpath(), lanename, name,
                                    create=False)
        self.name = name
        self.lanename = lanename
        self.dirpath = dirpath
        self.ha = ha
        self.sid = sid if sid is not None else uuid()
        self.bid = bid
        self.uid = uid if uid is not None or stack is None else stack.nextUid()

    def default_lanename(self) -> str:
        return "lane"

    def default_dirpath(self) -> str:
        return ""

    def nextSid(self) -> str:
        """A new session id, kept and returned."""
        self.sid = uuid()
        return self.sid

    def nextBid(self) -> int:
        """The next book id (1 after 0, wrapping after 0xffffffff to 1)."""
        self.bid = raeting.next_id(self.bid)
        return self.bid

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, uid={self.uid!r}, ha={self.ha!r})"


class RemoteYard(Yard):
    """A peer yard as seen from a stack.

    Its names and directory default to the stack's lane and socket directory. ``sid`` is
    what this stack puts in ``si`` when sending to it; ``rsid`` is the last ``si`` received
    from it.
    """

    Prefix = "yard"

    def __init__(self, stack: LaneCore | None = None, prefix: str | None = None,
                 uid: int | None = None, rsid: str | int = 0, **kwa) -> None:
        super().__init__(stack=stack, uid=uid, prefix=prefix, **kwa)
        self.rsid = rsid
        self.delivered = DeliveredBooks()  # book ids delivered in session ``rsid``

    @property
    def books(self) -> dict:
        """The partial books received from this yard and not yet complete (a snapshot)."""
        return self.stack.books.of(self.name) if self.stack is not None else {}

    def removeStaleBooks(self) -> None:
        """Drop the partial books of sessions other than the last one received (``rsid``),
        counted in the stack's ``stale_book`` stat."""
        if self.stack is None:
            return
        stale = self.stack.books.discard(self.name, self.rsid)
        if stale:
            self.stack.incStat("stale_book", stale)

    def default_lanename(self) -> str:
        return self.stack.local.lanename if self.stack is not None else super().default_lanename()

    def default_dirpath(self) -> str:
        return self.stack.local.dirpath if self.stack is not None else super().default_dirpath()
