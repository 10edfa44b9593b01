"""What message Deeds share: an inbox each reader reads with its own cursor, printing that
shortens long bodies, replying, and whole shares sent as bodies.

A receiver appends each message it moves to ``rxmsgs`` (the queue one consumer, such as a
relayer, empties) and also to ``inbox``: the last ``InboxLimit`` messages, numbered. Printers
and repliers read ``inbox`` from where they left off, so one house can print, relay and
answer every message.
"""
from __future__ import annotations

import copy
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from ioflo.aid.odicting import odict
from ioflo.base.storing import Share

from .common import (DeedHelpers, FloError, Receiving, Transmitting, console, count_up, path,
                     queue_of, render)

ELLIPSIS = "..."
SOURCE = "{source}"  # in a replier's string values: the name of the remote answered


def inbox_of(share: Share, limit: int) -> deque:
    """The deque of (number, message, source) of at most ``limit`` in ``share.value``."""
    if not isinstance(share.value, deque) or share.value.maxlen != limit:
        share.value = deque(share.value if isinstance(share.value, deque) else (),
                            maxlen=limit)
    return share.value


def shorten(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` characters, ending in '...' when cut (None: whole)."""
    if width is None or len(text) <= width:
        return text
    return text[:max(width - len(ELLIPSIS), 0)] + ELLIPSIS


class Feeding(Receiving):
    """A receiver's action that also numbers each message into share ``inbox`` and keeps
    at most ``RxmsgsLimit`` unread messages in ``rxmsgs``."""

    InboxLimit: ClassVar[int] = 1000  # messages ``inbox`` keeps for its readers; the oldest go
    RxmsgsLimit: ClassVar[int] = 1000  # unread messages ``rxmsgs`` keeps; the oldest go
    inbox: Share

    def action(self, **kwa: Any) -> None:
        stack = self.opened()
        arrived = list(stack.rxMsgs)
        first = (self.received.value or 0) + 1
        super().action(**kwa)
        if not arrived:
            return
        inbox = inbox_of(self.inbox, self.InboxLimit)
        for number, item in enumerate(arrived, start=first):
            inbox.append((number, *item))
        self.trim(stack)

    def trim(self, stack: Any) -> None:
        """Drop the oldest unread ``rxmsgs`` past ``RxmsgsLimit``, with a console line."""
        queue = queue_of(self.rxmsgs)
        excess = len(queue) - self.RxmsgsLimit
        if excess > 0:
            for _ in range(excess):
                queue.popleft()
            console().concise(f"{self.Word.capitalize()} stack '{stack.name}': "
                              f"'{path(self.rxmsgs)}' holds {self.RxmsgsLimit} unread messages; "
                              f"dropped the {excess} oldest\n")


class InboxReader(DeedHelpers):
    """Mixin: reads share ``inbox`` from its own cursor, so each reader sees every message."""

    inbox: Share

    def __init__(self, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.cursor = 0  # number of the last message read

    def unread(self) -> list[tuple[Any, str]]:
        """The (message, source) pairs numbered past the cursor; moves the cursor."""
        inbox = self.inbox.value if isinstance(self.inbox.value, deque) else ()
        fresh = [(number, msg, source) for number, msg, source in inbox
                 if number > self.cursor]
        if not fresh:
            return []
        missed = fresh[0][0] - self.cursor - 1
        if missed > 0:
            console().concise(f"'{self.where()}' missed {missed} message(s) that left "
                              f"'{path(self.inbox)}' before it read them\n")
        self.cursor = fresh[-1][0]
        return [(msg, source) for _, msg, source in fresh]


class Printing(InboxReader):
    """A printer's action: print each new message of ``inbox``, naming ``local``'s name.

    ``with width N`` cuts each printed body to N characters.
    """

    local: Share

    def action(self, width: int | None = None, **kwa: Any) -> None:
        if width is not None and (not isinstance(width, int) or isinstance(width, bool)
                                  or width < len(ELLIPSIS) + 1):
            raise self.fail(f"'width' must be an int of at least {len(ELLIPSIS) + 1}, "
                            f"not {width!r}")
        name = self.local.fetch("name", "?")
        for msg, source in self.unread():
            console().terse(f"{name} received from {source}: {shorten(render(msg), width)}\n")


class Sending(Transmitting):
    """A transmitter's action that also sends a whole share: ``with share ".path"`` sends
    the share's fields (nested values too, as they are when it runs) with the other
    ``with`` fields, to ``with destination NAME`` when given."""

    def send_parms(self, parms: Mapping[str, Any]) -> int:
        """Send the message ``parms`` describe and what ``txmsgs`` holds; the count."""
        body, name = self.outgoing(parms)
        if name is not None:
            if body:
                queue_of(self.txmsgs).appendleft((body, name))
            body = odict()
        return self.transmit_all(body)

    def outgoing(self, parms: Mapping[str, Any]) -> tuple[odict, str | None]:
        """The body (share fields, then the other parameters) and destination of ``parms``."""
        fields = odict(parms)
        where = fields.pop("share", None)
        name = fields.pop("destination", None)
        if name is not None and not isinstance(name, str):
            raise self.fail(f"'destination' must be a {self.Word} remote name, not {name!r}")
        body = odict()
        if where is not None:
            body.update(copy.deepcopy(dict(self.shared(where).items())))
        body.update(fields)
        return body, name

    def shared(self, where: Any) -> Share:
        """The share at store path ``where``; FloError when it names none."""
        share = self.store.fetch(where) if isinstance(where, str) else None
        if not isinstance(share, Share):
            raise self.fail(f"'share' must name a share of the store (\".my.body\"), "
                            f"not {where!r}")
        return share


class Replying(InboxReader, Sending):
    """A replier's action: answer each new message of ``inbox`` to its source.

    The answer is the ``with`` message (``share ".path"`` included), or the message itself
    when there are no parameters; in the answer's top-level string values, ``{source}`` is
    replaced with the name of the remote answered (``with answer "hello {source}"``). It is
    queued in ``txmsgs`` and sent at once, with what
    else is queued there. Counts the answers in share ``replied``; an answer to a source
    that is no longer a remote is dropped with a console line.
    """

    replied: Share

    def action(self, **parms: Any) -> None:
        stack = self.opened()
        answers = [(self.answer(parms, msg, source), source) for msg, source in self.unread()
                   if self.reachable(stack, source)]
        if not answers:
            return
        queue_of(self.txmsgs).extend(answers)
        self.transmit_all(odict())
        count_up(self.replied, len(answers))

    def reachable(self, stack: Any, source: str) -> bool:
        """Whether ``source`` is a remote to answer (else a console line says so)."""
        try:
            self.remote_uid(stack, source)
        except FloError:
            console().terse(f"{self.Word.capitalize()} stack '{stack.name}': dropped the "
                            f"answer to '{source}': no remote named '{source}'\n")
            return False
        return True

    def answer(self, parms: Mapping[str, Any], msg: Any, source: str) -> Any:
        """The answer to ``msg`` from ``source``: the body ``parms`` give, else ``msg``."""
        if not parms:
            return msg
        body, name = self.outgoing(parms)
        if name is not None:
            raise self.fail("a replier answers to each message's source: give no "
                            "'destination'")
        for field, value in body.items():
            if isinstance(value, str) and SOURCE in value:
                body[field] = value.replace(SOURCE, source)
        return body

