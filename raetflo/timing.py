"""Deadlines measured on a core's clock: time is whatever the core was last told it is.

A :class:`Timer` reads ``clock.now`` (a core, or a driver whose ``now`` is its Store
stamp); it never reads a system clock, so tests run cores in virtual time.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Protocol


class Clock(Protocol):
    """Anything with the current time in seconds as ``now``."""

    @property
    def now(self) -> float: ...


class Timer:
    """A duration started at some time on ``clock``; ``expired`` once it has run out.

    The attribute names are those of ioflo's ``StoreTimer`` (``duration``, ``start``,
    ``stop``, ``elapsed``, ``remaining``, ``expired``, ``restart``, ``extend``,
    ``repeat``), so code written against the reference's timers reads ours too.
    """

    __slots__ = ("clock", "duration", "start", "on_change")
    # whether a restart that moves the deadline later calls ``on_change`` too (a subclass
    # whose owner finds later deadlines by itself says no, and those restarts cost nothing)
    NotifyLater: ClassVar[bool] = True

    def __init__(self, clock: Clock, duration: float = 0.0, start: float | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        """``on_change`` (if given) is called after each restart, extension or repeat: the
        owner of the timer can tell a scheduler its new deadline."""
        self.clock = clock
        self.duration = float(duration)
        self.start = clock.now if start is None else float(start)
        self.on_change = on_change

    @property
    def stop(self) -> float:
        """The deadline: when this timer expires."""
        return self.start + self.duration

    @property
    def elapsed(self) -> float:
        """Seconds since the start (0 before it), as ioflo's timers say it."""
        return max(0.0, self.clock.now - self.start)

    @property
    def remaining(self) -> float:
        """Seconds until the deadline (0 once expired), as ioflo's timers say it."""
        return max(0.0, self.stop - self.clock.now)

    @property
    def expired(self) -> bool:
        return self.clock.now >= self.stop

    def restart(self, start: float | None = None,
                duration: float | None = None) -> tuple[float, float]:
        """Start again now (or at ``start``), with a new ``duration`` when given; the new
        (start, stop), as ioflo's timers return it."""
        before = self.start + self.duration
        if duration is not None:
            self.duration = float(duration)
        self.start = self.clock.now if start is None else float(start)
        if self.on_change is not None and (self.NotifyLater
                                           or self.start + self.duration < before):
            self.on_change()
        return self.start, self.start + self.duration

    def extend(self, extension: float | None = None) -> tuple[float, float]:
        """Lengthen the duration by ``extension`` (default: by itself), same start; the
        (start, stop)."""
        self.duration += self.duration if extension is None else float(extension)
        if self.on_change is not None:
            self.on_change()
        return self.start, self.start + self.duration

    def repeat(self) -> tuple[float, float]:
        """Start the next period at the current deadline (no drift); the (start, stop)."""
        self.start = self.stop
        if self.on_change is not None:
            self.on_change()
        return self.start, self.start + self.duration

    def __repr__(self) -> str:
        return f"Timer(duration={self.duration}, start={self.start})"
