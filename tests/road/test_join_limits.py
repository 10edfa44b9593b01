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
from raetflo.road.keeping import KeepError, RoadKeep
from raetflo.road.packeting import Head
from raetflo.road.stacking import RoadStack
from raetflo.stacking import Stack

from .conftest import ALWAYS, NEVER, ONCE, Wire, idle, joined, only, provisional, serve, stat

JOIN = TrnsKind.join
A, P, R = Acceptance.accepted, Acceptance.pending, Acceptance.rejected


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


def inject(stack: RoadStack, datagrams) -> None:
    for i, data in enumerate(datagrams):
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
        other.tx(bytes([i]), ("127.0.0.1", 9))
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
