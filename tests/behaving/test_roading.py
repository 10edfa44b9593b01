"""The road Deeds, run through ioflo's own test frame, asserted on their shares."""
from __future__ import annotations

import os
import socket

import pytest
from ioflo.aid.consoling import getConsole

from raetflo.raeting import AutoMode
from raetflo.road.stacking import RoadStack

from ..conftest import free_port
from .conftest import PERIOD, fails

PERIOD_ONCE = PERIOD  # a run limit of one period: one recur


def road(frame, name: str, tmp_path, printer: bool = False, **local) -> dict:
    """Configure estate ``name`` at inode ``.<name>.road.`` with the usual Deeds."""
    local = {"name": name, "port": free_port(), "keep": str(tmp_path / "keep" / name),
             **local}
    frame.init(f".{name}.road.local", **local)
    frame.stack("road", f".{name}.road.", printer=printer)
    return local


def pair(frame, tmp_path, printer: bool = False, joiner: str = "RoadStackJoiner") -> None:
    """beta, a main estate, and alpha, which joins it."""
    beta = road(frame, "beta", tmp_path, printer=printer, main=True, auto="always")
    road(frame, "alpha", tmp_path, printer=printer)
    frame.init(".alpha.road.remote", name="beta", host="127.0.0.1", port=beta["port"])
    frame.add(joiner, inode=".alpha.road.")


def allowed(frame) -> bool:
    return bool(frame.value(".alpha.road.status", "allowed"))


def test_opener_opens_the_estate_local_describes(frame, tmp_path):
    local = road(frame, "alpha", tmp_path, main=True, auto="always", host="127.0.0.1")
    frame.enter()
    stack = frame.value(".alpha.road.stack")
    assert isinstance(stack, RoadStack)
    assert (stack.name, stack.ha, stack.main) == ("alpha", ("127.0.0.1", local["port"]), True)
    assert stack.keep.auto == AutoMode.always and stack.keep.dirpath == local["keep"]
    assert stack.store is frame.store and stack.console is getConsole()
    frame.enter()  # a second enter keeps the open stack
    assert frame.value(".alpha.road.stack") is stack


def test_opener_defaults_and_clean(frame, tmp_path):
    frame.init(".road.local", name="alpha", port=free_port(), keep=str(tmp_path / "k"))
    opener = frame.add("RoadStackOpener", "manual")
    closer = frame.add("RoadStackCloser", "manual")
    frame.enter()
    opener()
    stack = frame.value(".road.stack")
    assert stack.ha[0] == "127.0.0.1" and not stack.main and stack.keep.auto == AutoMode.once
    key = stack.local.signer.keyhex
    closer()
    opener()  # the keep is reused: same identity
    assert frame.value(".road.stack").local.signer.keyhex == key
    closer()
    frame.init(".road.local", clean=True)
    opener()  # an emptied keep: a new identity
    assert frame.value(".road.stack").local.signer.keyhex != key
    closer()


@pytest.mark.parametrize("local, phrases", [
    ({"port": 7}, ["set field 'name' of share '.road.local'"]),
    ({"name": "alpha"}, ["set field 'port' of share '.road.local'"]),
    ({"name": "alpha", "port": "7530"}, ["field 'port'", "must be int, not '7530'"]),
    ({"name": "alpha", "port": 7, "main": 1}, ["field 'main'", "must be bool"]),
    ({"name": "alpha", "port": 7, "auto": "sometimes"},
     ["'auto'", "never, once, always, not 'sometimes'"]),
    ({"name": "al pha", "port": 7}, ["Invalid stack name 'al pha'"]),
])
def test_opener_refuses_bad_settings(frame, tmp_path, local, phrases):
    frame.init(".road.local", keep=str(tmp_path / "k"), **local)
    frame.add("RoadStackOpener", "enter")
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "'RoadStackOpener' in house 'HouseTest': ", *phrases)
    assert frame.value(".road.stack") is None


def test_opener_reports_a_port_in_use(frame, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        road(frame, "alpha", tmp_path, port=port)
        with pytest.raises(SystemExit) as exc:
            frame.enter()
    fails(exc, f"Stack 'alpha': Failed opening server at ('127.0.0.1', {port})",
          "Address already in use")


def test_opener_refuses_a_port_another_stack_of_the_run_holds(frame, tmp_path):
    """Two houses given one port by mistake: the second opener stops the run, rather than
    taking the first one's socket (what a stack built again in one process does)."""
    alpha = road(frame, "alpha", tmp_path)
    road(frame, "beta", tmp_path, port=alpha["port"])
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, f"Stack 'beta': port {alpha['port']} at 127.0.0.1 is in use by road stack "
               "'alpha' of this run", "give each stack a port of its own")
    assert frame.value(".alpha.road.stack").server.opened


def test_opener_reports_an_unusable_keep(frame, tmp_path):
    keep = tmp_path / "keep" / "alpha"
    keep.mkdir(parents=True)
    if os.geteuid() == 0:  # root may write anywhere: a keep must be its own, though
        os.chown(keep, 65534, 65534)
        reason = "is owned by uid 65534"
    else:
        keep.chmod(0o500)
        reason = "is not readable and writable"
    road(frame, "alpha", tmp_path, keep=str(keep))
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "Stack 'alpha': ", reason)


def test_servicer_needs_an_opener(frame):
    frame.add("RoadStackServicer")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        frame.run(lambda: False, limit=PERIOD_ONCE)
    fails(exc, "no open road stack in '.road.stack'", "'do road stack opener'")


@pytest.mark.parametrize("joiner", ["RoadStackJoiner", "JoinerInitiator"])
def test_joiner_joins_allows_and_publishes_status(frame, tmp_path, joiner):
    pair(frame, tmp_path, joiner=joiner)
    frame.enter()
    assert frame.value(".alpha.road.status", "joined") is False
    assert frame.run(lambda: allowed(frame))
    status = frame.store.fetch(".alpha.road.status")
    assert (status["joined"], status["allowed"], status["remote"]) == (True, True, "beta")
    assert frame.run(lambda: frame.value(".beta.road.presence", "idle")
                     and frame.value(".alpha.road.presence", "idle"))
    assert frame.value(".alpha.road.presence", "allowed") == ["beta"]
    assert frame.value(".beta.road.presence", "joined") == ["alpha"]
    assert frame.value(".beta.road.presence", "allowed") == ["alpha"]


def test_joiner_retries_until_the_main_estate_is_up(frame, tmp_path):
    port = free_port()
    road(frame, "alpha", tmp_path)
    frame.init(".alpha.road.remote", port=port)
    frame.add("RoadStackJoiner", inode=".alpha.road.", retry=0.5)
    frame.init(".beta.road.local", name="beta", port=port, main=True, auto="always",
               keep=str(tmp_path / "keep" / "beta"))
    opener = frame.add("RoadStackOpener", "manual", ".beta.road.")
    servicer = frame.add("RoadStackServicer", "manual", ".beta.road.")
    frame.add("RoadStackCloser", "exit", ".beta.road.")
    frame.enter()
    assert not frame.run(lambda: allowed(frame), limit=6.0)  # the first join timed out
    opener()
    assert frame.run(lambda: servicer() or allowed(frame))
    assert frame.value(".alpha.road.status", "remote") == "beta"


def test_joiner_rejoins_a_remote_the_keep_remembers(frame, tmp_path):
    pair(frame, tmp_path)
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.case.frame.exit()  # both stacks close; their keeps stay
    frame.init(".alpha.road.remote", port=None, host=None)  # by name only, from the keep
    frame.store.fetch(".alpha.road.status").update(joined=False, allowed=False)
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    assert len(frame.value(".alpha.road.stack").remotes) == 1


def test_joiner_reports_an_unknown_remote_name(frame, tmp_path):
    road(frame, "alpha", tmp_path)
    frame.init(".alpha.road.remote", name="gamma")
    frame.add("RoadStackJoiner", inode=".alpha.road.")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        frame.run(lambda: False, limit=PERIOD_ONCE)
    fails(exc, "road stack 'alpha' has no remote named 'gamma' (its remotes: none)",
          "'.alpha.road.remote' gives no port")


def test_joiner_checks_the_joined_name(frame, tmp_path):
    pair(frame, tmp_path)
    frame.init(".alpha.road.remote", name="gamma")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        frame.run(lambda: False)
    fails(exc, "joined 'beta' at 127.0.0.1:", "but '.alpha.road.remote' names 'gamma'")


@pytest.mark.parametrize("transmitter", ["RoadStackTransmitter", "TransmitterDeed"])
def test_messages_both_ways_are_received_and_printed(frame, tmp_path, printed, transmitter):
    pair(frame, tmp_path)
    frame.add(transmitter, inode=".alpha.road.")
    frame.add(transmitter, inode=".beta.road.")
    greet = frame.add(transmitter, "manual", ".alpha.road.", greeting="hi", n=7)
    printer = frame.add("RoadStackPrinter", "manual", ".beta.road.")
    frame.init(".beta.road.destination", value="alpha")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    greet()
    assert frame.value(".alpha.road.presence", "idle") is False
    frame.value(".alpha.road.txmsgs").append(({"seq": 2}, "beta"))
    frame.value(".beta.road.txmsgs").extend([{"seq": 3}, {"seq": 4}])
    assert frame.run(lambda: frame.value(".beta.road.received") == 2
                     and frame.value(".alpha.road.received") == 2)
    assert list(frame.value(".alpha.road.rxmsgs")) == [({"seq": 3}, "beta"),
                                                       ({"seq": 4}, "beta")]
    printer()
    assert [line for line in printed().splitlines() if " received " in line] == [
        'beta received from alpha: {"greeting": "hi", "n": 7}',
        'beta received from alpha: {"seq": 2}']
    assert len(frame.value(".beta.road.rxmsgs")) == 2  # for a relayer: printers read the inbox
    assert frame.value(".beta.road.received") == 2


def test_transmitter_reports_unknown_destinations(frame, tmp_path):
    pair(frame, tmp_path)
    send = frame.add("RoadStackTransmitter", "manual", ".beta.road.", text="hi")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        send()
    fails(exc, "road stack 'beta' has no remote to send to yet")
    assert frame.run(lambda: allowed(frame))
    frame.init(".beta.road.destination", value="gamma")
    with pytest.raises(SystemExit) as exc:
        send()
    fails(exc, "road stack 'beta' has no remote named 'gamma' (its remotes: alpha)")


def test_transmitter_drops_what_is_not_a_message(frame, tmp_path, printed):
    pair(frame, tmp_path)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").extend(["not a mapping", {"ok": True}])
    assert frame.run(lambda: frame.value(".beta.road.received") == 1)
    assert "Road stack 'alpha': dropped a message that is not a mapping: 'not a mapping'" \
        in printed()
    assert list(frame.value(".beta.road.rxmsgs")) == [({"ok": True}, "alpha")]


def test_closer_closes_once(frame, tmp_path):
    local = road(frame, "alpha", tmp_path)
    closer = frame.add("RoadStackCloser", "manual", ".alpha.road.")
    frame.enter()
    stack = frame.value(".alpha.road.stack")
    closer()
    closer()
    assert frame.value(".alpha.road.stack") is None and not stack.server.opened
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", local["port"]))  # the port is free again


def test_raetflo_exit_stops_the_run_with_its_message(frame):
    frame.add("RaetfloExit", "enter", message="demo timed out")
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "'RaetfloExit' in house 'HouseTest': demo timed out")
