"""The fast paths of messages: the same wire bytes and the same deliveries, in order, as
the plain paths, with signatures checked inline or partly in a worker thread."""
from __future__ import annotations

import dataclasses
import os
import tracemalloc
from functools import partial

import pytest

from raetflo import nacling
from raetflo.raeting import PacketError, PcktKind, TrnsKind
from raetflo.road import packeting, offload
from raetflo.road.core import RoadCore
from raetflo.road.packeting import Head
from raetflo.road.offload import Ahead
from raetflo.road.stacking import RoadStack

from .conftest import ALWAYS, Wire, idle, joined, only, provisional, serve, stat
from .test_exactly_once import segments

CHANGES = [{}, {"wf": True}, {"wf": True, "af": True}, {"pk": 3, "ck": 0, "fk": 1},
           {"sn": 7, "sc": 9, "ml": 9000, "sf": True}, {"dt": 1.5, "cf": True, "ti": 2**32 - 1}]


@pytest.mark.parametrize("changes", CHANGES)
def test_head_copy_equals_dataclass_replace(changes):
    fields = dict(pk=1, se=2, de=3, si=4, ti=5, bk=1, ck=1, fk=1, vf=True, pl=300, hl=90)
    head = Head(**fields)
    copied = head.copy(**changes)
    assert copied == dataclasses.replace(head, **changes)
    copied.sn += 1
    assert head == Head(**fields)  # the original is untouched


WORKERS = [0, 1]  # signatures checked inline, or partly by a worker thread


@pytest.fixture(params=WORKERS, ids=["inline", "threaded"])
def workers(request, monkeypatch):
    """Every received batch of two or more datagrams checked ahead, by this many workers."""
    monkeypatch.setattr(RoadCore, "CryptoWorkers", request.param)
    monkeypatch.setattr(RoadCore, "CryptoBatchMin", 2)
    monkeypatch.setattr(RoadStack, "CryptoShareAbove", 0.0)  # however busy the loop is
    return request.param


def pair(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    return main, other, remote


def delivered(main, other, count):
    serve([main, other], 30.0, until=lambda: len(main.rxMsgs) >= count
          and idle(main, other)())
    return [body for body, _ in main.rxMsgs]


def test_small_and_big_messages_arrive_whole_and_in_order(road, workers):
    main, other, remote = pair(road)
    bodies = [{"seq": seq} for seq in range(300)]
    bodies[150] = {"seq": 150, "blob": "b" * 300_000}  # some 350 segments amid the rest
    for body in bodies:
        other.transmit(body, remote.uid)
    assert delivered(main, other, len(bodies)) == bodies
    for stack in (main, other):
        assert stat(stack, "rx_exception") == stat(stack, "parsing_outer_error") == 0


def test_forged_segments_in_a_batch_are_dropped_and_counted(road, workers):
    main, other, remote = pair(road)
    forger = nacling.Signer()
    for data in segments(other, remote, 1000, range(20), 40, ml=20_000):
        other.server.send(data, main.ha)  # twenty good segments of a message of forty
    forged = [packeting.parse(data) for data in segments(other, remote, 1000, range(20, 40),
                                                         40, ml=20_000)]
    for packet in forged:
        other.server.send(packeting.pack(packet.head, packet.coat, forger), main.ha)
    main.serviceAll()
    assert stat(main, "rx_bad_signature") == 20
    (incoming,) = main.transactions
    assert sorted(incoming.chunks) == list(range(20))


def test_verdict_reached_with_a_replaced_key_is_not_taken(road):
    main, other, remote = pair(road)
    (data,) = segments(other, remote, 1000, [0], 2, ml=1000)
    packet = packeting.parse(data)
    record = only(main)
    old, record.verfer = record.verfer, nacling.Verifier(nacling.Signer().verraw)
    with pytest.raises(PacketError, match="bad_signature"):  # old key said yes: asked again
        main.parse(data, Ahead(packet, verifier=old, verdict=True))
    record.verfer = old
    assert main.parse(data, Ahead(packet, verifier=old, verdict=True)) is packet
    with pytest.raises(PacketError, match="bad_signature"):
        main.parse(data, Ahead(packet, verifier=old, verdict=False))


def test_batches_are_bounded_and_handled_in_order(road, workers, monkeypatch):
    monkeypatch.setattr(RoadCore, "MaxVerifyAhead", 5)
    main, other, remote = pair(road)
    bodies = [{"seq": seq} for seq in range(60)]
    for body in bodies:
        other.transmit(body, remote.uid)
    seen: list[int] = []
    check = offload.check_ahead
    monkeypatch.setattr(offload, "check_ahead",
                        lambda stack, batch: seen.append(len(batch)) or check(stack, batch))
    assert delivered(main, other, len(bodies)) == bodies
    assert max(seen) == 5 and sum(seen) >= 2 * len(bodies)  # messages and their dones


def test_shared_verdicts_are_those_of_one_thread():
    signer, other = nacling.Signer(), nacling.Signer()
    verifier = nacling.Verifier(signer.verraw)
    msgs = [bytes([n]) * (n + 1) for n in range(200)]
    jobs = [partial(verifier.verify, (other if n % 7 == 3 else signer).signature(msg), msg)
            for n, msg in enumerate(msgs)]
    expected = [n % 7 != 3 for n in range(len(msgs))]
    assert nacling.Shared(jobs).results() == expected
    assert nacling.Shared(jobs, offload.worker_pool(1)).results() == expected
    assert nacling.Shared([], offload.worker_pool(1)).results() == []


@pytest.mark.parametrize("workers", WORKERS, ids=["inline", "threaded"])
def test_pack_many_gives_the_bytes_pack_gives(workers):
    signer = nacling.Signer()
    head = Head(pk=0, se=2, de=3, si=4, ti=5, bk=1, ck=1, fk=1)
    parts = packeting.segment(head, bytes(range(256)) * 200)
    parts[-1] = (parts[-1][0].copy(wf=True), parts[-1][1])
    pool = offload.worker_pool(1) if workers else None
    assert len(parts) > 50
    assert packeting.pack_many(parts, signer, pool) == [packeting.pack(h, c, signer)
                                                        for h, c in parts]
    unsigned = [(h.copy(fk=0), c) for h, c in parts]
    assert packeting.pack_many(unsigned, None, pool) == [packeting.pack(h, c)
                                                         for h, c in unsigned]


def test_lost_segments_are_resent_and_the_message_arrives_whole(road, workers):
    main, other, remote = pair(road)
    wire = Wire(other).drop(TrnsKind.message, PcktKind.message, count=30)
    body = {"blob": "".join(chr(65 + n % 26) for n in range(200_000))}
    other.transmit(body, remote.uid)
    assert delivered(main, other, 1) == [body]
    assert sum(sent.action == "dropped" for sent in wire.log) == 30
    assert stat(other, "message_resend_rx") >= 1


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_makes_its_own_pool():  # (forks from threads on purpose)
    parent = offload.worker_pool(1)
    pid = os.fork()
    if pid == 0:  # the child: a pool of its own, whose thread verifies
        child = offload.worker_pool(1)
        ok = child is not parent and child.submit(lambda: 7).result(timeout=10) == 7
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_packets_signed_behind_are_the_bytes_signed_inline():
    signer = nacling.Signer()
    stream = nacling.Shared(pool=offload.worker_pool(1))
    heads = [Head(pk=pk, se=2, de=3, si=4, ti=5 + pk, bk=1, ck=1, fk=1) for pk in range(30)]
    behind = [packeting.pack(head.copy(), b"coat %d" % n, signer, stream)
              for n, head in enumerate(heads)]
    assert all(isinstance(packet, packeting.Unsigned) for packet in behind)
    early = behind[3].packed  # asked for in the middle of the pass
    late = packeting.pack(heads[0].copy(), b"late", signer, stream)
    assert [packet.packed for packet in behind] == [
        packeting.pack(head.copy(), b"coat %d" % n, signer) for n, head in enumerate(heads)]
    assert early == behind[3].packed
    assert late.packed == packeting.pack(heads[0].copy(), b"late", signer)


def test_shared_jobs_added_later_come_in_order():
    shared = nacling.Shared([lambda: 0], offload.worker_pool(1))
    indexes = [shared.add(lambda n=n: n) for n in range(1, 300)]
    assert indexes == list(range(1, 300))
    assert shared.result(150) == 150 and shared.results() == list(range(300))
    assert shared.result(shared.add(lambda: "after")) == "after"


def test_txes_hold_whole_packets_after_every_pass(road, workers):
    main, other, remote = pair(road)
    bodies = [{"seq": seq} for seq in range(40)]
    for body in bodies:
        other.transmit(body, remote.uid)
    other.serviceTxMsgs()
    assert len(other.txes) == 40
    assert all(type(data) is bytes for data, _ in other.txes)
    assert [packeting.parse(data).head.ti for data, _ in other.txes] == sorted(
        packeting.parse(data).head.ti for data, _ in other.txes)
    other.serviceTxes()
    serve([main], 0.1)
    assert len(main.txes) == 0 and len(main.rxMsgs) == 40  # the dones have gone, whole
    assert delivered(main, other, len(bodies)) == bodies
    assert stat(main, "rx_bad_signature") == stat(other, "rx_bad_signature") == 0


def test_a_coat_is_segmented_exactly_when_one_packet_cannot_hold_it():
    head = Head(pk=0, se=2, de=3, si=4, ti=5, bk=1, ck=1, fk=1)
    room = 1024 - packeting.head_length(head) - 64
    for size in range(600, 1000):
        parts = packeting.segment(head, bytes(size))
        assert (len(parts) == 1) == (size <= room), size
        assert b"".join(coat for _, coat in parts) == bytes(size)


def test_a_packet_signed_behind_keeps_only_its_bytes_once_whole():
    """A transaction holds its last packet for redos: once whole, that packet must not
    also hold its unsigned frame and, through the pass's signing stream, every other
    frame of the pass."""
    import gc
    import weakref

    signer = nacling.Signer()
    stream = nacling.Shared(pool=offload.worker_pool(1))
    head = Head(pk=0, se=2, de=3, si=4, ti=5, bk=1, ck=1, fk=1)
    packet = packeting.pack(head, b"coat", signer, stream)
    whole = packet.packed
    gone = weakref.ref(stream)
    del stream
    gc.collect()
    assert gone() is None and packet.packed == whole
    assert packet.packed == packeting.pack(head.copy(), b"coat", signer)
    assert [r for r in gc.get_referents(packet) if isinstance(r, bytes)] == [whole]


CHECK_AHEAD = offload.check_ahead  # (a test's spy wraps this, not an earlier spy)


def pass_peak(road, monkeypatch, name: str, count: int, ahead: int) -> tuple[int, int]:
    """Peak bytes traced while ``main`` handles ``count`` waiting small messages in one pass,
    checking at most ``ahead`` ahead, and the largest batch it checked ahead."""
    monkeypatch.setattr(RoadCore, "MaxVerifyAhead", ahead)
    main = road(f"main{name}", main=True, auto=ALWAYS)
    other = road(f"other{name}", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    sent: list[bytes] = []
    monkeypatch.setattr(other.server, "send", lambda data, da: sent.append(data) or len(data))
    for seq in range(count):
        other.transmit({"seq": seq}, remote.uid)
    other.serviceAllTx()
    assert len(sent) == count
    batches: list[int] = []
    monkeypatch.setattr(offload, "check_ahead", lambda stack, batch:
                        batches.append(len(batch)) or CHECK_AHEAD(stack, batch))
    main.rxes.extend((data, other.ha) for data in sent)
    del sent[:]
    tracemalloc.start()
    try:
        main.serviceRxes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(main.rxMsgs) == count
    return peak, max(batches)


def test_a_pass_holds_a_bounded_batch_checked_ahead(road, monkeypatch):
    """A pass of many waiting datagrams checks them ahead a bounded batch at a time, so
    what it holds parsed, and the answers it holds unsigned, do not grow with the pass."""
    monkeypatch.setattr(RoadCore, "CryptoWorkers", 1)
    monkeypatch.setattr(RoadStack, "CryptoShareAbove", 0.0)
    bounded, batch = pass_peak(road, monkeypatch, "bounded", 1200,
                               RoadCore.MaxVerifyAhead)
    unbounded, whole = pass_peak(road, monkeypatch, "whole", 1200, 4096)
    assert whole == 1200 and batch <= 256
    assert bounded < 0.7 * unbounded, (bounded, unbounded)


def test_a_manage_starting_many_alives_signs_them_with_the_worker(road, monkeypatch):
    """The alives one manage() starts are signed together, the worker helping: the bytes
    queued are whole, and every alive is answered."""
    monkeypatch.setattr(RoadCore, "CryptoWorkers", 1)
    monkeypatch.setattr(RoadStack, "CryptoShareAbove", 0.0)
    monkeypatch.setattr(RoadCore, "CryptoBatchMin", 2)
    main = road("main", main=True, auto=ALWAYS)
    others = [road(f"other{index}", auto=ALWAYS) for index in range(3)]
    for other in others:
        other.join(uid=provisional(other, main).uid, cascade=True)
    serve([main, *others], 5.0, until=idle(main, *others))
    assert all(remote.allowed for remote in main.remotes.values())
    shared: list[int] = []
    signed = nacling.Shared.add
    monkeypatch.setattr(nacling.Shared, "add",
                        lambda self, job: shared.append(1) or signed(self, job))
    before = stat(main, "alive_complete")
    main.manage(immediate=True)
    assert len(shared) == len(main.txes) == len(others)
    assert all(type(data) is bytes for data, _ in main.txes)
    serve([main, *others], 1.0, until=idle(main, *others))
    assert stat(main, "alive_complete") == before + len(others)
