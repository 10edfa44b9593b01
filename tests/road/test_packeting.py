"""Tests of the road packet codec against packets captured from the reference."""
from __future__ import annotations

import json
import random

import msgpack
import pytest

from raetflo import raeting
from raetflo.nacling import Box, Signer, Verifier
from raetflo.raeting import BodyKind, CoatKind, FootKind, HeadKind, PcktKind, TrnsKind
from raetflo.road.packeting import (HEAD_FIELDS, Head, Packet, PacketError, decode_body,
                                    decrypt, encode_body, encrypt, head_length, pack, parse,
                                    segment, verify)

from ..vectors import (ALPHA_SEED, ALPHA_VERHEX, ALPHA_SHORT_PUB, BETA_SEED, BETA_VERHEX,
                       BETA_SHORT, HELLO, COOKIE, INITIATE, P10_COAT)

ALPHA, BETA = Signer(ALPHA_SEED), Signer(BETA_SEED)
SIGNERS = {"alpha": ALPHA, "beta": BETA, None: None}

P0_BODY = (b'{"name":"alpha","mode":0,"kind":0,"verhex":"' + ALPHA_VERHEX.encode()
           + b'","pubhex":"6af6a5dfb3c6fafcad928537ef77a518f8898d5cf8af27b44bf9ecc60689310c",'
           b'"role":"alpha"}')
P1_BODY = (b'{"name":"beta","mode":1,"kind":0,"uid":2,"verhex":"' + BETA_VERHEX.encode()
           + b'","pubhex":"805d79207811e8d438db197ea9f9175bc45e3f850e781cd161cb3bd5072e9630",'
           b'"role":"beta"}')

ALLOW = b"se 2\nde 2\nsi 1\nti 2\ntk 3\nbk 2\nfk 1\nfl 40\n\n"
# name: (head, coat, signature hex, signer, total length)
CAPTURED = {
    "P0": (b"ri RAET\npl 00ff\nhl 36\nfg 00\npk 4\nse 2\nti 1\ntk 1\nbk 1\n\n", P0_BODY, "",
           None, 255),
    "P1": (b"ri RAET\npl 0105\nhl 36\nfg 01\npk 5\nde 2\nti 1\ntk 1\nbk 1\n\n", P1_BODY, "",
           None, 261),
    "P2": (b"ri RAET\npl 0036\nhl 36\nfg 00\npk 1\nse 2\nti 1\ntk 1\nbk 1\n\n", b"", "",
           None, 54),
    "P3": (b"ri RAET\npl 0153\nhl 4b\nfg 00\npk 6\n" + ALLOW, HELLO,
           "dab5e42a0226ef0b9406bfc6ce66e6f218ddbe30ecc5a337b062fc07fd66d56e"
           "859d9ea5bfa9df3f776a43ccb653fe6e7cbbb636a88869acab14df9a165c4d03", "alpha", 339),
    "P4": (b"ri RAET\npl 00f3\nhl 4b\nfg 01\npk 7\n" + ALLOW, COOKIE,
           "b4173dc703786007ce24543904e79b1cb0a7bfe7220df0c6304b21043afde8e1"
           "c5cfd1c2cef8f562e6759e0c2b74534a9b30715323845662718c22863ffcec08", "beta", 243),
    "P5": (b"ri RAET\npl 01d3\nhl 4b\nfg 00\npk 8\n" + ALLOW, INITIATE,
           "a0cd6151ad4175826dbb4237452ddc81d5b85d0cfaf03e231aac21a22d03234d"
           "2131ba41aefeb43f9922b9728b561caf35e2905de59b85181c02c635bdcb8907", "alpha", 467),
    "P6": (b"ri RAET\npl 008b\nhl 4b\nfg 01\npk 1\n" + ALLOW, b"",
           "026c240fe6aeab6b315d9c7c9e2efe2bf94f8ce8d8460ba5cc241963a0914cd2"
           "e5eaa82884f8e5a4432112ab40c0d6b2dd90551cb695f1903c073a460c27060d", "beta", 139),
    "P8": (b"ri RAET\npl 0090\nhl 50\nfg 00\npk 4\nse 2\nde 2\nsi 2\nti 3\ntk 4\nbk 1\nck 1"
           b"\nfk 1\nfl 40\n\n", b"",
           "8f7da50edcbfaef9beb593bc77dd689a3576db435ebb6b7608786dffc228692d"
           "6ad65b1515a7d6af11dea82083655dc9009b460e51caef524d964f160ae71204", "alpha", 144),
    "P10": (b"ri RAET\npl 00d0\nhl 46\nfg 04\nse 2\nde 2\nsi 2\nti 4\nbk 1\nck 1\nfk 1\nfl 40"
            b"\n\n", P10_COAT,
            "86db2d1788dd1aae31a319b558890a5102f0b310dfb51708da6d4469eb163b3e"
            "e1416c4cfc5608dcec6834fc9f84aeb1d8dc2477fc33365be592b7008f5ff40b", "alpha", 208),
    "P11": (b"ri RAET\npl 008b\nhl 4b\nfg 05\npk f\nse 2\nde 2\nsi 2\nti 4\nbk 1\nck 1\nfk 1"
            b"\nfl 40\n\n", b"",
            "ec67dfd35619b4413600de5a54dd6aa56df6549dcfd870c3ccc71a453414e7c3"
            "c29f4296a40a9b8ce1f272dc6b388cebc0013aa0a0b18199690b8c6e27d12a05", "beta", 139),
    "pend": (b"ri RAET\npl 0036\nhl 36\nfg 01\npk e\nde 2\nti 1\ntk 1\nbk 1\n\n", b"", "",
             None, 54),
    "renew": (b"ri RAET\npl 003b\nhl 3b\nfg 01\npk b\nse 2\nde 2\nti 6\ntk 1\nbk 1\n\n", b"",
              "", None, 59),
}
# Heads of signed packets whose signatures were not captured.
HEADS_ONLY = [
    b"ri RAET\npl 00c2\nhl 4b\nfg 01\npk 3\nse 2\nde 2\nsi 2\nti 4\nbk 1\nck 1\nfk 1\nfl 40\n\n",
    b"ri RAET\npl 008b\nhl 4b\nfg 05\npk 1\nse 2\nde 2\nsi 2\nti 5\nbk 1\nck 1\nfk 1\nfl 40\n\n",
    b'{"ri":"RAET","pl":"00000c2","hl":"82","fg":"00","pk":4,"hk":1,"se":2,"de":2,"si":2,'
    b'"ti":3,"tk":4,"bk":1,"ck":1,"fk":1,"fl":64}\r\n\r\n',
    b'{"ri":"RAET","pl":"00003f4","hl":"8c","fg":"08","hk":1,"se":2,"de":2,"si":2,"ti":5,'
    b'"sn":1,"sc":4,"ml":2573,"bk":1,"ck":1,"fk":1,"fl":64}\r\n\r\n',
]
VERIFIERS = {"alpha": Verifier(ALPHA_VERHEX), "beta": Verifier(BETA_VERHEX)}


def captured(name: str) -> bytes:
    head, coat, signature, _, length = CAPTURED[name]
    data = head + coat + bytes.fromhex(signature)
    assert len(data) == length
    return data


def heads_only(head: bytes) -> bytes:
    """A whole packet with a captured head, a zero coat and a zero signature."""
    pl = int(head[11:15], 16) if head.startswith(b"ri") else int(head[19:26], 16)
    return head + bytes(pl - len(head))


def rebuild(head: Head) -> Head:
    return head.copy(pl=0, hl=0, fl=0)


# --- captured packets -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CAPTURED))
def test_parse_and_verify_captured(name: str) -> None:
    head_bytes, coat, signature, signer, length = CAPTURED[name]
    data = captured(name)
    packet = parse(data)
    assert packet.packed == data
    assert packet.head.pl == length and packet.head.hl == len(head_bytes)
    assert packet.coat == coat
    assert packet.foot == bytes.fromhex(signature)
    if signer:
        verify(packet, VERIFIERS[signer])
        other = VERIFIERS["beta" if signer == "alpha" else "alpha"]
        with pytest.raises(PacketError) as err:
            verify(packet, other)
        assert err.value.reason == "bad_signature"
        tampered = bytearray(data)
        tampered[data.index(b"\nti ") + 4] ^= 0x01  # a head value that still parses
        with pytest.raises(PacketError) as err:
            verify(parse(bytes(tampered), veritive=False), VERIFIERS[signer])
        assert err.value.reason == "bad_signature"
    else:
        assert packet.head.fk == FootKind.nada and packet.foot == b""


@pytest.mark.parametrize("name", list(CAPTURED))
def test_rebuild_captured_byte_for_byte(name: str) -> None:
    _, coat, _, signer, _ = CAPTURED[name]
    data = captured(name)
    head = rebuild(parse(data).head)
    assert pack(head, coat, SIGNERS[signer]) == data
    assert (head.pl, head.hl) == (len(data), data.index(b"\n\n") + 2)
    assert head_length(rebuild(head)) == head.hl


@pytest.mark.parametrize("head_bytes", HEADS_ONLY)
def test_rebuild_captured_heads(head_bytes: bytes) -> None:
    packet = parse(heads_only(head_bytes))
    assert packet.head.hl == len(head_bytes)
    built = pack(rebuild(packet.head), packet.coat, ALPHA)
    assert built[:len(head_bytes)] == head_bytes
    assert len(built) == len(packet.packed)


def test_captured_field_values() -> None:
    p3 = parse(captured("P3")).head
    assert (p3.pk, p3.se, p3.de, p3.si, p3.ti, p3.tk, p3.bk, p3.fk, p3.fl) == (
        PcktKind.hello, 2, 2, 1, 2, TrnsKind.allow, BodyKind.raw, FootKind.nacl, 64)
    p11 = parse(captured("P11")).head
    assert p11.pk == PcktKind.done and p11.cf and p11.wf and p11.fg == 0x05
    json_seg = parse(heads_only(HEADS_ONLY[3])).head
    assert (json_seg.hk, json_seg.sn, json_seg.sc, json_seg.ml, json_seg.sf) == (
        HeadKind.json, 1, 4, 2573, True)


def test_decrypt_captured_message() -> None:
    packet = parse(captured("P10"))
    verify(packet, VERIFIERS["alpha"])
    box = Box(bytes.fromhex(BETA_SHORT), bytes.fromhex(ALPHA_SHORT_PUB))
    plain = decrypt(packet.head.ck, packet.coat, box)
    assert decode_body(packet.head.bk, plain) == {"subject": "short", "content": "hi"}
    assert encode_body(BodyKind.json, {"subject": "short", "content": "hi"}) == plain
    assert decode_body(BodyKind.json, P0_BODY)["verhex"] == ALPHA_VERHEX


# --- segmentation ---------------------------------------------------------------------

def message_head(hk: int) -> Head:
    return Head(hk=hk, se=2, de=2, si=2, ti=5, bk=BodyKind.json, ck=CoatKind.nacl,
                fk=FootKind.nacl)


def test_segment_raet_matches_capture() -> None:
    coat = bytes(range(256)) * 10 + bytes(13)
    assert len(coat) == 2573
    segments = segment(message_head(HeadKind.raet), coat)
    assert [len(part) for _, part in segments] == [863, 863, 847]
    assert b"".join(part for _, part in segments) == coat
    segments[-1][0].wf = True
    packed = [pack(head, part, ALPHA) for head, part in segments]
    assert [len(p) for p in packed] == [1009, 1014, 998]
    assert packed[0].startswith(b"ri RAET\npl 03f1\nhl 52\nfg 08\nse 2\nde 2\nsi 2\nti 5\nsc 3"
                                b"\nml a0d\nbk 1\nck 1\nfk 1\nfl 40\n\n")
    assert packed[1].startswith(b"ri RAET\npl 03f6\nhl 57\nfg 08\nse 2\nde 2\nsi 2\nti 5\nsn 1"
                                b"\nsc 3\nml a0d\nbk 1\nck 1\nfk 1\nfl 40\n\n")
    assert packed[2].startswith(b"ri RAET\npl 03e6\nhl 57\nfg 0c\nse 2\nde 2\nsi 2\nti 5\nsn 2"
                                b"\nsc 3\nml a0d\nbk 1\nck 1\nfk 1\nfl 40\n\n")
    for data, (_, part) in zip(packed, segments, strict=True):
        packet = parse(data)
        verify(packet, VERIFIERS["alpha"])
        assert packet.coat == part


def test_segment_json_matches_capture() -> None:
    coat = bytes(2573)
    segments = segment(message_head(HeadKind.json), coat)
    assert [len(part) for _, part in segments] == [808, 808, 808, 149]
    assert pack(segments[1][0], segments[1][1], ALPHA)[:140] == HEADS_ONLY[3]


def test_segment_small_message_is_whole() -> None:
    head = message_head(HeadKind.raet)
    coat = bytes(1024 - 70 - 64)
    assert segment(head, coat) == [(head, coat)]
    parts = segment(head, coat + b"x")
    assert len(parts) == 2 and all(h.sf and h.sc == 2 for h, _ in parts)


def test_segment_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    head = message_head(HeadKind.raet)
    monkeypatch.setattr(raeting, "MAX_MESSAGE_SIZE", 5000)
    with pytest.raises(PacketError) as err:
        segment(head, bytes(5001))
    assert err.value.reason == "too_big"
    monkeypatch.setattr(raeting, "MAX_SEGMENT_COUNT", 5)
    assert len(segment(head, bytes(863 * 5))) == 5
    with pytest.raises(PacketError) as err:
        segment(head, bytes(863 * 5 + 1))
    assert err.value.reason == "too_big"
    monkeypatch.setattr(raeting, "UDP_MAX_PACKET_SIZE", 150)
    with pytest.raises(PacketError) as err:
        segment(head, bytes(200))
    assert err.value.reason == "too_big"


def test_segment_large_message_is_fast_and_exact() -> None:
    coat = random.Random(7).randbytes(1_000_000)
    segments = segment(message_head(HeadKind.raet), coat)
    assert [h.sn for h, _ in segments] == list(range(len(segments)))
    assert all(h.sc == len(segments) and h.ml == len(coat) for h, _ in segments)
    assert b"".join(part for _, part in segments) == coat
    assert all(len(pack(h, part, ALPHA)) <= 1024 for h, part in segments[-3:])


# --- round trips ----------------------------------------------------------------------

BODIES = [
    {"subject": "h\u00e9llo \u4e16\u754c \U0001f600", "nested": {"a": [1, 2.5, None, True,
                                                                       {"b": "c"}]},
     "empty": {}, "list": [], "neg": -7, "big": 2**62},
    {"z": 1, "a": 2, "m": 3},
]


@pytest.mark.parametrize("hk", [HeadKind.raet, HeadKind.json])
@pytest.mark.parametrize("pk", list(range(16)))
def test_round_trip_every_packet_kind(hk: int, pk: int) -> None:
    box_out = Box(bytes.fromhex(BETA_SHORT), bytes.fromhex(ALPHA_SHORT_PUB))
    head = Head(pk=pk, hk=hk, se=7, de=0xFFFFFFFF, si=3, ti=pk + 1, tk=TrnsKind.message,
                bk=BodyKind.json, ck=CoatKind.nacl, fk=FootKind.nacl, cf=bool(pk % 2),
                wf=True, af=pk > 8, dt=1.5 if pk == 3 else 0.0, oi=pk)
    coat = encrypt(head.ck, encode_body(head.bk, BODIES[0]), box_out)
    data = pack(head, coat, BETA)
    packet = parse(data)
    verify(packet, VERIFIERS["beta"])
    assert packet.head == head
    assert packet.coat == coat
    plain = decrypt(packet.head.ck, packet.coat, box_out)
    assert decode_body(packet.head.bk, plain) == BODIES[0]


@pytest.mark.parametrize("hk", [HeadKind.raet, HeadKind.json])
@pytest.mark.parametrize("bk", list(BodyKind)[:-1])
def test_round_trip_every_body_kind(hk: int, bk: int) -> None:
    body: object = b"\x00raw\xff" if bk == BodyKind.raw else BODIES[0]
    head = Head(hk=hk, pk=PcktKind.request, tk=TrnsKind.join, bk=bk, sn=2, sc=3, ml=100,
                sf=True)
    data = pack(head, encode_body(bk, body))
    packet = parse(data)
    assert packet.head == head
    decoded = decode_body(packet.head.bk, packet.coat)
    assert decoded == ({} if bk == BodyKind.nada else body)


def test_body_encoding_rules() -> None:
    assert encode_body(BodyKind.json, {}) == b""
    assert encode_body(BodyKind.msgpack, {}) == b""
    assert encode_body(BodyKind.nada, {"a": 1}) == b""
    assert encode_body(BodyKind.json, {"b": 1, "a": "\u00e9\U0001f600"}) == (
        b'{"b":1,"a":"\\u00e9\\ud83d\\ude00"}')
    assert decode_body(BodyKind.json, b"") == {}
    assert decode_body(BodyKind.msgpack, b"") == {}
    assert decode_body(BodyKind.nada, b"junk") == {}
    assert list(decode_body(BodyKind.json, b'{"z":1,"a":2}')) == ["z", "a"]
    legacy = msgpack.packb({"s": "\u00e9" * 40, "b": b"\x01"}, use_bin_type=False)
    assert decode_body(BodyKind.msgpack, legacy) == {"s": "\u00e9" * 40, "b": "\x01"}
    assert decode_body(BodyKind.msgpack, msgpack.packb({1: 2})) == {1: 2}
    for bk, bad in ((BodyKind.json, b"[1]"), (BodyKind.json, b"\xff"), (BodyKind.json, b"{"),
                    (BodyKind.json, b"[" * 100000), (BodyKind.msgpack, b"\x91\x01"),
                    (BodyKind.msgpack, b"\xc1"), (BodyKind.msgpack, b"\x81"),
                    (BodyKind.msgpack, b"\x91" * 100000), (BodyKind.msgpack, b"\x80\x80"),
                    (BodyKind.unknown, b"")):
        with pytest.raises(PacketError) as err:
            decode_body(bk, bad)
        assert err.value.reason == "bad_body"
    unencodable: list[tuple[int, object]] = [
        (BodyKind.json, [1]), (BodyKind.json, {"a": object()}), (BodyKind.msgpack, {"a": 2**70}),
        (BodyKind.msgpack, {"a": object()}), (BodyKind.raw, {"a": 1}), (7, {})]
    for kind, value in unencodable:
        with pytest.raises(PacketError) as err:
            encode_body(kind, value)
        assert err.value.reason == "bad_body"


def test_coat_rules() -> None:
    box = Box(bytes.fromhex(BETA_SHORT), bytes.fromhex(ALPHA_SHORT_PUB))
    assert encrypt(CoatKind.nada, b"plain", None) == b"plain"
    assert encrypt(CoatKind.nacl, b"", None) == b""
    assert decrypt(CoatKind.nacl, b"", None) == b""
    assert decrypt(CoatKind.nada, b"x", None) == b"x"
    coat = encrypt(CoatKind.nacl, b"plain", box)
    assert len(coat) == 5 + 40 and decrypt(CoatKind.nacl, coat, box) == b"plain"
    for ck, data, used in ((CoatKind.nacl, coat[:-1], box), (CoatKind.nacl, coat, None),
                           (CoatKind.nacl, b"x" * 39, box), (CoatKind.crc16, coat, box),
                           (CoatKind.crc64, coat, box)):
        with pytest.raises(PacketError) as err:
            decrypt(ck, data, used)
        assert err.value.reason == "bad_coat"
    for ck, used in ((CoatKind.crc16, box), (CoatKind.crc64, box), (CoatKind.nacl, None)):
        with pytest.raises(PacketError) as err:
            encrypt(ck, b"plain", used)
        assert err.value.reason == "bad_coat"


def test_head_flags_and_copy() -> None:
    head = Head()
    head.fg = 0x1C
    assert (head.af, head.sf, head.wf, head.cf, head.vf) == (True, True, True, False, False)
    assert head.fg == 0x1C
    head.fg = 0xFF
    assert head.fg == 0xFF and all(getattr(head, f) for f in raeting.FLAG_BITS)
    other = head.copy(se=9, cf=False)
    assert other.se == 9 and other.fg == 0xFE and head.se == 0 and head.fg == 0xFF
    assert HEAD_FIELDS[:4] == ("ri", "pl", "hl", "fg")
    assert HEAD_FIELDS[4:] == ("vn", "pk", "hk", "se", "de", "si", "ti", "tk", "dt", "oi",
                               "sn", "sc", "ml", "bk", "ck", "fk", "fl")


def test_pack_omits_defaults_and_orders_fields() -> None:
    data = pack(Head())
    assert data == b"ri RAET\npl 001d\nhl 1d\nfg 00\n\n"
    assert parse(data, veritive=False).head == Head(pl=29, hl=29)
    head = Head(hk=HeadKind.json, dt=2.25, sc=1, tk=TrnsKind.join)
    assert pack(head) == (b'{"ri":"RAET","pl":"000004c","hl":"4c","fg":"00","hk":1,'
                          b'"tk":1,"dt":2.25}\r\n\r\n')
    assert parse(pack(head)).head == head
    raet_dt = Head(dt=1.5, tk=TrnsKind.join)
    assert b"\ndt 1.500000\n" in pack(raet_dt)
    assert parse(pack(raet_dt)).head == raet_dt


def test_pack_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    head = Head(tk=TrnsKind.join, bk=BodyKind.raw)
    with pytest.raises(PacketError) as err:
        pack(Head(fk=FootKind.nacl))
    assert err.value.reason == "missing_signature"
    with pytest.raises(PacketError) as err:
        pack(Head(hk=HeadKind.binary))
    assert err.value.reason == "bad_kind"
    assert len(pack(head, bytes(1024 - 39))) == 1024
    with pytest.raises(PacketError) as err:
        pack(head, bytes(1024 - 38))
    assert err.value.reason == "too_big"
    monkeypatch.setattr(raeting, "UDP_MAX_PACKET_SIZE", 100)
    with pytest.raises(PacketError) as err:
        pack(head, bytes(62))
    assert err.value.reason == "too_big"
    monkeypatch.setattr(raeting, "MAX_HEAD_SIZE", 38)
    with pytest.raises(PacketError) as err:
        pack(head)
    assert err.value.reason == "too_big"


def test_unimplemented_foot_kinds_write_no_foot() -> None:
    for fk in (FootKind.sha2, FootKind.crc64):
        head = Head(fk=fk, fl=99, tk=TrnsKind.join)
        data = pack(head, b"coat")
        assert head.fl == 0 and data.endswith(b"coat")
        assert parse(data).foot == b""


# --- rejections -----------------------------------------------------------------------

def reason(data: bytes, **kwargs: bool) -> str:
    with pytest.raises(PacketError) as err:
        parse(data, **kwargs)
    return err.value.reason


def raet(*lines: str, coat: bytes = b"", fix: bool = True) -> bytes:
    """A raet head from field lines; with ``fix`` pl/hl are set to the right values."""
    body = "".join(f"\n{line}" for line in lines)
    if not fix:
        return f"ri RAET{body}\n\n".encode() + coat
    hl = len(f"ri RAET\npl 0000\nhl 00{body}\n\n")
    return f"ri RAET\npl {hl + len(coat):04x}\nhl {hl:02x}{body}\n\n".encode() + coat


def test_unknown_coat_kind_is_refused_as_the_body_is_decoded() -> None:
    """As in raet, a coat kind the receiver cannot open (even a negative one, which raet
    sends when asked to) passes the head checks and fails when the body is decoded."""
    for ck in ("ff", "-1"):
        packet = parse(raet("fg 00", "tk 1", f"ck {ck}", coat=b"{}"))
        assert packet.head.ck == int(ck, 16)
        with pytest.raises(PacketError) as err:
            decrypt(packet.head.ck, packet.coat, None)
        assert err.value.reason == "bad_coat"


def test_rejections_have_reasons() -> None:
    p10 = captured("P10")
    assert reason(p10[:-1]) == "truncated"
    assert reason(p10[:40]) == "truncated"
    assert reason(p10 + b"x") == "bad_length"
    assert reason(p10 + bytes(2048 - len(p10))) == "bad_length"
    assert reason(p10 + bytes(2049 - len(p10))) == "oversized"
    assert reason(b"") == "garbage"
    assert reason(b"hello world") == "garbage"
    assert reason(b"RI RAET\npl 001d\n\n") == "garbage"
    assert reason(b"ri RAET\n" + b"x" * 300) == "bad_head"
    assert reason(p10.replace(b"hl 46", b"hl 47")) == "bad_length"
    assert reason(p10.replace(b"pl 00d0", b"pl 00cf")) == "bad_length"
    assert reason(raet("fg 00", "vn 1", "tk 1")) == "bad_version"
    assert reason(raet("fg 00", "hk 1", "tk 1")) == "bad_kind"
    assert reason(raet("fg 00", "pk 10", "tk 1")) == "bad_kind"
    assert reason(raet("fg 00", "pk ff", "tk 1")) == "bad_kind"
    assert reason(raet("fg 00", "tk 5")) == "bad_kind"
    assert reason(raet("fg 00", "tk 1", "bk 4")) == "bad_kind"
    assert reason(raet("fg 00", "tk 1", "fk 4")) == "bad_kind"
    assert reason(raet("fg 00", "tk 1", "bl 10")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "cl 10")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "cf 1")) == "bad_head"
    assert reason(raet("fg 00", "tk  1")) == "bad_head"
    assert reason(raet("fg 00", "tk 1 ")) == "bad_head"
    assert reason(raet("fg 00", "tk")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "sn 1")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "sn 3", "sc 3")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "sc 0")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "se -1")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "se 100000000")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "se zz")) == "bad_head"
    assert reason(raet("fg 100", "tk 1")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "dt nan")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "ri XRAY")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "fl 40")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "fk 1")) == "bad_head"
    assert reason(raet("fg 00", "tk 1", "fk 1", "fl 40", coat=bytes(10))) == "bad_length"
    assert reason(raet("fg 00")) == "missing_signature"
    assert parse(raet("fg 00"), veritive=False).head.tk == TrnsKind.message
    assert reason(raet("pl 001d", "hl 1d", fix=False)) == "bad_length"
    assert parse(raet("fg 00", "tk 1", "se FF", "de 0x10", "ti 0001")).head.se == 255


def test_sn_past_sc_is_refused_only_for_message_segments() -> None:
    """A burst ack names the highest segment received (sn) and omits sc; a segment may not."""
    ack = pack(Head(pk=PcktKind.ack, se=2, de=2, si=2, ti=5, sn=7, bk=BodyKind.json,
                    fk=FootKind.nacl), b"", ALPHA)
    head = parse(ack).head
    assert (head.pk, head.sn, head.sc) == (PcktKind.ack, 7, 1)
    assert parse(raet("fg 00", "pk 1", "sn ffffffff", "tk 1")).head.sn == 0xFFFFFFFF
    assert reason(raet("fg 00", "sn 7", "fk 1", "fl 40", coat=bytes(64))) == "bad_head"
    assert reason(raet("fg 08", "sn 3", "sc 3", "ml 10", "fk 1", "fl 40",
                       coat=bytes(64))) == "bad_head"
    assert reason(raet("fg 00", "pk 0", "sc 0", "fk 1", "fl 40", coat=bytes(64))) == "bad_head"


def test_signature_rejections() -> None:
    p8 = bytearray(captured("P8"))
    p8[-1] ^= 0x80
    with pytest.raises(PacketError) as err:
        verify(parse(bytes(p8)), VERIFIERS["alpha"])
    assert err.value.reason == "bad_signature"
    unsigned = captured("P10").replace(b"fk 1\nfl 40", b"fk 0\nfl 00")
    assert reason(unsigned) == "missing_signature"
    assert reason(captured("P10").replace(b"fk 1\n", b"fk 0\n")) == "bad_head"
    message = pack(Head(bk=BodyKind.json), b"{}")
    assert reason(message) == "missing_signature"
    packet = parse(message, veritive=False)
    verify(packet, VERIFIERS["alpha"])  # nothing to check when unsigned


def json_head(**fields: object) -> bytes:
    """A json head with the given values (pl/hl fixed to the right ones unless given)."""
    values: dict[str, object] = {"ri": "RAET", "pl": "0000000", "hl": "00", "fg": "00",
                                 "hk": 1, "tk": 1}
    values.update(fields)
    text = json.dumps(values, separators=(",", ":")).encode() + b"\r\n\r\n"
    if "hl" not in fields:
        values["hl"] = f"{len(text):02x}"
    if "pl" not in fields:
        values["pl"] = f"{len(text):07x}"
    return json.dumps(values, separators=(",", ":")).encode() + b"\r\n\r\n"


def test_json_head_rejections() -> None:
    assert parse(json_head()).head.hk == HeadKind.json
    assert parse(json_head(dt=3)).head.dt == 3
    bad_values: list[dict[str, object]] = [
                  {"se": "2"}, {"se": [2]}, {"se": {"a": 1}}, {"se": True}, {"se": 2.0},
                  {"se": -1}, {"se": 2**32}, {"se": 10**400}, {"se": None}, {"pl": 7},
                  {"hl": ["00"]}, {"fg": 1}, {"fg": "zz"}, {"fg": "100"}, {"dt": "1"},
                  {"dt": float("nan")}, {"dt": -1.0}, {"bl": 1}, {"sh": ""},
                  {"sn": 1}, {"sc": 0}, {"cf": True}]
    for fields in bad_values:
        assert reason(json_head(**fields)) == "bad_head", fields
    assert reason(json_head(hk=0)) == "bad_kind"
    assert reason(json_head(vn=1)) == "bad_version"
    assert reason(json_head(pk=16)) == "bad_kind"
    assert reason(json_head(pl="00000ff")) == "truncated"
    assert reason(json_head(hl="10")) == "bad_length"
    assert reason(b'{"ri":"RAET",}\r\n\r\n') == "bad_head"
    assert reason(b'{"ri":"RAET","x":' + b"[" * 200 + b"\r\n\r\n") == "bad_head"
    assert reason(b'{"ri":"RAET","x":"\xff"}\r\n\r\n') == "bad_head"
    assert reason(b'{"ri": "RAET"}\r\n\r\n') == "garbage"
    assert reason(json_head(ri="RAEX")) == "garbage"
    assert reason(b'{"ri":"RAET","ri":"X","pl":"0000028","hl":"28"}\r\n\r\n') == "bad_head"


# --- fuzz -----------------------------------------------------------------------------

def _mutants(rng: random.Random, seeds: list[bytes]) -> list[bytes]:
    tokens = [b"\n", b" ", b"\n\n", b"\r\n\r\n", b"-1", b"0x", b"ffffffffffffffffffff", b"{",
              b"}", b'"', b"[", b"\xff", "\u00e9\U0001f600".encode(), b"1e999", b"nan", b":",
              b",", b"null", b"true", b"bl 1", b"\nvn 1", b"\nsn 5", b"\x00"]
    out = []
    for _ in range(4000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            at = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif op == 1:
                data[at:at] = rng.choice(tokens)
            elif op == 2:
                del data[at:at + rng.randint(1, 8)]
            elif op == 3:
                data = data[:at]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
        out.append(bytes(data))
    for _ in range(1000):
        out.append(rng.choice([b"ri RAET\n", b'{"ri":"RAET",', b""])
                   + rng.randbytes(rng.randint(0, 300)))
    return out


def test_fuzz_only_packet_errors_escape() -> None:
    rng = random.Random(20240601)
    seeds = [captured(name) for name in CAPTURED] + [heads_only(h) for h in HEADS_ONLY]
    seeds += [json_head(se=2, de=3, sn=1, sc=2, dt=0.5, fg="1c")]
    parsed = 0
    for data in _mutants(rng, seeds):
        for veritive in (True, False):
            try:
                packet = parse(data, veritive=veritive)
            except PacketError as ex:
                assert ex.reason in {"garbage", "truncated", "oversized", "bad_length",
                                     "bad_head", "bad_version", "bad_kind",
                                     "missing_signature"}
                continue
            parsed += 1
            assert isinstance(packet, Packet) and packet.packed == data
            try:
                decode_body(packet.head.bk, packet.coat)
            except PacketError as ex:
                assert ex.reason == "bad_body"
            try:
                verify(packet, VERIFIERS["alpha"])
            except PacketError as ex:
                assert ex.reason == "bad_signature"
    assert parsed > 100  # the mutations also leave some packets valid


def test_fuzz_bodies_only_bad_body_escapes() -> None:
    rng = random.Random(99)
    seeds = [P0_BODY, msgpack.packb(BODIES[0], use_bin_type=True), b'{"a":[1,{"b":null}]}']
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        for bk in (BodyKind.json, BodyKind.msgpack):
            try:
                assert isinstance(decode_body(bk, bytes(data)), dict)
            except PacketError as ex:
                assert ex.reason == "bad_body"


def test_parsed_head_lines_kept_for_reuse_are_bounded() -> None:
    """Head lines are looked up once parsed; a peer making up lines cannot grow that."""
    from raetflo.road import packeting
    for value in range(3 * packeting.HEAD_LINES_MAX):
        with pytest.raises(PacketError):
            parse(raet("fg 00", "tk 1", f"pk {value + 0x100:x}"))
        assert len(packeting._LINES) <= packeting.HEAD_LINES_MAX
    p10 = captured("P10")
    assert parse(p10).head == parse(bytes(p10)).head  # parsed again, or looked up: the same


def test_a_parsed_packet_holds_no_copy_of_its_coat_or_foot() -> None:
    """A packet a transaction keeps costs its head, not its bytes again."""
    import tracemalloc
    coat = bytes(range(256)) * 4
    data = raet("fg 00", "tk 1", "fk 1", "fl 40", coat=coat + bytes(64))
    parse(data)  # (the head lines are looked up from now on)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        packets = [parse(data) for _ in range(200)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 200 * 500  # a copy of the coat alone would be 1 kB a packet
    assert packets[0].coat == coat and packets[0].foot == bytes(64)
