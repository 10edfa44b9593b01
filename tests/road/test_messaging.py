"""Messages between raetflo stacks: delivery, segmentation, loss, replay and forgery."""
from __future__ import annotations

import pytest

from raetflo import nacling
from raetflo.raeting import MAX_MESSAGE_SIZE, AutoMode, BodyKind
from raetflo.road import packeting
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack, StackError, service_stacks

from ..lossy import LossyLink
from ..taps import Tap


@pytest.fixture
def make(tmp_path, ha):
    made = []

    def make(name, **kwa):
        kwa.setdefault("auto", AutoMode.always.value)
        kwa.setdefault("ha", ha())
        stack = RoadStack(name=name, dirpath=str(tmp_path / name), **kwa)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.server.close()


def joined_pair(make, **kwa):
    main = make("main", main=True, **kwa)
    other = make("other", **kwa)
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.join(uid=remote.uid, cascade=True)
    service_stacks([main, other], 2.0, until=lambda: not main.transactions and not other.transactions)
    assert remote.allowed is True
    return main, other, remote


def deliver(stacks, receiver, count, duration=30.0):
    service_stacks(stacks, duration,
                   until=lambda: len(receiver.rxMsgs) >= count and not any(s.transactions for s in stacks))


@pytest.mark.parametrize("bk", [BodyKind.json, BodyKind.msgpack])
def test_bodies_round_trip_exactly(make, bk):
    main, other, remote = joined_pair(make, bk=bk)
    msgs = [{"subject": "short", "content": "hi"},
            {"unicode": "héllo ☃ 𝄞 \u0000 end", "nested": {"a": [1, 2.5, None, True, {"b": "c"}]}},
            {"big": "z" * 200_000, "n": 7},
            {}]
    for msg in msgs:
        other.transmit(msg, remote.uid)
    deliver([main, other], main, len(msgs))
    assert [m for m, _ in main.rxMsgs] == msgs
    assert {src for _, src in main.rxMsgs} == {"other"}
    assert main.stats.get("rx_exception", 0) == 0


def test_multi_megabyte_message_and_reply(make):
    main, other, remote = joined_pair(make)
    big = {"blob": "m" * 5_000_000}
    other.transmit(big, remote.uid)
    deliver([main, other], main, 1)
    assert main.rxMsgs.popleft() == (big, "other")
    back = main.nameRemotes["other"]
    main.transmit({"ack": True}, back.uid)
    deliver([main, other], other, 1)
    assert other.rxMsgs.popleft() == ({"ack": True}, "main")


def test_oversized_and_bad_bodies_refused_at_transmit(make):
    main, other, remote = joined_pair(make)
    with pytest.raises(StackError, match="maximum message size"):
        other.transmit({"x": "y" * MAX_MESSAGE_SIZE}, remote.uid)
    with pytest.raises(StackError, match="not a mapping"):
        other.transmit(["not", "a", "dict"], remote.uid)
    with pytest.raises(StackError, match="cannot encode"):
        other.transmit({"x": object()}, remote.uid)
    assert other.stats["invalid_transmit_body"] == 3
    assert not other.txMsgs


def test_message_waits_for_allow_then_goes(make):
    main = make("main", main=True)
    other = make("other")
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.transmit({"early": 1}, remote.uid)  # not joined yet: saved, join+allow started
    deliver([main, other], main, 1, duration=5.0)
    assert [m for m, _ in main.rxMsgs] == [{"early": 1}]
    assert other.stats["message_saved"] == 1
    assert remote.allowed is True


def test_message_to_removed_remote_is_dropped_and_counted(make):
    main = make("main", main=True, auto=AutoMode.never.value)
    other = make("other")
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.transmit({"lost": 1}, remote.uid)
    service_stacks([main, other], 0.5)
    assert remote.messages  # waiting: main has not accepted us
    other.removeRemote(remote)
    assert other.stats["message_dropped"] == 1
    assert not remote.messages


def test_thousand_messages_exactly_once_over_lossy_link(make):
    main, other, remote = joined_pair(make)
    links = [LossyLink(main, 0.2, seed=1), LossyLink(other, 0.2, seed=2)]
    count = 1000
    for i in range(count):
        body = {"i": i, "pad": "p" * (3000 if i % 50 == 0 else 10)}  # some are segmented
        other.transmit(body, remote.uid)
    deliver([main, other], main, count, duration=120.0)
    got = [m["i"] for m, _ in main.rxMsgs]
    assert sorted(got) == list(range(count))  # all, none twice
    assert all(link.counts["dropped"] and link.counts["duplicated"] and link.counts["reordered"]
               for link in links)
    assert main.stats.get("rx_exception", 0) == 0


def test_replayed_tampered_and_forged_messages_are_dropped(make):
    main, other, remote = joined_pair(make)
    sent = Tap(other).sent
    other.transmit({"n": 1}, remote.uid)
    deliver([main, other], main, 1)
    first = next(d for d, _ in sent if packeting.parse(d).head.tk == 0
                 and packeting.parse(d).head.pk == 0)

    other.server.send(first, main.ha)  # replay: same session, same transaction
    tampered = bytearray(first)
    tampered[packeting.parse(first).head.hl + 2] ^= 0x40
    other.server.send(bytes(tampered), main.ha)
    head = packeting.parse(first).head.copy(ti=999)
    forged = packeting.pack(head, packeting.parse(first).coat, nacling.Signer())
    other.server.send(forged, main.ha)
    service_stacks([main, other], 1.0)

    assert len(main.rxMsgs) == 1
    assert main.stats["duplicate_message"] == 1  # answered done, not delivered again
    assert main.stats["rx_bad_signature"] == 2
    other.transmit({"n": 2}, remote.uid)
    deliver([main, other], main, 2)
    assert [m["n"] for m, _ in main.rxMsgs] == [1, 2]


def test_transmit_queues_reference_shaped_entries(make):
    main, other, remote = joined_pair(make)
    other.transmit({"a": 1}, remote.uid, 3.0)
    other.transmit({"b": 2})
    assert list(other.txMsgs) == [({"a": 1}, remote.uid, 3.0), ({"b": 2}, remote.uid, None)]
    other.txMsgs.append(({"c": 3}, remote.uid, None))  # entries added by hand go too
    deliver([main, other], main, 3)
    assert [m for m, _ in main.rxMsgs] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_message_to_rejecting_remote_is_dropped_and_counted(make):
    main = make("main", main=True, auto=AutoMode.never.value)
    other = make("other")
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.join(uid=remote.uid)
    service_stacks([main, other], 0.5)
    main.keep.rejectRemote(main.remotes.values()[0])  # the operator says no
    other.transmit({"never": 1}, remote.uid)
    for _ in range(200):  # the join fails; manage() keeps trying while the message waits
        other.manage()
        service_stacks([main, other], 0.1)
        if other.stats.get("message_dropped"):
            break
    assert other.stats["message_dropped"] == 1
    assert other.stats["joiner_rx_reject"] == 1
    assert not main.rxMsgs
    assert remote.uid not in other.remotes  # the rejecting main's record is gone


def test_waiting_message_goes_when_the_main_comes_up(make, ha):
    address = ha()
    other = make("other")
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=address)
    other.addRemote(remote)
    other.transmit({"patient": True}, remote.uid)
    for _ in range(70):  # 7 s with nobody there: the first join times out
        other.manage()
        service_stacks([other], 0.1)
    assert other.stats["joiner_tx_join_redo"] >= 2
    assert remote.messages and not other.stats.get("message_dropped")
    main = make("main", main=True, ha=address)
    for _ in range(100):
        other.manage()
        service_stacks([main, other], 0.1)
        if main.rxMsgs:
            break
    assert list(main.rxMsgs) == [({"patient": True}, "other")]


def test_unfinished_incoming_messages_are_capped(make, monkeypatch):
    """A peer cannot make us hold unbounded partial messages: past the cap they are nacked."""
    from raetflo.road.messaging import Messengent
    monkeypatch.setattr(Messengent, "MaxIncoming", 5)
    main, other, remote = joined_pair(make)
    send = other.server.send

    def lossy(data, ha):  # lose every last segment: messages stay unfinished for a while
        head = packeting.parse(bytes(data)).head
        if head.sc > 1 and head.sn == head.sc - 1 and not head.af:
            return len(data)
        return send(data, ha)

    other.server.send = lossy
    for i in range(8):
        other.transmit({"i": i, "pad": "x" * 3000}, remote.uid)
    service_stacks([main, other], 0.15, step=0.05)  # three rounds, before any redo
    assert len(main.transactions) == 5
    assert main.stats["message_overload"] == 9  # each segment of the 3 refused messages
    service_stacks([main, other], 0.5, step=0.05)
    # nacked, a probe finds the session intact; every segment went, so (a raet peer
    # refuses copies of what it delivered) each is given up as may-have-been-delivered
    assert other.stats["message_unconfirmed"] == 3 and not other.stats.get("message_dropped")
    other.server.send = send
    deliver([main, other], main, 5)
    got = [m["i"] for m, _ in main.rxMsgs]
    assert len(got) == len(set(got)) == 5


def signed_segment(other: RoadStack, remote: RemoteEstate, tid: int, sn: int, sc: int,
                   ml: int, coat: bytes = b"") -> bytes:
    """A segment of message ``tid`` from ``other`` to its peer, signed by ``other``."""
    head = packeting.Head(hk=0, se=remote.uid, de=remote.fuid, si=remote.sid, ti=tid, tk=0,
                          pk=0, sn=sn, sc=sc, ml=ml, sf=True, bk=1, ck=1, fk=1)
    return packeting.pack(head, coat, other.local.signer)


@pytest.mark.parametrize("sc", [0xFFFFFFFF, 2000])
def test_a_peer_cannot_hold_an_open_message_with_empty_segments(make, sc):
    """Segments whose coats are empty cost the byte budget nothing: a message that announces
    more segments than bytes (or than the most a message has) is refused, and an empty
    segment of a message being collected is dropped, never held."""
    main, other, remote = joined_pair(make)
    tid = remote.nextTid()
    for sn in range(300):
        main.rxes.append((signed_segment(other, remote, tid, sn, sc, 1000), other.ha))
    main.serviceAll()
    held = [len(t.chunks) for t in main.transactions if hasattr(t, "chunks")]
    assert sum(held) == 0
    assert main.stats["parsing_message_error"] >= 1


def test_an_empty_segment_of_an_open_message_is_dropped(make):
    main, other, remote = joined_pair(make)
    tid = remote.nextTid()
    main.rxes.append((signed_segment(other, remote, tid, 0, 3, 30, b"x" * 10), other.ha))
    main.serviceAll()
    (messengent,) = [t for t in main.transactions if hasattr(t, "chunks")]
    for sn in (1, 2):
        main.rxes.append((signed_segment(other, remote, tid, sn, 3, 30), other.ha))
    main.serviceAll()
    assert list(messengent.chunks) == [0]
    assert main.stats["parsing_message_error"] == 2


@pytest.mark.parametrize("burst", [0, 1])
def test_message_stats_are_counted_as_raet_counts_them(make, burst, monkeypatch):
    """Every segment sent (each burst, each resend) is ``message_segment_tx``; each ack
    asking for more ``message_more_ack``; the done ``message_complete_ack`` on the
    receiver and ``message_complete_rx`` on the sender."""
    main, other, remote = joined_pair(make)
    monkeypatch.setattr(RoadStack, "BurstSize", burst)
    main.clearStats()
    other.clearStats()
    other.transmit({"data": "y" * 8000}, remote.uid)
    deliver([main, other], main, 1)
    segments = main.stats["message_segment_rx"]
    assert segments > 2
    assert other.stats["message_segment_tx"] == segments
    assert main.stats.get("message_more_ack", 0) == (segments - 1 if burst else 0)
    assert main.stats["message_complete_ack"] == 1
    assert other.stats["message_complete_rx"] == 1
    assert other.stats["message_initiate_complete"] == 1


def test_resent_segments_are_counted_sent(make):
    main, other, remote = joined_pair(make)
    send = other.server.send
    lost: set[int] = set()

    def lose_two(data, ha):  # the first sending of segments 1 and 2
        head = packeting.parse(bytes(data)).head
        if head.sc > 1 and head.sn in (1, 2) and head.sn not in lost:
            lost.add(head.sn)
            return len(data)
        return send(data, ha)

    other.server.send = lose_two
    other.clearStats()
    other.transmit({"data": "y" * 4000}, remote.uid)
    deliver([main, other], main, 1)
    segments = main.stats["message_segment_rx"]
    assert lost == {1, 2}
    assert other.stats["message_segment_tx"] == segments + 2


def signed_answer(main: RoadStack, peer: RemoteEstate, tid: int, pk: int, sn: int = 0,
                  body: bytes = b"") -> bytes:
    """``main``'s signed answer ``pk`` in message ``tid`` that ``peer`` (main's record of
    the sender) started."""
    head = packeting.Head(hk=0, se=peer.uid, de=peer.fuid, si=peer.rsid, ti=tid, tk=0,
                          pk=pk, sn=sn, cf=True, bk=1, ck=1, fk=1)
    coat = packeting.encrypt(1, body, peer.box) if body else b""
    return packeting.pack(head, coat, main.local.signer)


def test_answers_repeated_by_a_peer_cannot_make_us_resend_a_message_again_and_again(make):
    """A rewinding ack goes again at most once a redo interval; a resend request lists each
    segment once however often it names it, and a segment goes again for requests at most
    once in half the least redo interval (a request repeated a thousand times in a pass
    cost a thousand times its segments)."""
    from raetflo.raeting import PcktKind
    main, other, remote = joined_pair(make)
    peer = next(iter(main.remotes.values()))
    send = other.server.send
    sent: list[int] = []

    def count(data, ha):
        head = packeting.parse(bytes(data)).head
        if head.pk == PcktKind.message:
            sent.append(head.sn)
            return len(data)  # the main hears nothing of this message
        return send(data, ha)

    other.server.send = count
    other.transmit({"data": "y" * 60000}, remote.uid)
    other.serviceAll()
    (messenger,) = other.transactions
    segments = len(messenger.segments)
    assert sent == list(range(segments))
    sent.clear()
    ack = signed_answer(main, peer, messenger.tid, PcktKind.ack, sn=0)
    for _ in range(20):
        other.rxes.append((ack, main.ha))
    other.serviceAll()
    assert len(sent) == segments - 1  # one rewind, not twenty
    sent.clear()
    misseds = msgpack_or_json({"misseds": [3] * 64})
    for _ in range(5):
        other.rxes.append((signed_answer(main, peer, messenger.tid, PcktKind.resend,
                                         body=misseds), main.ha))
    other.serviceAll()
    assert sent == [3]  # once for the five requests
    assert other.stats["duplicate_resend"] == 4
    sent.clear()
    named = min(segments, 64)  # (a request names at most 64)
    every = msgpack_or_json({"misseds": list(range(named))})
    for _ in range(50):
        other.rxes.append((signed_answer(main, peer, messenger.tid, PcktKind.resend,
                                         body=every), main.ha))
    other.serviceAll()
    assert sorted(sent) == [sn for sn in range(named) if sn != 3]  # 3 went just now
    sent.clear()
    other.store.advanceStamp(messenger.redoTimeoutMin / 2)
    other.rxes.append((signed_answer(main, peer, messenger.tid, PcktKind.resend,
                                     body=misseds), main.ha))
    other.serviceAll()
    assert sent == [3]  # asked again later: it goes again


def msgpack_or_json(body: dict) -> bytes:
    return packeting.encode_body(BodyKind.json, body)


def test_a_full_inbox_refuses_new_messages_and_the_sender_is_told(make, monkeypatch):
    """Messages nobody takes from ``rxMsgs`` are bounded by ``MaxRxMsgs``: past it a new
    message is refused (``message_rx_full``), never taken and then lost, and its sender
    gives it up (as unconfirmed: a refusal of a message whose every segment went does not
    prove it undelivered); once the inbox is read, messages come in again."""
    monkeypatch.setattr(RoadStack, "MaxRxMsgs", 5)
    main, other, remote = joined_pair(make)
    for i in range(8):
        other.transmit({"i": i}, remote.uid)
    service_stacks([main, other], 10.0, until=lambda: not other.transactions
                   and not main.transactions and other.stats.get("message_unconfirmed", 0) >= 3)
    assert [m["i"] for m, _ in main.rxMsgs] == [0, 1, 2, 3, 4]
    assert main.stats["message_rx_full"] == 3 and other.stats["message_unconfirmed"] == 3
    main.rxMsgs.clear()
    other.transmit({"i": 8}, remote.uid)
    deliver([main, other], main, 1)
    assert [m["i"] for m, _ in main.rxMsgs] == [8]


def test_messages_not_confirmed_when_the_stack_closes_are_reported_not_lost_silently(make):
    """Counted as given up (``message_unconfirmed`` when a copy may have arrived, else
    ``message_dropped``), each with its line, and with its event when it has a ref."""
    main, other, remote = joined_pair(make)
    other.server.send = lambda data, ha: len(data)  # nothing reaches the main any more
    other.transmit({"sent": 1}, remote.uid)
    other.serviceAll()  # under way, never confirmed
    other.transmit({"queued": 2}, remote.uid)  # not started yet
    other.close()
    assert other.stats["message_unconfirmed"] == 1 and other.stats["message_dropped"] == 1
    assert not other.transactions and not other.txMsgs
    other.close()  # again: nothing more to report
    assert other.stats["message_unconfirmed"] == 1 and other.stats["message_dropped"] == 1


def test_a_stack_message_timeout_gives_up_messages_to_an_estate_that_left(make):
    """``MessageTimeout`` bounds the messages sent without a timeout of their own: one to
    an estate that went away is given up (counted, with its event), not retried for ever;
    a message's own timeout still wins."""
    main, other, remote = joined_pair(make)
    other.close()  # gone, without a word
    main.MessageTimeout = 2.0
    ref = main.send_message({"to": "nobody"}, main.remotes.values()[0].uid)
    own = main.send_message({"to": "nobody", "own": 1}, main.remotes.values()[0].uid,
                            timeout=30.0)
    service_stacks([main], 5.0)
    events = [event for event in iter(main.next_event, None) if hasattr(event, "ref")]
    assert [(event.ref, type(event).__name__) for event in events] == [(ref, "MessageDropped")]
    assert main.stats.get("message_unconfirmed", 0) + main.stats.get("message_dropped", 0) == 1
    assert len(main.transactions) == 1  # the one with its own, longer timeout
    assert own != ref
