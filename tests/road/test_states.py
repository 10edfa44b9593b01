"""Transaction states: every (state, packet kind) pair of every transaction class, on bare
road cores (no sockets, no keep), parametrized from the classes' own tables; the moves a
state allows; and the state tables written in docs/states.md."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from raetflo.raeting import AutoMode, BodyKind, PcktKind, TrnsKind
from raetflo.road.aliving import Aliver, Alivent
from raetflo.road.allowing import Allower, Allowent
from raetflo.road.core import RoadCore
from raetflo.road.estating import RemoteEstate
from raetflo.road.joining import Joiner, Joinent
from raetflo.road.messaging import Messenger, Messengent, Prober
from raetflo.road.transacting import Transaction, state_tables

INITIATORS = (Joiner, Allower, Aliver, Prober, Messenger)
CORRESPONDENTS = (Joinent, Allowent, Alivent, Messengent)
CLASSES = INITIATORS + CORRESPONDENTS
STEPS = {Joiner: "join", Allower: "hello", Aliver: "alive", Prober: "alive"}  # first sends
KINDS = [kind for kind in PcktKind if kind != PcktKind.unknown]
DOC = Path(__file__).parents[2] / "docs" / "states.md"
DOC_SECTION = re.compile(r"(## Transaction states\n)(.*?)(?=\n## |\Z)", re.S)


class Pair:
    """Two bare cores, ``near`` (main) and ``far``, joined and allowed by exchanging their
    datagrams in memory; ``record`` is near's record of far, ``back`` far's of near."""

    def __init__(self, auto: int = AutoMode.always.value) -> None:
        # no socket is bound: the addresses only tell the two apart
        self.near = RoadCore(name="near", ha=("127.0.0.1", 7530), main=True, auto=auto)
        self.far = RoadCore(name="far", ha=("127.0.0.1", 7531), auto=AutoMode.always.value)
        self.back = RemoteEstate(stack=self.far, fuid=0, sid=0, ha=self.near.local.ha)
        self.far.addRemote(self.back)

    @property
    def record(self) -> RemoteEstate:
        return next(iter(self.near.remotes.values()))

    def link(self) -> Pair:
        self.far.join(uid=self.back.uid, cascade=True)
        self.pump()
        assert self.record.allowed and self.back.allowed
        return self

    def pump(self, rounds: int = 20) -> None:
        """Exchange datagrams until neither core has any to send."""
        cores = {self.near.local.ha: self.near, self.far.local.ha: self.far}
        for _ in range(rounds):
            out = [(core, sent) for core in cores.values() for sent in core.datagrams_to_send()]
            if not out:
                return
            for core, (data, dest) in out:
                cores[tuple(dest)].receive_datagram(data, core.local.ha, 0.0)
        raise AssertionError("the cores kept talking")

    def far_first(self, start: Callable[[], Any]) -> bytes:
        """The first datagram far sends after ``start()`` (what starts a correspondent)."""
        start()
        return self.far.datagrams_to_send()[0][0]

    def body(self, kind: PcktKind, tk: TrnsKind, bk: int) -> Any:
        """A well-formed body of a ``kind`` packet of transaction kind ``tk`` from far."""
        local = self.far.local
        if tk == TrnsKind.join and kind in (PcktKind.request, PcktKind.response):
            body = dict(name=local.name, mode=0, kind=0, verhex=local.signer.verhex,
                        pubhex=local.priver.pubhex, role=local.role)
            return body | dict(uid=self.back.uid) if kind == PcktKind.response else body
        if bk == BodyKind.raw:
            return os.urandom(64) if kind in (PcktKind.hello, PcktKind.cookie,
                                              PcktKind.initiate) else b""
        if kind == PcktKind.resend:
            return {"misseds": [0]}
        return {"greeting": "hi"} if kind == PcktKind.message else None

    def answer(self, transaction: Transaction, kind: PcktKind) -> bytes:
        """A ``kind`` packet of ``transaction``'s exchange as far sends it: its head mirrored,
        signed with far's key and coated with far's box as that kind's packets are."""
        head = transaction.head
        head = head.copy(pk=kind, cf=not head.cf, se=head.de, de=head.se, wf=True)
        return self.far.pack(head, self.body(kind, head.tk, head.bk), self.back)


def build(pair: Pair, cls: type[Transaction]) -> Transaction:
    """A ``cls`` transaction of near with far, added to its record."""
    near, far, record, back = pair.near, pair.far, pair.record, pair.back
    if cls is Messenger:
        near.transmit({"greeting": "hi"}, uid=record.uid)
        near.datagrams_to_send()
        return near.transactions[0]
    if cls in INITIATORS:
        transaction = cls(near, record, **({"entries": []} if cls is Prober else {}))
        getattr(transaction, STEPS[cls])()
        return transaction
    start = {Joinent: lambda: far.join(uid=back.uid), Allowent: lambda: far.allow(uid=back.uid),
             Alivent: lambda: far.alive(uid=back.uid),
             Messengent: lambda: far.transmit({"greeting": "hi"}, uid=back.uid)}[cls]
    packet = near.parse(pair.far_first(start))
    transaction = cls(near, record, sid=packet.head.si, tid=packet.head.ti, rxPacket=packet,
                      sa=far.local.ha)
    transaction.add()
    return transaction


def force(pair: Pair, transaction: Transaction, state: Any) -> None:
    transaction.state = state  # by hand: the pair of state and packet kind is under test


def via_cookie(pair: Pair, allower: Transaction, state: Any) -> None:
    """Bring an allower to ``initiated`` for real: it needs the short key of far's cookie."""
    for data, _ in pair.near.datagrams_to_send():  # the hello
        pair.far.receive_datagram(data, pair.near.local.ha, 0.0)
    for data, _ in pair.far.datagrams_to_send():  # the cookie
        pair.near.receive_datagram(data, pair.far.local.ha, 0.0)
    assert allower.state is state


REACH = {(Allower, Allower.State.initiated): via_cookie}  # states a handler needs more for


def spy(transaction: Transaction) -> list[str]:
    """Record the name of every table handler ``transaction`` runs (and still run it)."""
    calls: list[str] = []
    names = {name for table in transaction.Transitions.values() for name in table.values()}
    for name in names:
        handler = getattr(transaction, name)

        def recorded(packet: Any, name: str = name, handler: Callable = handler) -> None:
            calls.append(name)
            handler(packet)

        setattr(transaction, name, recorded)
    return calls


CASES = [pytest.param(cls, state, kind, id=f"{cls.__name__}-{state}-{kind.name}")
         for cls in CLASSES for state in cls.State for kind in KINDS]


@pytest.mark.parametrize(("cls", "state", "kind"), CASES)
def test_every_state_and_packet_kind(cls, state, kind):
    pair = Pair().link()
    transaction = build(pair, cls)
    REACH.get((cls, state), force)(pair, transaction, state)
    pair.near.stats.clear()
    pair.near.datagrams_to_send()
    link = repr(pair.record.link)
    calls = spy(transaction)
    data = pair.answer(transaction, kind)
    pair.near.receive_datagram(data, pair.far.local.ha, 0.0)
    stats = pair.near.stats
    assert "rx_exception" not in stats and "invalid_state_move" not in stats, stats
    handler = cls.Transitions.get(state, {}).get(kind)
    if handler is None:
        assert (calls, transaction.state, repr(pair.record.link)) == ([], state, link)
        assert stats.get("unexpected_packet") == 1, stats
        assert not pair.near.datagrams_to_send()
    else:
        assert calls == [handler] and "unexpected_packet" not in stats


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_tables_name_states_and_handlers_of_the_class(cls):
    states = set(cls.State)
    assert {"started", "done"} <= {state.name for state in states}
    assert set(cls.Transitions) <= states and set(cls.Moves) <= states
    assert all(moves <= states for moves in cls.Moves.values())
    assert set(cls.Awaits.values()) <= states and not cls.Transitions.get(cls.State.done)
    for table in cls.Transitions.values():
        assert set(table) <= set(KINDS)
        assert all(callable(getattr(cls, name, None)) for name in table.values())


def test_a_wrong_move_is_counted_and_ends_the_transaction():
    pair = Pair().link()
    joiner = build(pair, Joiner)
    assert joiner.state is Joiner.State.requested and joiner.added
    assert joiner.move(Joiner.State.started) is False
    assert pair.near.stats["invalid_state_move"] == 1
    assert joiner.state is Joiner.State.done and not joiner.added


def test_an_ack_to_a_pending_joinent_does_not_join_the_link():
    """The joiner's ack answers a response: sent while we still await our operator (an
    unsigned packet anyone at its address can send), it must not join the link."""
    pair = Pair(auto=AutoMode.never.value)
    pair.far.join(uid=pair.back.uid)
    pair.pump()
    joinent = pair.near.transactions[0]
    assert joinent.state is Joinent.State.pending and pair.record.joined is not True
    pair.near.receive_datagram(pair.answer(joinent, PcktKind.ack), pair.far.local.ha, 0.0)
    assert pair.record.joined is not True and joinent.added
    assert pair.near.stats["unexpected_packet"] == 1


def test_docs_show_the_state_tables():
    section = DOC_SECTION.search(DOC.read_text())
    assert section is not None, f"no 'Transaction states' section in {DOC}"
    assert section.group(2).strip() == state_tables(CLASSES).strip(), (
        "docs/states.md is out of date: run python -m tests.road.test_states")


def write_docs() -> None:
    """Rewrite the 'Transaction states' section of docs/states.md from the tables."""
    text = DOC.read_text()
    DOC.write_text(DOC_SECTION.sub(lambda m: m.group(1) + "\n" + state_tables(CLASSES), text))


if __name__ == "__main__":
    write_docs()
