"""raet's join steps called by hand (``transmit``, ``add(index=...)``, ``ackAccept``,
``ackPend``), the head kinds of ``txData`` as they are when a packet is sent, and join
failures that must end as transaction failures, never as errors of the stack."""
from __future__ import annotations

from ioflo.aid.odicting import odict

from raetflo.raeting import PcktKind
from raetflo.road import packeting, trays
from raetflo.road.joining import Joiner, Joinent
from raetflo.road.stacking import RoadStack

from .conftest import ALWAYS, Wire, joined, only, serve, stat


def pair(road) -> tuple[RoadStack, RoadStack]:
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other)
    main.clearStats()
    other.clearStats()
    return main, other


def test_tx_data_holds_the_head_fields_and_its_coat_kind_applies_when_sent(road):
    main, other = pair(road)
    remote = only(other)
    data = odict(hk=other.Hk, bk=other.Bk)
    joiner = Joiner(other, remote, txData=data)
    assert joiner.txData is data
    assert (data["se"], data["de"], data["si"], data["ti"]) == (
        remote.uid, remote.fuid, 0, joiner.tid)
    assert (data["ck"], data["fk"], (data["dh"], data["dp"])) == (0, 0, remote.ha)
    data["ck"] = -1  # a coat kind no one can open: sent with an empty coat
    wire = Wire(other)
    joiner.join()
    serve([other], 0.1)
    serve([main], 0.1)
    assert [(s.pk, s.head.ck) for s in wire.sent()] == [(PcktKind.request, -1)]
    assert stat(main, "parsing_inner_error") == 1 and not main.transactions
    assert only(main).joined is True and "rx_exception" not in main.stats


def test_a_raet_packet_transmitted_by_hand_is_the_one_redone(road):
    main, other = pair(road)
    joiner = Joiner(other, only(other), txData=odict(hk=other.Hk, bk=other.Bk))
    packet = trays.TxPacket(stack=other, kind=PcktKind.request.value, embody=joiner.body(),
                            data=joiner.txData)
    packet.pack()
    joiner.transmit(packet)
    joiner.add(index=joiner.txPacket.index)
    assert joiner.index == packet.index and other.transactions == [joiner]
    other.txes.clear()  # lost: the redo timer sends it again
    serve([main, other], 2.0)
    assert stat(other, "joiner_tx_join_redo") >= 1
    assert stat(other, "join_initiate_complete") == 1 and not other.transactions


def rx_request(main: RoadStack, other: RoadStack) -> trays.RxPacket:
    """``other``'s join request as ``main`` receives it, parsed as raet code does."""
    other.join()
    serve([other], 0.1)
    main.serviceReceives()
    raw, (sh, sp) = main.rxes.popleft()
    packet = trays.RxPacket(stack=main, packed=raw)
    packet.parseOuter()
    packet.data.update(sh=sh, sp=sp)
    return packet


def joinent_by_hand(main: RoadStack, packet: trays.RxPacket) -> Joinent:
    return Joinent(stack=main, remote=main.remotes[packet.data["de"]], sid=packet.data["si"],
                   tid=packet.data["ti"], txData=odict(hk=main.Hk, bk=main.Bk),
                   rxPacket=packet)


def test_ack_accept_by_hand_answers_the_joiner(road):
    main, other = pair(road)
    joinent = joinent_by_hand(main, rx_request(main, other))
    joinent.ackAccept()
    serve([main], 0.1)
    serve([other], 0.1)
    assert stat(other, "join_initiate_complete") == 1 and only(other).joined is True


def test_ack_pend_by_hand_pends_the_joiner_and_a_bad_coat_is_an_inner_error(road):
    main, other = pair(road)
    joinent = joinent_by_hand(main, rx_request(main, other))
    joinent.ackPend()
    serve([main], 0.1)
    serve([other], 0.1)
    assert stat(other, "joiner_rx_pend") == 1 and other.transactions[0].pended
    joinent.txData["ck"] = -1
    joinent.ackPend()
    serve([main], 0.1)
    serve([other], 0.1)
    assert stat(other, "joiner_rx_pend") == 2 and stat(other, "parsing_inner_error") == 1


def test_refusal_whose_body_does_not_decode_is_dropped(road):
    main, other = pair(road)
    joinent = joinent_by_hand(main, rx_request(main, other))
    joinent.txData["ck"] = -1
    joinent.nack(kind=PcktKind.refuse.value)
    serve([main], 0.1)
    serve([other], 0.1)
    assert stat(other, "joiner_rx_refuse") == 1 and stat(other, "parsing_inner_error") == 1
    assert "joiner_transaction_failure" not in other.stats and other.transactions


def test_failed_rename_ends_the_join_as_a_failure(road):
    main, other = pair(road)
    main.mutable = True
    # the record is indexed under another name, so renaming it fails
    main.nameRemotes["stray"] = main.nameRemotes.pop("other")
    other.local.name = "renamed"
    other.join()
    serve([main, other], 1.0)
    assert stat(main, "joinent_transaction_failure") == 1
    assert "rx_exception" not in main.stats and not main.transactions


def test_raet_handler_names_act_on_the_last_packet_without_counting_it(road):
    main, other = pair(road)
    joinent = joinent_by_hand(main, rx_request(main, other))
    joinent.nack(kind=PcktKind.refuse.value)
    joiner = other.transactions[0]
    joiner.rxPacket = packeting.parse(main.txes.popleft()[0], veritive=False)
    joiner.refuse()
    assert stat(other, "joiner_transaction_failure") == 1 and not other.transactions
    assert "joiner_rx_refuse" not in other.stats


def test_a_joinent_whose_record_cannot_be_added_fails_without_raising(road):
    """A record that is not ours under its uid but whose name is taken (raet's own tests
    make one by changing a record's uid): the joinent counts a failure, logs it and ends;
    nothing escapes the service loop."""
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other)
    other.join(uid=only(other).uid)
    other.serviceAll()
    main.serviceReceives()
    data, sa = main.rxes.popleft()
    packet = main.parse(data)
    record = only(main)
    record.uid += 1  # no longer found by uid; re-adding it meets its own name
    main.correspond(packet, record)
    main.process()
    assert stat(main, "joinent_transaction_failure") == 1
    assert not main.transactions and main.remotes[record.uid - 1] is record
