"""raet's wire-level API (raeting, nacling, packet and tray objects) against the reference.

Each test makes the same call on raetflo and on raet 0.6.8 and compares the results, or
builds with one and parses with the other.
"""
from __future__ import annotations

import json
import types

import libnacl
import pytest
from ioflo.aid.odicting import odict

from raetflo import encoding, nacling, raeting, stacking
from raetflo.road import estating, keeping, packeting

from . import refshim

refshim.install()

from raet import encoding as ref_encoding  # noqa: E402
from raet import nacling as ref_nacling  # noqa: E402
from raet import raeting as ref_raeting  # noqa: E402
from raet.road import packeting as ref_packeting  # noqa: E402

IMPLS = {"raetflo": (nacling, packeting), "raet": (ref_nacling, ref_packeting)}
SEED = bytes(range(32))
STUFF = "".join(str(i).rjust(4) for i in range(300)).encode()  # 1200 bytes: two segments
BODY = odict([("msg", "Hello Raet World"), ("extra", "Goodby Big Moon")])

TABLES = ["PACKET_DEFAULTS", "PACKET_FIELDS", "PACKET_FLAGS", "PACKET_FLAG_FIELDS",
          "PACKET_HEAD_FIELDS", "PACKET_FIELD_FORMATS", "PAGE_DEFAULTS", "PAGE_FIELDS",
          "PAGE_FIELD_FORMATS", "VERSIONS", "VERSION_NAMES", "VERSION", "HEAD_END", "JSON_END",
          "SID_WRAP_MODULO", "SID_WRAP_DELTA", "SID_ROLLOVER", "UDP_MAX_SAFE_PAYLOAD",
          "UXD_MAX_PACKET_SIZE", "UDP_MAX_DATAGRAM_SIZE", "UDP_MAX_PACKET_SIZE",
          "MAX_MESSAGE_SIZE", "MAX_HEAD_SIZE", "MAX_SEGMENT_COUNT", "RAET_PORT",
          "RAET_TEST_PORT", "DEFAULT_SRC_HOST", "DEFAULT_DST_HOST", "basestring"]
ENUMS = ["HeadKind", "BodyKind", "FootKind", "FootSize", "CoatKind", "TailSize", "TrnsKind",
         "PcktKind", "Acceptance", "AutoMode", "PackKind"]
ERRORS = ["RaetError", "StackError", "EstateError", "TransactionError", "PacketError",
          "PacketSizeError", "KeepError", "YardError", "PageError"]
PACKERS = ["HELLO_PACKER", "COOKIESTUFF_PACKER", "COOKIE_PACKER", "INITIATESTUFF_PACKER",
           "INITIATE_PACKER"]


# --- raeting ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", TABLES)
def test_tables_and_constants_equal_the_reference(name: str) -> None:
    ours, theirs = getattr(raeting, name), getattr(ref_raeting, name)
    assert ours == theirs and type(ours) is type(theirs)
    if isinstance(ours, dict):
        assert list(ours.items()) == list(theirs.items())


@pytest.mark.parametrize("name", ENUMS)
def test_enums_have_the_reference_members(name: str) -> None:
    def members(enum: type) -> list:
        return [(key, int(value)) for key, value in enum.__members__.items()]
    assert members(getattr(raeting, name)) == members(getattr(ref_raeting, name))


def test_struct_packers_and_error_family_match() -> None:
    for name in PACKERS:
        assert getattr(raeting, name).format == getattr(ref_raeting, name).format
    for name in ERRORS:
        ours, theirs = getattr(raeting, name), getattr(ref_raeting, name)
        assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in theirs.__mro__]
    error = raeting.PacketError("too_big", "packet of 2000 bytes")
    assert (error.reason, error.message) == ("too_big", "too_big: packet of 2000 bytes")
    assert raeting.KeepError("gone").message == ref_raeting.KeepError("gone").message
    assert packeting.PacketError is raeting.PacketError
    assert issubclass(keeping.KeepError, raeting.KeepError)
    assert issubclass(estating.EstateError, raeting.EstateError)
    assert issubclass(stacking.StackError, raeting.StackError)
    assert raeting.get_exception_error(OSError(5, "x")) == 5
    with pytest.raises(TypeError):
        raeting.get_exception_error(ValueError())


# --- nacling ----------------------------------------------------------------------------

def test_signer_keys_and_signatures_equal_the_reference() -> None:
    ours, theirs = nacling.Signer(SEED), ref_nacling.Signer(SEED)
    for name in ("keyhex", "verhex", "keyraw", "verraw"):
        assert getattr(ours, name) == getattr(theirs, name)
    assert ours.signature(b"msg") == theirs.signature(b"msg")
    signed = ours.sign(b"msg")
    assert signed == theirs.sign(b"msg")
    assert (signed.signature, signed.message) == (ours.signature(b"msg"), b"msg")
    assert nacling.Signer(ours.key).keyhex == ours.keyhex
    assert nacling.Signer(theirs.keyhex).verhex == theirs.verhex  # bytes hex from raet
    verifier = nacling.Verifier(ours.verhex)
    assert nacling.Verifier(verifier.key).keyraw == ours.verraw
    assert verifier.verify(theirs.signature(b"msg"), b"msg")
    assert ref_nacling.Verifier(ours.verraw).verify(ours.signature(b"msg"), b"msg")
    assert verifier.key.verify(b"msg", ours.signature(b"msg")) == b"msg"
    with pytest.raises(nacling.BadSignatureError):
        verifier.key.verify(b"msG", ours.signature(b"msg"))


def test_hex_keys_equal_the_reference_bytes_and_stay_text() -> None:
    ours, theirs = nacling.Signer(SEED), ref_nacling.Signer(SEED)
    assert isinstance(theirs.verhex, bytes) and isinstance(ours.verhex, str)
    assert theirs.verhex == ours.verhex and ours.verhex == theirs.verhex
    assert not ours.verhex != theirs.verhex
    assert hash(ours.verhex) == hash(theirs.verhex)
    assert {theirs.verhex: 1}[ours.verhex] == 1
    assert ours.verhex.decode("ISO-8859-1") == theirs.verhex.decode("ISO-8859-1")
    assert type(ours.verhex.decode()) is str
    assert json.loads(json.dumps({"verhex": ours.verhex})) == {"verhex": str(ours.verhex)}
    assert ours.verhex != theirs.keyhex


@pytest.mark.parametrize("sender,receiver", [("raetflo", "raet"), ("raet", "raetflo")])
@pytest.mark.parametrize("enhex", [False, True])
def test_privateer_boxes_open_across_implementations(sender: str, receiver: str,
                                                     enhex: bool) -> None:
    bob = IMPLS[sender][0].Privateer()
    pam = IMPLS[receiver][0].Privateer()
    pam_pub = IMPLS[sender][0].Publican(pam.pubhex)
    bob_pub = IMPLS[receiver][0].Publican(bob.pubraw)
    for key in (pam_pub.key, pam_pub.keyhex, pam_pub.keyraw):
        cipher, used = bob.encrypt(b"x" * 50, key, enhex=enhex)
        assert (len(cipher), len(used)) == ((132, 48) if enhex else (66, 24))
        assert pam.decrypt(cipher, used, bob_pub.key, dehex=enhex) == b"x" * 50
    assert len(bob.nonce()) == 24 and bob.nonce() != bob.nonce()


HEX = {"raetflo": encoding.HexEncoder, "raet": ref_encoding.HexEncoder}


@pytest.mark.parametrize("sender,receiver", [("raetflo", "raet"), ("raet", "raetflo")])
def test_box_objects_open_across_implementations(sender: str, receiver: str) -> None:
    """raet's key-object Box: encrypt gives nonce + cipher as an EncryptedMessage, decrypt
    takes it whole or as cipher and nonce, any encoder; a box is its shared key."""
    out_nacl, back_nacl = IMPLS[sender][0], IMPLS[receiver][0]
    bob, pam = out_nacl.PrivateKey.generate(), back_nacl.PrivateKey.generate()
    out = out_nacl.Box(bob, out_nacl.PublicKey(bytes(pam.public_key)))
    back = back_nacl.Box(pam, back_nacl.PublicKey(bytes(bob.public_key)))
    assert bytes(out) == bytes(back) and len(bytes(out)) == 32
    assert out_nacl.Box.NONCE_SIZE == 24
    nonce = bytes(range(24))
    sealed = out.encrypt(b"hello", nonce)
    assert type(sealed).__name__ == "EncryptedMessage" and len(sealed) == 24 + 16 + 5
    assert (sealed.nonce, len(sealed.ciphertext)) == (nonce, 21)
    assert back.decrypt(sealed) == back.decrypt(sealed.ciphertext, nonce) == b"hello"
    assert back.decrypt(bytes(sealed)) == b"hello"
    out_hex, back_hex = (HEX[impl] for impl in (sender, receiver))
    hexed = out.encrypt(b"hello", nonce, encoder=out_hex)
    assert hexed == bytes(sealed).hex().encode() and hexed.nonce == nonce.hex().encode()
    assert back.decrypt(hexed, encoder=back_hex) == b"hello"
    shared = back_nacl.Box.decode(out.encode(out_hex), back_hex)
    assert shared.decrypt(sealed) == b"hello" and bytes(shared) == bytes(out)
    with pytest.raises(ValueError):
        out.encrypt(b"x", nonce[:5])
    with pytest.raises(libnacl.CryptError):
        back.decrypt(bytes(sealed[:-1]))


def test_key_objects_and_uuid() -> None:
    priver = nacling.Privateer()
    assert nacling.Privateer(priver.key).pubhex == priver.pubhex
    assert nacling.Publican(priver.key.public_key).keyraw == priver.pubraw
    assert priver.key.public_key.encode(nacling.HexEncoder) == priver.pubhex
    assert nacling.PublicKey(priver.pubhex, nacling.HexEncoder) == priver.key.public_key
    for size, length in ((16, 16), (12, 16), (20, 20), (40, 40)):
        assert len(nacling.uuid(size)) == len(ref_nacling.uuid(size)) == length
    assert len({nacling.uuid() for _ in range(1024)}) == 1024


@pytest.mark.parametrize("cls", ["Signer", "Privateer", "Verifier", "Publican"])
def test_empty_keys_are_refused_not_replaced(cls: str) -> None:
    """raet makes a fresh key for an empty one (or an empty verifier); raetflo refuses."""
    with pytest.raises(nacling.CryptoError):
        getattr(nacling, cls)("")
    with pytest.raises(ValueError):  # CryptoError is a ValueError, as raet's key errors
        getattr(nacling, cls)("zz" * 32)


# --- packets and trays --------------------------------------------------------------------

def mock_stack(impl: str, signer=None, verfer=None, privee=None, publee=None, uid: int = 0):
    """A stand-in stack with the keys raet's packet objects look up."""
    remote = types.SimpleNamespace(verfer=verfer, privee=privee, publee=publee)
    return types.SimpleNamespace(store=None, veritive=False,
                                 local=types.SimpleNamespace(signer=signer),
                                 remotes={uid: remote} if uid else {})


def stacks(fk: int = 0, ck: int = 0) -> dict:
    """For each impl a sending and a receiving mock stack sharing keys (se 2, de 3)."""
    made = {}
    for impl, (nacl, _) in IMPLS.items():
        signer, short_tx, short_rx = nacl.Signer(SEED), nacl.Privateer(), nacl.Privateer()
        tx = mock_stack(impl, signer=signer, privee=short_tx,
                        publee=nacl.Publican(short_rx.pubhex), uid=2)
        rx = mock_stack(impl, verfer=nacl.Verifier(signer.verhex), privee=short_rx,
                        publee=nacl.Publican(short_tx.pubhex), uid=3)
        made[impl] = (tx, rx)
    return made


KINDS = [(hk, bk) for hk in (0, 1) for bk in (1, 2, 3)]


@pytest.mark.parametrize("hk,bk", KINDS)
@pytest.mark.parametrize("fk", [0, 1])
def test_tx_packet_bytes_and_rx_data_equal_the_reference(hk: int, bk: int, fk: int) -> None:
    made = stacks()
    data = odict(hk=hk, bk=bk, fk=fk, se=2, de=3, si=5, ti=7, tk=0, cf=True)
    body = STUFF[:100] if bk == 2 else BODY
    packed, parsed = {}, {}
    for impl, (_, packets) in IMPLS.items():
        tx, rx = made[impl]
        packet = packets.TxPacket(stack=tx, embody=body, data=data)
        packet.pack()
        packed[impl] = (packet.packed, dict(packet.data), packet.index)
        received = packets.RxPacket(stack=rx, packed=packet.packed)
        received.parse()
        parsed[impl] = (dict(received.data), received.body.data, received.index)
    assert packed["raetflo"] == packed["raet"]
    assert parsed["raetflo"] == parsed["raet"]
    assert parsed["raetflo"][1] == body


def test_rx_packet_refuses_a_bad_signature_and_oversize_tx() -> None:
    made = stacks()
    tx, rx = made["raetflo"]
    packet = packeting.TxPacket(stack=tx, embody=BODY, data=odict(fk=1, se=2, de=3, bk=1))
    packet.pack()
    forged = packet.packed[:-1] + bytes([packet.packed[-1] ^ 1])
    with pytest.raises(raeting.PacketError, match="key invalid"):
        packeting.RxPacket(stack=rx, packed=forged).parse()
    stranger = mock_stack("raetflo")
    with pytest.raises(raeting.PacketError, match="nuid not in remotes"):
        packeting.RxPacket(stack=stranger, packed=packet.packed).parse()
    big = packeting.TxPacket(stack=tx, embody=STUFF, data=odict(bk=2))
    with pytest.raises(raeting.PacketError):
        big.pack()


@pytest.mark.parametrize("hk", [0, 1])
@pytest.mark.parametrize("fk", [0, 1])
def test_tx_tray_segments_equal_the_reference(hk: int, fk: int) -> None:
    made = stacks()
    data = odict(hk=hk, bk=2, fk=fk, se=2, de=3)
    result = {}
    for impl, (_, packets) in IMPLS.items():
        tray = packets.TxTray(stack=made[impl][0], data=data, body=STUFF)
        tray.pack()
        result[impl] = (tray.packed, [p.packed for p in tray.packets],
                        [dict(p.data) for p in tray.packets])
    assert result["raetflo"] == result["raet"]
    assert len(result["raetflo"][1]) == 2


@pytest.mark.parametrize("sender,receiver", [("raetflo", "raet"), ("raet", "raetflo")])
def test_encrypted_segmented_tray_reassembles_across_implementations(sender: str,
                                                                     receiver: str) -> None:
    made = stacks()
    tx, _ = made[sender]
    _, rx = made[receiver]
    rx.remotes[3].publee = IMPLS[receiver][0].Publican(tx.remotes[2].privee.pubhex)
    tx.remotes[2].publee = IMPLS[sender][0].Publican(rx.remotes[3].privee.pubhex)
    body = odict(stuff=STUFF.decode())
    tray = IMPLS[sender][1].TxTray(stack=tx, data=odict(bk=1, ck=1, fk=1, se=2, de=3),
                                   body=body)
    tray.pack()
    assert len(tray.packets) == 2
    incoming = IMPLS[receiver][1].RxTray(stack=rx)
    received = []
    for sent in reversed(tray.packets):
        packet = IMPLS[receiver][1].RxPacket(stack=rx, packed=sent.packed)
        packet.parseOuter()
        received.append(incoming.parse(packet))
        if not incoming.complete:
            assert incoming.missing() == [0]
    assert received == [None, body] and incoming.complete and incoming.body == body
    assert incoming.data["ml"] == len(tray.packed)


def test_rx_tray_refuses_inconsistent_segments() -> None:
    made = stacks()
    tray = packeting.TxTray(stack=made["raetflo"][0], data=odict(bk=2), body=STUFF)
    tray.pack()
    incoming = packeting.RxTray(stack=made["raetflo"][1])
    first = packeting.RxPacket(stack=made["raetflo"][1], packed=tray.packets[1].packed)
    first.parseOuter()
    assert incoming.parse(first) is None and incoming.missing() == [0]
    first.data["sc"] = 3
    with pytest.raises(raeting.PacketError):
        incoming.parse(first)


@pytest.mark.parametrize("impl", ["raetflo", "raet"])
def test_keys_and_messages_of_the_wrong_type_raise_type_error_as_raet(impl: str) -> None:
    nacl = IMPLS[impl][0]
    verifier = nacl.Verifier(nacl.Signer().verraw)
    peer = nacl.Privateer()
    for wrong in (lambda: nacl.Signer(5),
                  lambda: nacl.Privateer().encrypt(b"s", nacl.Publican(peer.pubhex)),
                  lambda: verifier.verify(b"x" * 64, "text")):
        with pytest.raises(TypeError):
            wrong()
