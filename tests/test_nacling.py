"""Tests of the NaCl wrappers and CurveCP helpers, with captured reference keys and packets."""
from __future__ import annotations

from typing import Any

import pytest

from raetflo import nacling
from raetflo.nacling import (Box, CryptoError, Initiate, Privateer, Publican, Signer,
                             Verifier)

from .vectors import (ALPHA_SEED, ALPHA_VERHEX, ALPHA_LONG, ALPHA_LONG_PUB, ALPHA_SHORT,
                      ALPHA_SHORT_PUB, BETA_SEED, BETA_VERHEX,
                      BETA_LONG, BETA_LONG_PUB, BETA_SHORT,
                      BETA_SHORT_PUB, HELLO, COOKIE, OREO, INITIATE,
                      P10_COAT)

def raw(hexed: str) -> bytes:
    return bytes.fromhex(hexed)


# --- keys -----------------------------------------------------------------------------

def test_signer_from_seed_matches_reference_verify_key() -> None:
    for seed, verhex in ((ALPHA_SEED, ALPHA_VERHEX), (BETA_SEED, BETA_VERHEX)):
        for key in (seed, seed.encode(), raw(seed)):
            signer = Signer(key)
            assert signer.keyraw == raw(seed)
            assert signer.keyhex == seed
            assert signer.verhex == verhex
            assert signer.verraw == raw(verhex)


def test_signer_random_and_sign_verify() -> None:
    signer = Signer()
    assert len(signer.keyraw) == 32 and len(signer.verraw) == 32
    assert Signer().keyraw != signer.keyraw
    sig = signer.signature(b"message")
    assert len(sig) == 64
    assert sig == Signer(signer.keyhex).signature(b"message")  # deterministic
    signed = signer.sign(b"message")
    assert signed == sig + b"message"
    assert (signed.signature, signed.message) == (sig, b"message")
    verifier = Verifier(signer.verhex)
    assert verifier.keyraw == signer.verraw and verifier.keyhex == signer.verhex
    assert verifier.verify(sig, b"message")
    assert not verifier.verify(sig, b"messagE")
    assert not verifier.verify(sig[:-1] + bytes([sig[-1] ^ 1]), b"message")
    assert not verifier.verify(sig[:10], b"message")
    assert not verifier.verify(b"", b"message")
    assert not Verifier(Signer().verraw).verify(sig, b"message")


def test_privateer_derives_reference_public_keys() -> None:
    for secret, public in ((ALPHA_LONG, ALPHA_LONG_PUB), (ALPHA_SHORT, ALPHA_SHORT_PUB),
                           (BETA_LONG, BETA_LONG_PUB), (BETA_SHORT, BETA_SHORT_PUB)):
        priv = Privateer(secret)
        assert priv.keyhex == secret and priv.keyraw == raw(secret)
        assert priv.pubhex == public and priv.pubraw == raw(public)
        assert Privateer(raw(secret)).pubraw == raw(public)
    fresh = Privateer()
    assert Privateer(fresh.keyraw).pubraw == fresh.pubraw
    pub = Publican(BETA_LONG_PUB)
    assert pub.keyraw == raw(BETA_LONG_PUB) and pub.keyhex == BETA_LONG_PUB
    assert Publican(raw(BETA_LONG_PUB)).keyhex == BETA_LONG_PUB


@pytest.mark.parametrize("key", [
    "", "00", "zz" * 32, "0" * 63, "0" * 65, b"x" * 31, b"x" * 33, "é" * 64,
    " " + "0" * 63, "00 " * 21 + "0", 12345, None,
])
def test_bad_keys_raise_crypto_error(key: object) -> None:
    classes: list[Any] = [Verifier, Publican]
    if key is not None:
        classes += [Signer, Privateer]
    for cls in classes:
        with pytest.raises(CryptoError):
            cls(key)


# --- box ------------------------------------------------------------------------------

def test_box_decrypts_captured_message_coat() -> None:
    box = Box(raw(BETA_SHORT), raw(ALPHA_SHORT_PUB))
    assert box.open_coat(P10_COAT) == b'{"subject":"short","content":"hi"}'
    # the same shared key from the other side, keys given as hex
    assert Box(ALPHA_SHORT, BETA_SHORT_PUB).open_coat(P10_COAT) == box.open_coat(P10_COAT)


def test_box_layout_and_round_trip() -> None:
    alpha, beta = Privateer(), Privateer()
    out, back = Box(alpha.keyraw, beta.pubraw), Box(beta.keyraw, alpha.pubraw)
    cipher, used = out.seal(b"hello")
    assert len(cipher) == 5 + 16 and len(used) == 24
    assert back.open(cipher, used) == b"hello"
    given = nacling.nonce()
    assert out.seal(b"hello", given) == (out.seal(b"hello", given)[0], given)
    coat = out.seal_coat(b"body")
    assert len(coat) == 4 + 40
    assert back.open_coat(coat) == b"body"
    assert back.open_coat(out.seal_coat(b"")) == b""
    assert out.seal_coat(b"x") != out.seal_coat(b"x")  # fresh nonces


def test_box_failures_raise_crypto_error() -> None:
    alpha, beta = Privateer(), Privateer()
    out, back = Box(alpha.keyraw, beta.pubraw), Box(beta.keyraw, alpha.pubraw)
    coat = out.seal_coat(b"body")
    for bad in (coat[:-1], coat[1:], b"", b"\0" * 39, bytes([coat[0] ^ 1]) + coat[1:]):
        with pytest.raises(CryptoError):
            back.open_coat(bad)
    with pytest.raises(CryptoError):
        Box(Privateer().keyraw, beta.pubraw).open_coat(coat)
    with pytest.raises(CryptoError):
        back.open(b"short", b"\0" * 24)
    with pytest.raises(CryptoError):
        back.open(coat[:-24], b"\0" * 23)
    with pytest.raises(CryptoError):
        out.seal(b"x", b"\0" * 5)
    with pytest.raises(CryptoError):
        Box(alpha.keyraw, b"\0" * 32)  # low-order public key
    with pytest.raises(CryptoError):
        Box(b"short", beta.pubraw)


def test_nonce() -> None:
    assert len(nacling.nonce()) == 24
    assert nacling.nonce() != nacling.nonce()


# --- CurveCP allow handshake ----------------------------------------------------------

def test_hello_open_captured() -> None:
    assert nacling.hello_open(HELLO, Privateer(BETA_LONG)) == raw(ALPHA_SHORT_PUB)
    with pytest.raises(CryptoError):
        nacling.hello_open(HELLO, Privateer(ALPHA_LONG))
    with pytest.raises(CryptoError):
        nacling.hello_open(HELLO[:-1], Privateer(BETA_LONG))
    with pytest.raises(CryptoError):  # plain field no longer matches the boxed plain
        nacling.hello_open(b"1" + HELLO[1:], Privateer(BETA_LONG))


def test_cookie_open_captured() -> None:
    opened = nacling.cookie_open(COOKIE, Privateer(ALPHA_SHORT), raw(BETA_LONG_PUB))
    assert opened == (raw(BETA_SHORT_PUB), 2, 2, OREO)
    with pytest.raises(CryptoError):
        nacling.cookie_open(COOKIE, Privateer(ALPHA_SHORT), raw(ALPHA_LONG_PUB))
    with pytest.raises(CryptoError):
        nacling.cookie_open(COOKIE + b"\0", Privateer(ALPHA_SHORT), raw(BETA_LONG_PUB))


def test_initiate_open_captured() -> None:
    opened = nacling.initiate_open(INITIATE, Privateer(BETA_SHORT), Privateer(BETA_LONG))
    assert opened == Initiate(short_pub=raw(ALPHA_SHORT_PUB), oreo=OREO,
                              long_pub=raw(ALPHA_LONG_PUB), vouched=raw(ALPHA_SHORT_PUB),
                              fqdn="localhost")
    with pytest.raises(CryptoError):  # wrong short key
        nacling.initiate_open(INITIATE, Privateer(ALPHA_SHORT), Privateer(BETA_LONG))
    with pytest.raises(CryptoError):  # wrong long key: the vouch does not open
        nacling.initiate_open(INITIATE, Privateer(BETA_SHORT), Privateer(ALPHA_LONG))
    with pytest.raises(CryptoError):
        nacling.initiate_open(INITIATE[:-2], Privateer(BETA_SHORT), Privateer(BETA_LONG))


def test_handshake_round_trip() -> None:
    a_long, a_short, b_long, b_short = Privateer(), Privateer(), Privateer(), Privateer()
    hello = nacling.hello_pack(a_short, b_long.pubraw)
    assert len(hello) == 200
    assert nacling.hello_open(hello, b_long) == a_short.pubraw

    oreo = nacling.nonce()
    cookie = nacling.cookie_pack(b_long, a_short.pubraw, b_short.pubraw, 7, 0xFFFFFFFF, oreo)
    assert len(cookie) == 104
    assert nacling.cookie_open(cookie, a_short, b_long.pubraw) == (
        b_short.pubraw, 7, 0xFFFFFFFF, oreo)

    fqdn = "h\u00e9st.example.com" + "x" * 200
    initiate = nacling.initiate_pack(a_short, a_long, b_short.pubraw, b_long.pubraw, oreo,
                                     fqdn)
    assert len(initiate) == 328
    got = nacling.initiate_open(initiate, b_short, b_long)
    assert got.short_pub == a_short.pubraw and got.vouched == a_short.pubraw
    assert got.long_pub == a_long.pubraw and got.oreo == oreo
    assert got.fqdn == ("hst.example.com" + "x" * 200)[:128]
    short_name = nacling.initiate_open(
        nacling.initiate_pack(a_short, a_long, b_short.pubraw, b_long.pubraw, oreo, "host"),
        b_short, b_long)
    assert short_name.fqdn == "host"


def test_cookie_pack_rejects_bad_fields() -> None:
    long, short = Privateer(), Privateer()
    for args in ((short.pubraw[:31], 1, 1, b"\0" * 24), (short.pubraw, -1, 1, b"\0" * 24),
                 (short.pubraw, 1, 1 << 32, b"\0" * 24), (short.pubraw, 1, 1, b"\0" * 23)):
        with pytest.raises(CryptoError):
            nacling.cookie_pack(long, short.pubraw, *args)
    with pytest.raises(CryptoError):
        nacling.initiate_pack(short, long, short.pubraw, long.pubraw, b"\0" * 3, "x")


def test_text_is_refused_with_what_to_do() -> None:
    signer = nacling.Signer()
    for sign in (signer.signature, signer.sign):
        with pytest.raises(nacling.CryptoError, match="encode the text first"):
            sign("text")
    assert len(signer.signature("text".encode())) == 64


def test_a_failed_decryption_is_caught_as_raet_code_catches_it() -> None:
    import libnacl
    alpha, beta = Privateer(), Privateer()
    cipher, nonce = alpha.encrypt(b"secret", beta.pubhex)
    tampered = bytes([cipher[0] ^ 1]) + cipher[1:]
    with pytest.raises(libnacl.CryptError):
        beta.decrypt(tampered, nonce, alpha.pubhex)
    with pytest.raises(ValueError):
        beta.decrypt(tampered, nonce, alpha.pubhex)
