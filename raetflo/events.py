"""What a road or lane core reports to its driver: one small immutable record per event.

A core appends events as they happen; a driver takes them with ``next_event()``. Remote
events carry the remote's ``name`` and ``uid``; message events carry the ``ref`` that
``send_message`` returned, so a driver can resolve a waiting sender.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event."""


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A whole message arrived from ``source`` (a remote's name)."""

    body: Any
    source: str


@dataclass(frozen=True, slots=True)
class MessageDelivered(Event):
    """The peer confirmed message ``ref``."""

    ref: int
    name: str


@dataclass(frozen=True, slots=True)
class MessageDropped(Event):
    """Message ``ref`` will not be tried again; ``reason`` says why. ``unconfirmed``: a
    copy may have been delivered (the peer's confirmation was lost)."""

    ref: int
    name: str
    reason: str
    unconfirmed: bool = False


@dataclass(frozen=True, slots=True)
class RemoteEvent(Event):
    """Base of the events about one remote."""

    name: str
    uid: int


@dataclass(frozen=True, slots=True)
class RemotePending(RemoteEvent):
    """A remote's keys await the operator's decision."""


@dataclass(frozen=True, slots=True)
class RemoteJoined(RemoteEvent):
    """A join with the remote completed: long-term keys are exchanged."""


@dataclass(frozen=True, slots=True)
class RemoteAllowed(RemoteEvent):
    """An allow completed: the link has a fresh session."""


@dataclass(frozen=True, slots=True)
class RemoteAlive(RemoteEvent):
    """The remote answered (or sent) an alive after having been not known alive."""


@dataclass(frozen=True, slots=True)
class RemoteDead(RemoteEvent):
    """The remote did not answer an alive."""


@dataclass(frozen=True, slots=True)
class RemoteReaped(RemoteEvent):
    """A main gave up on the remote after ``interim`` seconds of silence."""


@dataclass(frozen=True, slots=True)
class RemoteRejected(RemoteEvent):
    """The remote's keys were rejected (by us or by the remote)."""


@dataclass(frozen=True, slots=True)
class RemoteRemoved(RemoteEvent):
    """The record of the remote was forgotten."""


__all__ = ["Event", "MessageReceived", "MessageDelivered", "MessageDropped", "RemoteEvent",
           "RemotePending", "RemoteJoined", "RemoteAllowed", "RemoteAlive", "RemoteDead",
           "RemoteReaped", "RemoteRejected", "RemoteRemoved"]
