"""The message relayer, run through ioflo's own test frame, asserted on its shares."""
from __future__ import annotations

from collections import deque

import pytest

from .conftest import fails


def test_relays_lane_to_road_by_default(frame):
    relay = frame.add("MessageRelayer", "manual", destination="hub")
    frame.enter()
    frame.value(".lane.rxmsgs").extend([({"n": 1}, "client"), ({"n": 2}, "client")])
    relay()
    assert list(frame.value(".road.txmsgs")) == [({"n": 1}, "hub"), ({"n": 2}, "hub")]
    assert frame.value(".lane.rxmsgs") == deque()
    assert frame.value(".relay.count") == 2
    relay()  # nothing new: nothing moves
    assert frame.value(".relay.count") == 2


def test_relays_back_to_the_sender_or_to_the_target_default(frame):
    echo = frame.add("MessageRelayer", "manual", reply=True,
                     per={"source": ".road.rxmsgs", "target": ".road.txmsgs",
                          "relayed": ".relay.echo"})
    plain = frame.add("MessageRelayer", "manual",
                      per={"source": ".road.rxmsgs", "target": ".lane.txmsgs",
                           "relayed": ".relay.back"})
    frame.enter()
    frame.value(".road.rxmsgs").append(({"q": "ping"}, "relay"))
    echo()
    assert list(frame.value(".road.txmsgs")) == [({"q": "ping"}, "relay")]
    frame.value(".road.rxmsgs").append(({"a": "pong"}, "hub"))
    plain()
    assert list(frame.value(".lane.txmsgs")) == [{"a": "pong"}]
    assert (frame.value(".relay.echo"), frame.value(".relay.back")) == (1, 1)


def test_destination_and_reply_exclude_each_other(frame):
    relay = frame.add("MessageRelayer", "manual", destination="hub", reply=True)
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        relay()
    fails(exc, "give 'destination' or 'reply True', not both")
