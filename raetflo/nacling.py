"""NaCl primitives for RAET: Ed25519 signing, Curve25519 boxes and the CurveCP allow structs.

This is the only module that touches libnacl; every failure surfaces as ``CryptoError``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import libnacl

KEY_SIZE = 32
SIGNATURE_SIZE = 64
NONCE_SIZE = 24
TAG_SIZE = 16

HELLO_PLAIN = b"0" * 64  # hex of 32 zero bytes, as sent by the reference
HELLO_SIZE = 200  # plain 64, short pub 32, cipher 80, nonce 24
COOKIE_SIZE = 104  # cipher 80, nonce 24
INITIATE_SIZE = 328  # short pub 32, oreo 24, cipher 248, nonce 24
OREO_SIZE = 24
FQDN_SIZE = 128

_COOKIE_STUFF = struct.Struct("!32sLL24s")

_NACL_ERRORS = (ValueError, TypeError, libnacl.CryptError)


class CryptoError(Exception):
    """A key, box or signature operation failed."""


def _key(key: bytes | str, size: int = KEY_SIZE) -> bytes:
    """Normalise a key given raw (``size`` bytes) or as hex (``2*size`` chars, str or bytes)."""
    if isinstance(key, (bytes, bytearray, memoryview)):
        key = bytes(key)
        if len(key) == size:
            return key
        key = key.decode("latin-1")
    elif not isinstance(key, str):
        raise CryptoError(f"key must be bytes or str, not {type(key).__name__}")
    if len(key) == 2 * size:
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raise CryptoError("key is not valid hex") from None
        if len(raw) == size:
            return raw
    raise CryptoError(f"key must be {size} raw bytes or {2 * size} hex chars, got {len(key)}")


def nonce() -> bytes:
    """Return a fresh random 24-byte nonce."""
    fresh: bytes = libnacl.randombytes(NONCE_SIZE)
    return fresh


class Signer:
    """Long-term Ed25519 signing key, built from a 32-byte seed (random when None)."""

    __slots__ = ("keyraw", "keyhex", "verraw", "verhex", "_secret")

    def __init__(self, key: bytes | str | None = None) -> None:
        seed = libnacl.randombytes(KEY_SIZE) if key is None else _key(key)
        try:
            self.verraw, self._secret = libnacl.crypto_sign_seed_keypair(seed)
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None
        self.keyraw = seed
        self.keyhex = seed.hex()
        self.verhex = self.verraw.hex()

    def sign(self, msg: bytes) -> bytes:
        """Return the 64-byte detached signature of ``msg``."""
        try:
            signature: bytes = libnacl.crypto_sign_detached(msg, self._secret)
            return signature
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None


class Verifier:
    """Ed25519 verify key."""

    __slots__ = ("keyraw", "keyhex")

    def __init__(self, key: bytes | str) -> None:
        self.keyraw = _key(key)
        self.keyhex = self.keyraw.hex()

    def verify(self, signature: bytes, msg: bytes) -> bool:
        """Tell whether ``signature`` is a valid detached signature of ``msg``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            libnacl.crypto_sign_verify_detached(bytes(signature), bytes(msg), self.keyraw)
        except _NACL_ERRORS:
            return False
        return True


class Privateer:
    """Curve25519 secret key with its public key (a new random pair when None)."""

    __slots__ = ("keyraw", "keyhex", "pubraw", "pubhex")

    def __init__(self, key: bytes | str | None = None) -> None:
        try:
            if key is None:
                self.pubraw, self.keyraw = libnacl.crypto_box_keypair()
            else:
                self.keyraw = _key(key)
                self.pubraw = libnacl.crypto_scalarmult_base(self.keyraw)
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None
        self.keyhex = self.keyraw.hex()
        self.pubhex = self.pubraw.hex()


class Publican:
    """Curve25519 public key."""

    __slots__ = ("keyraw", "keyhex")

    def __init__(self, key: bytes | str) -> None:
        self.keyraw = _key(key)
        self.keyhex = self.keyraw.hex()


class Box:
    """Curve25519-XSalsa20-Poly1305 box between one secret and one public key.

    The shared key is computed once. Ciphers use the "easy" layout (16-byte tag first).
    """

    __slots__ = ("_shared",)

    def __init__(self, secret: bytes | str, public: bytes | str) -> None:
        try:
            self._shared = libnacl.crypto_box_beforenm(_key(public), _key(secret))
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None

    def seal(self, plain: bytes, nonce: bytes | None = None) -> tuple[bytes, bytes]:
        """Encrypt ``plain``; return (cipher, nonce), a fresh nonce when none is given."""
        if nonce is None:
            nonce = libnacl.randombytes(NONCE_SIZE)
        elif len(nonce) != NONCE_SIZE:
            raise CryptoError("nonce must be 24 bytes")
        try:
            return libnacl.crypto_box_easy_afternm(bytes(plain), bytes(nonce), self._shared), nonce
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None

    def open(self, cipher: bytes, nonce: bytes) -> bytes:
        """Decrypt and authenticate ``cipher`` sealed with ``nonce``."""
        if len(cipher) < TAG_SIZE or len(nonce) != NONCE_SIZE:
            raise CryptoError("cipher or nonce too short")
        try:
            plain: bytes = libnacl.crypto_box_open_easy_afternm(bytes(cipher), bytes(nonce),
                                                                self._shared)
            return plain
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None

    def encrypt(self, plain: bytes) -> bytes:
        """Return the RAET coat layout: cipher followed by its nonce."""
        cipher, used = self.seal(plain)
        return cipher + used

    def decrypt(self, coat: bytes) -> bytes:
        """Inverse of ``encrypt``."""
        if len(coat) < TAG_SIZE + NONCE_SIZE:
            raise CryptoError("coat too short")
        return self.open(coat[:-NONCE_SIZE], coat[-NONCE_SIZE:])


@dataclass(frozen=True, slots=True)
class Initiate:
    """Contents of an opened initiate body."""

    short_pub: bytes
    oreo: bytes
    long_pub: bytes
    vouched: bytes
    fqdn: str


def _need(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise CryptoError(f"{what} must be {size} bytes, got {len(value)}")


def hello_pack(short: Privateer, peer_long_pub: bytes) -> bytes:
    """Build the 200-byte hello body (initiator short key boxed to the peer's long key)."""
    cipher, used = Box(short.keyraw, peer_long_pub).seal(HELLO_PLAIN)
    return b"".join((HELLO_PLAIN, short.pubraw, cipher, used))


def hello_open(body: bytes, long: Privateer) -> bytes:
    """Check a hello body with our long key; return the initiator's short public key."""
    _need(body, HELLO_SIZE, "hello")
    plain, short_pub = body[:64], body[64:96]
    if Box(long.keyraw, short_pub).open(body[96:176], body[176:]) != plain:
        raise CryptoError("hello plain mismatch")
    return short_pub


def cookie_pack(long: Privateer, peer_short_pub: bytes, short_pub: bytes,
                seid: int, deid: int, oreo: bytes) -> bytes:
    """Build the 104-byte cookie body, boxed from our long key to the peer's short key."""
    _need(short_pub, KEY_SIZE, "short public key")
    _need(oreo, OREO_SIZE, "oreo")
    try:
        stuff = _COOKIE_STUFF.pack(short_pub, seid, deid, oreo)
    except struct.error as ex:
        raise CryptoError(str(ex)) from None
    cipher, used = Box(long.keyraw, peer_short_pub).seal(stuff)
    return cipher + used


def cookie_open(body: bytes, short: Privateer,
                peer_long_pub: bytes) -> tuple[bytes, int, int, bytes]:
    """Open a cookie body; return (correspondent short pub, seid, deid, oreo)."""
    _need(body, COOKIE_SIZE, "cookie")
    stuff = Box(short.keyraw, peer_long_pub).open(body[:80], body[80:])
    _need(stuff, _COOKIE_STUFF.size, "cookie stuff")
    return _COOKIE_STUFF.unpack(stuff)


def initiate_pack(short: Privateer, long: Privateer, peer_short_pub: bytes,
                  peer_long_pub: bytes, oreo: bytes, fqdn: str) -> bytes:
    """Build the 328-byte initiate body carrying our long key and its vouch for our short key."""
    _need(oreo, OREO_SIZE, "oreo")
    vouch, vouch_nonce = Box(long.keyraw, peer_long_pub).seal(short.pubraw)
    name = fqdn.encode("ascii", "ignore")[:FQDN_SIZE].ljust(FQDN_SIZE, b" ")
    cipher, used = Box(short.keyraw, peer_short_pub).seal(
        b"".join((long.pubraw, vouch, vouch_nonce, name)))
    return b"".join((short.pubraw, oreo, cipher, used))


def initiate_open(body: bytes, short: Privateer, long: Privateer) -> Initiate:
    """Open an initiate body and its vouch; the caller compares keys and oreo."""
    _need(body, INITIATE_SIZE, "initiate")
    short_pub = body[:32]
    stuff = Box(short.keyraw, short_pub).open(body[56:304], body[304:])
    _need(stuff, 232, "initiate stuff")
    long_pub = stuff[:32]
    vouched = Box(long.keyraw, long_pub).open(stuff[32:80], stuff[80:104])
    return Initiate(short_pub=short_pub, oreo=body[32:56], long_pub=long_pub,
                    vouched=vouched, fqdn=stuff[104:].decode("ascii", "ignore").strip())
