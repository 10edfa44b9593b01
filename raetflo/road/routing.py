"""Routing of received road packets to transactions, and stale replies.

Given a parsed and verified packet and its source address, find the remote record and
the transaction it belongs to, start a correspondent for a first packet, or answer a
stale packet with a nack (or renew). Pure protocol logic: no sockets, no files.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..raeting import NACK_KINDS, STARTERS, BodyKind, FootKind, PcktKind, TrnsKind
from . import moving, outbox
from .allowing import Allowent
from .aliving import Alivent
from .joining import Joinent
from .messaging import Messengent
from .packeting import Head, Packet, PacketError
from .transacting import packet_index

if TYPE_CHECKING:
    from .estating import Address, RemoteEstate
    from .core import RoadCore


def route(stack: RoadCore, packet: Packet, sa: Address) -> None:
    """Hand ``packet`` to its transaction or start / refuse one."""
    head = packet.head
    if head.bf:  # (raet neither sends nor takes broadcasts)
        drop(stack, "rx_broadcast", f"Broadcast packet from {sa} unsupported")
        return
    if head.tk == TrnsKind.join:
        remote = join_remote(stack, packet, sa)
    else:
        remote = session_remote(stack, packet, sa)
    if remote is None:
        return
    transaction = remote.transactions.get(packet_index(head, sa))
    if transaction is not None:
        if head.tk == TrnsKind.join and tuple(sa) != tuple(transaction.sa):
            # join packets are unsigned: only the address the join talks to may answer it
            drop(stack, "join_wrong_source",
                 f"Join packet {PcktKind(head.pk).name} from {sa}, expected {transaction.sa}")
            return
        transaction.receive(packet, sa)
        return
    if head.cf:
        stale_correspondent(stack, packet, sa, remote)
        return
    if (head.tk, head.pk) not in STARTERS:
        stack.incStat("stale_packet")
        return
    correspond(stack, packet, sa, remote)


def join_remote(stack: RoadCore, packet: Packet, sa: Address) -> RemoteEstate | None:
    """Record a join packet belongs to; a provisional one for a first vacuous request."""
    head = packet.head
    if head.si != 0:
        drop(stack, "join_invalid_sid", f"Nonzero join sid '{head.si}' in packet from {sa}")
        return None
    if head.cf:  # we are the joiner
        if head.de == 0:
            drop(stack, "join_invalid_nuid", f"Invalid join correspondence from '{sa}', nuid zero")
            return None
        if head.se == 0:
            remote = stack.joinees.get(sa)
            if remote is not None:
                if remote.uid != head.de:
                    drop(stack, "join_mismatch_nuid",
                         f"Mismatched nuid '{head.de}' in join correspondence from '{sa}'")
                    return None
                return remote
            # a finished vacuous join: found by uid, so a repeated response is nacked
        remote = stack.remotes.get(head.de)
        if remote is None:
            unknown_correspondent(stack, packet)
        return remote
    if head.se == 0:
        drop(stack, "join_invalid_fuid", f"Invalid join initiatance from '{sa}', fuid zero")
        return None
    if head.de == 0:
        remote = stack.joinees.get(sa)
        if remote is not None and remote.fuid and remote.fuid != head.se \
                and not remote.joinInProcess():
            del stack.joinees[sa]
            remote = None
        if remote is None:
            if head.pk != PcktKind.request:
                drop(stack, "join_stale",
                     f"Stale join initiatance from '{sa}', Not a request and no remote")
                return None
            remote = stack.provisional(sa)
        return remote
    remote = stack.remotes.get(head.de)
    if remote is None:
        stack.incStat("stale_nuid")
        stack.console.terse(f"Stack '{stack.name}'. Stale nuid '{head.de}' in packet from {sa}. "
                            "Renewing....\n")
        if head.pk not in NACK_KINDS:
            stack.nextUid()  # the reference spends a uid on a throw-away record here
            stack.incStat("stale_initiator_attempt")
            reply_stale(stack, packet, sa, PcktKind.renew)
    return remote


def session_remote(stack: RoadCore, packet: Packet, sa: Address) -> RemoteEstate | None:
    """Record of a non-join packet after the source and session id checks.

    Its signature has been verified already (packets of these kinds are signed), so what
    reaches here was sent by the peer at some time; the source address and the session id
    keep a replay from elsewhere or from an older session from changing anything."""
    head = packet.head
    if head.si == 0 or head.se == 0 or head.de == 0:
        drop(stack, "invalid_sid",
             f"Invalid zero id for transaction {head.tk} packet {head.pk} from {sa}")
        return None
    remote = stack.remotes.get(head.de)
    if remote is None:
        if head.cf:
            unknown_correspondent(stack, packet)
        else:
            drop(stack, "unknown_destination_uid", f"Unknown remote destination '{head.de}'")
        return None
    # a signed packet replayed from elsewhere (the usual match needs no tuples made)
    if sa != remote.ha and tuple(sa) != tuple(remote.ha) and (
            remote.former is None or not moving.move_back(stack, remote, packet, sa)):
        drop(stack, "wrong_source", f"Packet for remote '{remote.name}' at {remote.ha} came "
                                    f"from {sa}")
        return None
    if not head.cf:
        if not remote.validRsid(head.si):
            stack.incStat("stale_sid")
            stack.console.terse(f"Stack '{stack.name}'. Invalid nonjoin from '{remote.name}'. "
                                f"Invalid sid {head.si} in packet given prior sid {remote.rsid}\n")
            if head.pk not in NACK_KINDS:
                stack.incStat("stale_initiator_attempt")
                reply_stale(stack, packet, sa, PcktKind.nack)
            return None
        if head.si != remote.rsid and head.pk not in NACK_KINDS:  # refusals open no session
            remote.rsid = head.si
            remote.removeStaleCorrespondents()
            remote.peer_session_changed(head.ti)
        remote.peer_tid_seen(head.ti)
    if remote.reaped:
        remote.unreap()
    return remote


def correspond(stack: RoadCore, packet: Packet, sa: Address, remote: RemoteEstate) -> None:
    """Start the correspondent a first packet asks for."""
    head = packet.head
    kwa: dict[str, Any] = dict(sid=head.si, tid=head.ti, rxPacket=packet, sa=sa)
    if head.tk == TrnsKind.join:
        joinent = Joinent(stack, remote, **kwa)
        joinent.join()
        stack.forget_provisional(sa, joinent.remote)
    elif head.tk == TrnsKind.allow:
        Allowent(stack, remote, **kwa).hello()
    elif head.tk == TrnsKind.alive:
        Alivent(stack, remote, **kwa).alive()
    else:
        correspond_message(stack, packet, sa, remote)


def correspond_message(stack: RoadCore, packet: Packet, sa: Address,
                       remote: RemoteEstate) -> None:
    """Start a messengent; answer a repeat of a delivered message with done; nack an
    unknown old tid, an ``af`` retransmission of an unknown one or an unallowed link."""
    head = packet.head
    if head.ti in remote.delivered:
        stack.incStat("duplicate_message")
        if not remote.repeat_in_flight(head.ti):
            reply_stale(stack, packet, sa, PcktKind.done)
        return
    if remote.delivered.stale(head.ti):
        stack.incStat("message_stale_tid")
        stack.console.terse(f"Stack '{stack.name}': tid {head.ti} of {remote.name} is below "
                            f"the remembered window, nacking\n")
        reply_stale(stack, packet, sa, PcktKind.nack)
        return
    if head.af:
        stack.incStat("stale_initiator_attempt")
        reply_stale(stack, packet, sa, PcktKind.nack)
        return
    if not remote.allowed:
        stack.incStat("unallowed_message_attempt")
        reply_stale(stack, packet, sa, PcktKind.nack)
        return
    Messengent(stack, remote, sid=head.si, tid=head.ti, rxPacket=packet, sa=sa).start()


def unknown_correspondent(stack: RoadCore, packet: Packet) -> None:
    """A correspondent's packet for a remote we do not know: there is nothing to nack with."""
    if packet.head.pk in NACK_KINDS:
        stale_refusal(stack, packet)
        return
    stack.incStat("invalid_remote_eid")
    stack.console.terse(f"Stack '{stack.name}'. Unknown remote id '{packet.head.de}', "
                        "fail to nack stale\n")


def stale_correspondent(stack: RoadCore, packet: Packet, sa: Address,
                        remote: RemoteEstate) -> None:
    """A correspondent's packet for a transaction we no longer have: nack it."""
    head = packet.head
    if head.pk in NACK_KINDS:
        stale_refusal(stack, packet)
        return
    if (head.tk == TrnsKind.message and head.pk == PcktKind.done
            and outbox.confirmed_late(stack, remote, head.ti, head.si)):
        stack.incStat("message_confirmed_late")
    stack.incStat("stale_correspondent_attempt")
    stack.console.terse(f"Staler '{stack.name}'. Stale transaction '{head.tk}' packet "
                        f"'{head.pk}' from '{sa}' in {head.ti} nacking...\n")
    if reply_stale(stack, packet, sa, PcktKind.nack):
        stack.incStat("stale_correspondent_nack")


def stale_refusal(stack: RoadCore, packet: Packet) -> None:
    """A refusal (nack, renew, ...) of a transaction we do not have: nothing to answer."""
    head = packet.head
    drop(stack, "stale_refusal", f"Refusal {PcktKind(head.pk).name} of no "
                                 f"{TrnsKind(head.tk).name} transaction {head.ti}")


def reply_stale(stack: RoadCore, packet: Packet, sa: Address, pk: PcktKind) -> bool:
    """Answer ``packet`` with an empty ``pk`` packet mirrored from its head (signed unless
    it answers a join: every other kind of packet we send is signed)."""
    rx = packet.head
    fk = rx.fk if rx.tk == TrnsKind.join else FootKind.nacl
    head = Head(hk=stack.Hk, pk=pk, tk=rx.tk, cf=not rx.cf, se=rx.de, de=rx.se, si=rx.si,
                ti=rx.ti, bk=BodyKind.json, ck=rx.ck, fk=fk)
    try:
        packed = stack.pack(head, None, None)
    except PacketError as ex:
        stack.console.terse(f"{ex}\n")
        stack.incStat("packing_error")
        return False
    stack.tx_to(packed, sa)
    if not rx.cf and pk in NACK_KINDS:
        stack.incStat("stale_initiator_nack")
    return True


def drop(stack: RoadCore, stat: str, why: str) -> None:
    stack.incStat(stat)
    stack.console.terse(f"Stack '{stack.name}'. {why}. Dropping...\n")
