"""A lossy link for tests: perturbs a share of one stack's outgoing datagrams."""
from __future__ import annotations

import random


class LossyLink:
    """Wraps ``stack.server.send``: of every datagram, ``rate`` is dropped, duplicated
    or held back and sent after a later one (reordered), chosen evenly and seeded."""

    def __init__(self, stack, rate: float = 0.2, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.send = stack.server.send
        self.held: list[tuple[bytes, tuple]] = []
        self.counts = {"sent": 0, "dropped": 0, "duplicated": 0, "reordered": 0}
        stack.server.send = self

    def __call__(self, data: bytes, ha: tuple) -> int:
        roll = self.rng.random()
        if roll < self.rate / 3:
            self.counts["dropped"] += 1
        elif roll < 2 * self.rate / 3:
            self.counts["duplicated"] += 1
            self.send(data, ha)
            self.send(data, ha)
        elif roll < self.rate:
            self.counts["reordered"] += 1
            self.held.append((bytes(data), ha))
        else:
            self.counts["sent"] += 1
            self.send(data, ha)
            while self.held:
                self.send(*self.held.pop(0))
        return len(data)
