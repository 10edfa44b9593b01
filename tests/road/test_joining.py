"""Join scenarios between raetflo stacks: acceptance, identity changes, renew, races, loss and
timeouts, restart, and construction errors. Virtual time over loopback UDP."""
from __future__ import annotations

import io
import os
import socket

import pytest

from raetflo import nacling, raeting
from raetflo.raeting import Acceptance, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.stacking import RoadStack, StackError

from .conftest import (ALWAYS, NEVER, ONCE, Wire, idle, joined, only, provisional, serve,
                       stat, stats)

JOIN = TrnsKind.join
A, P, R = Acceptance.accepted, Acceptance.pending, Acceptance.rejected


def files(stack: RoadStack) -> list[str]:
    return sorted(os.listdir(stack.keep.remotedirpath))


# vacuous joins ------------------------------------------------------------------------------

def test_vacuous_join_to_main_completes_on_both_sides(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    first_name = remote.name
    wire = Wire(other)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    peer = only(main)
    assert (remote.name, peer.name) == ("main", "other")
    assert remote.fuid == peer.uid and peer.fuid == remote.uid
    assert peer.ha == other.ha and remote.main is True and peer.main is False
    for record in (remote, peer):
        assert record.joined is True
        assert record.allowed is None and record.alived is None
        assert record.acceptance == A
        assert (record.sid, record.rsid) == (1, 0)
    assert stats(other) == {"joiner_rx_response": 1, "join_initiate_complete": 1}
    assert stats(main) == {"joinent_rx_ack": 1, "join_correspond_complete": 1}
    assert not main.joinees and not other.joinees
    # request, then the final ack; both vacuous (de 0) as the joiner's head is fixed at start
    assert [(s.pk, s.head.de) for s in wire.sent()] == [(PcktKind.request, 0),
                                                        (PcktKind.ack, 0)]
    # the provisional name's file is gone; both sides persisted record and role
    assert files(other) == ["estate.main.json"] and files(main) == ["estate.other.json"]
    assert first_name != "main"
    assert other.keep.load_remote("main")["joined"] is True
    assert main.keep.load_remote("other")["acceptance"] == A
    assert main.keep.load_remote_role("other")["verhex"] == other.local.signer.verhex


def test_vacuous_join_to_non_main_is_rejected(road):
    peer = road("peer", auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, peer)

    other.join(uid=remote.uid)
    serve([peer, other], 2.0, until=idle(peer, other))

    assert not other.remotes and not peer.remotes
    assert files(other) == [] and files(peer) == []
    assert remote.joined is None
    assert stats(other) == {"joiner_rx_reject": 1, "joiner_transaction_failure": 1}
    assert stats(peer) == {"joinent_transaction_failure": 1}
    assert peer.keep.load_remote_role("other")["acceptance"] is None  # never judged


# the acceptance matrix (main's auto mode x what main's keep holds for the joiner's role) -----

MATRIX = [
    # auto, persisted status, persisted keys are the joiner's, outcome
    (ALWAYS, None, True, A), (ALWAYS, A, True, A), (ALWAYS, A, False, A),
    (ALWAYS, P, True, A), (ALWAYS, P, False, A), (ALWAYS, R, True, A), (ALWAYS, R, False, A),
    (ONCE, None, True, A), (ONCE, A, True, A), (ONCE, A, False, R),
    (ONCE, P, True, A), (ONCE, P, False, R), (ONCE, R, True, R), (ONCE, R, False, R),
    (NEVER, None, True, P), (NEVER, A, True, A), (NEVER, A, False, R),
    (NEVER, P, True, P), (NEVER, P, False, R), (NEVER, R, True, R), (NEVER, R, False, R),
]


@pytest.mark.parametrize("auto,prior,same,outcome", MATRIX)
def test_acceptance_matrix(road, auto, prior, same, outcome):
    main = road("main", main=True, auto=auto)
    other = road("other", auto=ALWAYS)
    old = (other.local.signer.verhex, other.local.priver.pubhex) if same else \
        (nacling.Signer().verhex, nacling.Privateer().pubhex)
    if prior is not None:
        main.keep.dump_remote_role(dict(role="other", acceptance=prior, verhex=old[0],
                                        pubhex=old[1]))
    remote = provisional(other, main)
    provisional_name = remote.name

    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))

    keys = (other.local.signer.verhex, other.local.priver.pubhex)
    role = main.keep.load_remote_role("other")
    if outcome == A:
        assert only(main).joined is True and remote.joined is True
        assert only(main).acceptance == A and remote.name == "main"
        assert (role["acceptance"], role["verhex"], role["pubhex"]) == (A, *keys)
        assert files(main) == ["estate.other.json"]
    elif outcome == P:
        peer = only(main)  # kept and persisted while the operator decides
        assert peer.acceptance == P and peer.joined is None
        assert (role["acceptance"], role["verhex"], role["pubhex"]) == (P, *keys)
        assert main.keep.load_remote("other")["joined"] is None
        # the joiner never learnt who it talks to; both sides gave up after 5 s
        assert (remote.name, remote.fuid, remote.joined) == (provisional_name, 0, None)
        assert stat(other, "joiner_rx_pend") == 1
        assert stat(main, "joinent_transaction_failure") == 1
    else:
        assert not main.remotes and files(main) == []
        assert (role["acceptance"], role["verhex"], role["pubhex"]) == (prior, *old)
        assert not other.remotes and files(other) == []
        assert stat(other, "joiner_rx_reject") == 1
        assert stat(main, "join_rejected") == 1  # what a main's flo can watch


def test_joinent_pending_until_operator_accepts(road):
    main = road("main", main=True, auto=NEVER)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(main)

    other.join(uid=remote.uid)
    serve([main, other], 1.0)
    assert [s.pk for s in wire.sent()] == [PcktKind.pend]
    assert only(main).acceptance == P and remote.joined is None
    main.keep.acceptRemote(only(main))
    serve([main, other], 3.0, until=idle(main, other))

    # acceptance is re-read on the redo schedule after the pend: 0.1, 0.2, 0.4, 0.8, 1.6 s
    response = wire.sent(JOIN, PcktKind.response)
    assert len(response) == 1 and 1.6 <= response[0].stamp <= 1.8
    assert remote.joined is True and only(main).joined is True
    assert stat(other, "joiner_rx_pend") == 1 and stat(other, "joiner_tx_join_redo") == 1


def test_joiner_pending_until_its_operator_accepts(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=NEVER)
    remote = provisional(other, main)

    other.join(uid=remote.uid)
    serve([main, other], 1.0)
    assert remote.acceptance == P and remote.name == "main"
    assert other.keep.load_remote("main")["acceptance"] == P
    assert stat(main, "joinent_rx_pend") >= 1 and other.transactions and main.transactions
    other.keep.acceptRemote(remote)
    serve([main, other], 2.0, until=idle(main, other))

    assert remote.joined is True and only(main).joined is True
    assert stat(other, "join_initiate_complete") == 1


@pytest.mark.parametrize("auto", [ONCE, ALWAYS])
def test_an_estate_back_with_other_keys_on_an_immutable_road_is_a_rejected_join(
        road, tmp_path, auto):
    """What a main's flo watches for (``join_rejected``) counts this rejection too; the
    record the main holds keeps its keys."""
    main = road("main", main=True, auto=auto)
    first = road("other", auto=ALWAYS)
    joined(main, first)
    keys = (only(main).verhex, only(main).pubhex)
    first.close()
    again = road("other", auto=ALWAYS, dirpath=str(tmp_path / "again"))  # other keys
    remote = provisional(again, main)
    again.join(uid=remote.uid)
    serve([main, again], 6.0, until=idle(main, again))
    assert remote.joined is not True and stat(again, "joiner_rx_reject") == 1
    assert stat(main, "join_rejected") == 1
    assert (only(main).verhex, only(main).pubhex) == keys


def test_operator_rejects_pending_joiner(road):
    main = road("main", main=True, auto=NEVER)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(main)
    other.join(uid=remote.uid)
    serve([main, other], 1.0)

    main.keep.rejectRemote(only(main))
    serve([main, other], 6.0, until=idle(main, other))

    # the joinent notices on its next status check, nacks and forgets the joiner
    assert [s.pk for s in wire.sent()] == [PcktKind.pend, PcktKind.nack]
    assert not main.remotes and files(main) == []
    assert main.keep.load_remote_role("other")["acceptance"] == R
    assert stat(main, "joinent_transaction_failure") == 1 and stat(main, "join_rejected") == 1
    assert stat(other, "joiner_rx_nack") == 1 and remote.joined is None


def test_joiner_operator_rejects_pending_main(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=NEVER)
    remote = provisional(other, main)
    wire = Wire(other)
    other.join(uid=remote.uid)
    serve([main, other], 1.0)

    other.keep.rejectRemote(remote)
    serve([main, other], 6.0, until=idle(main, other))

    # the joiner drops the record at its next status check, silently; the joinent times out
    assert [s.pk for s in wire.sent()] == [PcktKind.request, PcktKind.pend, PcktKind.pend]
    assert not other.remotes and files(other) == []
    assert stat(other, "joiner_transaction_failure") == 2  # its refusal, and that it went unsent
    assert stat(main, "joinent_transaction_failure") == 1 and only(main).joined is None


def test_rejected_known_record_is_removed_without_answer(road):
    main = road("main", main=True, auto=ONCE)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)
    main.keep.rejectRemote(only(main))
    wire = Wire(main)

    other.join(uid=remote.uid)
    serve([main, other], 0.9)
    # main dropped its record (the role file stays rejected) and sent nothing
    assert not main.remotes and files(main) == []
    assert main.keep.load_remote_role("other")["acceptance"] == R
    assert wire.sent() == [] and other.transactions
    serve([main, other], 5.0, until=idle(main, other))
    # the joiner's repeat names a uid main no longer knows: renew, refused on an immutable road
    assert [s.pk for s in wire.sent()] == [PcktKind.renew]
    assert stat(other, "join_renew_unallowed") == 1
    assert remote.joined is None and remote.fuid != 0


# identity changes on immutable and mutable roads -----------------------------------------------

def change(stack: RoadStack, what: str) -> None:
    if what == "name":
        stack.name = "renamed"
    elif what == "kind":
        stack.kind = 5
    elif what == "main":
        stack.main = True
    elif what == "keys":
        stack.local.signer = nacling.Signer()
        stack.local.priver = nacling.Privateer()
    elif what == "role":
        stack.local.role = "newrole"


CHANGES = ["name", "kind", "main", "keys", "role"]


@pytest.mark.parametrize("what", CHANGES)
def test_immutable_road_rejects_changed_joiner(road, what):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)
    old_verhex = other.local.signer.verhex
    change(other, what)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    peer = only(main)  # untouched
    assert (peer.name, peer.kind, peer.main, peer.role) == ("other", 0, False, "other")
    assert peer.verhex == old_verhex and peer.joined is True
    assert files(main) == ["estate.other.json"]
    # the joiner drops the rejecting peer, but keeps the files of a link it had established
    assert not other.remotes and files(other) == ["estate.main.json"]
    assert stats(main) == {"joinent_transaction_failure": 1, "join_rejected": 1}
    assert stats(other) == {"joiner_rx_reject": 1, "joiner_transaction_failure": 1}


@pytest.mark.parametrize("what", CHANGES)
def test_mutable_road_adopts_changed_joiner(road, what):
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)
    change(other, what)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    peer = only(main)
    assert peer.joined is True and remote.joined is True
    assert peer.name == ("renamed" if what == "name" else "other")
    assert files(main) == [f"estate.{peer.name}.json"]
    assert peer.kind == (5 if what == "kind" else 0)
    assert peer.main is (what == "main")
    assert peer.role == ("newrole" if what == "role" else "other")
    assert peer.verhex == other.local.signer.verhex and peer.pubhex == other.local.priver.pubhex
    assert main.keep.load_remote(peer.name)["verhex"] == other.local.signer.verhex


@pytest.mark.parametrize("mutable", [None, True])
def test_joiner_judges_a_changed_joinent_by_its_own_road(road, mutable):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS, mutable=mutable)
    remote = joined(main, other)
    main.name = "main2"

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    if mutable:
        assert remote.name == "main2" and remote.joined is True
        assert files(other) == ["estate.main2.json"]
    else:  # the joiner rejects; the rejected joinent forgets the joiner
        assert remote.name == "main" and remote.joined is None
        assert not main.remotes
        assert stat(main, "joinent_rx_reject") == 1
        assert stat(other, "joiner_transaction_failure") == 1


# renew: main lost its keep -----------------------------------------------------------------

@pytest.mark.parametrize("mutable", [None, True])
def test_renew_after_main_lost_its_keep(road, tmp_path, mutable):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS, mutable=mutable)
    remote = joined(main, other)
    old_fuid = remote.fuid
    keys = dict(sigkey=main.local.signer.keyhex, prikey=main.local.priver.keyhex)
    main.close()
    main = road("main", main=True, auto=ALWAYS, ha=main.ha, dirpath=str(tmp_path / "fresh"),
                **keys)

    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))

    assert stat(main, "stale_nuid") == 1 and stat(other, "joiner_rx_renew") == 1
    if mutable:
        peer = only(main)
        assert stat(other, "join_renew_attempt") == 1
        assert remote.joined is True and peer.joined is True
        # uid 2 went to the throw-away record of the renew, as in the reference
        assert remote.fuid == peer.uid == 3 and peer.fuid == remote.uid
    else:
        assert stat(other, "join_renew_unallowed") == 1
        assert stat(other, "joiner_transaction_failure") == 1
        assert not main.remotes
        assert (remote.fuid, remote.joined) == (old_fuid, None)
        assert other.keep.load_remote("main")["fuid"] == old_fuid


@pytest.mark.parametrize("auto", [ONCE, ALWAYS])
def test_renewing_joiner_judges_new_keys_of_main(road, tmp_path, auto):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=auto, mutable=True)
    remote = joined(main, other)
    main.close()
    main = road("main", main=True, auto=ALWAYS, ha=main.ha, dirpath=str(tmp_path / "fresh"))

    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))

    assert stat(other, "join_renew_attempt") == 1
    if auto == ALWAYS:
        assert remote.joined is True and only(main).joined is True
        assert remote.verhex == main.local.signer.verhex
    else:  # once: the keys differ from the ones accepted before
        assert remote.joined is None and remote.verhex != main.local.signer.verhex
        assert stat(other, "joiner_transaction_failure") == 1
        assert not main.remotes and stat(main, "joinent_rx_reject") == 1


# names ----------------------------------------------------------------------------------------

def test_second_estate_with_a_taken_name_is_rejected(road, tmp_path):
    main = road("main", main=True, auto=ALWAYS)
    first = road("other", auto=ALWAYS)
    second = road("other", auto=ALWAYS, dirpath=str(tmp_path / "second"))
    joined(main, first)
    remote = provisional(second, main)

    second.join(uid=remote.uid)
    serve([main, first, second], 2.0, until=idle(main, second))

    peer = only(main)
    assert peer.ha == first.ha and peer.verhex == first.local.signer.verhex
    assert peer.joined is True
    assert not second.remotes
    assert stats(second) == {"joiner_rx_reject": 1, "joiner_transaction_failure": 1}


def test_joiner_rejects_a_second_main_with_a_taken_name(road, tmp_path):
    main1 = road("main", main=True, auto=ALWAYS)
    main2 = road("main", main=True, auto=ALWAYS, dirpath=str(tmp_path / "main2"))
    other = road("other", auto=ALWAYS)
    first, second = provisional(other, main1), provisional(other, main2)
    second_name = second.name
    other.join(uid=first.uid)
    serve([main1, main2, other], 2.0, until=idle(main1, other))

    other.join(uid=second.uid)
    serve([main1, main2, other], 2.0, until=idle(main2, other))

    assert first.name == "main" and first.joined is True
    assert second.name == second_name and second.joined is None
    assert not main2.remotes
    assert stats(main2) == {"joinent_rx_reject": 1, "joinent_transaction_failure": 1}
    assert stat(other, "joiner_transaction_failure") == 1


# duplicates and races ---------------------------------------------------------------------------

def test_duplicate_request_is_absorbed(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    Wire(other).duplicate(JOIN, PcktKind.request)
    wire = Wire(main)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    assert stat(main, "duplicate_join_attempt") == 1 and stat(main, "joinent_rx_request") == 1
    assert len(wire.sent(JOIN, PcktKind.response)) == 1  # the repeat is not answered
    assert stat(main, "join_correspond_complete") == 1
    assert remote.joined is True and only(main).joined is True


@pytest.mark.parametrize("vacuous", [True, False])
def test_simultaneous_joins_resolve_to_one(road, vacuous):
    alpha = road("alpha", main=True, auto=ALWAYS)
    beta = road("beta", main=True, auto=ALWAYS)
    if vacuous:
        to_beta, to_alpha = provisional(alpha, beta), provisional(beta, alpha)
    else:
        to_beta = joined(beta, alpha)
        to_alpha = only(beta)

    alpha.join(uid=to_beta.uid)
    beta.join(uid=to_alpha.uid)
    serve([alpha, beta], 2.0, until=idle(alpha, beta))

    # the lesser local name (alpha) refuses beta's request; beta drops its own joiner
    assert stat(alpha, "redundant_join_attempt") == 1
    assert stat(alpha, "join_initiate_complete") == 1
    assert stat(beta, "join_correspond_complete") == 1
    assert stat(beta, "joiner_transaction_failure") == 1
    assert stat(alpha, "join_correspond_complete") == stat(beta, "join_initiate_complete") == 0
    assert (only(alpha).name, only(beta).name) == ("beta", "alpha")
    assert only(alpha).joined is True and only(beta).joined is True
    assert only(alpha).fuid == only(beta).uid and only(beta).fuid == only(alpha).uid


# loss, duplication, timeouts ----------------------------------------------------------------------

def test_lost_request_is_repeated_after_one_second(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(other).drop(JOIN, PcktKind.request, count=1)

    other.join(uid=remote.uid)
    serve([main, other], 3.0, until=idle(main, other))

    requests = [s for s in wire.log if s.pk == PcktKind.request]
    assert [s.action for s in requests] == ["dropped", "sent"]
    assert requests[1].stamp == pytest.approx(1.0, abs=0.15)
    assert stat(other, "joiner_tx_join_redo") == 1
    assert remote.joined is True and only(main).joined is True


def test_lost_response_is_repeated(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    Wire(main).drop(JOIN, PcktKind.response, count=1)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    assert stat(main, "joinent_tx_accept_redo") == 1
    assert stat(other, "joiner_tx_join_redo") == 0
    assert remote.joined is True and only(main).joined is True


def test_all_responses_lost_both_sides_time_out(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(main).drop(JOIN, PcktKind.response)

    other.join(uid=remote.uid)
    rounds = serve([main, other], 7.0, until=idle(main, other))

    # joiner repeats at 1 and 3 s; joinent at 0.1, 0.3, 0.7, 1.5, 3.1 s after its response
    assert stat(other, "joiner_tx_join_redo") == 2
    assert stat(main, "joinent_tx_accept_redo") == 5
    assert stat(main, "duplicate_join_attempt") == 2
    assert stat(main, "joinent_transaction_failure") == 1
    assert 50 <= rounds <= 53  # both gave up at 5 s
    # the joiner never answered: the joinent forgets the record it made
    assert remote.joined is None and not main.remotes
    # the joinent nacks on timeout; the joiner, gone already, ignores it
    assert [s.pk for s in wire.sent()] == [PcktKind.nack]
    assert stat(other, "stale_correspondent_nack") == 0


def test_duplicated_response_and_ack_are_harmless(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    Wire(main).duplicate(JOIN, PcktKind.response)
    Wire(other).duplicate(JOIN, PcktKind.ack)

    other.join(uid=remote.uid)
    serve([main, other], 2.0, until=idle(main, other))

    assert remote.joined is True and only(main).joined is True
    assert stat(main, "join_correspond_complete") == 1
    # the finished joiner nacks the repeated response; neither that nack nor the repeated
    # ack finds the finished joinent
    assert stat(other, "stale_correspondent_nack") == 1
    assert stat(main, "join_stale") == 2


def test_lost_final_ack_leaves_joinent_unjoined(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    Wire(other).drop(JOIN, PcktKind.ack)

    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))

    assert remote.joined is True
    assert only(main).joined is None
    # the repeated response was stale-nacked by the finished joiner, which ends the joinent
    assert stat(other, "stale_correspondent_nack") == 1
    assert stats(main) == {"joinent_tx_accept_redo": 1, "joinent_rx_nack": 1,
                           "joinent_transaction_failure": 1}


class _Peer:
    """Stands in for a stack when only its address matters."""

    def __init__(self, ha: tuple[str, int]) -> None:
        self.ha = ha


def test_joiner_times_out_on_a_silent_peer(road):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        other = road("other", auto=ALWAYS)
        remote = provisional(other, _Peer(silent.getsockname()))
        wire = Wire(other)
        other.join(uid=remote.uid)
        rounds = serve([other], 8.0, until=idle(other))
    finally:
        silent.close()
    assert 50 <= rounds <= 53  # gave up at 5 s
    assert [round(s.stamp) for s in wire.sent()] == [0, 1, 3]  # nothing sent on timeout
    assert remote.joined is None
    assert stat(other, "joiner_tx_join_redo") == 2
    assert stat(other, "joiner_transaction_failure") == 0


def test_joinent_times_out_and_nacks(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    wire = Wire(main)
    Wire(other).drop(JOIN, PcktKind.ack).drop(JOIN, PcktKind.nack)  # the joiner goes quiet

    other.join(uid=remote.uid)
    serve([main, other], 7.0, until=idle(main, other))

    assert stat(main, "joinent_tx_accept_redo") == 5
    assert stat(main, "joinent_transaction_failure") == 1
    last = wire.sent()[-1]
    assert last.pk == PcktKind.nack and 5.0 <= last.stamp <= 5.3
    assert not main.remotes and remote.joined is True  # no answer heard: record forgotten


# restart ------------------------------------------------------------------------------------

def test_restarted_stack_resumes_from_its_keep(road):
    main = road("main", main=True, auto=ONCE)
    other = road("other", auto=ONCE)
    remote = joined(main, other, cascade=True)
    sid, uid, fuid = remote.sid, remote.uid, remote.fuid

    other = road.restart(other, auto=ONCE)
    again = only(other)
    assert other.name == "other"
    assert (again.name, again.uid, again.fuid) == ("main", uid, fuid)
    assert again.joined is True and again.allowed is None and again.alived is None
    assert (again.sid, again.rsid) == (sid + 1, 0)
    assert again.acceptance == A
    wire = Wire(other)

    other.join(uid=again.uid)
    serve([main, other], 2.0, until=idle(main, other))

    assert wire.sent()[0].head.de == fuid  # a non-vacuous rejoin
    assert again.joined is True and only(main).joined is True
    assert again.sid == sid + 1 and again.allowed is None  # join does not touch either
    assert stat(other, "join_initiate_complete") == 1

    other.alive(uid=again.uid, cascade=True)
    serve([main, other], 2.0, until=idle(main, other))
    assert again.allowed is True and again.alived is True and again.sid == sid + 2


def test_joinent_restarted_mid_join_completes_it(road):
    main = road("main", main=True, auto=NEVER)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], 0.5)

    main = road.restart(main, main=True, auto=NEVER)
    pending = only(main)  # the pending record was persisted
    assert (pending.name, pending.acceptance, pending.joined) == ("other", P, None)
    main.keep.acceptRemote(pending)
    serve([main, other], 6.0, until=idle(main, other))

    # the joiner's repeated request starts a new joinent on the restored record
    assert stat(other, "joiner_tx_join_redo") == 1
    assert remote.joined is True and pending.joined is True
    assert remote.fuid == pending.uid and remote.name == "main"


def test_joiner_restarted_mid_join_forgets_it(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    Wire(other).drop(JOIN, PcktKind.ack)
    other.join(uid=remote.uid)
    serve([main, other], 0.1)

    other = road.restart(other, auto=ALWAYS)
    assert not other.remotes  # a vacuous joiner persists nothing before the join completes
    serve([main, other], 6.0, until=idle(main))

    # every response names a record the joiner no longer has: nothing to nack them with
    assert stat(main, "joinent_tx_accept_redo") == 5
    assert stat(other, "invalid_remote_eid") == 6
    assert stat(main, "joinent_transaction_failure") == 1
    assert not main.remotes  # the joiner never answered: the joinent forgets its record


def test_default_stack(tmp_path, monkeypatch):
    from raetflo.road.keeping import RoadKeep
    monkeypatch.setattr(RoadKeep, "KeepDir", str(tmp_path / "raet" / "keep"))
    try:
        stack = RoadStack()
    except StackError as ex:  # someone else holds the default port: the error must say so
        assert "7530" in str(ex)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            with pytest.raises(OSError):
                probe.bind(("0.0.0.0", 7530))
        return
    try:
        assert stack.ha == ("0.0.0.0", 7530)
        assert stack.name.startswith("estate_") and stack.uid == 1
        assert stack.local.ha == ("127.0.0.1", 7530)
        assert stack.keep.dirpath == str(tmp_path / "raet" / "keep")  # unnamed: the base
        assert stack.keep.load_local()["name"] == stack.name
    finally:
        stack.close()
    assert not stack.server.opened


@pytest.mark.parametrize("bad", ["127.0.0.1:7530", ("127.0.0.1",), ("127.0.0.1", "7530"),
                                 ("127.0.0.1", 70000), (7530, "127.0.0.1"),
                                 ("127.0.0.1", 7530, 1)])
def test_bad_listening_address(tmp_path, bad):
    with pytest.raises(StackError, match="Invalid listening address") as info:
        RoadStack(name="x", ha=bad, dirpath=str(tmp_path / "x"))
    assert repr(bad) in str(info.value)


def test_port_in_use(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(StackError, match=f"Failed opening server at .*{port}.*in use"):
            RoadStack(name="x", ha=("127.0.0.1", port), dirpath=str(tmp_path / "x"))


def test_a_later_stack_of_this_process_takes_over_its_address(road, terse_console,
                                                               monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(terse_console, "_file", log)
    first = road("first", main=True, auto=ALWAYS)
    main = road("main", ha=("0.0.0.0", first.ha[1]), main=True, auto=ALWAYS)
    assert not first.server.opened and main.server.opened
    assert f"took over {first.ha} from a stack of this process" in log.getvalue()
    first.serviceAll()  # the stack whose socket was taken services quietly
    other = road("other", auto=ALWAYS)
    remote = provisional(other, first)
    other.join(uid=remote.uid, cascade=True)
    serve([first, main, other], 3.0, until=idle(main, other))
    assert remote.allowed is True and only(main).name == "other"
    assert not first.remotes


def test_only_a_stack_holding_the_address_is_taken_over(road):
    first = road("first", ha=("127.0.0.1", 0))
    beside = road("beside", ha=("127.0.0.2", first.ha[1]))  # no clash: both stay open
    assert first.server.opened and beside.server.opened
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:  # not a stack's
        busy.bind(("127.0.0.3", 0))
        with pytest.raises(StackError, match="in use"):
            road("x", ha=("127.0.0.3", busy.getsockname()[1]))
    assert first.server.opened and beside.server.opened


def test_unusable_keep_dir(tmp_path, ha):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StackError, match=f"{blocker}.*not a directory"):
        RoadStack(name="x", ha=ha(), dirpath=str(blocker))
    with pytest.raises(StackError, match=f"{blocker / 'sub'}.*cannot be created"):
        RoadStack(name="x", ha=ha(), dirpath=str(blocker / "sub"))


def test_join_flood_of_pending_estates_is_capped(road, monkeypatch):
    """A main in never mode stops taking new estates once too many await the operator."""
    monkeypatch.setattr(RoadStack, "MaxPendingRemotes", 3)
    main = road("main", main=True, auto=NEVER)
    joiners = [road(f"j{i}", auto=ALWAYS) for i in range(5)]
    for joiner in joiners:
        joiner.join(uid=provisional(joiner, main).uid)
    serve([main, *joiners], 1.0)
    assert len(main.remotes) == 3
    assert all(r.acceptance == P for r in main.remotes.values())
    assert stat(main, "join_pending_overload") == 2
    # once the operator has dealt with one, a new estate gets in
    main.keep.rejectRemote(main.remotes.values()[0])
    main.removeRemote(main.remotes.values()[0])
    late = road("late", auto=ALWAYS)
    late.join(uid=provisional(late, main).uid)
    serve([main, late], 0.5)
    assert "late" in main.nameRemotes


def test_joiner_that_rejects_the_mains_keys_drops_it_without_a_word(road):
    """The joiner's keep rejects the main's (same) keys when its response comes: the joiner
    drops its record, and its join with it; as with raet, whose nack then finds no record
    to go by, nothing is sent (counted twice, as raet counts the nack and its failed send),
    so the main's joinent waits for its timeout."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ONCE)
    remote = joined(main, other)
    other.keep.rejectRemote(remote)
    wire = Wire(other)
    other.join(uid=remote.uid)
    serve([main, other], 1.0, until=lambda: not other.transactions)
    assert [s.pk for s in wire.sent()] == [PcktKind.request]
    assert not other.remotes and not other.transactions and len(main.transactions) == 1
    assert stat(other, "joiner_transaction_failure") == 2
    serve([main, other], 10.0, until=idle(main))
    assert not main.transactions


def test_a_refusal_that_cannot_be_packed_is_counted_so_also_unsent(road, monkeypatch):
    """raet packs the refusal before it finds no record to send it by."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ONCE)
    remote = joined(main, other)
    other.keep.rejectRemote(remote)
    other.join(uid=remote.uid)
    serve([other, main], 0.1)
    monkeypatch.setattr(raeting, "UDP_MAX_PACKET_SIZE", 10)
    serve([other], 0.1)
    assert stat(other, "packing_error") == 1 and not other.remotes and not other.transactions
    assert stat(other, "joiner_transaction_failure") == 0


def test_an_initiator_follows_its_record_to_a_new_address(road):
    """As raet's: a join's packets go to the record's address as it is at each send. Here
    the record moves mid-join, so the immutable joiner's reject of the main's answer (which
    names the old address) goes to the new one, and the main keeps its record."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS, mutable=False)
    remote = joined(main, other)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as moved:
        moved.bind(("127.0.0.1", 0))
        moved.setblocking(False)
        other.join(uid=remote.uid)
        other.serviceAll()
        main.serviceAll()
        remote.ha = moved.getsockname()
        other.serviceAll()
        packet = packeting.parse(moved.recv(65536))
    assert (packet.head.tk, packet.head.pk) == (TrnsKind.join, PcktKind.reject)
    assert stat(other, "joiner_transaction_failure") == 1 and len(main.remotes) == 1


def test_removing_a_record_sends_nothing_for_its_own_transactions(road):
    """raet's nacks of a removed record's alive and message find no record to go by."""
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    wire = Wire(other)
    other.alive(uid=remote.uid)
    other.transmit({"lost": 1}, remote.uid)
    other.serviceAllTx()
    sent = len(wire.sent())
    other.removeRemote(remote)
    serve([main, other], 1.0)
    assert len(wire.sent()) == sent and not other.transactions
    assert stat(other, "message_unconfirmed") == 1  # it went once: it may have arrived


def test_a_joinent_removed_with_its_record_still_refuses_by_address(road):
    """A joinent answers the address the join came from: removed with its record, its
    nack still goes, as raet's does."""
    main = road("main", main=True, auto=NEVER)
    other = road("other", auto=ALWAYS)
    other.join(uid=provisional(other, main).uid)
    serve([main, other], 0.3)
    wire = Wire(main)
    main.removeRemote(only(main))
    main.serviceAllTx()
    assert [s.pk for s in wire.sent()] == [PcktKind.nack]


def forged_request(de: int, name: str = "0", verhex: str | None = None,
                   pubhex: str | None = None) -> bytes:
    """An unsigned join request anybody can make: ``de`` is the uid a record has on the
    receiver (0: vacuous), ``name`` (and role) "0" sorts before every other; the keys are
    new unless given (a peer's are on the wire in its joins)."""
    from raetflo.raeting import BodyKind, CoatKind, FootKind, HeadKind
    body = dict(name=name, mode=0, kind=0, verhex=verhex or nacling.Signer().verhex,
                pubhex=pubhex or nacling.Privateer().pubhex, role=name)
    head = packeting.Head(hk=HeadKind.raet, pk=PcktKind.request, tk=TrnsKind.join, se=77,
                          de=de, si=0, ti=1, bk=BodyKind.json, ck=CoatKind.nada,
                          fk=FootKind.nada)
    return packeting.pack(head, packeting.encode_body(BodyKind.json, body))


def test_a_forged_request_from_elsewhere_does_not_end_our_join_on_an_immutable_road(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)
    other.join(uid=remote.uid)
    joiner = next(iter(other.transactions))
    other.rxes.append((forged_request(remote.uid), ("127.0.0.1", 9)))  # not main's address
    other.serviceAll()
    assert joiner in other.transactions  # still under way: the forged request was refused
    serve([main, other], 2.0, until=idle(main, other))
    assert remote.joined is True and only(main).joined is True
    assert not stat(other, "joiner_transaction_failure")


def test_a_forged_join_does_not_move_a_joined_peer_on_a_mutable_road(road):
    """A vacuous request with a joined peer's name, role and keys from another address
    changes the record only if that join completes; unanswered, it changes nothing."""
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    peer = only(main)
    ha = peer.ha
    local = other.local
    main.rxes.append((forged_request(0, "other", local.signer.verhex, local.priver.pubhex),
                      ("127.0.0.1", 9)))
    main.serviceAll()
    assert peer.ha == ha
    serve([main], 3 * main.JoinentTimeout, until=idle(main))  # the forger never answers
    assert peer.ha == ha and peer.joined is True and peer.allowed is True
    other.transmit({"still": "here"}, remote.uid)
    serve([main, other], 3.0, until=lambda: bool(main.rxMsgs))
    assert [body for body, _ in main.rxMsgs] == [{"still": "here"}]
    assert not stat(main, "wrong_source")


def test_a_mutable_main_adopts_an_estate_that_moved_once_its_join_completes(road, ha):
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    other = road.restart(other, ha=ha())  # the same estate, listening elsewhere
    remote = other.remotes[remote.uid]
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 5.0, until=lambda: only(main).ha == other.ha and remote.allowed)
    assert only(main).ha == other.ha and only(main).joined is True and remote.allowed is True
    other.transmit({"from": "the new address"}, remote.uid)
    serve([main, other], 3.0, until=lambda: bool(main.rxMsgs))
    assert [body for body, _ in main.rxMsgs] == [{"from": "the new address"}]
