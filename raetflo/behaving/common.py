"""What raetflo's Deeds share: fatal flo errors, config reads and the message queues.

The mixins here hold the behaviour road and lane Deeds have in common; the Deeds
themselves (and their Ioinits) are in ``roading``, ``laning`` and ``relaying``.
"""
from __future__ import annotations

import difflib
import inspect
import json
import types
import typing
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from ioflo.aid.consoling import getConsole
from ioflo.base.deeding import Deed
from ioflo.base.storing import Share, Store

MISSING = object()


class FloError(SystemExit):
    """A fatal mistake in a flo's configuration, reported as one line.

    Raised from a Deed's action, ioflo stops the skedder, runs the exit actions of the
    framers still running (so stacks close), and the process exits with status 1 after
    printing ``raetflo: <message>`` on stderr, without a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"raetflo: {message}")


_console: Any = None  # the console of a quiet run (see ``use_console``), else None


def console() -> Any:
    """The console raetflo's Deeds and the stacks they open write to: ioflo's (which
    ``ioflo -v`` governs) unless a quiet run gave its own."""
    return _console if _console is not None else getConsole()


def use_console(given: Any) -> None:
    """Make ``given`` the Deeds' console (None: ioflo's again)."""
    global _console
    _console = given


def path(share: Share) -> str:
    """The absolute store path of ``share``, as a flo writes it."""
    return f".{share.name}"


def queue_of(share: Share) -> deque:
    """The deque in ``share.value``, made (and stored) if the share holds none yet."""
    if not isinstance(share.value, deque):
        share.value = deque()
    return share.value


def count_up(share: Share, delta: int) -> None:
    """Add ``delta`` to the integer in ``share.value``."""
    share.value = (share.value or 0) + delta


def render(msg: Any) -> str:
    """A message as one line of JSON (``repr`` for what JSON cannot show)."""
    return json.dumps(msg, ensure_ascii=False, default=repr)


KIND_NAMES = {bool: "True or False", int: "an integer", float: "a number", str: "a string"}


def parameter_kinds(hint: Any) -> tuple[type, ...]:
    """The types a ``with`` value of annotation ``hint`` may have (empty: any); None aside."""
    if hint is Any:
        return ()
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kinds = tuple(kind for kind in members if kind is not type(None))
    return (*kinds, int) if float in kinds and int not in kinds else kinds


def kinds_text(kinds: tuple[type, ...]) -> str:
    """``kinds`` as a flo author reads them: "a number", "a string or True or False"."""
    if float in kinds:
        kinds = tuple(kind for kind in kinds if kind is not int)
    return " or ".join(KIND_NAMES.get(kind, kind.__name__) for kind in kinds)


def is_kind(value: Any, kinds: tuple[type, ...]) -> bool:
    """Whether ``value`` is one of ``kinds`` (any when empty); bools are not numbers."""
    if not kinds:
        return True
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def split_item(item: Any, default: str | None) -> tuple[Any, str | None]:
    """A queued item, a message or (message, name), as (message, name or ``default``)."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Mapping):
        return item[0], item[1]
    return item, default


class DeedHelpers:
    """Mixin for raetflo Deeds: error context, checked ``with`` parameters and typed reads
    of config shares.

    The ``with`` parameters a Deed takes are the keyword parameters of its ``action``, of
    the types their annotations say; any other, one of another type, or one without a
    default left out stops the run (FloError) when the flo is resolved, before it runs.
    A Deed whose ``with`` fields are data (a message), not settings, sets ``FreeParms``.
    """

    FreeParms: ClassVar[bool] = False  # True: any ``with`` field is accepted, unchecked
    name: str  # set by ioflo's Actor
    store: Store

    def where(self) -> str:
        """This Deed's flo line and house, for error messages.

        The line is its text: ioflo's line count runs ahead of the statement it built.
        """
        act = getattr(self, "_act", None)
        what = act.human if act is not None and act.human else self.name
        house = self.store.fetch(".meta.house")
        if isinstance(house, Share) and house.value:
            return f"'{what}' in house '{house.value}'"
        return f"'{what}'"

    def _prepare(self, **parms: Any) -> None:
        """ioflo's resolve-time hook: check the ``with`` parameters against ``action``."""
        known = self.parameters()
        for key, value in parms.items():
            if key not in known:
                if self.FreeParms:
                    continue
                names = ", ".join(known) or "none"
                raise self.fail(f"unknown parameter '{key}' (known: {names})")
            kinds, _ = known[key]
            if not (value is None or is_kind(value, kinds)):
                raise self.fail(f"parameter '{key}' must be {kinds_text(kinds)}, "
                                f"got {value!r}")
        for key, (kinds, required) in known.items():
            if required and key not in parms:
                raise self.fail(f"missing parameter '{key}' (with {key} VALUE)")

    @classmethod
    def parameters(cls) -> dict[str, tuple[tuple[type, ...], bool]]:
        """The named parameters of ``action``: their types and whether they are required."""
        action = getattr(cls, "action")  # every Deed class defines it (ioflo's contract)
        hints = typing.get_type_hints(action)
        return {name: (parameter_kinds(hints.get(name, Any)), parm.default is parm.empty)
                for name, parm in inspect.signature(action).parameters.items()
                if name != "self" and parm.kind in (parm.POSITIONAL_OR_KEYWORD,
                                                    parm.KEYWORD_ONLY)}

    def fail(self, problem: str) -> FloError:
        """A FloError naming this Deed's flo line and ``problem``."""
        return FloError(f"{self.where()}: {problem}")

    def only_fields(self, share: Share, known: Iterable[str]) -> None:
        """FloError naming a field of the config ``share`` that is not one of ``known``
        (a misspelt ``mian`` would silently leave the default), and the likely one."""
        known = list(known)
        for field in share.keys():
            if field not in known:
                close = difflib.get_close_matches(field, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.fail(f"unknown field '{field}' in share '{path(share)}'{hint} "
                                f"(known: {', '.join(known)})")

    def setting(self, share: Share, field: str, kind: type | tuple[type, ...],
                default: Any = MISSING) -> Any:
        """Field ``field`` of the config ``share``, checked to be of ``kind``.

        A missing field takes ``default`` (FloError when there is none); ``None`` counts as
        missing. Bools are not accepted as ints.
        """
        value = share.fetch(field, None)
        if value is None:
            if default is MISSING:
                raise self.fail(f"set field '{field}' of share '{path(share)}' "
                                f"(init {path(share)} with {field} ...)")
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(f"field '{field}' of share '{path(share)}' must be {names}, "
                            f"not {value!r}")
        return value


class StackDeed(DeedHelpers):
    """Mixin for Deeds that use the stack in share ``stack``; subclasses set the kind."""

    Kind: type[Any] = object  # the stack class
    Word = ""  # "road" or "lane", for messages
    Opener = ""  # flo phrase of the Deed that opens the stack ("<Word> stack opener" if empty)
    stack: Share

    def opened(self) -> Any:
        """The open stack, or FloError when the flo has not opened one."""
        stack = self.stack.value
        if not isinstance(stack, self.Kind):
            opener = self.Opener or f"{self.Word} stack opener"
            raise self.fail(f"no open {self.Word} stack in '{path(self.stack)}': run "
                            f"'do {opener}' (in an enter context) before this")
        return stack


class Receiving(StackDeed):
    """A receiver's action: move the stack's ``rxMsgs`` to shares ``rxmsgs``, ``received``."""

    rxmsgs: Share
    received: Share

    def action(self, **kwa: Any) -> None:
        stack = self.opened()
        if stack.rxMsgs:
            queue = queue_of(self.rxmsgs)
            count = len(stack.rxMsgs)
            queue.extend(stack.rxMsgs)
            stack.rxMsgs.clear()
            self.rxmsgs.value = queue
            count_up(self.received, count)


class Transmitting(StackDeed):
    """A transmitter's core: send the ``with`` message and what is queued in ``txmsgs``.

    The Deed gives ``remote_uid(stack, name)``, the uid to send to (None: the first
    remote), and ``Errors``, what its stack's ``transmit`` may raise.
    """

    FreeParms = True  # the ``with`` fields are the message
    Errors: tuple[type[Exception], ...] = ()
    txmsgs: Share
    destination: Share
    remote_uid: Callable[[Any, str | None], int | None]

    def transmit_all(self, msg: Mapping) -> int:
        """Send ``msg`` (when not empty) and empty ``txmsgs``; return the count handled."""
        stack = self.opened()
        default = self.destination.value
        if default is not None and not isinstance(default, str):
            raise self.fail(f"share '{path(self.destination)}' must hold a {self.Word} remote "
                            f"name, not {default!r}")
        queue = queue_of(self.txmsgs)
        items = [(msg, default)] if msg else []
        while queue:
            items.append(split_item(queue.popleft(), default))
        for body, name in items:
            uid = self.remote_uid(stack, name)
            if not isinstance(body, Mapping):
                console().terse(f"{self.Word.capitalize()} stack '{stack.name}': dropped a "
                                f"message that is not a mapping: {body!r}\n")
                continue
            try:
                stack.transmit(body, uid=uid)
            except self.Errors as ex:
                console().terse(f"{self.Word.capitalize()} stack '{stack.name}': dropped a "
                                f"message: {ex}\n")
        return len(items)


class Printing(DeedHelpers):
    """A printer's action: print and empty share ``rxmsgs``, naming ``local``'s name."""

    local: Share
    rxmsgs: Share

    def action(self, **kwa: Any) -> None:
        queue = queue_of(self.rxmsgs)
        name = self.local.fetch("name", "?")
        while queue:
            msg, source = split_item(queue.popleft(), "?")
            console().terse(f"{name} received from {source}: {render(msg)}\n")


class Closing(StackDeed):
    """A closer's action: close the stack (its socket; a road stack also gives up, each
    with its line, the messages not confirmed yet, and lets its keep go) and empty share
    ``stack``."""

    def action(self, **kwa: Any) -> None:
        stack = self.stack.value
        if isinstance(stack, self.Kind):
            stack.close()
            console().concise(f"{self.Word.capitalize()} stack '{stack.name}' closed\n")
        self.stack.value = None


class RaetfloExit(DeedHelpers, Deed):
    """``do raetflo exit [with message "..."]``: stop the whole run with exit status 1.

    For a flo's failure frame (say, reached by ``go failed if elapsed >= 5``), so a flo that
    did not reach its goal fails visibly. Reads and writes no shares.
    """

    def action(self, message: str = "flo failed", **kwa: Any) -> None:
        raise self.fail(message)
