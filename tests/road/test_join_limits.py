"""Join floods stay bounded, bad joins never fault a handler, failed joins leave nothing
behind, keep errors never escape, and the send queue is bounded (issue 8, items 3, 6, 10)."""
from __future__ import annotations

import errno
import json
import os

import msgpack
import pytest
from ioflo.aid.odicting import odict

from raetflo import nacling
from raetflo.raeting import Acceptance, BodyKind, CoatKind, FootKind, HeadKind, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.keeping import KeepError
from raetflo.road.packeting import Head
from raetflo.road.stacking import RoadStack
from raetflo.stacking import Stack

from .conftest import ALWAYS, NEVER, ONCE, Wire, idle, joined, only, provisional, serve, stat

JOIN = TrnsKind.join
A, P = Acceptance.accepted, Acceptance.pending


def keep_files(stack: RoadStack) -> list[str]:
    """Remote estate and remote role files of ``stack``'s keep."""
    keep = stack.keep
    return sorted(os.listdir(keep.remotedirpath)) + sorted(os.listdir(keep.remoteroledirpath))


def body(name: str, **changes) -> dict:
    fields = dict(name=name, mode=0, kind=0, verhex=nacling.Signer().verhex,
                  pubhex=nacling.Privateer().pubhex, role=name)
    fields.update(changes)
    return fields


def request(payload, se: int = 2, ti: int = 1, bk: BodyKind = BodyKind.json) -> bytes:
    """A vacuous join request datagram carrying ``payload`` (a body mapping or raw bytes)."""
    head = Head(hk=HeadKind.raet, pk=PcktKind.request, tk=JOIN, se=se, de=0, si=0, ti=ti,
                bk=bk, ck=CoatKind.nada, fk=FootKind.nada)
    if isinstance(payload, bytes):
        coat = payload
    elif bk == BodyKind.msgpack:
        coat = msgpack.packb(payload)
    else:
        coat = json.dumps(payload).encode()
    return packeting.pack(head, coat)


def source(i: int) -> tuple[str, int]:
    """Distinct loopback source addresses (one host: no name lookups of many hosts)."""
    return ("127.0.0.1", 1024 + i)


def inject(stack: RoadStack, datagrams, first: int = 0) -> None:
    for i, data in enumerate(datagrams, start=first):
        stack.rxes.append((data, source(i)))


class Sink:
    """Stands in for a server's send: records destinations instead of sending."""

    def __init__(self, stack: RoadStack, error: int | None = None) -> None:
        self.sent: list[tuple[bytes, tuple]] = []
        self.error = error
        stack.server.send = self

    def __call__(self, data: bytes, ha: tuple) -> int:
        if self.error is not None:
            raise OSError(self.error, os.strerror(self.error))
        self.sent.append((data, ha))
        return len(data)


# item 10: plain dicts -----------------------------------------------------------------------

def test_registries_are_plain_dicts_with_the_odict_interface(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other)
    other.join(uid=remote.uid)
    for mapping in (main.remotes, main.nameRemotes, other.joinees, remote.transactions):
        assert isinstance(mapping, dict) and not isinstance(mapping, odict)
    assert main.remotes.values()[0] is only(main)  # lists, as the reference API gives
    assert main.nameRemotes.keys()[0] == "other"
    assert remote.transactions.items()[0][1].kind == JOIN


# item 10: the send queue --------------------------------------------------------------------

def test_unreachable_route_holds_no_datagrams(road):
    other = road("other", auto=ALWAYS)
    remote = provisional(other, other)
    Sink(other, errno.ENETUNREACH)
    other.join(uid=remote.uid)
    held = []
    for _ in range(60):  # one minute: the joiner and manage() keep trying
        other.manage()
        serve([other], 1.0)
        held.append(len(other.txes))
    assert max(held) == 0
    assert stat(other, "tx_unreachable") >= 10
    assert stat(other, "joiner_tx_join_redo") >= 2  # the redo timers did the resending


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.ENOBUFS])
def test_busy_socket_keeps_datagrams_in_order_within_max_txes(road, monkeypatch, code):
    monkeypatch.setattr(Stack, "MaxTxes", 10)
    other = road("other", auto=ALWAYS)
    sink = Sink(other, code)
    for i in range(25):
        other.tx_to(bytes([i]), ("127.0.0.1", 9))
    other.serviceTxes()
    assert [data for data, _ in other.txes] == [bytes([i]) for i in range(15, 25)]
    assert stat(other, "tx_overflow") == 15
    sink.error = None
    other.serviceTxes()
    assert [data for data, _ in sink.sent] == [bytes([i]) for i in range(15, 25)]
    assert not other.txes


# item 10: bad join bodies and names ----------------------------------------------------------

BAD_NAMES = ["..", ".hidden", "a/b", "x" * 300, "a\0b", "a\x01b", "tab\there", "a b"]


def bad_requests() -> list[bytes]:
    bodies = [request(b"\x01\x02raw", bk=BodyKind.raw), request([1, 2, 3], bk=BodyKind.msgpack),
              request([1, 2, 3]), request("a string"), request(7), request(None)]
    for bad in BAD_NAMES:
        bodies.append(request(body(bad)))
        bodies.append(request(body("fine", role=bad)))
    return bodies


def test_bad_join_bodies_and_names_are_dropped_and_counted(road):
    main = road("main", main=True, auto=ALWAYS)
    datagrams = bad_requests()
    inject(main, datagrams)
    main.serviceAll()
    serve([main], 6.0)
    assert stat(main, "rx_exception") == 0
    # bodies that do not decode to a mapping fail in the codec, the rest in the join
    assert stat(main, "parsing_inner_error") == 5
    assert stat(main, "invalid_join") == len(datagrams) - 5
    assert not main.remotes and not main.joinees and not main.transactions
    assert keep_files(main) == []


@pytest.mark.parametrize("bad", [[1, 2], "text", {"name": "a/b"}, {"role": ".."},
                                 {"name": "y" * 300}])
def test_bad_join_response_is_dropped_and_counted(road, bad):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)

    def spoil(packet):
        good = json.loads(packet.coat)
        payload = {**good, **bad} if isinstance(bad, dict) else bad
        return packeting.pack(packet.head, json.dumps(payload).encode())

    Wire(main).rewrite(JOIN, PcktKind.response, spoil, count=None)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], 6.0, until=idle(main, other))
    assert stat(other, "rx_exception") == 0 and stat(main, "rx_exception") == 0
    assert stat(other, "invalid_accept") + stat(other, "parsing_inner_error") >= 1
    assert not other.joinees and not main.joinees
    assert remote.joined is None


def test_flood_of_bad_joins_leaves_no_joinees(road):
    main = road("main", main=True, auto=NEVER)
    datagrams = bad_requests() * 20
    inject(main, datagrams)
    main.serviceAll()
    assert not main.joinees and not main.remotes
    assert stat(main, "invalid_join") == len(datagrams) - 5 * 20
    assert stat(main, "rx_exception") == 0


# item 6: join floods ------------------------------------------------------------------------------

def flood(count: int, first: int = 0) -> list[bytes]:
    """Join requests of ``count`` distinct new estates, each with fresh keys."""
    return [request(body(f"flood{i}"), se=2 + i % 1000) for i in range(first, first + count)]


@pytest.mark.parametrize("auto", [ALWAYS, ONCE])
def test_join_flood_is_bounded_and_leaves_nothing(road, monkeypatch, auto):
    monkeypatch.setattr(RoadStack, "MaxRemotes", 200)
    main = road("main", main=True, auto=auto)
    friends = [road(f"friend{i}", auto=ALWAYS) for i in range(3)]
    for friend in friends:
        friend.join(uid=provisional(friend, main).uid)
    serve([main, *friends], 2.0, until=idle(main, *friends))
    files = keep_files(main)
    puid = main.puid
    sink = Sink(main)

    inject(main, flood(5000))
    main.serviceAll()
    assert len(main.remotes) == 200
    assert stat(main, "join_remote_overload") == 4803
    assert keep_files(main) == files  # nothing is persisted before a join completes
    serve([main], 6.0)
    # the joins that never completed left neither records nor files nor joinees
    assert sorted(main.nameRemotes) == ["friend0", "friend1", "friend2"]
    assert all(r.joined for r in main.remotes.values())
    assert not main.joinees and not main.transactions
    assert keep_files(main) == files and len(files) == 6
    assert main.puid - puid == 197  # uids went only to records that were made
    sink.sent.clear()
    main.manage(immediate=True)
    main.serviceTxes()
    assert sink.sent and {ha for _, ha in sink.sent} <= {friend.ha for friend in friends}


def test_join_flood_under_never_keeps_pending_estates_only(road, monkeypatch):
    monkeypatch.setattr(RoadStack, "MaxPendingRemotes", 50)
    main = road("main", main=True, auto=NEVER)
    Sink(main)
    inject(main, flood(1000))
    main.serviceAll()
    serve([main], 6.0)
    assert len(main.remotes) == 50 and len(main.pendings) == 50
    assert all(r.acceptance == P for r in main.remotes.values())
    assert stat(main, "join_pending_overload") == 950
    assert len(keep_files(main)) == 100  # the operator must see them: estate and role files


def test_pre_accepted_estate_joins_past_the_pending_cap(road, monkeypatch):
    monkeypatch.setattr(RoadStack, "MaxPendingRemotes", 5)
    main = road("main", main=True, auto=NEVER)
    vip = road("vip", auto=ALWAYS)
    main.keep.dump_remote_role(dict(role="vip", acceptance=A, verhex=vip.local.signer.verhex,
                                    pubhex=vip.local.priver.pubhex))
    inject(main, flood(20))
    main.serviceAll()
    assert stat(main, "join_pending_overload") == 15
    remote = provisional(vip, main)
    vip.join(uid=remote.uid)
    serve([main, vip], 1.0)
    assert remote.joined is True and main.nameRemotes["vip"].joined is True
    # a new estate that would await the operator is still refused
    assert stat(main, "join_pending_overload") == 15
    inject(main, flood(1, first=100), first=100)
    main.serviceAll()
    assert stat(main, "join_pending_overload") == 16


def pending_main(road, monkeypatch) -> RoadStack:
    """A never-mode main whose pending records expire after 100 s, its output sunk."""
    monkeypatch.setattr(RoadStack, "PendingTimeout", 100.0)
    main = road("main", main=True, auto=NEVER)
    Sink(main)
    return main


def test_pending_records_expire(road, monkeypatch):
    main = pending_main(road, monkeypatch)
    inject(main, flood(5))
    main.serviceAll()
    keys = dict(verhex=main.nameRemotes["flood0"].verhex, pubhex=main.nameRemotes["flood0"].pubhex)
    twin = request(body("twin", role="flood0", **keys))  # a second estate of a pending role
    main.rxes.append((twin, ("127.0.0.1", 2000)))
    main.serviceAll()
    assert len(main.remotes) == 6 and len(keep_files(main)) == 11
    serve([main], 6.0)  # the joins time out, the pending records stay
    assert len(main.remotes) == 6 and not main.transactions
    main.store.advanceStamp(44.0)
    retry = request(body("flood1", verhex=main.nameRemotes["flood1"].verhex,
                         pubhex=main.nameRemotes["flood1"].pubhex), se=3, ti=9)
    main.rxes.append((retry, source(1)))  # a new attempt restarts the wait
    main.serviceAll()
    main.store.advanceStamp(51.0)
    main.serviceAll()
    assert sorted(main.nameRemotes) == ["flood1"]
    assert stat(main, "pending_expired") == 5
    # flood0's role file went with the last record of that role (twin)
    assert keep_files(main) == ["estate.flood1.json", "role.flood1.json"]
    main.store.advanceStamp(50.0)
    main.serviceAll()
    assert not main.remotes and keep_files(main) == [] and not main.pendings
    assert stat(main, "pending_expired") == 6


def test_pending_records_restored_at_start_expire_too(road, monkeypatch):
    main = pending_main(road, monkeypatch)
    inject(main, flood(2))
    main.serviceAll()
    main = road.restart(main, main=True, auto=NEVER)
    assert len(main.remotes) == 2 and len(main.pendings) == 2
    main.store.advanceStamp(101.0)
    main.serviceAll()
    assert not main.remotes and keep_files(main) == []
    assert stat(main, "pending_expired") == 2


def test_expiry_keeps_a_role_another_record_holds(road, monkeypatch):
    main = pending_main(road, monkeypatch)
    first = body("first", role="shared")
    main.rxes.append((request(first), source(0)))
    main.serviceAll()
    main.store.advanceStamp(60.0)
    second = body("second", role="shared", verhex=first["verhex"], pubhex=first["pubhex"])
    main.rxes.append((request(second), source(1)))
    main.serviceAll()
    main.store.advanceStamp(60.0)
    main.serviceAll()
    assert sorted(main.nameRemotes) == ["second"]
    assert keep_files(main) == ["estate.second.json", "role.shared.json"]


def test_accepted_pending_record_does_not_expire(road, monkeypatch):
    main = pending_main(road, monkeypatch)
    main.rxes.append((request(body("slow")), source(0)))
    main.serviceAll()
    main.keep.acceptRemote(only(main))
    main.store.advanceStamp(200.0)
    main.serviceAll()
    assert only(main).name == "slow" and stat(main, "pending_expired") == 0
    assert not main.pendings


# item 3 (joiner half): a reject during a re-join ---------------------------------------------

def forged_reject(joiner: RoadStack, remote) -> bytes:
    """An unsigned reject matching ``joiner``'s live join with ``remote``."""
    join = remote.joinInProcess()[0]
    head = join.head.copy(pk=PcktKind.reject, cf=True, se=join.head.de, de=join.head.se)
    return packeting.pack(head)


def test_reject_of_a_rejoin_keeps_the_established_link_files(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    Wire(other).drop(JOIN, PcktKind.request)  # the real main hears nothing of the re-join
    other.join(uid=remote.uid)
    other.serviceAll()
    other.rxes.append((forged_reject(other, remote), main.ha))
    other.serviceAll()
    assert stat(other, "joiner_rx_reject") == 1 and not other.remotes
    assert os.listdir(other.keep.remotedirpath) == ["estate.main.json"]
    # a restart restores the link from the keep, and it works
    other = road.restart(other, auto=ALWAYS)
    again = only(other)
    other.allow(uid=again.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert again.allowed is True


def test_reject_of_a_first_join_still_clears_the_record(road):
    other = road("other", auto=ALWAYS)
    target = road("target", auto=ALWAYS)
    remote = provisional(other, target)
    other.dumpRemote(remote)
    Wire(other).drop(JOIN, PcktKind.request)
    other.join(uid=remote.uid)
    other.serviceAll()
    other.rxes.append((forged_reject(other, remote), target.ha))
    other.serviceAll()
    assert stat(other, "joiner_rx_reject") == 1 and not other.remotes
    assert os.listdir(other.keep.remotedirpath) == []


# keep errors and timer faults never escape serviceAll -------------------------------------------

def broken(*_args, **_kwa):
    raise KeepError("disk full")


def no_faults(*stacks: RoadStack) -> bool:
    return all(stat(s, "rx_exception") == stat(s, "timer_exception") == 0 for s in stacks)


@pytest.mark.parametrize("side", ["joiner", "main", "both"])
def test_keep_failing_on_write_during_join_and_allow(road, monkeypatch, side):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    failing = {"joiner": [other], "main": [main], "both": [main, other]}[side]
    for stack in failing:
        monkeypatch.setattr(stack.keep, "_write", broken)
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert no_faults(main, other)
    assert all(stat(stack, "keep_error") >= 2 for stack in failing)  # join and allow
    assert remote.allowed is True and only(main).allowed is True
    monkeypatch.undo()  # the keep is writable again: the link goes on and is kept
    other.transmit({"hello": "main"}, uid=remote.uid)
    main.transmit({"hello": "other"}, uid=only(main).uid)
    serve([main, other], 3.0, until=lambda: main.rxMsgs and other.rxMsgs)
    assert main.rxMsgs.popleft() == ({"hello": "main"}, "other")
    assert other.rxMsgs.popleft() == ({"hello": "other"}, "main")
    other.allow(uid=remote.uid)
    serve([main, other], 3.0, until=idle(main, other))
    assert other.keep.load_remote("main")["joined"] is True
    assert main.keep.load_remote("other")["joined"] is True


@pytest.mark.parametrize("pender", ["joiner", "joinent"])
def test_keep_failing_on_read_during_pending_redo(road, monkeypatch, pender):
    main = road("main", main=True, auto=NEVER if pender == "joinent" else ALWAYS)
    other = road("other", auto=NEVER if pender == "joiner" else ALWAYS)
    waiting = main if pender == "joinent" else other
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], 0.5)
    record = only(waiting)
    assert record.acceptance == P
    monkeypatch.setattr(waiting.keep, "_read", broken)
    serve([main, other], 1.0)
    assert no_faults(main, other) and stat(waiting, "keep_error") >= 1
    assert waiting.transactions  # still waiting for the operator
    monkeypatch.undo()
    waiting.keep.acceptRemote(record)
    serve([main, other], 4.0, until=idle(main, other))
    assert remote.joined is True and only(main).joined is True


def test_keep_failing_on_read_of_a_join_request(road, monkeypatch):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    monkeypatch.setattr(main.keep, "_read", broken)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], 0.5)
    assert no_faults(main, other) and stat(main, "keep_error") == 1
    assert not main.remotes and not main.joinees
    monkeypatch.undo()
    serve([main, other], 3.0, until=idle(main, other))  # the joiner's repeat gets in
    assert remote.joined is True and only(main).joined is True


def test_fault_in_a_timer_ends_only_that_transaction(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = joined(main, other, cascade=True)
    Wire(other).drop(TrnsKind.alive, PcktKind.request)
    other.alive(uid=remote.uid)
    aliver = remote.transactions.values()[0]

    def bug():
        raise RuntimeError("bug in a timer")

    aliver.redo = bug
    aliver.redoTimer.restart(duration=0.0)
    other.serviceAll()
    assert stat(other, "timer_exception") == 1
    assert aliver not in remote.transactions.values()
    del other.server.send  # the wire is whole again, and the service loop goes on
    other.alive(uid=remote.uid)
    serve([main, other], 3.0, until=idle(main, other))
    assert stat(other, "alive_complete") == 1


# unauthenticated answers to a join: the records they may leave are bounded ------------------

def answer(pk: PcktKind, se: int = 2, ti: int = 1) -> bytes:
    """A joiner's unsigned, empty-bodied answer ``pk`` in the vacuous join of tid ``ti``."""
    head = Head(hk=HeadKind.raet, pk=pk, tk=JOIN, se=se, de=0, si=0, ti=ti,
                bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada)
    return packeting.pack(head, b"")


def flood_with_answers(main: RoadStack, count: int, pk: PcktKind) -> None:
    """``count`` fresh-named vacuous joins, each answered once by its sender with ``pk``,
    then every joinent left to time out (what main sends meanwhile goes nowhere)."""
    send = main.server.send
    Sink(main)
    for index in range(count):
        main.rxes.append((request(body(f"ghost{index}"), ti=index + 1), source(index)))
        main.serviceAll()
        main.rxes.append((answer(pk, ti=index + 1), source(index)))
        main.serviceAll()
    serve([main], 6 * main.JoinentTimeout, until=lambda: not main.transactions)
    assert not main.transactions
    main.server.send = send


@pytest.mark.parametrize("pk", [PcktKind.pend, PcktKind.nack, PcktKind.refuse])
def test_records_of_joins_answered_unfinished_are_bounded_and_new_estates_still_join(
        road, monkeypatch, pk):
    """The record of a joiner that answered (it may think the join done) outlives the join,
    so its next allow hears 'unjoined'; unsigned answers cannot pile such records up."""
    from raetflo.road.core import RoadCore
    monkeypatch.setattr(RoadCore, "MaxPendingRemotes", 5)
    monkeypatch.setattr(RoadCore, "MaxRemotes", 12)
    main = road("main", main=True, auto=ALWAYS)
    flood_with_answers(main, 30, pk)
    ghosts = [remote for remote in main.remotes.values() if not remote.joined]
    assert len(ghosts) <= 5
    overloads = stat(main, "join_remote_overload")  # (the flood's own, while under way)
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], 5.0, until=lambda: remote.joined)
    assert remote.joined is True and stat(main, "join_remote_overload") == overloads


def test_estates_that_joined_and_never_allowed_make_room_for_new_ones(road, monkeypatch):
    """Under auto always anyone can complete a join (its packets are unsigned) under a new
    name: such records filled ``MaxRemotes`` for good and every new estate was refused.
    Past ``UnprovenTimeout`` a record that joined in this run and never completed an allow
    (which proves its keys) gives its place to a new estate, the oldest first; an estate
    that allowed keeps its place."""
    from raetflo.road.core import RoadCore
    monkeypatch.setattr(RoadCore, "MaxRemotes", 6)
    main = road("main", main=True, auto=ALWAYS)
    friends = [road(f"friend{i}", auto=ALWAYS) for i in range(2)]
    for friend in friends:
        friend.join(uid=provisional(friend, main).uid, cascade=True)
    serve([main, *friends], 3.0, until=idle(main, *friends))
    assert all(only(friend).allowed for friend in friends)
    flood_with_answers(main, 4, PcktKind.ack)
    assert len(main.remotes) == 6 and all(r.joined for r in main.remotes.values())
    late = road("late", auto=ALWAYS)
    remote = provisional(late, main)
    late.join(uid=remote.uid, cascade=True)
    serve([main, late], 3.0, until=idle(main, late))
    assert remote.joined is not True and stat(main, "join_remote_overload") >= 1  # too soon
    main.store.advanceStamp(RoadCore.UnprovenTimeout)
    late.join(uid=remote.uid, cascade=True)
    serve([main, late], 3.0, until=lambda: remote.allowed is True and idle(main, late)())
    assert remote.allowed is True and stat(main, "join_unproven_evicted") == 1
    assert {"friend0", "friend1", "late"} <= set(main.nameRemotes) and len(main.remotes) == 6
    assert "ghost0" not in main.nameRemotes  # the oldest gave its place
    assert not os.path.exists(main.keep.remotefilepath("ghost0"))
