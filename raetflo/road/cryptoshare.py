"""When a driver lets the core share its crypto with a worker thread (drivers only).

A worker pays only while the service loop's thread is short of time: sharing a batch's
signatures makes it finish sooner on two cores, but the hand-offs of the GIL cost some
25% more CPU in all (measured: 300 verifications, 52 against 82 µs a signature in wall
time, 101 against 81 in CPU). A main holding thousands of estates at a steady rate has
time to spare and only pays; a burst of messages is short of time and gains. So the
polled driver measures how busy its loop's thread is (CPU time over wall time, in windows
of ``window`` seconds) and shares while that is above ``above``, until it falls below
``below`` (the loop is less busy while a worker helps it, so one threshold would flap).
"""
from __future__ import annotations

import time
from collections.abc import Callable


class CryptoShare:
    """Whether to share crypto now, from the calling thread's busy fraction.

    ``above`` 0 shares always (as a core driven bare does; ``below`` is then not used).
    Until the first window has passed it shares."""

    def __init__(self, above: float, below: float, window: float = 0.5,
                 wall: Callable[[], float] = time.perf_counter,
                 cpu: Callable[[], float] = time.thread_time) -> None:
        if above > 0 and not 0 <= below <= above:
            raise ValueError(f"crypto share thresholds: need 0 <= below ({below}) "
                             f"<= above ({above})")
        self.above, self.below, self.window = above, below, window
        self._wall, self._cpu = wall, cpu
        self._start_wall, self._start_cpu = wall(), cpu()
        self.busy: float | None = None  # the busy fraction of the last whole window
        self.sharing = True

    def decide(self) -> bool:
        """Whether the next pass shares its crypto (cheap: one clock read a call, two once
        a window is over)."""
        if self.above <= 0:
            return True
        wall = self._wall()
        span = wall - self._start_wall
        if span >= self.window:
            cpu = self._cpu()
            self.busy = (cpu - self._start_cpu) / span
            self._start_wall, self._start_cpu = wall, cpu
            if self.sharing and self.busy < self.below:
                self.sharing = False
            elif not self.sharing and self.busy > self.above:
                self.sharing = True
        return self.sharing
