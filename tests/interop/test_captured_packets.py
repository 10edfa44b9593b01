"""Packets captured from two live reference stacks parse, verify and decrypt with our codec."""
from __future__ import annotations

from raetflo import nacling
from raetflo.raeting import CoatKind, FootKind, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.stacking import service_stacks

from .conftest import add_remote


def capture(stack, sink):
    """Record every datagram ``stack`` sends, with its source address."""
    send = stack.server.send

    def recording(data, ha):
        sink.append((bytes(data), stack.ha, tuple(ha)))
        return send(data, ha)

    stack.server.send = recording


def test_reference_traffic_parses_verifies_and_decrypts(make_stack):
    alpha = make_stack("raet", "alpha", auto=2)
    beta = make_stack("raet", "beta", main=True, auto=2)
    sent: list = []
    capture(alpha, sent)
    capture(beta, sent)
    remote = add_remote("raet", alpha, beta)
    alpha.join(uid=remote.uid, cascade=True)
    service_stacks([alpha, beta], 2.0)
    alpha.transmit({"subject": "short", "content": "hi"}, uid=remote.uid)
    alpha.transmit({"subject": "a to b", "content": "x" * 2500}, uid=remote.uid)
    service_stacks([alpha, beta], 2.0)
    assert [m[0]["subject"] for m in beta.rxMsgs] == ["short", "a to b"]

    stacks = {alpha.ha: alpha, beta.ha: beta}
    seen_kinds = set()
    segments: dict = {}
    for data, src, dst in sent:
        packet = packeting.parse(data)
        head = packet.head
        sender, receiver = stacks[src], stacks[dst]
        seen_kinds.add((TrnsKind(head.tk), PcktKind(head.pk)))
        assert len(data) <= 1024
        if head.fk == FootKind.nacl:
            packeting.verify(packet, nacling.Verifier(sender.local.signer.verhex))
            tampered = bytearray(data)
            tampered[-1] ^= 0x01  # the signature itself
            bad = packeting.parse(bytes(tampered))
            try:
                packeting.verify(bad, nacling.Verifier(sender.local.signer.verhex))
            except packeting.PacketError as ex:
                assert ex.reason == "bad_signature"
            else:
                raise AssertionError("tampered packet verified")
        # our encoder rebuilds the head byte for byte
        rebuilt = packeting.pack(head.copy(), packet.coat, signer_of(sender))
        assert rebuilt == data
        if head.tk == TrnsKind.message and head.pk == PcktKind.message and head.ck == CoatKind.nacl:
            rec = receiver.remotes[head.de]
            box = nacling.Box(rec.privee.keyraw, rec.publee.keyraw)
            if head.sc == 1:
                body = packeting.decode_body(head.bk, packeting.decrypt(head.ck, packet.coat, box))
                assert body == {"subject": "short", "content": "hi"}
            else:
                segments.setdefault(head.ti, {})[head.sn] = (head, packet.coat)
    assert (TrnsKind.join, PcktKind.request) in seen_kinds
    assert (TrnsKind.allow, PcktKind.initiate) in seen_kinds
    assert (TrnsKind.alive, PcktKind.request) in seen_kinds
    assert (TrnsKind.message, PcktKind.done) in seen_kinds
    (parts,) = segments.values()
    head = parts[0][0]
    coat = b"".join(parts[i][1] for i in range(head.sc))
    assert len(coat) == head.ml
    rec = beta.remotes[head.de]
    box = nacling.Box(rec.privee.keyraw, rec.publee.keyraw)
    body = packeting.decode_body(head.bk, packeting.decrypt(head.ck, coat, box))
    assert body == {"subject": "a to b", "content": "x" * 2500}


def signer_of(stack) -> nacling.Signer:
    """Our signer holding a reference stack's long-term signing key."""
    key = stack.local.signer.keyhex
    return nacling.Signer(key.decode() if isinstance(key, bytes) else key)
