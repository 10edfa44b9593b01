"""The deadlines of a core's transactions under way, in a heap.

An entry ``(deadline, seq, transaction)`` is pushed when a transaction is added and when
one of its timers moves earlier; a timer moved later pushes nothing (its old entry finds
the new deadline when it comes up). Entries are checked when they are taken, so stale
ones (superseded, or of a transaction that ended) are skipped; the heap is rebuilt from
the live ones before they pile up: past ``4 x`` the live entries of the last rebuild (the
restarts' pushes), or once more transactions have ended since then than half the heap
holds (each stale entry holds an ended transaction and its packets), each plus ``slack``.
Every operation costs O(log n), a rebuild amortized O(1) a push or an end.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Mapping
from typing import Any


class DeadlineHeap:
    """The transaction deadlines of one core (see the module's docstring)."""

    __slots__ = ("entries", "_seq", "_live", "_ended")

    def __init__(self) -> None:
        self.entries: list[tuple[float, int, Any]] = []  # the heap
        self._seq = itertools.count()  # tie-break of equal deadlines: first come first
        self._live = 0  # live entries at the last rebuild
        self._ended = 0  # transactions ended since then

    def push(self, transaction: Any) -> None:
        """File ``transaction`` at its current deadline."""
        heapq.heappush(self.entries, (transaction.deadline, next(self._seq), transaction))

    def ended(self) -> None:
        """A transaction left its record: its entries are stale from now on."""
        self._ended += 1

    def due(self, now: float, remotes: Mapping[int, Any]) -> list[Any]:
        """Take out the transactions whose deadline has come, each once, in deadline
        order; those ended, or of records not in ``remotes`` any more, are dropped."""
        heap = self.entries
        due: dict[int, Any] = {}
        while heap and heap[0][0] <= now:
            _, _, transaction = heapq.heappop(heap)
            if transaction.added and remotes.get(transaction.remote.uid) is transaction.remote:
                due.setdefault(id(transaction), transaction)
        return list(due.values())

    def bound(self, slack: int) -> None:
        """Rebuild from the live entries when the stale ones pile up past ``slack``."""
        heap = self.entries
        if len(heap) > 4 * self._live + slack or self._ended > len(heap) // 2 + slack:
            live = {id(t): t for _, _, t in heap if t.added}
            heap[:] = [(t.deadline, next(self._seq), t) for t in live.values()]
            heapq.heapify(heap)
            self._live, self._ended = len(heap), 0

    def earliest(self) -> float:
        """The earliest deadline of a live transaction (inf: none); stale entries at the
        top go, and one whose transaction moved files it where it is now."""
        heap = self.entries
        while heap:
            deadline, _, transaction = heap[0]
            if not transaction.added:
                heapq.heappop(heap)
                continue
            current = transaction.deadline
            if current != deadline:  # moved without telling us: file it where it is now
                heapq.heapreplace(heap, (current, next(self._seq), transaction))
                continue
            return deadline
        return math.inf
