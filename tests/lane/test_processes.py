"""Two processes exchange messages over a lane."""
from __future__ import annotations

from raetflo.lane.stacking import LaneStack
from raetflo.lane.yarding import RemoteYard

from .servicing import echo_through_peer


def test_messages_between_two_processes(make_lane, sockdir):
    alpha = make_lane(LaneStack, "alpha")
    msgs = [{"n": n, "text": "caf\u00e9"} for n in range(200)]
    msgs[50]["big"] = msgs[150]["big"] = "z" * 300_000  # five pages each
    echoes, peer_stats = echo_through_peer(alpha, RemoteYard, sockdir, msgs)
    assert echoes == [({"echo": msg, "by": "beta"}, "beta") for msg in msgs]
    assert not set(peer_stats) - {"busy_transmit_yard"}  # the peer dropped nothing
    assert not set(alpha.stats) - {"busy_transmit_yard"}
