"""Shared fixtures: private keep dirs, free loopback ports, lane socket dirs, a quiet console."""
from __future__ import annotations

import shutil
import socket
import tempfile
from typing import Callable

import pytest

import raetflo  # noqa: F401  (makes ioflo importable on 3.11)
from ioflo.base.consoling import getConsole
from raetflo.road.keeping import RoadKeep


def free_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ha() -> Callable[[], tuple[str, int]]:
    """Factory of free loopback addresses."""
    return lambda: ("127.0.0.1", free_port())


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """Every test gets its own HOME and default keep base, never the real ones."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(RoadKeep, "KeepDir", str(tmp_path / "keepbase"), raising=False)
    return home


@pytest.fixture(autouse=True)
def terse_console():
    """Keep test output readable: only terse lines unless a test asks for more."""
    console = getConsole()
    old = console._verbosity
    console.reinit(verbosity=console.Wordage.terse)
    yield console
    console.reinit(verbosity=old)


@pytest.fixture
def sockdir():
    """A short private directory for lane sockets (Unix socket paths must stay short)."""
    path = tempfile.mkdtemp(prefix="lane", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_lane(sockdir):
    """Factory ``make_lane(cls, name, **kwa)`` of LaneStacks of class ``cls`` on lane 'zeus'
    in ``sockdir``; all are closed at the end."""
    made = []

    def make(cls, name: str, **kwa):
        kwa.setdefault("lanename", "zeus")
        kwa.setdefault("sockdirpath", sockdir)
        stack = cls(name=name, **kwa)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.server.close()
