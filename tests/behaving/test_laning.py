"""The lane Deeds, run through ioflo's own test frame, asserted on their shares."""
from __future__ import annotations

import os

import pytest

from raetflo.lane.stacking import LaneStack

from .conftest import PERIOD, fails


def yard(frame, name: str, sockdir, printer: bool = False, **local) -> None:
    """Configure yard ``name`` of lane "demo" at inode ``.<name>.lane.``, usual Deeds."""
    frame.init(f".{name}.lane.local", name=name, lane="demo", sockdir=str(sockdir), **local)
    frame.stack("lane", f".{name}.lane.", printer=printer)


@pytest.fixture
def sockdir(tmp_path):
    return tmp_path / "lane"


def test_opener_opens_the_yard_local_describes(frame, sockdir):
    yard(frame, "alpha", sockdir)
    frame.enter()
    stack = frame.value(".alpha.lane.stack")
    assert isinstance(stack, LaneStack) and stack.name == "alpha"
    assert stack.ha == os.path.join(sockdir, "demo.alpha.uxd") and os.path.exists(stack.ha)
    assert stack.store is frame.store
    frame.enter()
    assert frame.value(".alpha.lane.stack") is stack


@pytest.mark.parametrize("local, phrases", [
    ({"lane": "demo"}, ["set field 'name' of share '.lane.local'"]),
    ({"name": "a.b"}, ["LaneStack 'a.b': ", "'a.b'"]),
    ({"name": "alpha", "lane": 3}, ["field 'lane'", "must be str, not 3"]),
])
def test_opener_refuses_bad_settings(frame, sockdir, local, phrases):
    frame.init(".lane.local", sockdir=str(sockdir), **local)
    frame.add("LaneStackOpener", "enter")
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "'LaneStackOpener' in house 'HouseTest': ", *phrases)


def test_opener_reports_a_yard_in_use(frame, sockdir):
    yard(frame, "alpha", sockdir)
    frame.add("LaneStackOpener", "enter", ".again.lane.")
    frame.init(".again.lane.local", name="alpha", lane="demo", sockdir=str(sockdir))
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "LaneStack 'alpha': ", "in use by a live process")


def test_messages_both_ways_are_received_and_printed(frame, sockdir, printed):
    yard(frame, "beta", sockdir)
    yard(frame, "alpha", sockdir)
    frame.init(".alpha.lane.destination", value="beta")
    greet = frame.add("LaneStackTransmitter", "manual", ".alpha.lane.", greeting="hi", n=7)
    frame.add("LaneStackTransmitter", inode=".beta.lane.")
    printer = frame.add("LaneStackPrinter", "manual", ".beta.lane.")
    frame.enter()
    greet()  # beta is a new name: the transmitter adds the yard
    assert frame.run(lambda: frame.value(".beta.lane.received") == 1)
    frame.value(".beta.lane.txmsgs").append(({"seq": 2}, "alpha"))  # learnt from its page
    assert frame.run(lambda: frame.value(".alpha.lane.received") == 1)
    assert list(frame.value(".alpha.lane.rxmsgs")) == [({"seq": 2}, "beta")]
    printer()
    assert [line for line in printed().splitlines() if " received " in line] == [
        'beta received from alpha: {"greeting": "hi", "n": 7}']
    assert len(frame.value(".beta.lane.rxmsgs")) == 1  # for a relayer: printers read the inbox


def test_transmitter_needs_a_yard_to_send_to(frame, sockdir):
    yard(frame, "alpha", sockdir)
    send = frame.add("LaneStackTransmitter", "manual", ".alpha.lane.", text="hi")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        send()
    fails(exc, "lane stack 'alpha' has no yard to send to", "'.alpha.lane.destination'")
    frame.init(".alpha.lane.destination", value="no.such")
    with pytest.raises(SystemExit) as exc:
        send()
    fails(exc, "lane stack 'alpha': ", "'no.such'")


def test_servicer_needs_an_opener(frame):
    frame.add("LaneStackServicer")
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        frame.run(lambda: False, limit=PERIOD)
    fails(exc, "no open lane stack in '.lane.stack'", "'do lane stack opener'")


def test_closer_closes_and_removes_the_socket(frame, sockdir):
    yard(frame, "alpha", sockdir)
    closer = frame.add("LaneStackCloser", "manual", ".alpha.lane.")
    frame.enter()
    stack = frame.value(".alpha.lane.stack")
    closer()
    closer()
    assert frame.value(".alpha.lane.stack") is None
    assert not stack.server.opened and not os.path.exists(stack.ha)


def test_yard_adder_adds_a_yard_of_another_lane(frame, sockdir, tmp_path):
    yard(frame, "alpha", sockdir)
    frame.init(".gamma.lane.local", name="gamma", lane="other", sockdir=str(tmp_path / "other"))
    frame.stack("lane", ".gamma.lane.")
    frame.add("LaneStackYardAdder", "enter", ".alpha.lane.", name="gamma", lane="other",
              sockdir=str(tmp_path / "other"))
    frame.init(".alpha.lane.destination", value="gamma")
    greet = frame.add("LaneStackTransmitter", "manual", ".alpha.lane.", greeting="hi")
    frame.add("LaneStackReplier", inode=".gamma.lane.", answer="hello {source}")
    frame.enter()
    added = frame.value(".alpha.lane.stack").nameRemotes["gamma"]
    assert (added.lanename, added.ha) == ("other", str(tmp_path / "other" / "other.gamma.uxd"))
    greet()
    assert frame.run(lambda: frame.value(".alpha.lane.received") == 1)
    assert list(frame.value(".gamma.lane.rxmsgs")) == [({"greeting": "hi"}, "alpha")]
    assert list(frame.value(".alpha.lane.rxmsgs")) == [({"answer": "hello alpha"}, "gamma")]


@pytest.mark.parametrize("parms, phrase", [
    ({}, "set 'name' to the name of the yard to add"),
    ({"name": "a.b"}, "'a.b'"),
    ({"name": "beta", "lane": "demo"}, "a yard named 'beta' is already a remote"),
])
def test_yard_adder_refuses_bad_yards(frame, sockdir, parms, phrase):
    yard(frame, "alpha", sockdir)
    frame.add("LaneStackYardAdder", "enter", ".alpha.lane.", name="beta")
    frame.add("LaneStackYardAdder", "enter", ".alpha.lane.", **parms)
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "'LaneStackYardAdder' in house 'HouseTest': ", phrase)
