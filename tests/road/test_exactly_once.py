"""Exactly-once delivery under replay, lost dones, re-allows and restarts; bounded reassembly."""
from __future__ import annotations

import gc
import time
import tracemalloc

from raetflo.raeting import MAX_MESSAGE_SIZE, BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from raetflo.road import outbox, packeting
from raetflo.road.delivery import Outgoing
from raetflo.road.messaging import MAX_MISSEDS, OPEN_COST, SEGMENT_COST, Messengent
from raetflo.road.packeting import Head

from ..taps import Tap
from .conftest import ALWAYS, Wire, idle, joined, only, provisional, serve, stat


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
    tap = Tap(other)
    sent, send = tap.sent, tap.send
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


def test_a_receiver_restarted_after_its_dones_were_lost_delivers_nothing_twice(road):
    """What the main delivered before it restarted is remembered from its keep: the
    sender's repeats of messages whose dones were lost are answered done, not delivered
    again, and the messages after the restart come in once each."""
    main, other, remote = pair(road)
    wire = Wire(main).drop(TrnsKind.message, PcktKind.done)
    for i in range(5):
        other.transmit({"i": i}, remote.uid)
    serve([main, other], 0.2)
    assert sorted(m["i"] for m, _ in main.rxMsgs) == list(range(5))  # dones lost
    wire.rules.clear()
    main = road.restart(main, main=True, auto=ALWAYS)
    for i in range(5, 10):
        other.transmit({"i": i}, remote.uid)
    got = delivered(main, other, receiver=main, count=5, manage=True)
    serve([main, other], 2.0, until=idle(main, other))
    assert sorted(m["i"] for m in got) == list(range(5, 10)) and len(main.rxMsgs) == 5
    assert stat(other, "message_initiate_complete") == 10
    assert not stat(other, "message_dropped") and not stat(other, "message_unconfirmed")
    assert stat(main, "duplicate_message") >= 5


def sender_restarted(road, count):
    """A pair whose sender delivered ``count`` messages, then restarted: the main, the
    restarted sender and its record of the main."""
    main, other, remote = pair(road)
    for i in range(count):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=count)
    main.rxMsgs.clear()
    other = road.restart(other, auto=ALWAYS)
    return main, other, only(other)


def test_restarted_sender_starts_a_new_memory(road):
    """A peer that restarted is a new incarnation: its new messages are not repeats."""
    main, other, back = sender_restarted(road, 5)
    for i in range(5, 10):
        other.transmit({"i": i}, back.uid)
    got = delivered(main, other, receiver=main, count=5)
    assert sorted(m["i"] for m in got) == list(range(5, 10))
    assert not stat(main, "duplicate_message")


def segments(sender, remote, tid, sns, sc, ml, size=500):
    """Datagrams of message ``tid`` holding only segments ``sns`` of ``sc``, as the
    (authenticated) ``sender`` can make them."""
    head = Head(hk=sender.Hk, pk=PcktKind.message, tk=TrnsKind.message, se=remote.uid,
                de=remote.fuid, si=remote.sid, ti=tid, bk=sender.Bk, ck=CoatKind.nacl,
                fk=FootKind.nacl, sc=sc, ml=ml, sf=True, wf=True)
    return [packeting.pack(head.copy(sn=sn), b"c" * size, sender.local.signer) for sn in sns]


class Looked(dict):
    """Chunks of a messengent that count the segment numbers looked up."""

    count = 0

    def __contains__(self, sn):
        Looked.count += 1
        return super().__contains__(sn)


def test_sparse_segments_keep_service_fast_and_memory_bounded(road, monkeypatch):
    monkeypatch.setattr(Messengent, "MaxIncomingBytes", 2**40)  # the budgets are not tested
    monkeypatch.setattr(Messengent, "MaxIncomingBytesTotal", 2**40)
    main, other, remote = pair(road)
    count, sc = 1000, 65535
    for i in range(count):
        for data in segments(other, remote, 1000 + i, (0, sc - 1), sc, ml=sc):
            other.server.send(data, main.ha)
        if i % 50 == 49:
            main.serviceAll()
    main.serviceAll()
    incoming = [t for t in main.transactions if isinstance(t, Messengent)]
    assert len(incoming) == count
    for messengent in incoming:
        messengent.chunks = Looked(messengent.chunks)
    replies = stat(main, "message_resend_tx")
    started = time.perf_counter()
    for _ in range(20):  # the attacker answers nothing; redo timers fire several times
        main.serviceAll()
        main.store.advanceStamp(0.1)
    assert time.perf_counter() - started < 2.0  # was about 20 s
    replies = stat(main, "message_resend_tx") - replies
    assert replies >= 3 * count
    assert Looked.count <= replies * (MAX_MISSEDS + 1)  # was 65,533 per reply
    assert sum(len(c) for t in incoming for c in t.chunks.values()) == count * 2 * 500
    held = count * (2 * (500 + SEGMENT_COST) + OPEN_COST)  # what arrived, not what was announced
    assert only(main).incoming_bytes == main.incoming_bytes == held


def test_chunks_beyond_the_announced_size_are_dropped(road):
    main, other, remote = pair(road)
    for data in segments(other, remote, 1000, (0, 1, 2), 10, ml=1000, size=400):
        other.server.send(data, main.ha)
    main.serviceAll()
    (incoming,) = main.transactions
    assert sorted(incoming.chunks) == [0, 1]  # 800 bytes held; 1200 would exceed ml
    assert stat(main, "parsing_message_error") == 1


def test_incomplete_messages_are_bounded_by_the_bytes_they_hold(road, monkeypatch):
    """What unfinished messages hold is charged as it arrives, not as it is announced: a
    few tiny segments announcing the largest messages cannot fill the budgets (ten of them
    reserved 512 MiB and refused every other sender's message), and past the budgets a
    segment is refused with its message."""
    main, other, remote = pair(road)
    big = MAX_MESSAGE_SIZE
    for i in range(100):
        for data in segments(other, remote, 1000 + i, (0,), 65535, ml=big, size=1):
            other.server.send(data, main.ha)
        main.serviceAll()
    assert len(main.transactions) == 100 and not stat(main, "message_overload")
    assert main.incoming_bytes == only(main).incoming_bytes == 100 * (1 + SEGMENT_COST + OPEN_COST)
    other.transmit({"small": "x" * 3000}, remote.uid)  # a message of three segments
    serve([main, other], 5.0, until=lambda: bool(main.rxMsgs))
    assert [m for m, _ in main.rxMsgs] == [{"small": "x" * 3000}]
    main.store.advanceStamp(Messengent.IdleTimeout + 1)
    main.serviceAll()  # the sender went silent: given up, bytes released
    assert not main.transactions and main.incoming_bytes == only(main).incoming_bytes == 0

    cost = 500 + SEGMENT_COST  # what one segment of these holds
    held = 9 * cost + OPEN_COST  # what the first message holds (the whole would fit)
    monkeypatch.setattr(Messengent, "MaxIncomingBytes", held + OPEN_COST + cost + 100)
    for data in segments(other, remote, 2000, range(9), 10, ml=5000):
        other.server.send(data, main.ha)
    for data in segments(other, remote, 2001, range(2), 10, ml=5000):
        other.server.send(data, main.ha)  # its second would hold past the remote's budget
    main.serviceAll()
    assert [t.tid for t in main.transactions] == [2000]
    assert stat(main, "message_overload") == 1 and main.incoming_bytes == held
    monkeypatch.setattr(Messengent, "MaxIncomingBytes", 10**9)
    monkeypatch.setattr(Messengent, "MaxIncomingBytesTotal", held + 100)
    for data in segments(other, remote, 2002, (0,), 10, ml=5000):
        other.server.send(data, main.ha)  # past the stack's
    main.serviceAll()
    assert [t.tid for t in main.transactions] == [2000]
    assert stat(main, "message_overload") == 2 and main.incoming_bytes == held
    for data in segments(other, remote, 2003, (0,), 20000, ml=10**6):
        other.server.send(data, main.ha)  # too big ever to fit: refused at once
    main.serviceAll()
    assert stat(main, "message_overload") == 3 and main.incoming_bytes == held


def test_copies_of_a_segment_do_not_keep_an_unfinished_message_open(road):
    """Only a new segment restarts a message's idle timer: copies of one (a peer keeping a
    reservation alive) do not."""
    main, other, remote = pair(road)
    (first,) = segments(other, remote, 3000, (0,), 10, ml=5000)
    for _ in range(3):
        other.server.send(first, main.ha)
        main.serviceAll()
        main.store.advanceStamp(Messengent.IdleTimeout * 0.4)
    main.serviceAll()
    assert not main.transactions and main.incoming_bytes == 0


def test_saved_message_is_dropped_at_its_deadline(road):
    other = road("other", auto=ALWAYS)
    remote = provisional(other, road("nobody"))  # an address where nobody answers
    other.transmit({"soon": 1}, remote.uid, 2.0)
    other.transmit({"whenever": 2}, remote.uid)
    for _ in range(15):
        other.manage()
        serve([other], 0.1)
    assert len(remote.messages) == 2 and not stat(other, "message_dropped")
    for _ in range(10):
        other.manage()
        serve([other], 0.1)
    assert stat(other, "message_dropped") == 1  # the one with a 2 s timeout
    assert [entry.body for entry in remote.messages] == [{"whenever": 2}]


def test_resends_after_reallows_are_bounded(road):
    main, other, remote = pair(road)
    Wire(main).drop(TrnsKind.message, PcktKind.done).drop(TrnsKind.message, PcktKind.nack)
    other.transmit({"once": 1}, remote.uid)
    for _ in range(other.MaxResends + 1):
        serve([main, other], 1.0)
        other.allow(uid=remote.uid)
    serve([main, other], 2.0)
    assert list(main.rxMsgs) == [({"once": 1}, "other")]
    assert stat(main, "duplicate_message") >= other.MaxResends
    assert stat(other, "message_unconfirmed") == 1  # it went more than once: maybe delivered
    assert not stat(other, "message_dropped") and not other.transactions


def test_messages_a_probe_holds_are_given_up_when_the_stack_closes(road):
    """Messages nacked by a restarted peer wait with the probe asking whether it still
    has our session; closing the stack then gives them up too, counted, not lost."""
    main, other, remote = pair(road)
    main = road.restart(main, main=True, auto=ALWAYS)  # our session is gone there
    for i in range(3):
        other.transmit({"i": i}, remote.uid)
    serve([main, other], 2.0, until=lambda: remote.prober is not None)
    assert remote.prober is not None and remote.prober.entries
    other.close()
    given_up = stat(other, "message_dropped") + stat(other, "message_unconfirmed")
    assert given_up + len(main.rxMsgs) == 3


def crashed(road, stack, **kwa):
    """``stack`` killed (its socket gone, nothing closed), then started again from its
    keep."""
    stack.server.close()
    stack.close = lambda: None  # (a killed process runs nothing at exit)
    return road.restart(stack, **kwa)



def test_a_probe_answered_in_a_newer_session_sends_again_what_the_old_one_nacked(road):
    """A message nacked in one session (a restarted peer's, say) is parked while a probe
    asks whether the peer holds our session. When the link has a new session by the time
    the probe runs, its answer says nothing of the old one: the message goes again
    (delivered once), where one nacked in the session the probe found intact is refused."""
    main, other, remote = pair(road)
    old = remote.sid
    other.allow(uid=remote.uid)
    serve([main, other], 3.0, until=idle(main, other))
    assert remote.allowed and remote.sid != old
    stale = Outgoing.new({"i": "nacked in the old session"}, None, other.now, ref=1)
    current = Outgoing.new({"i": "nacked in this one"}, None, other.now, ref=2)
    stale.nacked_sid, current.nacked_sid = old, remote.sid
    remote.parked.extend([stale, current])
    outbox.probe(other, remote)
    serve([main, other], 5.0, until=idle(main, other))
    assert [body["i"] for body, _ in main.rxMsgs] == ["nacked in the old session"]
    assert stat(other, "message_initiate_complete") == 1 and stat(other, "message_dropped") == 1


def open_messages(main, other, remote, count, first_tid=4000):
    """Open ``count`` messages of two segments on ``main`` with their first segment alone
    (one byte), without a wait flag, as an authenticated peer that goes silent can."""
    for n in range(count):
        (data,) = segments(other, remote, first_tid + n, (0,), 2, ml=2, size=1)
        head = packeting.parse(data).head
        main.rxes.append((packeting.pack(head.copy(wf=False), b"c", other.local.signer),
                          other.ha))
    main.serviceAll()


def test_what_an_open_message_holds_is_charged_to_the_incoming_budgets(road):
    """The budgets bound the memory open messages hold: a segment of one byte held by an
    open message cost some 2 kB (its transaction, timers, head and packet) while 97 bytes
    were charged, so the byte budgets let a peer hold twenty times what they said."""
    main, other, remote = pair(road)
    count = 300
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        open_messages(main, other, remote, count)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert only(main).incoming == count
    assert held <= main.incoming_bytes == only(main).incoming_bytes
    main.store.advanceStamp(Messengent.IdleTimeout + 1)
    main.serviceAll()
    assert main.incoming_bytes == only(main).incoming_bytes == 0


def test_what_the_segments_of_an_open_message_hold_is_charged(road):
    main, other, remote = pair(road)
    datagrams = segments(other, remote, 4500, range(400), 800, ml=800 * 800, size=800)
    main.rxes.append((datagrams[0], other.ha))
    main.serviceAll()
    charged = main.incoming_bytes
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(1, len(datagrams), 100):
            main.rxes.extend((data, other.ha) for data in datagrams[start:start + 100])
            main.serviceAll()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(main.transactions[0].chunks) == 400
    assert held <= main.incoming_bytes - charged


def test_open_messages_are_bounded_stack_wide(road, monkeypatch):
    monkeypatch.setattr(Messengent, "MaxIncomingTotal", 5)
    main, other, remote = pair(road)
    open_messages(main, other, remote, 8)
    assert only(main).incoming == main.incoming == 5
    assert stat(main, "message_overload") == 3
    main.store.advanceStamp(Messengent.IdleTimeout + 1)
    main.serviceAll()
    assert main.incoming == 0
    other.transmit({"after": "x" * 3000}, remote.uid)
    assert delivered(main, other, receiver=main, count=1) == [{"after": "x" * 3000}]


def test_a_silent_sender_is_asked_for_the_rest_a_few_times_only(road):
    """An open message whose sender went silent was asked for its rest every half second
    until it was given up (some 116 signed acks for one datagram of the peer's): the asks
    back off while no new segment comes, and stop after ``QuietRedos``."""
    main, other, remote = pair(road)
    main.clearStats()
    open_messages(main, other, remote, 10)
    for _ in range(int(Messengent.IdleTimeout * 10) + 10):
        main.store.advanceStamp(0.1)
        main.serviceAll()
    assert not main.transactions
    asks = stat(main, "message_more_ack") + stat(main, "message_resend_tx")
    assert asks == 10 * Messengent.QuietRedos


def test_a_join_spoofed_as_the_peer_does_not_make_a_delivered_message_new_again(road):
    """A vacuous join naming the peer, sent from its address (unsigned: a spoofed source or
    a replay on the path), made the main forget which of its messages it had delivered;
    the peer, its done lost, sent a delivered message again after the re-allow that join
    forced, and it was delivered twice. A restarted peer is still told apart: its tids
    start again, and the first packet of its new session says so."""
    main, other, remote = pair(road)
    record = only(main)
    wire = Wire(main).drop(TrnsKind.message, PcktKind.done)
    other.transmit({"once": 1}, remote.uid)
    serve([main, other], 0.5, until=lambda: bool(main.rxMsgs))
    assert list(main.rxMsgs) == [({"once": 1}, "other")]
    body = dict(name=record.name, mode=0, kind=0, verhex=record.verhex, pubhex=record.pubhex,
                role=record.role)
    request = Head(pk=PcktKind.request, tk=TrnsKind.join, se=record.fuid, de=0, si=0, ti=999,
                   bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada)
    ack = Head(pk=PcktKind.ack, tk=TrnsKind.join, se=record.fuid, de=0, si=0, ti=999,
               bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada)
    main.rxes.append((packeting.pack(request, packeting.encode_body(BodyKind.json, body)),
                      other.ha))
    main.serviceAll()
    main.rxes.append((packeting.pack(ack, b""), other.ha))
    main.serviceAll()
    wire.rules.clear()
    serve([main, other], 20.0, until=lambda: idle(main, other)() and record.allowed is True)
    assert list(main.rxMsgs) == [({"once": 1}, "other")]
    assert stat(other, "message_initiate_complete") + stat(other, "message_confirmed_late") >= 1
