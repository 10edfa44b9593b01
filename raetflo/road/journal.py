"""The delivery journal: what a stack delivered from each peer, kept across its restarts.

A receiver remembers the tids it delivered from a peer's incarnation (see
:class:`.delivery.DeliveredMemory`) so that a repeat, sent because our done was lost, is
answered done rather than delivered again. The journal keeps that memory in the keep, so
a restart forgets nothing: the sender re-sends a message with the tid of its first try,
and the restarted stack still knows it. This module makes and reads the journal's lines
(no I/O): one JSON array per line,

* ``[name, key, rsid, tid]``: message ``tid`` from remote ``name`` was delivered, in its
  session ``rsid``;
* ``[name, key, rsid, highest, reach, "bits"]``: the whole memory of ``name`` within
  ``reach`` tids below its highest, as hex; what came before is forgotten. A compacted
  journal holds one such line per remote, its reach at most ``REACH`` (older repeats are
  refused as stale after a restart); the first delivery into an empty memory (of a new
  record, or of the peer's new incarnation) is one too, so nothing earlier is restored
  with it;
* ``[name, key, floor]``: the tids of our messages to ``name`` may go up to ``floor``; a
  restarted stack goes on above it (tids are reserved a block at a time, by the messages
  that need them), so a receiver never takes a message of our new incarnation for one
  of the old's, whichever of our packets it sees first.

``key`` is the start of the remote's long-term verify key: an estate that takes a name
over, with keys of its own, inherits nothing. Replay reads only the lines of the records
asked for, and a line that does not read (the last one of a crash, say) is skipped and
counted.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .delivery import TID_MODULO, DeliveredMemory, tid_newer

if TYPE_CHECKING:
    from .estating import RemoteEstate

KEY_CHARS = 16  # hex digits of the verify key a line names its remote's keys by
REACH = 8192  # tids below its highest a compacted memory keeps: at most 2 kB of hex a line
MAX_LINE = 64 * 1024  # longer lines are not the journal's
_encode = json.JSONEncoder(separators=(",", ":")).encode
_START = re.compile(rb'\["(?:[^"\\\x00-\x1f]|\\.)*","(?:[^"\\\x00-\x1f]|\\.)*",')  # name, key
_HEX = re.compile(rb'"[0-9a-f]+"')
_NAMES_MAX = 4096  # decoded line starts kept while replaying (emptied past it)


@dataclass(slots=True)
class Remembered:
    """What the journal says of one remote: its session, its memory, our tids with it."""

    rsid: int = 0
    memory: DeliveredMemory = field(default_factory=DeliveredMemory)
    tid_floor: int = 0  # the last tid reserved for our messages to it (0: none)


def key_of(verhex: str | None) -> str:
    return (verhex or "")[:KEY_CHARS]


def line_start(name: str, key: str) -> bytes:
    """What every line of remote ``name`` with keys ``key`` starts with."""
    return _encode([name, key])[:-1].encode() + b","


def delivery_line(start: bytes, rsid: int, tid: int) -> bytes:
    """The line of one delivery (``start``: its remote's ``line_start``)."""
    return b"%s%d,%d]\n" % (start, rsid, tid)


def first_line(start: bytes, rsid: int, tid: int) -> bytes:
    """The line of the first delivery into an empty memory: a memory of just ``tid``."""
    return b'%s%d,%d,%d,"1"]\n' % (start, rsid, tid, DeliveredMemory.Window)


def memory_line(start: bytes, rsid: int, memory: DeliveredMemory) -> bytes:
    """The line of a whole memory, within ``REACH`` (a compacted journal's)."""
    highest, reach, bits = memory.snapshot(REACH)
    return b'%s%d,%d,%d,"%x"]\n' % (start, rsid, highest, reach, bits)


def reserve_line(start: bytes, floor: int) -> bytes:
    """The line reserving the tids of our messages to its remote up to ``floor``."""
    return b"%s%d]\n" % (start, floor)


def _names(start: bytes) -> tuple[str, str] | None:
    """(name, key) of a line start (two JSON strings), None if it is not two strings."""
    inner = start[2:-2]
    if b"\\" not in inner and inner.isascii():  # as the journal writes them: no escapes
        name, key = inner.split(b'","')
        return name.decode(), key.decode()
    try:
        pair = json.loads(start[:-1] + b"]")
    except (ValueError, RecursionError):
        return None
    return (pair[0], pair[1]) if all(type(part) is str for part in pair) else None


def _start(line: bytes, names: dict[bytes, tuple[str, str] | None]
           ) -> tuple[tuple[str, str] | None, int]:
    """(name, key) of one line, None if its start does not read, and where the rest
    begins."""
    if len(line) > MAX_LINE or not line.endswith(b"]"):
        return None, 0
    cut = line.rfind(b'",') + 2  # the end of the key (hex digits: no quote inside)
    start = line[:cut]
    if start not in names:
        if len(names) >= _NAMES_MAX:
            names.clear()
        names[start] = _names(start) if _START.fullmatch(start) else None
    return names[start], cut


def _numbers(rest: bytes) -> tuple[list[int], int | None] | None:
    """The numbers of a line after its start (and the bits of a memory line's hex), None
    if they do not read."""
    parts = rest.split(b",")
    bits = None
    if len(parts) == 4:
        if not _HEX.fullmatch(parts[3]):
            return None
        bits = int(parts.pop()[1:-1], 16)
    elif len(parts) > 2:
        return None
    if not all(part.isdigit() for part in parts):
        return None
    numbers = [int(part) for part in parts]
    if len(numbers) == 2 and not numbers[1]:  # (tid 0 is no transaction's)
        return None
    return (numbers, bits) if all(number < TID_MODULO for number in numbers) else None


def replay(data: bytes, wanted: Mapping[str, str]) -> tuple[dict[str, Remembered], int]:
    """What the journal ``data`` remembers of the records ``wanted`` (name -> key), by
    name, and how many lines were bad; lines of other names cost their reading only."""
    found: dict[str, Remembered] = {}
    names: dict[bytes, tuple[str, str] | None] = {}
    bad = 0
    for line in data.splitlines():
        pair, cut = _start(line, names)
        if pair is None:
            bad += 1
            continue
        name, key = pair
        if name not in wanted:
            continue
        read = _numbers(line[cut:-1])
        if read is None:
            bad += 1
            continue
        numbers, bits = read
        if key != wanted[name]:  # another estate's keys: nothing before this counts
            found.pop(name, None)
            continue
        entry = found.get(name)
        if entry is None:
            entry = found[name] = Remembered()
        if len(numbers) == 1:
            entry.tid_floor = numbers[0]
            continue
        entry.rsid = numbers[0]
        if bits is not None:
            entry.memory.restore(numbers[1], numbers[2], bits)
        else:
            entry.memory.add(numbers[1])
    return found, bad


class Journal:
    """The journal lines a core asks to be written (``take``, at the driver's next
    flush), and what a journal read at start-up gives its records."""

    def __init__(self) -> None:
        self._lines: list[bytes] = []

    def take(self) -> bytes:
        """The lines asked for since the last call."""
        lines = b"".join(self._lines)
        self._lines.clear()
        return lines

    def start(self, remote: RemoteEstate) -> bytes:
        """What ``remote``'s lines start with, made once while its name and keys hold;
        when they change, its reserved tids are journaled again under the new."""
        start = remote.journal_start
        if start is None or start[0] != remote.name or start[1] is not remote.verfer:
            start = remote.journal_start = (remote.name, remote.verfer, line_start(
                remote.name, key_of(remote.verhex)))
            if remote.tid_reserved:
                self._lines.append(reserve_line(start[2], remote.tid_reserved))
        return start[2]

    def renamed(self, remote: RemoteEstate) -> None:
        """``remote`` has a new name: what the journal says of it goes again under it."""
        start = self.start(remote)  # (journals its reserved tids again)
        if remote.delivered.highest:
            self._lines.append(memory_line(start, remote.rsid, remote.delivered))

    def delivered(self, remote: RemoteEstate, tid: int) -> None:
        """``remote``'s message ``tid`` is delivered (called before its memory takes it);
        the first into an empty memory is a memory line, so nothing of an earlier record
        or incarnation is restored with it."""
        line = first_line if not remote.delivered.highest else delivery_line
        self._lines.append(line(self.start(remote), remote.rsid, tid))

    def reserving(self, remote: RemoteEstate, tid: int) -> None:
        """Our message ``tid`` to ``remote`` starts: once it reaches the tids reserved,
        reserve the next ``TidBlock`` (before a packet carries them), so a restart goes on
        above them (its transactions' tids with them)."""
        start = self.start(remote)
        if tid == remote.tid_reserved or tid_newer(tid, remote.tid_reserved):
            remote.tid_reserved = (tid + remote.TidBlock) % TID_MODULO or 1
            self._lines.append(reserve_line(start, remote.tid_reserved))

    @staticmethod
    def restore(data: bytes, records: Mapping[str, RemoteEstate]) -> int:
        """Give each of ``records`` (by name) what journal ``data`` remembers of it, when
        its keys match: its memory of delivered tids, the peer's session, and our tids
        going on above those reserved; how many lines were damaged."""
        found, bad = replay(data, {name: key_of(remote.verhex)
                                   for name, remote in records.items()})
        for name, entry in found.items():
            remote = records[name]
            if entry.memory.highest:
                remote.delivered = entry.memory
                remote.rsid = entry.rsid
                remote.peer_tid = entry.memory.highest
            if entry.tid_floor:  # (the next message's tid reserves more)
                remote.tid = remote.tid_reserved = entry.tid_floor
        return bad

    @staticmethod
    def compacted(remotes: Iterable[RemoteEstate]) -> bytes:
        """The journal as what it says of ``remotes`` now: a line of each one's memory of
        deliveries, and one of the tids reserved for it."""
        lines = []
        for remote in remotes:
            start = line_start(remote.name, key_of(remote.verhex))
            if remote.delivered.highest:
                lines.append(memory_line(start, remote.rsid, remote.delivered))
            if remote.tid_reserved:
                lines.append(reserve_line(start, remote.tid_reserved))
        return b"".join(lines)
