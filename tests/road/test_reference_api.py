"""raet 0.6.8's public names on stacks, estates and transactions, compared with the reference
where it can be called in process."""
from __future__ import annotations

import math
import types

import pytest

from raetflo import raeting
from raetflo.raeting import PcktKind, TrnsKind
from raetflo.road import estating, packeting, transacting
from raetflo.road.aliving import Aliver, Alivent
from raetflo.road.estating import Estate, RemoteEstate

from ..interop import refshim
from .conftest import joined, only, serve

refshim.install()

from raet.road import estating as ref_estating  # noqa: E402
from raet.road import stacking as ref_stacking  # noqa: E402


@pytest.fixture
def ref_stack(ha, tmp_path):
    stack = ref_stacking.RoadStack(name="ref", ha=ha(), dirpath=str(tmp_path / "ref"))
    yield stack
    stack.server.close()


HOSTS = [("", 7540), ("0.0.0.0", 7540), ("::", 7540), ("127.0.0.1", 7540),
         ("localhost", 7540), ("216.58.193.78", 7540), ("2607:f8b0:400a:809::200e", 7540),
         ("::ffff:10.1.2.3", 7540)]


@pytest.mark.parametrize("addr", HOSTS)
def test_estate_addresses_normalized_as_raet_does(road, ref_stack, addr):
    ours = Estate(road("alpha"), ha=addr, iha=addr)
    theirs = ref_estating.Estate(ref_stack, ha=addr, iha=addr)
    assert (ours.ha, ours.iha) == (theirs.ha, theirs.iha)
    assert ours.normalizeHost(addr[0]) == theirs.normalizeHost(addr[0])


def test_unresolvable_host_is_an_estate_error(road):
    with pytest.raises(estating.EstateError):
        Estate(road("alpha"), ha=("no-such-host.invalid", 7540))


def test_estate_helpers_match_raet(road, ref_stack):
    stack = road("alpha")
    ours, theirs = Estate(stack, sid=5), ref_estating.Estate(ref_stack, sid=5)
    for sid in (0, 4, 5, 6, 5 + 2**31, 2**32 - 1):
        assert ours.validSid(sid) is theirs.validSid(sid)
    assert Estate.validateSid(1, 2**32 - 1) is ref_estating.Estate.validateSid(1, 2**32 - 1)
    assert Estate.nameGuid("yard").startswith("yard_") and len(Estate.nameGuid()) == 39


def test_add_and_create_remote_return_the_remote(road, ref_stack):
    stack = road("alpha")
    remote = RemoteEstate(stack, ha=("127.0.0.1", 7541))
    assert stack.addRemote(remote) is remote
    ref_remote = ref_estating.RemoteEstate(ref_stack, ha=("127.0.0.1", 7541))
    assert ref_stack.addRemote(ref_remote) is ref_remote
    created = stack.createRemote(("127.0.0.1", 7542))
    assert created is stack.remotes[created.uid] and (created.fuid, created.sid) == (0, 0)
    assert stack.createRemote(None) is None and stack.stats["failed_createremote"] == 1


def test_move_remote_keeps_order_and_refuses_clashes(road):
    stack = road("alpha")
    first, second = (stack.addRemote(RemoteEstate(stack, ha=("127.0.0.1", port)))
                     for port in (7541, 7542))
    stack.moveRemote(first, 10)
    assert list(stack.remotes.items()) == [(10, first), (second.uid, second)]
    assert first.uid == 10
    with pytest.raises(raeting.StackError if hasattr(raeting, "StackError") else Exception):
        stack.moveRemote(second, stack.local.uid)


def test_transacting_exports_every_transaction_class():
    for name in ("Joiner", "Joinent", "Allower", "Allowent", "Aliver", "Alivent",
                 "Messenger", "Messengent", "Staler", "Stalent", "Transaction"):
        assert isinstance(getattr(transacting, name), type), name
    assert transacting.Aliver is Aliver
    with pytest.raises(AttributeError):
        transacting.Nothing  # noqa: B018


def test_class_level_redo_timers_are_honoured(road, monkeypatch):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    remote = joined(main, other, cascade=True)
    monkeypatch.setattr(Aliver, "RedoTimeoutMin", 0.75)
    monkeypatch.setattr(Aliver, "RedoTimeoutMax", 1.5)
    aliver = Aliver(other, remote)
    assert (aliver.redoTimeoutMin, aliver.redoTimer.duration) == (0.75, 0.75)
    aliver.redoTimer.restart(duration=1.0)
    aliver.backoff()
    assert aliver.redoTimer.duration == 1.5
    given = Aliver(other, remote, redoTimeoutMin=0.1, redoTimeoutMax=0.2)
    assert (given.redoTimeoutMin, given.redoTimeoutMax) == (0.1, 0.2)


def test_tx_data_kinds_used_but_alive_stays_signed(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    remote = joined(main, other, cascade=True)
    aliver = Aliver(other, remote, txData=dict(hk=1, bk=3, fk=0))
    assert (aliver.head.hk, aliver.head.bk, aliver.head.fk) == (1, 3, 1)
    with pytest.raises(TypeError):
        Aliver(other, remote, txdata={})


def raet_style(data: bytes, sa) -> types.SimpleNamespace:
    """What code written for raet hands a transaction: parsed bytes and fields with source."""
    head = packeting.parse(data, veritive=False).head
    return types.SimpleNamespace(packed=data, data=dict(sh=sa[0], sp=sa[1], si=head.si,
                                                        ti=head.ti, bf=head.bf))


def first_request(main, other):
    """Let ``main`` send an alive to ``other``; return it as raet code sees it."""
    main.alive()
    main.serviceAllTx()
    other.serviceReceives()
    data, sa = other.rxes.popleft()
    return raet_style(data, sa)


def test_alivent_made_by_hand_from_a_raet_packet(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    packet = first_request(main, other)
    alivent = transacting.Alivent(stack=other, remote=only(other), bcst=packet.data["bf"],
                                  sid=packet.data["si"], tid=packet.data["ti"],
                                  txData=dict(hk=other.Hk, bk=other.Bk), rxPacket=packet)
    assert alivent.sa == main.ha
    alivent.receive(packet)
    serve([main, other], 1.0)
    assert only(main).alived is True and not main.transactions
    assert main.stats["alive_complete"] == 1


def test_alivent_timeout_nacks(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    packet = first_request(main, other)
    alivent = Alivent(other, only(other), sid=packet.data["si"], tid=packet.data["ti"],
                      rxPacket=packet)
    assert alivent.timeout == 10.0
    other.store.advanceStamp(alivent.timeout)
    alivent.process()
    assert other.stats["alivent_transaction_failure"] == 1
    serve([main, other], 1.0)
    assert main.stats["aliver_transaction_failure"] == 1 and not main.transactions


def test_nack_of_no_refusal_kind_sends_nothing(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    packet = first_request(main, other)
    alivent = Alivent(other, only(other), sid=packet.data["si"], tid=packet.data["ti"],
                      rxPacket=packet)
    alivent.nack(kind=PcktKind.unknown.value)
    assert not other.txes
    assert other.stats["invalid_nack_kind"] == 1
    assert other.stats["alivent_transaction_failure"] == 1


def test_stack_stale_and_reply_stale_take_raet_packets(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    packet = first_request(main, other)
    other.replyStale(packet, only(other), renew=True)
    pk = packeting.parse(other.txes[-1][0], veritive=False).head.pk
    assert pk == PcktKind.renew and other.stats["stale_initiator_nack"] == 1


def test_lowering_the_send_limit_does_not_refuse_received_packets(road, monkeypatch):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    main.alive()
    main.serviceAllTx()
    monkeypatch.setattr(raeting, "UDP_MAX_PACKET_SIZE", 10)
    other.serviceAll()  # the request is taken; the ack cannot be built
    assert "parsing_outer_error" not in other.stats and other.stats["packing_error"] == 1


def test_repeat_in_flight_gets_no_second_done(road):
    main, other = road("main", main=True, auto=2), road("other", auto=2)
    joined(main, other, cascade=True)
    sent = []
    other.transmit({"n": 1}, only(other).uid)
    other.serviceTxMsgs()
    sent.extend(other.txes)
    other.serviceTxes()
    main.serviceAll()
    assert len(main.rxMsgs) == 1
    dones = lambda: [d for d, _ in main.txes  # noqa: E731
                     if packeting.parse(d, veritive=False).head.pk == PcktKind.done]
    main.txes.clear()
    main.rxes.append((sent[0][0], other.ha))  # a copy already in flight: no done again
    main.serviceRxes()
    assert dones() == [] and main.stats["duplicate_message"] == 1
    main.store.advanceStamp(RemoteEstate.RepeatDoneQuiet + 0.05)
    main.rxes.append((sent[0][0], other.ha))  # a later repeat: the done was lost
    main.serviceRxes()
    assert len(dones()) == 1 and len(main.rxMsgs) == 1, {k: v for k, v in main.stats.items() if v}
    assert packeting.parse(sent[0][0], veritive=False).head.tk == TrnsKind.message


def test_a_record_made_for_another_stack_moves_to_the_one_it_is_added_to(road):
    alpha, beta = road("alpha"), road("beta")
    remote = alpha.addRemote(RemoteEstate(stack=beta, ha=beta.ha, name="b"))
    assert remote.stack is alpha and alpha.nameRemotes["b"] is remote
    assert remote.timer.clock is alpha and remote.reapTimer.clock is alpha


def test_transmit_with_no_remote_is_counted_not_raised(road):
    alone = road("alone")
    alone.transmit({"x": 1})
    assert not alone.txMsgs
    assert alone.stats["invalid_destination"] == 1 and alone.stats["message_dropped"] == 1


def test_remotes_may_be_removed_while_iterating(road):
    main = road("main")
    for n in range(3):
        main.addRemote(RemoteEstate(stack=main, ha=("127.0.0.1", 7000 + n), name=f"r{n}"))
    for uid in main.remotes:
        main.removeRemote(main.remotes[uid])
    assert not main.remotes


def test_ha_and_nuid_may_be_set_as_in_raet(road, ref_stack):
    stack = road("alpha")
    stack.ha = ("127.0.0.1", 7777)
    assert stack.ha == stack.aha == ("127.0.0.1", 7777)
    remote = stack.addRemote(RemoteEstate(stack=stack, ha=("127.0.0.1", 7000)))
    remote.nuid = 99
    assert remote.uid == remote.nuid == 99
    ref_stack.ha = ("127.0.0.1", 7777)
    assert ref_stack.ha == ref_stack.aha


def test_server_from_local_reopens_at_a_new_address(road, ha):
    stack = road("beta")
    stack.server.close()
    stack.ha = ha()
    stack.server = stack.serverFromLocal()
    assert not stack.server.opened
    assert stack.server.reopen() is True
    assert stack.server.ha == stack.ha
    assert stack.server.bs == stack.server.bufsize  # (ioflo's names)
    assert stack.server.ss is stack.server.sock and stack.server.ss is not None


def test_transactions_counted_by_kind_however_they_are_changed(road):
    from raetflo.raeting import TrnsKind
    from raetflo.road.estating import Transactions

    class T:
        def __init__(self, kind):
            self.kind = kind

    table = Transactions()
    table["a"], table["b"] = T(TrnsKind.allow), T(TrnsKind.message)
    table.update(c=T(TrnsKind.message))
    table["a"] = T(TrnsKind.join)  # replaced
    assert (table.of_kind(TrnsKind.allow), table.of_kind(TrnsKind.join),
            table.of_kind(TrnsKind.message)) == (0, 1, 2)
    del table["b"]
    table.pop("c")
    table.pop("missing", None)
    assert table.of_kind(TrnsKind.message) == 0 and table.of_kind(TrnsKind.join) == 1
    table.clear()
    assert table.of_kind(TrnsKind.join) == 0 and not table


def test_tx_queues_a_raw_datagram_for_a_remote_by_uid(road):
    """raet's ``tx(packed, duid)``: the datagram goes to the address of remote ``duid``."""
    from raetflo.road.stacking import StackError
    main = road("main", main=True)
    other = road("other")
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.tx(b"payload", remote.uid)
    assert list(other.txes) == [(b"payload", main.ha)]
    other.serviceTxes()
    assert not other.txes and not other.stats.get("tx_exception")
    with pytest.raises(StackError, match="Invalid destination remote id '99'"):
        other.tx(b"payload", 99)


def test_an_idle_or_closed_server_receives_an_empty_pair(road, tmp_path):
    """raet's servers always give a pair: ``(b'', None)`` when nothing is waiting."""
    from raetflo.lane.transport import UxdServer
    from raetflo.road.transport import UdpServer
    udp = UdpServer(("127.0.0.1", 0))
    uxd = UxdServer(str(tmp_path / "yard.uxd"))
    for server in (udp, uxd):
        data, sa = server.receive()
        assert (data, sa) == (b"", None)
        server.close()
        assert server.receive() == (b"", None)


def test_a_subclass_processrx_gets_raet_s_rx_packets(ha, tmp_path):
    """raet code overriding ``processRx(self, packet)`` is handed each received packet as
    raet hands it: an ``RxPacket`` with its head parsed, its signature checked and its
    source in ``sh``/``sp``; calling raet's ``processRx`` goes on as usual."""
    from raetflo.road.stacking import RoadStack
    seen: list[tuple[str, int, int, tuple]] = []

    class Traced(RoadStack):
        def processRx(self, packet):
            seen.append((type(packet).__name__, packet.data["tk"], packet.data["pk"],
                         (packet.data["sh"], packet.data["sp"])))
            return super().processRx(packet)

    main = Traced(name="main", main=True, ha=ha(), auto=raeting.AutoMode.always.value,
                  dirpath=str(tmp_path / "main"))
    other = RoadStack(name="other", ha=ha(), auto=raeting.AutoMode.always.value,
                      dirpath=str(tmp_path / "other"))
    try:
        remote = joined(main, other, cascade=True)
        other.transmit({"to": "main"}, remote.uid)
        serve([main, other], 2.0, until=lambda: len(main.rxMsgs) == 1)
        assert [body for body, _ in main.rxMsgs] == [{"to": "main"}]
        kinds = {(tk, pk) for _, tk, pk, _ in seen}
        assert {(TrnsKind.join, PcktKind.request), (TrnsKind.allow, PcktKind.hello),
                (TrnsKind.message, PcktKind.message)} <= kinds
        assert {name for name, *_ in seen} == {"RxPacket"}
        assert {source for *_, source in seen} == {other.ha}
        count = len(seen)
        main.clearStats()
        main.rxes.append((b"RAET garbage", other.ha))
        main.serviceRxes()  # dropped and counted before the override sees it
        assert len(seen) == count
        assert main.stats["parsing_outer_error"] == 1
    finally:
        main.server.close()
        other.server.close()


def test_overrides_of_record_manage_process_and_dump_remote_are_called_as_raet_does(
        ha, tmp_path):
    """raet calls each record's ``manage`` at every ``stack.manage()`` and its ``process``
    at every pass, and persists records through ``stack.dumpRemote``: raet code overriding
    them (its records made by an overridden ``newRemote``) sees those calls."""
    from raetflo.road.stacking import RoadStack
    calls: list[tuple] = []

    class Counted(RemoteEstate):
        def manage(self, cascade=False, immediate=False):
            calls.append(("manage", self.name, cascade, immediate))
            super().manage(cascade=cascade, immediate=immediate)

        def process(self):
            calls.append(("process", self.name))
            super().process()

    class Main(RoadStack):
        def newRemote(self, **kwa):
            return Counted(stack=self, **kwa)

        def dumpRemote(self, remote):
            calls.append(("dumpRemote", remote.name))
            super().dumpRemote(remote)

    main = Main(name="main", main=True, ha=ha(), auto=raeting.AutoMode.always.value,
                dirpath=str(tmp_path / "main"))
    other = RoadStack(name="other", ha=ha(), auto=raeting.AutoMode.always.value,
                      dirpath=str(tmp_path / "other"))
    try:
        joined(main, other, cascade=True)
        assert isinstance(only(main), Counted)
        assert ("dumpRemote", "other") in calls
        assert ("process", "other") in calls
        calls.clear()
        main.manage(cascade=True)
        main.manage()  # nothing due: raet calls it all the same
        assert [c for c in calls if c[0] == "manage"] == [("manage", "other", True, False),
                                                          ("manage", "other", False, False)]
        main.removeRemote(only(main))
        calls.clear()
        main.manage()
        main.serviceAll()
        assert calls == []
    finally:
        main.server.close()
        other.server.close()


def test_saved_messages_are_a_deque_as_raet_s(road):
    """``remote.messages`` takes raet's deque calls; what it holds keeps its deadlines."""
    from raetflo.road.delivery import Outgoing, SavedMessages
    saved = SavedMessages()
    first, second, third = (Outgoing.new({"n": n}, 5.0 if n == 2 else None, 0.0)
                            for n in range(3))
    saved.extend([second, third])
    saved.appendleft(first)
    assert [entry.body["n"] for entry in saved] == [0, 1, 2] and len(saved) == 3
    assert saved.next_deadline == 5.0
    assert saved.popleft() is first
    saved.clear()
    assert len(saved) == 0 and list(saved) == [] and saved.next_deadline == math.inf
    saved.appendleft(first)
    assert list(saved) == [first]
