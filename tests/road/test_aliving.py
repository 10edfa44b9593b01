"""Alive scenarios between raetflo stacks: success, cascades and repairs, loss and timeout."""
from __future__ import annotations

import pytest

from raetflo.raeting import PcktKind, TrnsKind

from .conftest import ALWAYS, Wire, idle, joined, only, provisional, serve, stat, stats

ALIVE = TrnsKind.alive


@pytest.fixture
def pair(road):
    """A main and another stack, joined and allowed; returns (main, other, other's record)."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    return main, other, joined(main, other, cascade=True)


def alive(main, other, remote, duration=3.0, **kwa):
    other.alive(uid=remote.uid, **kwa)
    return serve([main, other], duration, until=idle(main, other))


def test_alive_success(pair):
    main, other, remote = pair
    peer = only(main)
    remote.alived = peer.alived = None
    wire = Wire(other)
    start = other.store.stamp

    rounds = alive(main, other, remote)

    assert rounds == 2  # request and ack in consecutive rounds
    assert remote.alived is True and peer.alived is True
    assert [(s.pk, s.head.si) for s in wire.sent()] == [(PcktKind.request, remote.sid)]
    assert stats(other) == {"alive_complete": 1} and stats(main) == {"alive_complete": 1}
    # presence restarted by the answer: the next alive is due a period later
    assert remote.timer.duration == other.period
    assert remote.timer.elapsed == pytest.approx(other.store.stamp - (start + 0.1))


@pytest.mark.parametrize("cascade", [False, True])
def test_alive_on_unjoined_remote_starts_a_join(road, cascade):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)

    alive(main, other, remote, cascade=cascade)

    assert stat(other, "unjoined_remote") == 1
    assert remote.joined is True and only(main).joined is True
    if cascade:  # join, allow, then the alive that was asked for
        assert remote.allowed is True and remote.alived is True
        assert stat(other, "alive_complete") == 1
    else:
        assert remote.allowed is None and remote.alived is None
        assert stat(other, "alive_complete") == 0


@pytest.mark.parametrize("cascade", [False, True])
def test_alive_on_unallowed_remote_starts_an_allow(road, cascade):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)

    alive(main, other, remote, cascade=cascade)

    assert stat(other, "unallowed_remote") == 1
    assert remote.allowed is True and only(main).allowed is True
    assert remote.alived is True  # a successful allow counts as alive
    assert stat(other, "alive_complete") == (1 if cascade else 0)


@pytest.mark.parametrize("cascade", [False, True])
def test_alivent_unjoined_answer_is_repaired(pair, cascade):
    main, other, remote = pair
    peer = only(main)
    peer.joined = None  # main does not consider the link joined
    wire = Wire(main)

    alive(main, other, remote, cascade=cascade)

    assert wire.sent()[0].pk == PcktKind.unjoined
    assert stat(main, "unjoined_alive_attempt") == 1
    assert stat(main, "alivent_transaction_failure") == 1
    assert stat(other, "aliver_transaction_failure") == 1
    assert remote.joined is True and peer.joined is True  # rejoined
    if cascade:
        assert stat(other, "allow_initiate_complete") == 1
        assert stat(other, "alive_complete") == 1 and remote.alived is True
        assert remote.sid == peer.sid == 3
    else:
        assert stat(other, "allow_initiate_complete") == 0
        assert remote.sid == peer.sid == 2


@pytest.mark.parametrize("cascade", [False, True])
def test_alivent_unallowed_answer_after_restart_is_repaired(road, pair, cascade):
    main, other, remote = pair
    main = road.restart(main, main=True, auto=ALWAYS)  # restored records are not allowed
    peer = only(main)
    assert peer.joined is True and peer.allowed is None and peer.alived is None
    wire = Wire(main)

    alive(main, other, remote, cascade=cascade)

    assert wire.sent()[0].pk == PcktKind.unallowed
    assert stat(main, "unallowed_alive_attempt") == 1
    assert stat(other, "aliver_transaction_failure") == 1
    assert stat(other, "allow_initiate_complete") == 1
    assert remote.allowed is True and peer.allowed is True
    assert stat(other, "alive_complete") == (1 if cascade else 0)


def test_alive_times_out_after_two_seconds(pair):
    main, other, remote = pair
    wire = Wire(main).drop(ALIVE, PcktKind.ack)
    seen: list[tuple[float, bool | None]] = []

    other.alive(uid=remote.uid)
    start = other.store.stamp
    serve([main, other], 3.0, until=lambda: seen.append((other.store.stamp, remote.alived))
          or not other.transactions)

    # repeats at 0.25, 0.75 and 1.75 s; every copy got its own ack, all lost
    assert stat(other, "redo_alive") == 3
    assert len(wire.log) == 4 and stat(main, "alive_complete") == 4
    dead_at = next(t for t, alived in seen if alived is False)
    assert 2.0 <= dead_at - start <= 2.2
    assert all(alived is True for t, alived in seen if t < dead_at)
    assert remote.alived is False and only(main).alived is True
    assert stat(other, "aliver_transaction_failure") == 0


def test_lost_request_is_repeated(pair):
    main, other, remote = pair
    Wire(other).drop(ALIVE, PcktKind.request, count=1)
    remote.alived = None

    alive(main, other, remote)

    assert stat(other, "redo_alive") == 1 and stat(other, "alive_complete") == 1
    assert stat(main, "alive_complete") == 1 and remote.alived is True


def test_duplicate_requests_each_get_an_answer(pair):
    main, other, remote = pair
    Wire(other).duplicate(ALIVE, PcktKind.request)
    wire = Wire(main)

    other.alive(uid=remote.uid)
    serve([main, other], 1.0)

    # each copy makes its own alivent and ack; the surplus ack is stale-nacked and the nack
    # is not answered
    assert stat(main, "alive_complete") == 2
    assert [s.pk for s in wire.sent()] == [PcktKind.ack, PcktKind.ack]
    assert stat(other, "alive_complete") == 1 and stat(other, "stale_correspondent_nack") == 1
    assert stat(main, "stale_packet") == 1
    assert remote.alived is True


def test_simultaneous_alives_both_complete(pair):
    main, other, remote = pair
    other.alive(uid=remote.uid)
    main.alive(uid=only(main).uid)
    serve([main, other], 2.0, until=idle(main, other))

    assert stat(main, "alive_complete") == 2 and stat(other, "alive_complete") == 2
    assert remote.alived is True and only(main).alived is True


def test_alive_in_a_stale_session_is_nacked(pair):
    main, other, remote = pair
    peer = only(main)
    peer.rsid = remote.sid + 5  # main has seen a later session of other's
    wire = Wire(main)

    alive(main, other, remote)

    assert stat(main, "stale_sid") == 1
    assert [s.pk for s in wire.sent()] == [PcktKind.nack]
    assert stat(other, "aliver_transaction_failure") == 1
    assert remote.alived is True and not other.transactions  # a refusal is no sign of death


@pytest.mark.parametrize("kind", [PcktKind.ack, PcktKind.nack, PcktKind.refuse,
                                  PcktKind.reject, PcktKind.unjoined, PcktKind.unallowed])
def test_an_answer_whose_body_does_not_decode_is_dropped_and_asked_again(pair, kind):
    """As raet does: an answer to our alive whose coat kind is unknown changes nothing (it
    is counted as ``parsing_inner_error``); the redo asks again and the alive completes."""
    from raetflo.road.aliving import Alivent
    main, other, remote = pair
    other.clearStats()
    other.alive(uid=remote.uid)
    other.serviceAll()  # the request goes
    main.serviceReceives()
    data, sa = main.rxes.popleft()
    packet = main.parse(data)
    broken = {"hk": main.Hk, "bk": main.Bk, "fk": main.Fk, "ck": -1}
    answer = Alivent(main, only(main), sid=packet.head.si, tid=packet.head.ti,
                     rxPacket=packet, sa=sa, txData=broken)
    answer.alive() if kind == PcktKind.ack else answer.nack(kind=kind)
    main.serviceAllTx()
    other.serviceAll()
    assert stat(other, "parsing_inner_error") == 1 and len(other.transactions) == 1
    assert remote.joined and remote.allowed and remote.alived
    serve([main, other], 3.0, until=idle(main, other))
    assert stat(other, "alive_complete") == 1 and remote.alived and not other.transactions
