"""Two road cores in virtual time, asserting on events only: join, allow, alive, messages
(small and segmented) and the messages that cannot go."""
from __future__ import annotations

from raetflo import nacling
from raetflo.events import (MessageDelivered, MessageDropped, MessageReceived, RemoteAlive,
                            RemoteAllowed, RemoteJoined, RemoteRejected, RemoteRemoved)
from raetflo.raeting import Acceptance, AutoMode

from .conftest import Net, join


def test_join_allow_alive_then_messages_both_ways(net: Net, pair) -> None:
    main, other = pair
    join(net, main, other)
    for core, peer in ((main, other), (other, main)):
        uid = net.remote(core, peer).uid
        assert net.of(core) == [RemoteJoined(peer.name, uid), RemoteAllowed(peer.name, uid),
                                RemoteAlive(peer.name, uid)]
    up = other.send_message({"up": 1})
    down = main.send_message({"down": 2}, uid=net.remote(main, other).uid)
    assert net.run(2.0, until=net.idle)
    assert net.of(main, MessageReceived) == [MessageReceived({"up": 1}, "other")]
    assert net.of(other, MessageReceived) == [MessageReceived({"down": 2}, "main")]
    assert net.of(other, MessageDelivered) == [MessageDelivered(up, "main")]
    assert net.of(main, MessageDelivered) == [MessageDelivered(down, "other")]


def test_segmented_message_of_20_kb(net: Net, pair) -> None:
    main, other = pair
    join(net, main, other)
    body = {"blob": "x" * 20_000}
    ref = other.send_message(body)
    assert net.run(5.0, until=net.idle)
    assert net.of(main, MessageReceived) == [MessageReceived(body, "other")]
    assert net.of(other, MessageDelivered) == [MessageDelivered(ref, "main")]
    assert main.stats["message_segment_rx"] > 10


def test_message_before_join_goes_once_joined(net: Net, pair) -> None:
    main, other = pair
    remote = net.provisional(other, main)
    ref = other.send_message({"early": True}, uid=remote.uid, timeout=5.0)
    assert net.run(5.0, until=lambda: bool(net.of(other, MessageDelivered)) and net.idle())
    assert net.of(main, MessageReceived) == [MessageReceived({"early": True}, "other")]
    assert net.of(other, MessageDelivered) == [MessageDelivered(ref, "main")]


def test_message_to_a_rejected_remote_is_dropped(net: Net, pair) -> None:
    main, other = pair
    join(net, main, other)
    record = net.remote(main, other)
    record.acceptance = Acceptance.rejected  # the operator's decision
    ref = main.send_message({"no": 1}, uid=record.uid)
    net.run(1.0)
    assert RemoteRejected("other", record.uid) in net.of(main)
    assert net.of(main, MessageDropped) == [MessageDropped(ref, "other", "remote is rejected")]
    assert not net.of(other, MessageReceived)


def test_message_to_an_absent_remote_is_dropped(net: Net, pair) -> None:
    main, _ = pair
    first = main.send_message({"to": "nobody"})
    second = main.send_message({"to": "nobody"}, uid=99)
    net.run(1.0)
    assert net.of(main, MessageDropped) == [
        MessageDropped(first, "?", "no remote to send to"),
        MessageDropped(second, "?", "no remote with uid 99")]


def test_a_joiner_whose_keys_are_rejected_forgets_the_main(net: Net) -> None:
    main = net.add("main", 7530, main=True, auto=AutoMode.once.value)
    other = net.add("other", 7531)
    net.disks[net.addr(main)].roles["other"] = dict(  # "other" had other keys before
        role="other", acceptance=Acceptance.accepted.value, verhex=nacling.Signer().verhex,
        pubhex=nacling.Privateer().pubhex)
    remote = net.provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    assert net.run(5.0, until=net.idle)
    assert not main.remotes and not other.remotes
    assert net.of(other) == [RemoteRejected(remote.name, remote.uid),
                             RemoteRemoved(remote.name, remote.uid)]
    ref = other.send_message({"after": "reject"})
    net.run(1.0)
    assert net.of(other, MessageDropped) == [MessageDropped(ref, "?", "no remote to send to")]
    assert not net.of(main, MessageReceived)
