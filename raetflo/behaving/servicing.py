"""What road and lane servicers and stats Deeds share: which part of the stack they run,
and publishing ``stack.stats`` into a share."""
from __future__ import annotations

from typing import Any, ClassVar

from ioflo.base.storing import Share

from .common import StackDeed


class Servicing(StackDeed):
    """A servicer's action: run ``Part`` of the open stack, then ``published(stack)``.

    ``Part`` is the name of the stack method: ``serviceAll`` (receive, run timers, send),
    ``serviceAllRx`` (receive and run timers) or ``serviceAllTx`` (send).
    """

    Part: ClassVar[str] = "serviceAll"

    def action(self, **kwa: Any) -> None:
        stack = self.opened()
        self.before(stack)
        getattr(stack, self.Part)()
        self.published(stack)

    def before(self, stack: Any) -> None:
        """Note what ``published`` compares with; nothing by default."""

    def published(self, stack: Any) -> None:
        """Write what the flo reads after a service; nothing by default."""


class PublishingStats(StackDeed):
    """A stats Deed's action: copy ``stack.stats`` to share ``stats``, one field per key."""

    stats: Share

    def action(self, **kwa: Any) -> None:
        stats = self.opened().stats
        changed = {key: value for key, value in stats.items() if self.stats.fetch(key) != value}
        if changed:
            self.stats.update(changed)
