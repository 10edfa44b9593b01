"""Authentication comes before any state change: forged, unsigned and replayed packets of the
kinds the reference signs change nothing; join replies must come from the joiner's peer;
no name lookups happen on the packet path."""
from __future__ import annotations

import os
import socket

import pytest

from raetflo import nacling
from raetflo.raeting import BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from raetflo.road import estating, packeting, resolving
from raetflo.road.packeting import Head

from ..taps import Tap
from .conftest import ALWAYS, idle, joined, only, serve, stat


def inject(stack, datagrams, source=("127.0.0.1", 0)):
    """Send ``datagrams`` to ``stack`` from a fresh socket bound to ``source``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(source)
        for data in datagrams:
            sock.sendto(data, stack.ha)


def unsigned(**fields) -> bytes:
    head = Head(bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada, **fields)
    return packeting.pack(head, b"")


def kind_of(data: bytes) -> tuple[int, int]:
    head = packeting.parse(data, veritive=False).head
    return head.tk, head.pk


def exchange(sender, receiver, count: int) -> list:
    """Send ``count`` messages and return what arrived (bounded virtual time)."""
    receiver.rxMsgs.clear()
    for n in range(count):
        sender.transmit({"n": n}, uid=only(sender).uid)
    serve([sender, receiver], 10.0, until=lambda: len(receiver.rxMsgs) >= count
          and idle(sender, receiver)())
    return [body["n"] for body, _ in receiver.rxMsgs]


@pytest.fixture
def link(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    return main, other


@pytest.mark.parametrize("tk,pk", [(TrnsKind.alive, PcktKind.request),
                                   (TrnsKind.alive, PcktKind.ack),
                                   (TrnsKind.allow, PcktKind.hello),
                                   (TrnsKind.allow, PcktKind.initiate)])
def test_unsigned_session_packets_change_nothing(link, tk, pk):
    main, other = link
    record = only(main)
    rsid, box = record.rsid, record.box
    forged = [unsigned(tk=tk, pk=pk, cf=cf, se=record.fuid, de=record.uid,
                       si=(rsid + 0x40000000 + n) & 0xFFFFFFFF, ti=n + 1)
              for n in range(3) for cf in (False, True)]
    inject(main, forged)
    main.serviceAll()
    assert record.rsid == rsid
    assert record.box is box and record.allowed is True
    assert stat(main, "rx_missing_signature") == len(forged)
    assert exchange(other, main, 20) == list(range(20))
    assert exchange(main, other, 5) == list(range(5))


def test_replayed_hello_does_not_break_the_session(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    joined(main, other)
    seen = Tap(other)
    other.allow(uid=only(other).uid)
    serve([main, other], 3.0, until=idle(main, other))
    record = only(main)
    assert record.allowed is True
    hellos = [d for d in seen.datagrams if kind_of(d) == (TrnsKind.allow, PcktKind.hello)]
    assert hellos
    box = record.box
    inject(main, hellos[-1:])  # before any later packet moved rsid on
    serve([main, other], 6.0)  # the replay's allowent times out
    assert record.allowed is True and record.box is box
    assert exchange(other, main, 10) == list(range(10))
    assert exchange(main, other, 10) == list(range(10))


def test_forged_join_reject_from_another_host_during_rejoin(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    record = joined(main, other, cascade=True)
    path = other.keep.remotefilepath(record.name)
    other.join(uid=record.uid)
    other.serviceAll()  # the request leaves; main has not answered yet
    joiner = next(iter(record.transactions.values()))
    forged = unsigned(tk=TrnsKind.join, pk=PcktKind.reject, cf=True, se=record.fuid,
                      de=record.uid, si=0, ti=joiner.tid)
    inject(other, [forged], source=("127.0.0.2", 0))
    other.serviceAll()
    assert stat(other, "join_wrong_source") == 1
    assert record.uid in other.remotes
    serve([main, other], 3.0, until=idle(main, other))
    assert record.joined is True
    assert record.uid in other.remotes and os.path.exists(path)
    assert exchange(other, main, 3) == [0, 1, 2]


def join_request(name: str) -> bytes:
    body = dict(name=name, mode=0, kind=0, verhex=nacling.Signer().verhex,
                pubhex=nacling.Privateer().pubhex, role=name)
    head = Head(pk=PcktKind.request, tk=TrnsKind.join, se=1, de=0, si=0, ti=1,
                bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada)
    return packeting.pack(head, packeting.encode_body(BodyKind.json, body))


def test_no_name_lookup_on_the_packet_path(road, monkeypatch):
    main = road("main", main=True, auto=ALWAYS)
    calls: list[str] = []

    def slow_lookup(host: str = "") -> str:
        calls.append(host)
        return host

    monkeypatch.setattr(resolving.socket, "getfqdn", slow_lookup)
    monkeypatch.setattr(resolving, "_fqdns", {})
    for n in range(4):
        inject(main, [join_request(f"joiner{n}")], source=(f"127.0.0.{n + 2}", 0))
    for _ in range(3):
        main.serviceAll()
        main.store.advanceStamp(0.1)
    assert len(main.remotes) == 4
    assert calls == []


def test_signed_packets_replayed_from_elsewhere_are_dropped(link):
    main, other = link
    seen = Tap(other)
    other.alive(uid=only(other).uid)
    serve([main, other], 2.0, until=idle(main, other))
    (request,) = [d for d in seen.datagrams if kind_of(d) == (TrnsKind.alive, PcktKind.request)]
    record = only(main)
    record.alived = False
    replies = Tap(main)
    inject(main, [request], source=("127.0.0.3", 0))
    main.serviceAll()
    assert stat(main, "wrong_source") == 1
    assert replies.sent == [] and record.alived is False


def first_join_packets(main, other) -> Tap:
    """Join ``other`` to ``main`` (cascade) while recording ``other``'s datagrams."""
    seen = Tap(other)
    joined(main, other, cascade=True)
    return seen


def test_join_request_copies_from_elsewhere_do_not_move_a_record(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    seen = first_join_packets(main, other)
    (request,) = [d for d in seen.datagrams if kind_of(d) == (TrnsKind.join, PcktKind.request)]
    record = only(main)
    home = record.ha
    other.join(uid=only(other).uid)  # a join is running on main's record...
    other.serviceAll()
    inject(main, [request], source=("127.0.0.4", 0))  # ...when a copy arrives from elsewhere
    main.serviceAll()
    serve([main, other], 3.0, until=idle(main, other))
    inject(main, [request], source=("127.0.0.4", 0))  # and another after it ended
    serve([main, other], 3.0, until=idle(main, other))
    assert record.ha == home and record.joined is True
    assert exchange(main, other, 5) == list(range(5))


def test_replayed_first_join_reopens_no_old_message(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    seen = first_join_packets(main, other)
    assert exchange(other, main, 3) == [0, 1, 2]
    record = only(main)
    replay = [d for d in seen.datagrams if kind_of(d)[0] in (TrnsKind.join, TrnsKind.message)]
    main.rxMsgs.clear()
    for data in replay:  # the whole first join, then the messages, as if from the peer
        main.rxes.append((data, other.ha))
        main.serviceAll()
    assert list(main.rxMsgs) == []
    serve([main, other], 5.0, until=lambda: record.allowed is True and idle(main, other)())
    other.manage(immediate=True)
    serve([main, other], 5.0, until=lambda: record.allowed is True and idle(main, other)())
    assert exchange(other, main, 3) == [0, 1, 2]


def test_join_request_spoofed_as_the_peer_does_not_unjoin_it(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    seen = first_join_packets(main, other)
    other.join(uid=only(other).uid)
    other.serviceAll()
    (request,) = [d for d in seen.datagrams[-1:] if kind_of(d) == (TrnsKind.join, PcktKind.request)]
    other.remotes.values()[0].transactions.clear()  # the peer is not joining any more
    main.rxes.append((request, other.ha))
    serve([main, other], 6.0, until=idle(main, other))
    assert only(main).joined is True
    assert exchange(other, main, 3) == [0, 1, 2]


@pytest.mark.parametrize("mutable", [False, True])
def test_a_join_under_another_name_cannot_change_the_keys_of_an_estates_role(road, mutable):
    """Estates of one role share its keys. On an immutable road (the default) a join may not
    change them, under another name no more than under the estate's own: a new estate
    claiming the role of an established one with other keys is rejected (an unsigned
    request and ack of one did, under auto always, and after the main restarted the
    established estate was locked out for good). A mutable road takes it, as raet does."""
    main = road("main", main=True, auto=ALWAYS, mutable=mutable)
    other = road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    keys = (only(main).verhex, only(main).pubhex)
    mallory = road("mallory", auto=ALWAYS, role="other")
    remote = estating.RemoteEstate(stack=mallory, fuid=0, sid=0, ha=main.ha)
    mallory.addRemote(remote)
    mallory.join(uid=remote.uid)
    serve([main, mallory], 3.0, until=idle(main, mallory))
    role_file = os.path.join(main.keep.remoteroledirpath, "role.other.json")
    if mutable:
        assert remote.joined is True and "mallory" in main.nameRemotes
        return
    assert remote.joined is not True and "mallory" not in main.nameRemotes
    assert stat(main, "join_role_keys_changed") >= 1
    assert mallory.local.signer.verhex not in open(role_file).read()
    again = road.restart(main, name="main", main=True, auto=ALWAYS)
    assert (only(again).verhex, only(again).pubhex) == keys
    assert exchange(other, again, 2) == [0, 1]


def claim(main, record, keys, source=("127.0.0.1", 0), ti=77):
    """From a socket of its own, join ``main`` as ``record``'s estate with ``keys``
    (verhex, pubhex): an unsigned vacuous request, then the unsigned final ack."""
    body = dict(name=record.name, mode=0, kind=0, verhex=keys[0], pubhex=keys[1],
                role=record.role)
    request = Head(pk=PcktKind.request, tk=TrnsKind.join, se=record.fuid, de=0, si=0, ti=ti,
                   bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nada)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(source)
        sock.sendto(packeting.pack(request, packeting.encode_body(BodyKind.json, body)), main.ha)
        main.serviceAll()
        main.store.advanceStamp(0.1)
        sock.sendto(unsigned(tk=TrnsKind.join, pk=PcktKind.ack, cf=False, se=record.fuid,
                             de=0, si=0, ti=ti), main.ha)
        main.serviceAll()
        main.store.advanceStamp(0.1)
        return sock.getsockname()


@pytest.mark.parametrize("new_keys", [False, True])
def test_a_join_from_elsewhere_on_a_mutable_road_does_not_lock_the_estate_out(road, new_keys):
    """On a mutable road a join may move an estate's record to another address (as raet
    does, at once). Join packets are unsigned: anyone may send one with the estate's
    public keys (or, under auto always, keys of their own). The record moved away, the
    estate's own signed packets from its address were dropped as from the wrong source,
    and it was locked out for good. Until the new address proves the keys by an allow,
    a signed packet from the old address that verifies with the old keys moves the
    record back."""
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    record = only(main)
    home, verhex = tuple(record.ha), record.verhex
    keys = ((nacling.Signer().verhex, nacling.Privateer().pubhex) if new_keys
            else (record.verhex, record.pubhex))
    elsewhere = claim(main, record, keys)
    assert tuple(record.ha) == tuple(elsewhere)  # moved at once, as in raet
    assert exchange(other, main, 3) == [0, 1, 2]
    assert tuple(record.ha) == home and record.verhex == verhex and record.allowed is True
    assert stat(main, "join_move_reverted") == 1
    assert exchange(main, other, 3) == [0, 1, 2]


def test_a_move_proven_by_an_allow_is_not_undone_by_the_old_address(road):
    """An estate that moved (restarted elsewhere, joined and allowed from there) stays
    moved: a copy of one of its signed packets from its old address changes nothing."""
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    seen = first_join_packets(main, other)
    (old_alive,) = [d for d in seen.datagrams if kind_of(d) == (TrnsKind.alive, PcktKind.request)][:1]
    home = tuple(other.ha)
    other.close()  # it starts again elsewhere, with the same keys and a keep of nothing
    moved = road("other", auto=ALWAYS, dirpath=other.keep.dirpath + ".elsewhere",
                 sigkey=other.local.signer.keyhex, prikey=other.local.priver.keyhex)
    joined(main, moved, cascade=True)
    record = only(main)
    assert tuple(record.ha) == tuple(moved.ha) != home and record.allowed is True
    inject(main, [old_alive], source=home)
    serve([main, moved], 2.0)
    assert tuple(record.ha) == tuple(moved.ha)
    assert stat(main, "join_move_reverted") == 0
    assert exchange(moved, main, 3) == [0, 1, 2]


def test_new_keys_for_an_established_estate_on_a_mutable_road_are_reported(road):
    """A mutable road under auto always lets a join give an established estate other keys
    (as raet does): that replaces who the estate is, and it happened without a word."""
    main = road("main", main=True, auto=ALWAYS, mutable=True)
    other = road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    record = only(main)
    claim(main, record, (nacling.Signer().verhex, nacling.Privateer().pubhex))
    assert stat(main, "join_keys_replaced") == 1
    claim(main, record, (record.verhex, record.pubhex), ti=78)  # the same keys again
    assert stat(main, "join_keys_replaced") == 1


def test_signed_packets_from_elsewhere_cost_no_signature_check(link, monkeypatch):
    """A packet naming a remote, from an address that remote is not at, is dropped before
    its signature is checked: a flood of forged signed packets from anywhere cost a
    signature check each (the dearest thing a packet costs us)."""
    main, other = link
    record = only(main)
    checks: list[int] = []
    verify = nacling.Verifier.verify
    monkeypatch.setattr(nacling.Verifier, "verify",
                        lambda self, *args: checks.append(1) or verify(self, *args))
    forged = [packeting.pack(Head(tk=TrnsKind.alive, pk=PcktKind.request, se=record.fuid,
                                  de=record.uid, si=record.rsid, ti=500 + n, bk=BodyKind.json,
                                  ck=CoatKind.nada, fk=FootKind.nacl), b"",
                             nacling.Signer())
              for n in range(300)]
    for data in forged:
        main.rxes.append((data, ("127.0.0.9", 4000)))
    main.serviceAll()
    assert checks == [] and stat(main, "wrong_source") == 300
    assert exchange(other, main, 3) == [0, 1, 2]
