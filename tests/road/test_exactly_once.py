"""Exactly-once delivery under replay, lost dones, re-allows and restarts; bounded reassembly."""
from __future__ import annotations

from raetflo.raeting import PcktKind, TrnsKind

from .conftest import ALWAYS, Wire, idle, joined, only, serve, stat


def capture(stack):
    """Record every datagram ``stack`` sends; returns (records, the untapped send)."""
    sent = []
    send = stack.server.send

    def recording(data, ha):
        sent.append((bytes(data), ha))
        return send(data, ha)

    stack.server.send = recording
    return sent, send


def pair(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    return main, other, remote


def delivered(*stacks, receiver, count, duration=30.0, manage=False):
    """Serve ``stacks`` until ``receiver`` holds ``count`` messages and all are idle."""
    def done():
        if manage:
            for stack in stacks:
                stack.manage()
        return len(receiver.rxMsgs) >= count and idle(*stacks)()
    serve(stacks, duration, until=done)
    return [body for body, _ in receiver.rxMsgs]


def test_replay_of_delivered_messages_at_any_age_delivers_nothing(road):
    main, other, remote = pair(road)
    sent, send = capture(other)
    for i in range(5):
        other.transmit({"i": i}, remote.uid)
    assert len(delivered(main, other, receiver=main, count=5)) == 5
    main.rxMsgs.clear()
    for stack in (main, other):  # long past the old 600 s expiry of finished tids
        stack.store.advanceStamp(700.0)
    serve([main, other], 0.5)
    for data, ha in sent:  # the sender's own address, not through its stack
        send(data, ha)
    serve([main, other], 2.0)
    assert not main.rxMsgs
    assert stat(main, "duplicate_message") == 5


def test_lost_dones_then_reallow_delivers_each_once(road):
    main, other, remote = pair(road)
    wire = Wire(main).drop(TrnsKind.message, PcktKind.done).drop(TrnsKind.message, PcktKind.nack)
    for i in range(5):
        other.transmit({"i": i}, remote.uid)
    serve([main, other], 1.0)
    assert sorted(m["i"] for m, _ in main.rxMsgs) == list(range(5))  # delivered, dones lost
    wire.rules.clear()
    other.allow(uid=remote.uid)
    got = delivered(main, other, receiver=main, count=5)
    assert sorted(m["i"] for m in got) == list(range(5))
    assert stat(other, "message_initiate_complete") == 5
    assert not stat(other, "message_dropped")


def test_messages_to_a_restarted_main_are_delivered_once(road):
    main, other, remote = pair(road)
    main.close()
    for i in range(5):  # in flight while the main is down
        other.transmit({"i": i}, remote.uid)
    serve([other], 1.0)
    main = road.restart(main, main=True, auto=ALWAYS)
    for i in range(5, 25):  # sent after the restart, before any re-allow
        other.transmit({"i": i}, remote.uid)
    got = delivered(main, other, receiver=main, count=25)
    assert sorted(m["i"] for m in got) == list(range(25))
    assert not stat(other, "message_dropped")


def test_restarted_sender_starts_a_new_memory(road):
    """A peer that restarted counts tids from 1 again: its new messages are not repeats."""
    main, other, remote = pair(road)
    for i in range(5):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=5)
    main.rxMsgs.clear()
    other = road.restart(other, auto=ALWAYS)
    back = only(other)
    for i in range(5, 10):
        other.transmit({"i": i}, back.uid)
    got = delivered(main, other, receiver=main, count=5)
    assert sorted(m["i"] for m in got) == list(range(5, 10))
    assert not stat(main, "duplicate_message")
