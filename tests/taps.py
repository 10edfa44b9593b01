"""A tap for tests: records every datagram a stack sends, as sent."""
from __future__ import annotations

from typing import Any, Callable


class Tap:
    """Wraps ``stack.server.send``; ``sent`` holds ``(data, destination)`` pairs in order
    and ``send`` is the untapped send, for injecting datagrams from the stack's socket."""

    def __init__(self, stack: Any) -> None:
        self.send: Callable[[bytes, tuple], int] = stack.server.send
        self.sent: list[tuple[bytes, tuple]] = []
        stack.server.send = self

    def __call__(self, data: bytes, ha: tuple) -> int:
        self.sent.append((bytes(data), tuple(ha)))
        return self.send(data, ha)

    @property
    def datagrams(self) -> list[bytes]:
        return [data for data, _ in self.sent]
