"""Loop glue the asyncio drivers share: one re-armed ``call_at`` and an awaitable inbox."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Alarm:
    """At most one ``loop.call_at`` handle, kept at a core's next deadline.

    ``arm(when)`` moves it (``None``: nothing is due); arming the same deadline again
    keeps the handle, so a driver may re-arm after every input at no cost.
    """

    __slots__ = ("_loop", "_callback", "_handle", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self.when: float | None = None

    def arm(self, when: float | None) -> None:
        if when == self.when:
            return
        self.cancel()
        if when is not None:
            self.when = when
            self._handle = self._loop.call_at(when, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self.when = None

    def _fire(self) -> None:
        self._handle = None
        self.when = None
        self._callback()


class Inbox(Generic[T]):
    """Items that coroutines take, oldest first, from a deque a driver fills.

    The driver calls ``wake()`` after adding items and ``close()`` at shutdown; ``get()``
    then hands out what is left and raises ``closed()`` once it is empty.
    """

    def __init__(self, items: deque[T], closed: Callable[[], Exception],
                 taken: Callable[[], None] | None = None) -> None:
        self.items = items
        self._closed = closed
        self._taken = taken  # called after each item taken (a driver may resume reading)
        self._ready = asyncio.Event()
        self.closed = False

    def wake(self) -> None:
        if self.items:
            self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> T:
        """The oldest item, waiting for one; ``closed()`` is raised once closed and empty."""
        item = await self._take()
        if item is _END:
            raise self._closed()
        return item  # type: ignore[return-value]

    def __aiter__(self) -> Inbox[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._take()
        if item is _END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def _take(self) -> T | object:
        while not self.items:
            if self.closed:
                return _END
            self._ready.clear()
            await self._ready.wait()
        item = self.items.popleft()
        if self._taken is not None:
            self._taken()
        return item


_END = object()  # what _take gives once the inbox is closed and empty
