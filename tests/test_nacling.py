"""Tests of the NaCl wrappers and CurveCP helpers, with captured reference keys and packets."""
from __future__ import annotations

import pytest

from raetflo import nacling
from raetflo.nacling import (Box, CryptoError, Initiate, Privateer, Publican, Signer,
                             Verifier)

# Throw-away keys of a captured reference session.
ALPHA_SEED = "f28d70cab97f294e34692b1aec972b0ca6df751a22f809ad466be87b2fc2c611"
ALPHA_VERHEX = "2b0eaecf65af8e2466f97aa67270291586b7177feb754d8fb996c50b66f0bc5b"
ALPHA_LONG = "644f1e89f14f220fb3eda489edf0a8a12c7d3b41fa4a41802a2bdff93c79ff90"
ALPHA_LONG_PUB = "6af6a5dfb3c6fafcad928537ef77a518f8898d5cf8af27b44bf9ecc60689310c"
ALPHA_SHORT = "512d33f86c2f59442423a4211cb823865f6622f74a537984f9359ac657749b30"
ALPHA_SHORT_PUB = "f0ea23a8ae7ce437556503125af26bf0755bd36dc07a627d9bd1357e2d06197d"
BETA_SEED = "975ce78fd700fb36443e3d3b734b8161afe847a736759155fb86aab5d896e0db"
BETA_VERHEX = "66e2915848bf396fbb4755968bb86196d48eb404c56090b3b5c52d90a087cf96"
BETA_LONG = "9a1321a51f04ecfd827655f4588440a62875b87b399fb198cdea24a47ebc6222"
BETA_LONG_PUB = "805d79207811e8d438db197ea9f9175bc45e3f850e781cd161cb3bd5072e9630"
BETA_SHORT = "cdeef1bccb81b048345ecf6e1108fc64e66ffbdc4e91f23ceb20a45171ee468f"
BETA_SHORT_PUB = "cee19173023c7de600452f3b6440b73a2aa9f61bb24bb57239ca347797329012"

HELLO = bytes.fromhex(
    "30" * 64
    + ALPHA_SHORT_PUB
    + "b591a05f362712e39bde2d295f783ce1d1f00441a17cd202ba900263d8044b56"
    "243d1331118e3fe85a19cbadbdb240a1bad547ff1887f6e966d35a5151a8de15"
    "6c10fc246dd0e74cda7931a4c5920838"
    "50a4e43041ecb69a400a51a973b7f0dc2008d4f9e4216af2")
COOKIE = bytes.fromhex(
    "a4f16237253b79669d2d9c49d22529688ee0cc8e78929a9f4c0f8957bfd2c734"
    "3e0c6c6112dc17945b4c512a9d400b7c220b82ea4106a69483e0d186efd46807"
    "a499a01e976dbc89bd1e453c05ee7b4e"
    "928863250448667393791abf9f5f31f7bc8544b6d3f0fbc2")
OREO = bytes.fromhex("61bc1ccb7b2399080ef2c3c03ea6beb7827424b064b6a358")
INITIATE = bytes.fromhex(
    ALPHA_SHORT_PUB
    + "61bc1ccb7b2399080ef2c3c03ea6beb7827424b064b6a358"
    "083b3e5bc6ebe8bd6258601cd54e297bc70a350a778ed3c57873dc67909473cc"
    "fff10f7670b4e43506cc7ce487c1aca5a24706aaf280ee091681d783a14e2caa"
    "30485d7e7838eb03dcb1d2dd8f81030fbe37192bf62d0600b84b1927b81489d6"
    "dafe22464c3b29356f335d27913b623b732d081553217817a7e322616c93e339"
    "7eccb3e49509c8a3deb42256342236a473c4bcb5bdf2c94a83e83a95a0d29072"
    "cfa669454eb9d4364af99903f26ab5a0dcd78f3a4de616e68038b24479d75dd3"
    "3922f25e91764586ee0a2e5f79d973fa6f817239602927a3e4b93191e7ae9e90"
    "552d5e789fdd93c0721a30d653ceddb50bda7e29d4240e08"
    "2d09355072afa4a4b63cf1772e1d371460b1a4066ac9238f")
P10_COAT = bytes.fromhex(
    "54e08a26c928ff0fd77838eea7bd060e3887791df0d4670109979975de6300aa"
    "625cca21bec138c5d51cc11fd339943aa15b"
    "b8601fbd8c7445217fa1408d76d785456a1d744f3a6a4cf2")


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
    sig = signer.sign(b"message")
    assert len(sig) == 64
    assert sig == Signer(signer.keyhex).sign(b"message")  # deterministic
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
    for cls in (Verifier, Publican):
        with pytest.raises(CryptoError):
            cls(key)  # type: ignore[arg-type]
    if key is not None:
        for cls in (Signer, Privateer):
            with pytest.raises(CryptoError):
                cls(key)  # type: ignore[arg-type]


# --- box ------------------------------------------------------------------------------

def test_box_decrypts_captured_message_coat() -> None:
    box = Box(raw(BETA_SHORT), raw(ALPHA_SHORT_PUB))
    assert box.decrypt(P10_COAT) == b'{"subject":"short","content":"hi"}'
    # the same shared key from the other side, keys given as hex
    assert Box(ALPHA_SHORT, BETA_SHORT_PUB).decrypt(P10_COAT) == box.decrypt(P10_COAT)


def test_box_layout_and_round_trip() -> None:
    alpha, beta = Privateer(), Privateer()
    out, back = Box(alpha.keyraw, beta.pubraw), Box(beta.keyraw, alpha.pubraw)
    cipher, used = out.seal(b"hello")
    assert len(cipher) == 5 + 16 and len(used) == 24
    assert back.open(cipher, used) == b"hello"
    given = nacling.nonce()
    assert out.seal(b"hello", given) == (out.seal(b"hello", given)[0], given)
    coat = out.encrypt(b"body")
    assert len(coat) == 4 + 40
    assert back.decrypt(coat) == b"body"
    assert back.decrypt(out.encrypt(b"")) == b""
    assert out.encrypt(b"x") != out.encrypt(b"x")  # fresh nonces


def test_box_failures_raise_crypto_error() -> None:
    alpha, beta = Privateer(), Privateer()
    out, back = Box(alpha.keyraw, beta.pubraw), Box(beta.keyraw, alpha.pubraw)
    coat = out.encrypt(b"body")
    for bad in (coat[:-1], coat[1:], b"", b"\0" * 39, bytes([coat[0] ^ 1]) + coat[1:]):
        with pytest.raises(CryptoError):
            back.decrypt(bad)
    with pytest.raises(CryptoError):
        Box(Privateer().keyraw, beta.pubraw).decrypt(coat)
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
