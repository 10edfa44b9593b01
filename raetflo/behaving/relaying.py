"""The relayer: moves received messages from one stack's queue to another's (or back)."""
from __future__ import annotations

from collections import deque
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.base.deeding import Deed

from .common import DeedHelpers, console, count_up, path, queue_of, split_item


class MessageRelayer(DeedHelpers, Deed):
    """``do message relayer [with destination NAME | with reply True] [per ...]``, recur.

    Moves every message a receiver put in ``source`` to the queue a transmitter sends from,
    ``target``: from a lane to a road, a road to a lane, or a stack back to itself.
    Each goes to ``destination`` if given, back to the name it came from with
    ``reply True``, else to the target transmitter's own destination.

    Ioinits (absolute paths; choose others with ``per source ".road.rxmsgs"`` etc.):

    * ``source`` (read, emptied), default ``.lane.rxmsgs``: a deque of (message, name).
    * ``target`` (write), default ``.road.txmsgs``: a deque of messages or
      (message, name), appended to.
    * ``relayed`` (write), default ``.relay.count``: the count of messages relayed.
    """

    Ioinits = odict(source=odict(ipath=".lane.rxmsgs", ival=deque()),
                    target=odict(ipath=".road.txmsgs", ival=deque()),
                    relayed=odict(ipath=".relay.count", ival=0))

    def action(self, destination: str | None = None, reply: bool = False,
               **kwa: Any) -> None:
        if destination is not None and reply:
            raise self.fail("give 'destination' or 'reply True', not both")
        source = queue_of(self.source)
        if not source:
            return
        target = queue_of(self.target)
        count = len(source)
        while source:
            msg, sender = split_item(source.popleft(), None)
            name = sender if reply else destination
            target.append(msg if name is None else (msg, name))
        self.target.value = target
        count_up(self.relayed, count)
        console().concise(f"Relayed {count} message(s) from '{path(self.source)}' to "
                          f"'{path(self.target)}'\n")
