"""The delivery journal: what a stack delivered from each peer, kept across its restarts.

A receiver remembers the tids it delivered from a peer's incarnation (see
:class:`.delivery.DeliveredMemory`) so that a repeat, sent because our done was lost, is
answered done rather than delivered again. The journal keeps that memory in the keep, so
a restart forgets nothing: the sender re-sends a message with the tid of its first try,
and the restarted stack still knows it. This module makes and reads the journal's lines
(no I/O): one JSON array per line,

* ``[name, key, rsid, tid]``: message ``tid`` from remote ``name`` was delivered, in its
  session ``rsid``; a ``tid`` of 0 means the memory starts anew (it precedes the first
  delivery of a new record, or of the peer's new incarnation): what came before is
  forgotten;
* ``[name, key, rsid, highest, [[first, end], ...]]``: the whole memory of ``name`` (a
  compacted journal holds one such line per remote; see ``DeliveredMemory.runs``);
* ``[name, key, floor]``: the tids of our messages to ``name`` may go up to ``floor``; a
  restarted stack goes on above it (tids are reserved a block at a time, by the messages
  that need them), so a receiver never takes a message of our new incarnation for one
  of the old's, whichever of our packets it sees first.

``key`` is the start of the remote's long-term verify key: an estate that takes a name
over, with keys of its own, inherits nothing. A line that does not decode (the last one
of a crash, say) is skipped and counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .delivery import TID_MODULO, DeliveredMemory

KEY_CHARS = 16  # hex digits of the verify key a line names its remote's keys by
_encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)
class Remembered:
    """What the journal says of one remote: its keys, its session and its memory."""

    key: str
    rsid: int = 0
    memory: DeliveredMemory = field(default_factory=DeliveredMemory)
    tid_floor: int = 0  # the last tid reserved for our transactions with it (0: none)


def key_of(verhex: str | None) -> str:
    return (verhex or "")[:KEY_CHARS]


def line_start(name: str, key: str) -> bytes:
    """What every delivery line of remote ``name`` with keys ``key`` starts with."""
    return _encode([name, key])[:-1].encode() + b","


def delivery_line(name: str, key: str, rsid: int, tid: int, start: bytes = b"") -> bytes:
    """The line of one delivery (``tid`` 0: the peer's memory starts anew); ``start``:
    its ``line_start``, when known."""
    return b"%s%d,%d]\n" % (start or line_start(name, key), rsid, tid)


def memory_line(name: str, key: str, rsid: int, memory: DeliveredMemory) -> bytes:
    """The line of a whole memory (a compacted journal's)."""
    return _encode([name, key, rsid, memory.highest, memory.runs()]).encode() + b"\n"


def reserve_line(name: str, key: str, floor: int, start: bytes = b"") -> bytes:
    """The line reserving our tids to ``name`` up to ``floor``."""
    return b"%s%d]\n" % (start or line_start(name, key), floor)


def _u32(value: Any) -> bool:
    return type(value) is int and 0 <= value < TID_MODULO


def _runs(value: Any) -> list[tuple[int, int]] | None:
    if type(value) is not list:
        return None
    runs = []
    for run in value:
        if (type(run) is not list or len(run) != 2 or not all(type(v) is int for v in run)
                or not 0 <= run[0] < run[1]):
            return None
        runs.append((run[0], run[1]))
    return runs


def replay(data: bytes) -> tuple[dict[str, Remembered], int]:
    """What the journal ``data`` remembers, by remote name, and how many lines were bad."""
    found: dict[str, Remembered] = {}
    bad = 0
    for line in data.splitlines():
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if (type(item) is not list or len(item) not in (3, 4, 5) or type(item[0]) is not str
                or type(item[1]) is not str or not all(_u32(value) for value in item[2:4])):
            bad += 1
            continue
        runs = _runs(item[4]) if len(item) == 5 else []
        if runs is None:
            bad += 1
            continue
        name, key = item[0], item[1]
        entry = found.get(name)
        if entry is None or entry.key != key:  # (another estate's keys: nothing of the old)
            entry = found[name] = Remembered(key)
        if len(item) == 3:
            entry.tid_floor = item[2]
            continue
        entry.rsid = item[2]
        if len(item) == 5:
            entry.memory.restore(item[3], runs)
        elif item[3]:
            entry.memory.add(item[3])
        else:
            entry.memory.clear()
    return found, bad
