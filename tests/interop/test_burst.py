"""Burst mode (``BurstSize`` > 0) between raetflo and the reference raet 0.6.8.

In burst mode the correspondent acks each burst with ``sn`` = highest segment received and
no ``sc`` (so ``sc`` is 1); such acks must be accepted, whoever sends them.
"""
from __future__ import annotations

import pytest

from raetflo.raeting import PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.stacking import service_stacks

from ..taps import Tap
from .test_road_messages import deliver, joined, received, settled

PAIRS = [("raetflo", "raetflo"), ("raetflo", "raet"), ("raet", "raetflo")]  # (sender, receiver)
BURSTS = [1, 2, 11]
BIG = [{"blob": "z" * 50_000}]
SMALL = [{"i": i, "text": f"small {i}"} for i in range(30)]


def head_fields(data: bytes) -> dict[str, int]:
    """Integer fields of a raet head, read as text (no parser involved)."""
    head = bytes(data).split(b"\n\n", 1)[0].decode("ascii")
    pairs = (line.split(" ") for line in head.split("\n")[1:])
    return {name: int(value, 16) for name, value in pairs if name != "dt"}


def message_acks(datagrams: list[bytes]) -> list[dict[str, int]]:
    heads = [head_fields(data) for data in datagrams]
    return [h for h in heads if h.get("tk", 0) == TrnsKind.message and h.get("pk") == PcktKind.ack]


@pytest.mark.parametrize("msgs", [BIG, SMALL], ids=["50KB", "30small"])
@pytest.mark.parametrize("burst", BURSTS)
@pytest.mark.parametrize("sender_impl,receiver_impl", PAIRS)
def test_burst_mode_delivers_exactly_once(make_stack, monkeypatch, sender_impl, receiver_impl,
                                          burst, msgs):
    sender, receiver = joined(make_stack, sender_impl, receiver_impl)
    monkeypatch.setattr(sender, "BurstSize", burst)
    acks = Tap(receiver)
    to = sender.remotes.values()[0].uid
    for msg in msgs:
        sender.transmit(msg, to)
    deliver([sender, receiver], receiver, len(msgs), duration=30.0)
    service_stacks([sender, receiver], 2.0)  # anything repeated would arrive now
    got = received(receiver)
    assert len(got) == len(msgs)
    assert sorted(got, key=repr) == sorted(((m, "minion") for m in msgs), key=repr)
    assert settled(sender, receiver)()
    for stack in (sender, receiver):
        assert stack.stats.get("rx_bad_head", 0) == 0, dict(stack.stats)
        assert stack.stats.get("message_dropped", 0) == 0, dict(stack.stats)
    if msgs is BIG and burst < 50:
        heads = message_acks(acks.datagrams)
        assert any(h.get("sn", 0) >= 1 and "sc" not in h for h in heads), heads


def test_reference_burst_acks_have_sn_past_sc(make_stack, monkeypatch):
    """The reference's burst acks on the wire: sn = highest segment, sc omitted (1)."""
    sender, receiver = joined(make_stack, "raetflo", "raet")
    monkeypatch.setattr(sender, "BurstSize", 2)
    acks = Tap(receiver)
    sender.transmit(BIG[0], sender.remotes.values()[0].uid)
    deliver([sender, receiver], receiver, 1, duration=30.0)
    heads = message_acks(acks.datagrams)
    assert [h.get("sn", 0) for h in heads[:3]] == [1, 3, 5]
    assert all("sc" not in h and h["fk"] == 1 for h in heads)
    for data in acks.datagrams:
        packet = packeting.parse(data)
        assert packet.head.sn == head_fields(data).get("sn", 0)
    assert received(receiver) == [(BIG[0], "minion")]


@pytest.mark.parametrize("sn", [60, 0xFFFF, 0xFFFFFFFF])
def test_ack_past_the_last_segment_is_harmless(make_stack, monkeypatch, sn):
    """Acks whose sn is at or past the segment count: no error, no extra sends."""
    sender, receiver = joined(make_stack, "raetflo", "raetflo")
    monkeypatch.setattr(sender, "BurstSize", 2)
    sent = Tap(sender)
    send = receiver.server.send

    def inflate(data, ha):
        packet = packeting.parse(bytes(data))
        head = packet.head
        if head.tk == TrnsKind.message and head.pk == PcktKind.ack:
            data = packeting.pack(head.copy(sn=sn), packet.coat, receiver.local.signer)
        return send(data, ha)

    receiver.server.send = inflate
    sender.transmit(BIG[0], sender.remotes.values()[0].uid)
    deliver([sender, receiver], receiver, 1, duration=30.0)
    service_stacks([sender, receiver], 2.0)
    assert received(receiver) == [(BIG[0], "minion")]
    segments = [h for h in map(head_fields, sent.datagrams) if h.get("sc", 1) > 1]
    assert len(segments) == segments[0]["sc"]  # each segment sent once
    assert sender.stats.get("message_ack_rx", 0) >= 1
    assert sender.stats.get("rx_exception", 0) == 0
