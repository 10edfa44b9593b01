"""The lean path of one-packet messages: the same wire bytes, the same deliveries in order,
exactly once, the same resends after a loss and the same counters as a message of many
segments takes, while holding no incoming record and formatting no unseen console line."""
from __future__ import annotations

import pytest

from raetflo import nacling
from raetflo.raeting import BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.estating import RemoteEstate
from raetflo.road.messaging import Messengent, Messenger
from raetflo.road.packeting import Head

from .conftest import Wire, idle, only, serve, stat, stats
from .test_message_speed_paths import delivered, pair

NONCE = bytes(range(24))


def tap(stack):
    """Every datagram ``stack`` sends, as bytes, in order."""
    sent: list[bytes] = []
    send = stack.server.send

    def record(data, ha):
        sent.append(bytes(data))
        return send(data, ha)

    stack.server.send = record
    return sent


def test_one_packet_message_and_its_done_are_the_codec_s_packets(road, monkeypatch):
    main, other, remote = pair(road)
    record = only(main)
    monkeypatch.setattr(nacling.libnacl, "randombytes", lambda size: NONCE[:size])
    out, back = tap(other), tap(main)
    other.transmit({"subject": "one", "n": 1}, remote.uid)
    assert delivered(main, other, 1) == [{"subject": "one", "n": 1}]
    (message,), (done,) = out, back
    tid = packeting.parse(message).head.ti
    head = Head(pk=PcktKind.message, tk=TrnsKind.message, se=remote.uid, de=remote.fuid,
                si=remote.sid, ti=tid, bk=BodyKind.json, ck=CoatKind.nacl, fk=FootKind.nacl,
                wf=True)
    coat = remote.box.seal(b'{"subject":"one","n":1}', NONCE)
    assert message == packeting.pack(head, b"".join(coat), other.local.signer)
    answer = Head(pk=PcktKind.done, tk=TrnsKind.message, cf=True, se=record.uid,
                  de=record.fuid, si=record.rsid, ti=tid, bk=BodyKind.json, ck=CoatKind.nacl,
                  fk=FootKind.nacl, wf=True)
    assert done == packeting.pack(answer, b"", main.local.signer)


def test_one_packet_messages_arrive_in_order_exactly_once_with_the_same_counters(road):
    main, other, remote = pair(road)
    bodies = [{"seq": seq} for seq in range(50)]
    for body in bodies:
        other.transmit(body, remote.uid)
    assert delivered(main, other, len(bodies)) == bodies
    assert stats(other) == {"message_segment_tx": 50, "message_complete_rx": 50,
                            "message_initiate_complete": 50}
    assert stats(main) == {"message_segment_rx": 50, "message_complete_ack": 50,
                           "messengent_correspond_complete": 50}


def test_a_lost_one_packet_message_is_redone_and_arrives_once(road):
    main, other, remote = pair(road)
    Wire(other).drop(TrnsKind.message, PcktKind.message, count=1)
    other.transmit({"seq": 0}, remote.uid)
    assert delivered(main, other, 1) == [{"seq": 0}]
    assert stat(other, "redo_segment") == 1 and stat(other, "message_initiate_complete") == 1


def test_a_lost_done_is_answered_again_and_the_message_arrives_once(road):
    main, other, remote = pair(road)
    Wire(main).drop(TrnsKind.message, PcktKind.done, count=1)
    other.transmit({"seq": 0}, remote.uid)
    serve([main, other], 30.0, until=idle(main, other))
    assert [body for body, _ in main.rxMsgs] == [{"seq": 0}]
    assert stat(main, "duplicate_message") >= 1 and stat(main, "message_segment_rx") == 1
    assert stat(other, "message_initiate_complete") == 1


def test_a_one_packet_message_holds_no_incoming_record(road, monkeypatch):
    main, other, remote = pair(road)
    added: list[object] = []
    add = RemoteEstate.addTransaction
    monkeypatch.setattr(RemoteEstate, "addTransaction",
                        lambda self, index, t: added.append(t) or add(self, index, t))
    for seq in range(5):
        other.transmit({"seq": seq}, remote.uid)
    assert len(delivered(main, other, 5)) == 5
    assert not [t for t in added if isinstance(t, Messengent)]
    assert only(main).incoming == only(main).incoming_bytes == main.incoming_bytes == 0


def test_a_one_packet_message_is_still_refused_past_the_incoming_bound(road):
    main, other, remote = pair(road)
    only(main).incoming = Messengent.MaxIncoming
    other.transmit({"seq": 0}, remote.uid)
    serve([main, other], 1.0)
    assert not main.rxMsgs and stat(main, "message_overload") >= 1
    assert only(main).incoming == Messengent.MaxIncoming


class Counted(str):
    """A name that counts how often it is put into a formatted string."""

    formatted = 0

    def __format__(self, spec: str) -> str:
        Counted.formatted += 1
        return super().__format__(spec)

    def __str__(self) -> str:
        Counted.formatted += 1
        return super().__str__()


@pytest.mark.parametrize("size", [10, 5000], ids=["one_packet", "segmented"])
def test_message_paths_format_no_line_the_console_would_not_print(road, monkeypatch, size):
    main, other, remote = pair(road)
    for stack in (main, other):
        assert stack.console._verbosity < stack.console.Wordage.concise
    monkeypatch.setattr(Counted, "formatted", 0)
    only(main).name, remote.name = Counted(only(main).name), Counted(remote.name)
    for seq in range(3):
        other.transmit({"seq": seq, "blob": "x" * size}, remote.uid)
    assert len(delivered(main, other, 3)) == 3
    assert Counted.formatted == 0


def filed(stack, kind):
    """Entries of the deadline heap of ``stack`` for transactions of ``kind``."""
    return sum(isinstance(transaction, kind) for _, _, transaction in stack.deadlines)


def test_a_message_files_one_deadline_and_the_core_still_follows_each(road):
    main, other, remote = pair(road)
    for seq in range(10):
        other.transmit({"seq": seq}, remote.uid)
    other.serviceTxMsgs()
    messengers = list(remote.transactions.values())
    assert len(messengers) == 10 and filed(other, Messenger) == 10
    other.store.advanceStamp(0.05)
    for messenger in messengers[:5]:
        messenger.redoTimer.restart()  # later: found when the old entry comes up
    assert filed(other, Messenger) == 10
    assert other.get_timer() == min(messenger.deadline for messenger in messengers)
    messengers[7].redoTimer.restart(duration=0.0)  # sooner: filed at once
    assert other.get_timer() == other.now == messengers[7].deadline
    assert delivered(main, other, 10) == [{"seq": seq} for seq in range(10)]


def test_the_segments_of_a_message_file_no_deadline_each(road):
    main, other, remote = pair(road)
    Wire(other).drop(TrnsKind.message, PcktKind.message, count=1)  # the first segment
    other.transmit({"blob": "b" * 300_000}, remote.uid)
    other.serviceAll()
    serve([main], 0.3)
    (incoming,) = main.transactions
    assert incoming.count > 250 and len(incoming.chunks) == incoming.count - 1
    assert filed(main, Messengent) <= 2
    assert main.get_timer() == incoming.deadline
    assert len(delivered(main, other, 1)[0]["blob"]) == 300_000
