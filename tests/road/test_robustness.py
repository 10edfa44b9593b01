"""Bad datagrams are dropped and counted; they never raise out of serviceAll."""
from __future__ import annotations

import random
import socket

import pytest

from raetflo import nacling
from raetflo.raeting import AutoMode, BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.estating import RemoteEstate
from raetflo.road.packeting import Head
from raetflo.road.stacking import RoadStack, service_stacks

from ..taps import Tap


@pytest.fixture
def pair(tmp_path, ha):
    main = RoadStack(name="main", ha=ha(), main=True, auto=AutoMode.always.value,
                     dirpath=str(tmp_path / "main"))
    other = RoadStack(name="other", ha=ha(), auto=AutoMode.always.value,
                      dirpath=str(tmp_path / "other"))
    other.addRemote(RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha))
    yield main, other
    main.server.close()
    other.server.close()


def blast(stack, datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        for data in datagrams:
            sock.sendto(data, stack.ha)


def signed(signer, **fields) -> bytes:
    head = Head(bk=BodyKind.json, ck=CoatKind.nada, fk=FootKind.nacl, **fields)
    return packeting.pack(head, b"", signer)


def join_request() -> bytes:
    return packeting.pack(Head(pk=PcktKind.request, tk=TrnsKind.join, se=9, bk=BodyKind.json),
                          b'{"name":"x"}')


CASES = {
    "garbage": (b"\x00\xffnot a packet at all", "rx_garbage"),
    "empty": (b"", "rx_garbage"),
    "truncated": (join_request()[:40], None),
    "cut body": (join_request()[:-3], "rx_truncated"),
    "oversized": (join_request() + b"x" * 3000, None),
    "bad length": (join_request().replace(b"pl 00", b"pl 01", 1), "rx_truncated"),
    "wrong version": (b"ri RAET\npl 0020\nhl 20\nfg 00\nvn 1\n\n", None),
    "bl key": (b"ri RAET\npl 0020\nhl 20\nfg 00\nbl 1\n\n", "rx_bad_head"),
    "no space": (b"ri RAET\npl 001e\nhl 1e\nfg 00\npk\n\n", "rx_bad_head"),
    "sn over sc": (b"ri RAET\npl 0026\nhl 26\nfg 00\nsn 5\nsc 2\n\n", "rx_bad_head"),
    "json garbage": (b'{"ri":"RAET",\x80\r\n\r\n', None),
    "unsigned message": (packeting.pack(Head(se=2, de=2, si=1, ti=1, bk=BodyKind.json), b"{}"),
                         "rx_missing_signature"),
}


def test_bad_datagrams_are_counted_and_dropped(pair):
    main, other = pair
    forger = nacling.Signer()
    cases = dict(CASES)
    cases["bad signature"] = (signed(forger, pk=PcktKind.request, tk=TrnsKind.alive,
                                     se=2, de=2, si=1, ti=1), None)
    cases["zero ids"] = (signed(main.local.signer, pk=PcktKind.request,
                                tk=TrnsKind.alive, si=1, ti=1), None)
    before = 0
    for name, (data, stat) in cases.items():
        blast(main, [data])
        main.serviceAll()  # must not raise
        dropped = sum(v for k, v in main.stats.items() if k != "rx_exception")
        assert dropped > before, f"{name} was not counted: {dict(main.stats)}"
        before = dropped
        if stat:
            assert main.stats.get(stat, 0) >= 1, (name, dict(main.stats))
    assert main.stats["parsing_outer_error"] >= 10
    assert main.stats.get("rx_exception", 0) == 0

    # the stack still works
    other.join(uid=other.remotes.values()[0].uid, cascade=True)
    service_stacks([main, other], 2.0)
    assert main.remotes.values()[0].allowed is True
    assert other.remotes.values()[0].allowed is True


def test_fuzzed_datagrams_during_handshake(pair):
    """Random mutations of real traffic, injected while a handshake runs."""
    main, other = pair
    rng = random.Random(1234)
    seen = Tap(other).sent
    other.join(uid=other.remotes.values()[0].uid, cascade=True)
    for _ in range(30):
        main.serviceAll()
        other.serviceAll()
        junk = []
        for data, _ in seen[-4:]:
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            junk.append(bytes(mutated[: rng.randint(1, len(mutated))]))
            junk.append(bytes(mutated))
        blast(main, junk)
        main.store.advanceStamp(0.1)
        other.store.advanceStamp(0.1)
    assert main.stats.get("rx_exception", 0) == 0
    assert main.stats.get("parsing_outer_error", 0) > 0
    assert main.remotes.values()[0].allowed is True
    assert other.remotes.values()[0].allowed is True


def test_packets_dropped_for_want_of_a_transaction_or_a_feature_are_counted(pair):
    """A broadcast, and a refusal matching no transaction, are dropped: counted, not silent."""
    main, other = pair
    other.join(uid=other.remotes.values()[0].uid, cascade=True)
    service_stacks([main, other], 2.0)
    peer = other.remotes.values()[0]  # other's record of main
    assert peer.allowed is True
    cases = [
        ("broadcast join request", main, other.ha,
         packeting.pack(Head(pk=PcktKind.request, tk=TrnsKind.join, se=9, bk=BodyKind.json,
                             bf=True), b'{"name":"x"}'), "rx_broadcast"),
        ("broadcast signed alive", other, main.ha,
         signed(main.local.signer, pk=PcktKind.request, tk=TrnsKind.alive, bf=True,
                se=peer.fuid, de=peer.uid, si=peer.rsid or 1, ti=77), "rx_broadcast"),
        ("join reject of no join", other, main.ha,
         packeting.pack(Head(pk=PcktKind.reject, tk=TrnsKind.join, cf=True, se=0, de=peer.uid,
                             ti=1, bk=BodyKind.json), b""), "stale_refusal"),
        ("join nack for an unknown uid", main, other.ha,
         packeting.pack(Head(pk=PcktKind.nack, tk=TrnsKind.join, cf=True, se=0, de=99,
                             ti=1, bk=BodyKind.json), b""), "stale_refusal"),
        ("alive nack of no alive", other, main.ha,
         signed(main.local.signer, pk=PcktKind.nack, tk=TrnsKind.alive, cf=True,
                se=peer.fuid, de=peer.uid, si=peer.sid, ti=4242), "stale_refusal"),
        ("alive unallowed of no alive", other, main.ha,
         signed(main.local.signer, pk=PcktKind.unallowed, tk=TrnsKind.alive, cf=True,
                se=peer.fuid, de=peer.uid, si=peer.sid, ti=4243), "stale_refusal"),
    ]
    for name, stack, sa, data, stat in cases:
        before = dict(stack.stats)
        stack.handle_datagram(data, sa)
        changed = {k: v - before.get(k, 0) for k, v in stack.stats.items()
                   if v != before.get(k, 0)}
        assert changed.get(stat) == 1, (name, changed)
    assert not main.rxMsgs and not other.rxMsgs
    assert peer.allowed is True and main.remotes.values()[0].allowed is True
