"""raet 0.6.8's flo phrases (raetflo.flo.behaving): same Deeds, Ioinits and share layout."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import deque

import pytest

from raetflo.flo import behaving
from raetflo.lane.stacking import LaneStack
from raetflo.lane.yarding import RemoteYard
from raetflo.road.stacking import RoadStack

from .conftest import fails

DEEDS = sorted(name for name, value in vars(behaving).items()
               if isinstance(value, type) and issubclass(value, behaving.Deed)
               and value.__module__ == behaving.__name__)

# The reference's Deeds, read in a subprocess: both modules register the same class names
# in ioflo's one Deed registry, so they cannot share a process.
REFERENCE_IOINITS = """
import json, sys
from collections import deque
sys.path.insert(0, {root!r})
from tests.interop import refshim
refshim.install()
from ioflo.base import deeding
from raet.flo import behaving
def plain(value):
    if isinstance(value, dict):
        return {{key: plain(item) for key, item in value.items()}}
    if isinstance(value, deque):
        return {{"deque": list(value)}}
    return value
print(json.dumps({{name: plain(value.Ioinits) for name, value in vars(behaving).items()
                  if isinstance(value, type) and issubclass(value, deeding.Deed)
                  and value.__module__ == behaving.__name__}}))
"""


def plain(value):
    """Ioinits as JSON-able values, with the package's name where the reference has its."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, deque):
        return {"deque": list(value)}
    if isinstance(value, str):
        return value.replace("raetflo.", "raet.")
    return value


def test_same_deeds_and_ioinits_as_the_reference():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", REFERENCE_IOINITS.format(root=root)],
                         capture_output=True, text=True, check=True).stdout
    reference = json.loads(out)
    assert DEEDS == sorted(reference)
    for name in DEEDS:
        assert plain(getattr(behaving, name).Ioinits) == reference[name], name


def test_raet_road_stack_opens_at_build_and_services(frame, tmp_path, ha):
    host, port = ha()
    frame.init(".raetflo.road.stack.local", name="solo", host=host, port=port,
               basedirpath=str(tmp_path / "keep"))
    act = frame.add("RaetRoadStack", "enter")
    frame.case.resolve()
    frame.resolved = True
    stack = frame.value(".raetflo.road.stack.stack")
    assert isinstance(stack, RoadStack) and stack.ha == (host, port)
    assert stack.keep.dirpath == str(tmp_path / "keep" / "solo")
    assert stack.txMsgs is frame.value(".raetflo.road.stack.txmsgs")
    assert stack.rxMsgs is frame.value(".raetflo.road.stack.rxmsgs")
    assert act.actor.inode.name == "raetflo.road.stack"
    frame.enter()
    stack.server.close()


def road(frame, name: str, port: int, keep, main: bool) -> str:
    """Road estate ``name`` opened by ``raet road stack setup`` at inode ``.<name>.``."""
    inode = f".{name}."
    frame.init(f"{inode}local", name=name, host="127.0.0.1", port=port, main=main,
               basedirpath=str(keep), masterhost="127.0.0.1")
    frame.add("RaetRoadStackSetup", "enter", inode)
    frame.add("RaetRoadStackCloser", "exit", inode)
    return inode


def test_minion_joins_allows_and_messages_the_master(frame, tmp_path, ha, monkeypatch,
                                                     printed):
    monkeypatch.setattr(RoadStack, "JoinentTimeout", RoadStack.JoinentTimeout)
    master_port, minion_port = ha()[1], ha()[1]
    master = road(frame, "master", master_port, tmp_path / "keep", main=True)
    minion = road(frame, "minion", minion_port, tmp_path / "keep", main=False)
    frame.init(f"{minion}local", masterport=master_port)
    frame.add("RaetRoadStackJoiner", "enter", minion)
    for kind in ("RaetRoadStackJoined", "RaetRoadStackAllowed", "RaetRoadStackIdled"):
        frame.add(kind, "recur", minion)
    for inode in (master, minion):
        frame.add("RaetRoadStackRxServicer", "recur", inode)
        frame.add("RaetRoadStackTxServicer", "recur", inode)
    frame.add("RaetRoadStackPrinter", "recur", master)
    allower = frame.add("RaetRoadStackAllower", "manual", minion)
    messenger = frame.add("RaetRoadStackMessenger", "manual", minion,
                          contents="Minion 1 Hello", code=15)
    frame.enter()
    assert RoadStack.JoinentTimeout == 0.0  # set by the setup Deed, as the reference's
    status = f"{minion}status"
    assert frame.run(lambda: frame.value(status, "joined"))
    allower()
    assert frame.run(lambda: frame.value(status, "allowed"))
    messenger()
    assert frame.run(lambda: "Received...." in printed())
    assert frame.run(lambda: frame.value(status, "idled"))
    assert "\nReceived....\n" in printed() and "Minion 1 Hello" in printed()


def test_raet_road_stack_servicer_without_a_stack_fails_in_one_line(frame):
    act = frame.add("RaetRoadStackRxServicer", "manual")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        act()
    fails(exc, "no open road stack in '.raetflo.road.stack.stack'",
          "'do raet road stack setup'")


def lane(frame, name: str, sockdir) -> str:
    """Yard ``name`` of lane "ash" opened by ``raet lane stack`` at inode ``.<name>.``."""
    inode = f".{name}."
    frame.init(f"{inode}local", name=name, lane="ash", sockdirpath=str(sockdir))
    frame.add("RaetLaneStack", "recur", inode)
    frame.add("RaetLaneStackPrinter", "recur", inode)
    frame.add("RaetLaneStackCloser", "exit", inode)
    return inode


def test_lane_yards_add_each_other_and_exchange_messages(frame, tmp_path, printed):
    lord, serf = lane(frame, "lord", tmp_path), lane(frame, "serf", tmp_path)
    frame.add("RaetLaneStackYardAdd", "enter", lord, lane="ash", name="serf")
    frame.add("RaetLaneStackYardAdd", "enter", serf, lane="ash", name="lord")
    frame.init(f"{lord}dest", value="serf")
    frame.add("RaetLaneStackTransmit", "enter", lord, stuff="Lord says Hello")
    frame.add("RaetLaneStackTransmit", "enter", serf, stuff="Serf says Hello")
    frame.enter()
    added = frame.value(f"{lord}local")
    assert isinstance(added, RemoteYard) and added.name == "serf"
    assert frame.run(lambda: frame.value(f"{lord}totalRxMsg") == 1
                     and frame.value(f"{serf}totalRxMsg") == 1)
    assert ("\nserf Received....\nodict([('stuff', 'Lord says Hello')])\n" in printed())
    assert ("\nlord Received....\nodict([('stuff', 'Serf says Hello')])\n" in printed())
    stacks = [frame.value(f"{inode}stack") for inode in (lord, serf)]
    frame.case.frame.exit()
    frame.resolved = False
    assert all(isinstance(stack, LaneStack) and not stack.server.opened for stack in stacks)
    assert frame.value(f"{lord}stack") is None


def test_salt_lane_cleanup_removes_stale_sockets_only(frame, tmp_path):
    sockdir = tmp_path / "sock"
    sockdir.mkdir()
    live = LaneStack(name="live", lanename="ash", sockdirpath=str(sockdir))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(sockdir / "ash.stale.uxd"))
    stale.close()
    (sockdir / "notes.uxd").write_text("not a yard name")
    frame.init(".salt.opts", value={"sock_dir": str(sockdir)})
    frame.add("SaltRaetLaneCleanup", "enter")
    try:
        frame.enter()
        assert sorted(os.listdir(sockdir)) == ["ash.live.uxd", "notes.uxd"]
    finally:
        live.server.close()


def test_salt_road_cleanup_deletes_the_keep_base(frame, tmp_path):
    base = tmp_path / "keep"
    (base / "master" / "local").mkdir(parents=True)
    (base / "master" / "local" / "estate.json").write_text("{}")
    frame.init(".raetflo.road.stack.local", basedirpath=str(base))
    frame.add("SaltRaetRoadCleanup", "enter")
    frame.enter()
    assert not base.exists()
