"""What each side of a link remembers so that a message is delivered exactly once.

The receiver keeps a :class:`DeliveredMemory` of the tids it delivered from the peer's
current incarnation; the sender keeps every message it has not seen confirmed as an
:class:`Outgoing` record, saved in :class:`SavedMessages` while there is no session to
send it in, and re-sends it with the tid of its first try.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import raeting

TID_MODULO = raeting.SID_MODULO  # tids wrap like sids: 32 bits, half range is "newer"
TID_DELTA = raeting.SID_DELTA


def tid_newer(new: int, old: int) -> bool:
    """Whether tid ``new`` comes after ``old`` modulo 2**32 (the half-range rule of sids)."""
    return 0 < (new - old) % TID_MODULO < TID_DELTA


def _cut(bits: int, length: int) -> int:
    """The lowest ``length`` bits of ``bits`` (a new int only when it is longer)."""
    return bits & ((1 << length) - 1) if bits.bit_length() > length else bits


class DeliveredMemory:
    """Tids of messages delivered from one peer incarnation: a sliding bitmap window.

    Bit ``d`` of the bitmap is set when tid ``highest - d`` was delivered. Tids ``reach``
    or more below ``highest`` are unknown and may be replays, so refused (``stale``); the
    reach is ``Window`` but for a memory restored from a journal, which knows fewer, and
    grows again as newer tids are delivered. Nothing is forgotten with time, only by the
    window sliding on.
    """

    Window = 65536  # tids remembered below the highest delivered: bounds entries per remote
    __slots__ = ("highest", "_bits", "_reach")

    def __init__(self) -> None:
        self.highest = 0  # highest delivered tid, 0: none yet
        self._bits = 0  # (bits past the reach are left to be cut now and then)
        self._reach = self.Window

    def _distance(self, tid: int) -> int:
        return (self.highest - tid) % TID_MODULO

    def __contains__(self, tid: object) -> bool:
        if not isinstance(tid, int) or not self.highest:
            return False
        distance = self._distance(tid)
        return distance < self._reach and bool(self._bits >> distance & 1)

    def stale(self, tid: int) -> bool:
        """Whether ``tid`` is out of reach below ``highest``: too old to tell, so refused."""
        if not self.highest:
            return False
        distance = self._distance(tid)
        return self._reach <= distance < TID_DELTA

    def add(self, tid: int) -> None:
        """Remember that ``tid`` was delivered (a tid out of reach is ignored)."""
        window = self.Window
        if not self.highest or tid_newer(tid, self.highest):
            shift = (tid - self.highest) % TID_MODULO if self.highest else 0
            if shift < window:
                bits = self._bits << shift | 1
                if bits.bit_length() > 2 * window:  # cut once in a while, not at every add
                    bits = _cut(bits, window)
                self._bits, self._reach = bits, min(window, self._reach + shift)
            else:
                self._bits, self._reach = 1, window
            self.highest = tid
            return
        distance = self._distance(tid)
        if distance < self._reach:
            self._bits |= 1 << distance

    def clear(self) -> None:
        self.highest = 0
        self._bits = 0
        self._reach = self.Window

    def snapshot(self, reach: int) -> tuple[int, int, int]:
        """``(highest, reach, bits)`` of what this memory knows within ``reach`` tids below
        its highest (for :meth:`restore`)."""
        reach = min(reach, self._reach)
        return self.highest, reach, _cut(self._bits, reach)

    def restore(self, highest: int, reach: int, bits: int) -> None:
        """Know what :meth:`snapshot` gave (an empty memory when it has no highest)."""
        self.clear()
        reach = max(1, min(reach, self.Window))
        bits = _cut(bits, reach)
        if highest and bits & 1:  # (the highest delivered is always known)
            self.highest, self._reach, self._bits = highest % TID_MODULO, reach, bits


@dataclass(slots=True)
class Outgoing:
    """A message on its way to one remote, until it is confirmed or given up.

    ``body`` is the message; ``deadline`` the store stamp its transmit timeout ends at,
    past which it is given up (None: no timeout); ``tid`` the transaction id of its last
    try (None: not tried yet), a re-send reuses it so the receiver can tell a repeat;
    ``resends`` counts tries after the first; ``unconfirmed`` is set once a try may have
    been delivered without us hearing so (a segment was sent twice); ``nacked_sid`` is the
    session its last try was nacked in (None: not nacked); ``ref`` is what
    ``send_message`` returned (0: nobody waits for the outcome, so no event is made).
    """

    body: Any
    deadline: float | None = None
    tid: int | None = None
    resends: int = 0
    unconfirmed: bool = False
    nacked_sid: int | None = None
    ref: int = 0

    @classmethod
    def new(cls, body: Any, timeout: float | None, now: float, ref: int = 0) -> Outgoing:
        """A message not tried yet; a timeout of None or 0 (or less) means none."""
        deadline = now + timeout if timeout is not None and timeout > 0 else None
        return cls(body=body, deadline=deadline, ref=ref)

    def remaining(self, now: float) -> float | None:
        """Transmit timeout left for the next try (None: no timeout)."""
        return None if self.deadline is None else self.deadline - now


class SavedMessages:
    """Messages waiting for a session with one remote, oldest first.

    Iterating gives the :class:`Outgoing` entries in order (``entry.body`` is the message);
    ``append``, ``appendleft``, ``extend``, ``popleft`` and ``clear`` are a deque's, as
    raet's ``remote.messages`` is one.
    """

    __slots__ = ("_entries", "_next_deadline")

    def __init__(self) -> None:
        self._entries: deque[Outgoing] | tuple[()] = ()  # a deque once something is saved
        self._next_deadline = math.inf

    def append(self, entry: Outgoing) -> None:
        if not isinstance(self._entries, deque):
            self._entries = deque()
        self._entries.append(entry)
        if entry.deadline is not None:
            self._next_deadline = min(self._next_deadline, entry.deadline)

    def appendleft(self, entry: Outgoing) -> None:
        self.append(entry)
        self._entries.rotate(1)  # type: ignore[union-attr]

    def extend(self, entries: Iterable[Outgoing]) -> None:
        for entry in entries:
            self.append(entry)

    def clear(self) -> None:
        self._entries = ()
        self._next_deadline = math.inf

    def popleft(self) -> Outgoing:
        entries = self._entries
        if not isinstance(entries, deque):
            raise IndexError("no saved message to pop")
        entry = entries.popleft()
        if not entries:
            self._entries = ()  # the deque's memory goes with the last entry
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Outgoing]:
        return iter(self._entries)

    @property
    def next_deadline(self) -> float:
        """The earliest deadline of an entry (inf: none has one)."""
        return self._next_deadline

    def take_nacked(self, tid: int, sid: int) -> Outgoing | None:
        """Remove and return the entry whose try ``tid`` was nacked in session ``sid``."""
        for entry in self._entries:
            if entry.tid == tid and entry.nacked_sid == sid:
                self._entries.remove(entry)  # type: ignore[union-attr]
                if not self._entries:
                    self._entries = ()
                return entry
        return None

    def has_resends(self) -> bool:
        """Whether any entry was tried before (and so keeps its tid)."""
        return any(entry.tid is not None for entry in self._entries)

    def expire(self, now: float) -> list[Outgoing]:
        """Remove and return the entries whose deadline has passed (cheap when none has)."""
        if now < self._next_deadline:
            return []
        expired = [e for e in self._entries if e.deadline is not None and e.deadline <= now]
        self._entries = deque(e for e in self._entries
                              if e.deadline is None or e.deadline > now) or ()
        self._next_deadline = min((e.deadline for e in self._entries if e.deadline is not None),
                                  default=math.inf)
        return expired
