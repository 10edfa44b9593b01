"""Fixtures for the Deed tests: ioflo's test frame and the console ``ioflo -v`` governs."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from ioflo.aid.consoling import getConsole
from ioflo.base.acting import Act
from ioflo.test.testing import FrameIofloTestCase

import raetflo.behaving  # noqa: F401  (registers the Deeds)
from raetflo.behaving.common import FloError

PERIOD = 0.125


class Frame:
    """One ioflo test frame (``FrameIofloTestCase``) and what the tests do with it."""

    def __init__(self) -> None:
        self.case = FrameIofloTestCase()
        self.case.setUp()
        self.store = self.case.store
        self.store.changeStamp(0.0)  # as the skedder does when it starts
        self.resolved = False

    def init(self, path: str, **fields: Any) -> None:
        """What a flo's ``init PATH with FIELD VALUE ...`` does."""
        self.store.create(path).update(**fields)

    def add(self, kind: str, context: str = "recur", inode: str | None = None,
            per: dict[str, str] | None = None, **parms: Any) -> Act:
        """Add ``do KIND [via INODE] [per KEY PATH ...] [with PARMS]`` in ``context``.

        Context "manual" puts the act in a context the tests never run (rexit): call the
        act to run it.
        """
        adders = {"enter": self.case.addEnterDoer, "recur": self.case.addRecurDoer,
                  "exit": self.case.addExitDoer, "manual": self.case.addRexitDoer}
        ioinits = dict(per or {})
        if inode is not None:
            ioinits["inode"] = inode
        return adders[context](kind, ioinits=ioinits or None, parms=parms or None)

    def stack(self, word: str, inode: str, printer: bool = False) -> None:
        """The usual set: opener (enter), servicer and receiver (recur), closer (exit)."""
        kind = f"{word.capitalize()}Stack"
        self.add(f"{kind}Opener", "enter", inode)
        self.add(f"{kind}Servicer", "recur", inode)
        self.add(f"{kind}Receiver", "recur", inode)
        if printer:
            self.add(f"{kind}Printer", "recur", inode)
        self.add(f"{kind}Closer", "exit", inode)

    def enter(self) -> None:
        if not self.resolved:
            self.case.resolve()
            self.resolved = True
        self.case.frame.enter()

    def run(self, until: Callable[[], bool], limit: float = 10.0) -> bool:
        """Recur and advance store time by one period until ``until()`` or ``limit`` s."""
        for _ in range(int(limit / PERIOD)):
            self.case.frame.recur()
            self.store.advanceStamp(PERIOD)
            if until():
                return True
        return False

    def value(self, path: str, field: str = "value") -> Any:
        share = self.store.fetch(path)
        return None if share is None else share.fetch(field)

    def close(self) -> None:
        if self.resolved:
            self.case.frame.exit()
        self.case.tearDown()


@pytest.fixture
def frame():
    """ioflo's test scaffolding (house, framer, frame); exit actions run at the end."""
    made = Frame()
    yield made
    made.close()


@pytest.fixture
def printed(monkeypatch) -> Callable[[], str]:
    """What the console ``ioflo -v`` governs printed during the test (at terse)."""
    buffer = io.StringIO()
    console = getConsole()
    monkeypatch.setattr(console, "_file", buffer)
    monkeypatch.setattr(console, "_verbosity", console.Wordage.terse)
    return buffer.getvalue


@pytest.fixture(autouse=True)
def quiet_flo_console(monkeypatch):
    """Keep transaction chatter out of the test output unless a test captures it."""
    console = getConsole()
    monkeypatch.setattr(console, "_verbosity", console.Wordage.terse)


def fails(exc: pytest.ExceptionInfo, *phrases: str) -> None:
    """The FloError is one line that starts 'raetflo: ' and holds every phrase."""
    assert isinstance(exc.value, FloError)
    text = str(exc.value.code)
    assert text.startswith("raetflo: ") and "\n" not in text, text
    for phrase in phrases:
        assert phrase in text, text
