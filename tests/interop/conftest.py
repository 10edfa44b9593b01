"""Interop fixtures: the reference raet 0.6.8 as a peer, patched to run on Python 3.11."""
from __future__ import annotations

import types

import pytest

from . import refshim

refshim.install()

from raet import raeting as ref_raeting  # noqa: E402
from raet.road import estating as ref_estating  # noqa: E402
from raet.road import stacking as ref_stacking  # noqa: E402

from raetflo.road import estating, stacking  # noqa: E402


IMPLS = {
    "raetflo": types.SimpleNamespace(name="raetflo", RoadStack=stacking.RoadStack,
                                     RemoteEstate=estating.RemoteEstate),
    "raet": types.SimpleNamespace(name="raet", RoadStack=ref_stacking.RoadStack,
                                  RemoteEstate=ref_estating.RemoteEstate),
}


@pytest.fixture
def ref():
    """The reference implementation's road modules."""
    return types.SimpleNamespace(stacking=ref_stacking, estating=ref_estating,
                                 raeting=ref_raeting)


@pytest.fixture
def make_stack(tmp_path, ha):
    """Factory ``make_stack(impl, name, **kwa)`` of road stacks on free loopback ports.

    Each stack gets its own keep dir under the test's tmp dir; all are closed at the end.
    """
    made = []

    def make(impl: str, name: str, **kwa):
        kwa.setdefault("ha", ha())
        kwa.setdefault("dirpath", str(tmp_path / impl / name))
        stack = IMPLS[impl].RoadStack(name=name, **kwa)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.server.close()


def add_remote(impl: str, stack, peer, **kwa):
    """Give ``stack`` a provisional record of ``peer`` (a vacuous joiner's view)."""
    remote = IMPLS[impl].RemoteEstate(stack=stack, fuid=0, sid=0, ha=peer.ha, **kwa)
    stack.addRemote(remote)
    return remote
