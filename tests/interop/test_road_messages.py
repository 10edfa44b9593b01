"""Messages between raetflo and the reference raet 0.6.8, both directions."""
from __future__ import annotations

import pytest

from raetflo.raeting import AutoMode, BodyKind, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.stacking import service_stacks

from ..lossy import LossyLink
from .conftest import add_remote

PAIRS = [("raetflo", "raet"), ("raet", "raetflo")]  # (sender, receiver)


def settled(*stacks):
    return lambda: all(not s.transactions for s in stacks)


def joined(make_stack, joiner_impl, main_impl):
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.always.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    remote = add_remote(joiner_impl, joiner, main)
    joiner.join(uid=remote.uid, cascade=True)
    service_stacks([main, joiner], 3.0, until=settled(main, joiner))
    assert remote.allowed is True
    return joiner, main


def received(stack):
    return [(dict(body), source) for body, source in stack.rxMsgs]


def deliver(stacks, receiver, count, duration=60.0):
    service_stacks(stacks, duration,
                   until=lambda: len(receiver.rxMsgs) >= count and settled(*stacks)())


@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_messages_both_ways(make_stack, sender_impl, receiver_impl):
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    msgs = [{"subject": "short", "content": "hi"},
            {"unicode": "héllo wörld ☃ 𝄞", "nested": {"list": [1, 2.5, None, True], "d": {}}},
            {"blob": "b" * 200_000},
            {"blob": "M" * 2_000_000}]
    to = sender.remotes.values()[0].uid
    for msg in msgs:
        sender.transmit(msg, to)
    deliver([sender, receiver], receiver, len(msgs))
    assert received(receiver) == [(m, "minion") for m in msgs]

    back = receiver.remotes.values()[0].uid
    receiver.transmit({"reply": "ok ✓"}, back)
    deliver([sender, receiver], sender, 1)
    assert received(sender) == [({"reply": "ok ✓"}, "main")]


@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_two_hundred_queued_at_once(make_stack, sender_impl, receiver_impl):
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    to = sender.remotes.values()[0].uid
    for i in range(200):
        sender.transmit({"i": i, "text": "message %d" % i}, to)
    deliver([sender, receiver], receiver, 200)
    got = [body["i"] for body, _ in received(receiver)]
    assert sorted(got) == list(range(200))


@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_two_hundred_over_lossy_link(make_stack, sender_impl, receiver_impl):
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    LossyLink(sender, 0.2, seed=11)
    LossyLink(receiver, 0.2, seed=12)
    to = sender.remotes.values()[0].uid
    for i in range(200):
        sender.transmit({"i": i, "pad": "q" * (2500 if i % 20 == 0 else 5)}, to)
    deliver([sender, receiver], receiver, 200, duration=120.0)
    got = [body["i"] for body, _ in received(receiver)]
    assert sorted(got) == list(range(200))


def test_three_estate_mesh_of_both_implementations(make_stack):
    alpha = make_stack("raetflo", "alpha", main=True, auto=AutoMode.always.value)
    beta = make_stack("raet", "beta", main=True, auto=AutoMode.always.value)
    gamma = make_stack("raetflo", "gamma", main=True, auto=AutoMode.always.value)
    stacks = [alpha, beta, gamma]
    for joiner, impl, peer in ((alpha, "raetflo", beta), (alpha, "raetflo", gamma),
                               (beta, "raet", gamma)):
        remote = add_remote(impl, joiner, peer, name=peer.local.name)
        joiner.join(uid=remote.uid, cascade=True)
    service_stacks(stacks, 3.0, until=settled(*stacks))
    for stack in stacks:
        assert len(stack.remotes) == 2
        assert all(r.allowed for r in stack.remotes.values()), stack.name

    for stack in stacks:
        for remote in stack.remotes.values():
            stack.transmit({"from": stack.local.name, "to": remote.name}, remote.uid)
    service_stacks(stacks, 3.0, until=lambda: all(len(s.rxMsgs) >= 2 for s in stacks)
                   and settled(*stacks)())
    for stack in stacks:
        got = sorted(received(stack), key=lambda item: item[1])
        others = sorted(s.local.name for s in stacks if s is not stack)
        assert got == [({"from": name, "to": stack.local.name}, name) for name in others]


@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_msgpack_bodies(make_stack, ref, monkeypatch, sender_impl, receiver_impl):
    """msgpack bodies (bk 3) both ways; the reference packs str without the bin type."""
    monkeypatch.setattr(ref.stacking.RoadStack, "Bk", ref.raeting.BodyKind.msgpack.value)
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    if sender_impl == "raetflo":
        sender.Bk = BodyKind.msgpack
    msgs = [{"text": "héllo ☃", "n": [1, 2.5, None, True], "long": "s" * 300}]
    kinds = []
    send = sender.server.send

    def spy(data, ha):
        head = packeting.parse(bytes(data)).head
        if head.tk == TrnsKind.message and head.pk == PcktKind.message:
            kinds.append(head.bk)
        return send(data, ha)

    sender.server.send = spy
    to = sender.remotes.values()[0].uid
    for msg in msgs:
        sender.transmit(msg, to)
    deliver([sender, receiver], receiver, len(msgs))
    assert received(receiver) == [(m, "minion") for m in msgs]
    assert kinds and set(kinds) == {BodyKind.msgpack}


def drop_dones(stack):
    """Lose every message done ``stack`` sends."""
    send = stack.server.send

    def lossy(data, ha):
        head = packeting.parse(bytes(data), veritive=False).head
        if head.tk == TrnsKind.message and head.pk == PcktKind.done:
            return len(data)
        return send(data, ha)

    stack.server.send = lossy


def test_raet_receiver_whose_dones_are_lost(make_stack):
    """raet nacks the retransmissions of what it delivered: no duplicates, and the
    sender counts them unconfirmed (maybe delivered), not dropped."""
    sender, receiver = joined(make_stack, "raetflo", "raet")
    drop_dones(receiver)
    to = sender.remotes.values()[0].uid
    for i in range(5):
        sender.transmit({"i": i}, to)
    service_stacks([sender, receiver], 10.0, until=lambda: sender.stats.get(
        "message_unconfirmed", 0) >= 5 and settled(sender, receiver)())
    assert sorted(body["i"] for body, _ in received(receiver)) == list(range(5))
    assert sender.stats.get("message_unconfirmed") == 5
    assert not sender.stats.get("message_dropped")


def test_messages_to_a_restarted_raet_main(make_stack):
    joiner, main = joined(make_stack, "raetflo", "raet")
    main.server.close()
    main = make_stack("raet", "main", main=True, auto=AutoMode.always.value, ha=main.ha)
    to = joiner.remotes.values()[0].uid
    for i in range(20):  # before any re-allow
        joiner.transmit({"i": i}, to)
    deliver([joiner, main], main, 20, duration=20.0)
    assert sorted(body["i"] for body, _ in received(main)) == list(range(20))
    assert not joiner.stats.get("message_dropped")


def test_a_delivered_message_the_reference_then_nacks_is_not_reported_refused(make_stack):
    """The network duplicates each message packet to raet, which delivers the first copy
    and nacks the second (a duplicate of a completed message), and its nack overtakes
    its done. The sender must not report as refused (no copy delivered) a message raet
    delivered: its late done confirms it."""
    sender, receiver = joined(make_stack, "raetflo", "raet")
    send, reply = sender.server.send, receiver.server.send
    held: list[tuple[bytes, tuple]] = []

    def twice(data, ha):
        head = packeting.parse(bytes(data), veritive=False).head
        if head.tk == TrnsKind.message and head.pk == PcktKind.message:
            send(data, ha)
        return send(data, ha)

    def nack_first(data, ha):
        head = packeting.parse(bytes(data), veritive=False).head
        if head.tk == TrnsKind.message and head.pk == PcktKind.done:
            held.append((bytes(data), ha))
            return len(data)
        sent = reply(data, ha)
        while head.pk == PcktKind.nack and held:
            reply(*held.pop(0))
        return sent

    sender.server.send, receiver.server.send = twice, nack_first
    to = sender.remotes.values()[0].uid
    for i in range(5):
        sender.transmit({"i": i}, to)
    deliver([sender, receiver], receiver, 5)
    service_stacks([sender, receiver], 5.0, until=settled(sender, receiver))
    assert sorted(body["i"] for body, _ in received(receiver)) == list(range(5))
    assert receiver.stats.get("stale_initiator_nack", 0) >= 5  # raet nacked the copies
    assert not sender.stats.get("message_dropped")
    assert sender.stats.get("message_initiate_complete") == 5


@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_segmented_messages_over_a_lossy_link(make_stack, sender_impl, receiver_impl):
    """Lost segments and lost asks for them: the receiver asks a few times, then the
    sender's redo (a copy of its last segment, with the wait flag) keeps it going."""
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    LossyLink(sender, 0.3, seed=21)
    LossyLink(receiver, 0.3, seed=22)
    to = sender.remotes.values()[0].uid
    msgs = [{"n": n, "blob": chr(65 + n) * 60_000} for n in range(3)]
    for msg in msgs:
        sender.transmit(msg, to)
    deliver([sender, receiver], receiver, len(msgs), duration=300.0)
    assert sorted(received(receiver), key=lambda m: m[0]["n"]) == [(m, "minion") for m in msgs]
