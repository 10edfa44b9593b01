"""Allow scenarios between raetflo stacks: success, cascades, loss, tampering and timeouts."""
from __future__ import annotations

import pytest

from raetflo import nacling
from raetflo.raeting import PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.packeting import Packet

from .conftest import ALWAYS, Wire, idle, joined, only, provisional, serve, stat, stats

ALLOW = TrnsKind.allow


@pytest.fixture
def pair(road):
    """A main and another stack, joined; returns (main, other, other's record of main)."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    return main, other, joined(main, other)


def allow(main, other, remote, duration=2.0, **kwa):
    other.allow(uid=remote.uid, **kwa)
    return serve([main, other], duration, until=idle(main, other))


def test_allow_success(pair):
    main, other, remote = pair
    peer = only(main)
    wire = Wire(other)

    allow(main, other, remote)

    for record in (remote, peer):
        assert record.allowed is True and record.alived is True and record.joined is True
        assert record.sid == 2  # 1 after the join, advanced by the allow on both sides
    assert peer.rsid == 1  # the allow ran in the joiner's session 1
    assert [(s.pk, s.head.si) for s in wire.sent()] == [
        (PcktKind.hello, 1), (PcktKind.initiate, 1), (PcktKind.ack, 1)]
    # both sides hold the other's fresh short-term key
    assert remote.publee.keyraw == peer.privee.pubraw
    assert peer.publee.keyraw == remote.privee.pubraw
    assert stats(other) == {"allow_initiate_complete": 1}
    assert stats(main) == {"allow_correspond_complete": 1}
    assert other.keep.load_remote("main")["sid"] == 2 and main.keep.load_remote("other")["sid"] == 2
    # the next transaction runs in the new session
    other.alive(uid=remote.uid)
    serve([main, other], 1.0, until=idle(main, other))
    assert wire.sent(TrnsKind.alive)[0].head.si == 2 and peer.rsid == 2


def test_each_allow_rekeys(pair):
    main, other, remote = pair
    allow(main, other, remote)
    keys = (remote.privee.pubraw, only(main).privee.pubraw)
    allow(main, other, remote)
    assert remote.privee.pubraw != keys[0] and only(main).privee.pubraw != keys[1]
    assert remote.sid == only(main).sid == 3 and remote.allowed is True


@pytest.mark.parametrize("cascade", [False, True])
def test_allow_before_join_cascades_into_join(road, cascade):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)

    other.allow(uid=remote.uid, cascade=cascade)
    assert stat(other, "unjoined_remote") == 1 and remote.allowInProcess() == []
    serve([main, other], 3.0, until=idle(main, other))

    assert remote.joined is True and only(main).joined is True
    if cascade:  # join, then allow, then alive
        assert remote.allowed is True and only(main).allowed is True
        assert stat(other, "alive_complete") == 1 and stat(main, "alive_complete") == 1
    else:
        assert remote.allowed is None and only(main).allowed is None
        assert stat(other, "allow_initiate_complete") == 0


def test_allow_during_join_is_refused_locally(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    other.allow(uid=remote.uid)
    assert stat(other, "invalid_allow_attempt") == 1 and not remote.allowInProcess()


def test_hello_during_join_is_refused(pair):
    main, other, remote = pair
    wire = Wire(main)
    main.join(uid=only(main).uid)
    other.allow(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    # unlike the reference, the allowent stops after its refuse instead of carrying on
    assert stat(main, "invalid_allow_attempt") == 1
    assert [s.pk for s in wire.sent(ALLOW)] == [PcktKind.refuse]
    assert stat(other, "allower_transaction_failure") == 1
    assert remote.allowed is None and only(main).allowed is None
    assert stat(main, "join_initiate_complete") == 1 and remote.joined is True


@pytest.mark.parametrize("cascade", [False, True])
def test_unjoined_allowent_answers_unjoined_and_allower_rejoins(road, cascade):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(other).drop(TrnsKind.join, PcktKind.ack, count=1)
    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))
    assert remote.joined is True and only(main).joined is None  # the final ack was lost
    main.clearStats()
    other.clearStats()

    allow(main, other, remote, duration=3.0, cascade=cascade)

    assert stat(main, "unjoined_allow_attempt") == 1
    assert stat(main, "allowent_transaction_failure") == 1
    assert stat(other, "allower_transaction_failure") == 1
    assert remote.joined is True and only(main).joined is True  # repaired by a rejoin
    assert wire.sent(TrnsKind.join, PcktKind.request)[-1].head.de == remote.fuid
    if cascade:
        assert remote.allowed is True and only(main).allowed is True
    else:
        assert remote.allowed is None and only(main).allowed is None


LOSSES = [
    # side that sends, packet lost once, stats (side, key, count) that show the recovery
    ("other", PcktKind.hello, [("other", "redo_hello", 1)]),
    ("main", PcktKind.cookie, [("other", "redo_hello", 1), ("main", "duplicate_allow_attempt", 1),
                               ("main", "redo_cookie", 1)]),
    # the allowent repeats its cookie first; the allower answers it with its initiate again
    ("other", PcktKind.initiate, [("main", "redo_cookie", 1), ("other", "redo_initiate", 0)]),
    ("main", PcktKind.ack, [("other", "redo_initiate", 1)]),
]


@pytest.mark.parametrize("side,pk,expect", LOSSES, ids=["hello", "cookie", "initiate", "ack"])
def test_lost_packet_is_recovered(pair, side, pk, expect):
    main, other, remote = pair
    stacks = dict(main=main, other=other)
    Wire(stacks[side]).drop(ALLOW, pk, count=1)

    allow(main, other, remote)

    for name, key, count in expect:
        assert stat(stacks[name], key) == count, (name, key)
    assert remote.allowed is True and only(main).allowed is True
    assert stat(other, "allow_initiate_complete") == 1
    assert stat(main, "allow_correspond_complete") == 1
    # a repeated initiate is acked again, and each ack advances the allowent's session
    assert only(main).sid == (3 if pk == PcktKind.ack else 2)


def test_lost_final_ack_ends_allowent_refused_but_allowed(pair):
    main, other, remote = pair
    Wire(other).drop(ALLOW, PcktKind.ack)
    wire = Wire(main)

    allow(main, other, remote)

    assert remote.allowed is True and only(main).allowed is True
    assert [s.pk for s in wire.sent()] == [PcktKind.cookie, PcktKind.ack, PcktKind.ack]
    assert stat(main, "redo_allow") == 1
    assert stat(other, "stale_correspondent_nack") == 1
    assert stat(main, "allowent_transaction_failure") == 1
    assert stat(main, "allow_correspond_complete") == 0


def resign(stack, change):
    """A rewrite that alters a packet's body and signs it again with ``stack``'s key."""
    def rewrite(packet: Packet) -> bytes:
        return packeting.pack(packet.head, change(packet.coat), stack.local.signer)
    return rewrite


def flip(offset):
    return lambda coat: coat[:offset] + bytes([coat[offset] ^ 1]) + coat[offset + 1:]


def forged_cookie(main, other, seid_delta=0, deid_delta=0):
    """A well-sealed cookie naming the wrong estate ids."""
    def change(coat: bytes) -> bytes:
        peer, remote = only(main), only(other)
        (allower,) = remote.allowInProcess()
        (allowent,) = peer.allowInProcess()
        return nacling.cookie_pack(main.local.priver, allower.privee.pubraw,
                                   allowent.privee.pubraw,
                                   peer.uid + seid_delta, peer.fuid + deid_delta, b"o" * 24)
    return change


TAMPERS = {
    "cookie box": ("main", PcktKind.cookie, lambda m, o: flip(5), "invalid_cookie"),
    "cookie nonce": ("main", PcktKind.cookie, lambda m, o: flip(100), "invalid_cookie"),
    "cookie seid": ("main", PcktKind.cookie, lambda m, o: forged_cookie(m, o, seid_delta=7),
                    "invalid_cookie"),
    "cookie deid": ("main", PcktKind.cookie, lambda m, o: forged_cookie(m, o, deid_delta=7),
                    "invalid_cookie"),
    "hello box": ("other", PcktKind.hello, lambda m, o: flip(100), "invalid_hello"),
    "initiate box": ("other", PcktKind.initiate, lambda m, o: flip(100), "invalid_initiate"),
    "initiate short key": ("other", PcktKind.initiate, lambda m, o: flip(3), "invalid_initiate"),
    "initiate oreo": ("other", PcktKind.initiate, lambda m, o: flip(40), "invalid_initiate"),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampered_packet_is_rejected(pair, case):
    main, other, remote = pair
    side, pk, change, stat_key = TAMPERS[case]
    sender = main if side == "main" else other
    Wire(sender).rewrite(ALLOW, pk, resign(sender, change(main, other)))

    allow(main, other, remote)

    judge, judged = (other, main) if side == "main" else (main, other)
    assert stat(judge, stat_key) == 1
    assert stat(judge, f"{'allower' if judge is other else 'allowent'}_transaction_failure") == 1
    # the rejected side marks the link not allowed; the judge leaves it undecided
    assert only(judged).allowed is False
    assert only(judge).allowed is None
    assert not main.transactions and not other.transactions
    assert remote.sid == only(main).sid == 1


def test_tampered_packet_without_valid_signature_is_dropped_then_redone(pair):
    main, other, remote = pair
    Wire(main).rewrite(ALLOW, PcktKind.cookie,
                       lambda packet: packet.packed[:-1] + bytes([packet.packed[-1] ^ 1]))

    allow(main, other, remote)

    assert stat(other, "parsing_outer_error") == 1 and stat(other, "invalid_cookie") == 0
    assert remote.allowed is True and only(main).allowed is True


def test_allow_times_out_after_four_seconds(pair):
    main, other, remote = pair
    wire = Wire(main).drop(ALLOW, PcktKind.cookie)
    start = main.store.stamp

    rounds = allow(main, other, remote, duration=6.0)

    # the allower repeats its hello at 0.25, 0.75, 1.75, 2.75, 3.75 s and gives up at 4 s
    assert stat(other, "redo_hello") == 5
    assert stat(main, "duplicate_allow_attempt") == 5 and stat(main, "redo_cookie") == 5
    # the allowent started a round later, gives up a round later and refuses
    assert stat(main, "allowent_transaction_failure") == 1
    assert 40 <= rounds <= 43
    refuse = wire.sent()[-1]
    assert refuse.pk == PcktKind.refuse and 4.0 <= refuse.stamp - start <= 4.3
    assert remote.allowed is None and only(main).allowed is None
    assert stat(other, "allower_transaction_failure") == 0  # a timeout is not a refusal


def test_simultaneous_allows_resolve_to_one(pair):
    main, other, remote = pair
    other.allow(uid=remote.uid)
    main.allow(uid=only(main).uid)
    serve([main, other], 2.0, until=idle(main, other))

    # the lesser local name (main) refuses the peer's hello; other drops its own allower
    assert stat(main, "redundant_allow_attempt") == 1
    assert stat(main, "allow_initiate_complete") == 1
    assert stat(other, "allow_correspond_complete") == 1
    assert stat(other, "allower_transaction_failure") == 1
    assert remote.allowed is True and only(main).allowed is True
    assert remote.sid == only(main).sid == 2
