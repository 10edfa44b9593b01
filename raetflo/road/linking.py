"""The state of one link (our record of one remote), in one place.

A link has four parts, each unknown (None), no (False) or yes (True), as the reference
API shows them: ``join`` (the remote's long-term keys are exchanged), ``session`` (an
allow gave the link short-term keys), ``presence`` (the remote answers alives) and
``reap`` (a main gave up on a silent remote). Every change is one named move of
:data:`MOVES`; a move that changes something may report an event. The flags
``joined``, ``allowed``, ``alived`` and ``reaped`` of a record are views of this state.
"""
from __future__ import annotations

from typing import Literal

from ..events import (RemoteAlive, RemoteAllowed, RemoteDead, RemoteEvent, RemoteJoined,
                      RemoteReaped, RemoteRejected)

Part = Literal["join", "session", "presence", "reap"]
Tri = bool | None

# move -> (part, new value, event reported when the value changes)
MOVES: dict[str, tuple[Part, Tri, type[RemoteEvent] | None]] = {
    "joined": ("join", True, RemoteJoined),
    "refused": ("join", False, RemoteRejected),  # the remote refused our keys
    "unjoined": ("join", None, None),  # a join starts over (renewal, forgotten keys)
    "allowed": ("session", True, RemoteAllowed),
    "disallowed": ("session", False, None),  # the remote refused an allow
    "rekeyed": ("session", None, None),  # short-term keys dropped: a new allow is needed
    "alive": ("presence", True, RemoteAlive),
    "dead": ("presence", False, RemoteDead),
    "unheard": ("presence", None, None),
    "reaped": ("reap", True, RemoteReaped),
    "unreaped": ("reap", False, None),
}
# the move that sets ``part`` to a value (for the reference API's flag setters)
BY_VALUE: dict[tuple[Part, Tri], str] = {(part, value): move
                                         for move, (part, value, _) in MOVES.items()}
BY_VALUE[("reap", None)] = "unreaped"


def move_setting(part: Part, value: object) -> str:
    """The move setting ``part`` to ``value`` (None, False or True; truthy counts as True)."""
    return BY_VALUE[(part, None if value is None else bool(value))]


class Link:
    """The four parts of one link's state; change them only with :meth:`move`."""

    __slots__ = ("join", "session", "presence", "reap")

    def __init__(self, joined: Tri = None) -> None:
        self.join: Tri = joined
        self.session: Tri = None
        self.presence: Tri = None
        self.reap: Tri = None

    def move(self, name: str) -> type[RemoteEvent] | None:
        """Make move ``name``; the event class to report when it changed something."""
        part, value, event = MOVES[name]
        if getattr(self, part) is value:
            return None
        setattr(self, part, value)
        return event

    def __repr__(self) -> str:
        return (f"Link(join={self.join}, session={self.session}, presence={self.presence}, "
                f"reap={self.reap})")
