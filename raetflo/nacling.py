"""NaCl primitives for RAET: Ed25519 signing, Curve25519 boxes and the CurveCP allow structs.

This is the only module that touches libnacl; every failure surfaces as ``CryptoError``.
The key holders (``Signer``, ``Verifier``, ``Publican``, ``Privateer``) and key objects
(``SigningKey``, ``VerifyKey``, ``PrivateKey``, ``PublicKey``) have raet's names and methods.
"""
from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial
from typing import Any

import libnacl

from raetflo.abiding import basestring  # noqa: F401  (raet code reads nacling.basestring)
from raetflo.encoding import Encodable, HexEncoder, RawEncoder

KEY_SIZE = 32
SIGNATURE_SIZE = 64
NONCE_SIZE = 24
TAG_SIZE = 16
UUID_MIN_SIZE = 16  # shortest uuid handed out: 13-14 hex digits of microseconds, then random

HELLO_PLAIN = b"0" * 64  # hex of 32 zero bytes, as sent by the reference
HELLO_SIZE = 200  # plain 64, short pub 32, cipher 80, nonce 24
COOKIE_SIZE = 104  # cipher 80, nonce 24
INITIATE_SIZE = 328  # short pub 32, oreo 24, cipher 248, nonce 24
OREO_SIZE = 24
FQDN_SIZE = 128

_COOKIE_STUFF = struct.Struct("!32sLL24s")

_NACL_ERRORS = (ValueError, TypeError, libnacl.CryptError)


class CryptoError(ValueError, libnacl.CryptError):
    """A key, box or signature operation failed: a ValueError, as raet's key errors are,
    and a ``libnacl.CryptError``, as raet's failed decryptions are."""


class KeyTypeError(CryptoError, TypeError):
    """A key of a type no key can be made from (raet raises TypeError for these)."""


class BadSignatureError(CryptoError):
    """A signed message does not verify."""


class HexKey(str):
    """Lowercase hex text of a key.

    raet gives hex keys as ASCII bytes; this text also equals (and hashes as) those bytes and
    has ``decode``, so code written for either works.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bytes, bytearray)):
            other = other.decode("latin-1")
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The plain text (as ``bytes.decode`` would give for raet's value)."""
        return str(self)


def _key(key: Any, size: int = KEY_SIZE) -> bytes:
    """Normalise a key given raw (``size`` bytes), as hex (``2*size`` chars, str or bytes) or
    as a key object."""
    if isinstance(key, _RawKey):
        key = bytes(key)
    if isinstance(key, (bytes, bytearray, memoryview)):
        given = bytes(key)
        if len(given) == size:
            return given
        key = given.decode("latin-1")
    elif not isinstance(key, str):
        raise KeyTypeError(f"key must be bytes, str or a key object, not "
                           f"{type(key).__name__}")
    if len(key) == 2 * size:
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raise CryptoError("key is not valid hex") from None
        if len(raw) == size:
            return raw
    raise CryptoError(f"key must be {size} raw bytes or {2 * size} hex chars, got {len(key)}")


def _decoded(key: Any, encoder: Any) -> bytes:
    """A 32-byte raw key from ``key`` decoded by ``encoder``."""
    try:
        raw = encoder.decode(key)
    except (ValueError, TypeError) as ex:
        raise CryptoError(f"key does not decode: {ex}") from None
    return _key(bytes(raw) if isinstance(raw, (bytearray, memoryview)) else raw)


def nonce() -> bytes:
    """Return a fresh random 24-byte nonce."""
    fresh: bytes = libnacl.randombytes(NONCE_SIZE)
    return fresh


def uuid(size: int = 16) -> str:
    """A unique hex id of ``size`` (at least 16) chars: microseconds since the epoch, then
    random hex."""
    size = max(int(size), UUID_MIN_SIZE)
    front = f"{time.time_ns() // 1000:x}"
    back: str = libnacl.randombytes(size // 2 + 1).hex()
    return (front + back)[:size]


# --- key objects ----------------------------------------------------------------------

class _RawKey(Encodable):
    """A 32-byte key; ``bytes(key)`` is its raw value."""

    __slots__ = ("_raw",)
    SIZE = KEY_SIZE

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def __bytes__(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bytes(other) == self._raw

    def __hash__(self) -> int:
        return hash((type(self), self._raw))


class PublicKey(_RawKey):
    """Curve25519 public key."""

    __slots__ = ()

    def __init__(self, public_key: Any, encoder: Any = RawEncoder) -> None:
        super().__init__(_decoded(public_key, encoder))


class PrivateKey(_RawKey):
    """Curve25519 secret key; ``public_key`` is its public key."""

    __slots__ = ("public_key",)

    def __init__(self, private_key: Any, encoder: Any = RawEncoder) -> None:
        super().__init__(_decoded(private_key, encoder))
        self.public_key = PublicKey(libnacl.crypto_scalarmult_base(self._raw))

    @classmethod
    def generate(cls) -> PrivateKey:
        """A new random secret key."""
        return cls(libnacl.randombytes(KEY_SIZE))


class SignedMessage(bytes):
    """Signature followed by the message, with both parts as properties."""

    @property
    def signature(self) -> bytes:
        return bytes(self[:SIGNATURE_SIZE])

    @property
    def message(self) -> bytes:
        return bytes(self[SIGNATURE_SIZE:])


class VerifyKey(_RawKey):
    """Ed25519 verify key."""

    __slots__ = ()

    def __init__(self, key: Any, encoder: Any = RawEncoder) -> None:
        super().__init__(_decoded(key, encoder))

    def verify(self, smessage: bytes, signature: bytes | None = None,
               encoder: Any = RawEncoder) -> bytes:
        """Return the message of a signed message (or of ``signature`` + ``smessage``);
        raise BadSignatureError if it does not verify."""
        if signature is not None:
            smessage = signature + smessage
        try:
            opened: bytes = libnacl.crypto_sign_open(encoder.decode(smessage), self._raw)
        except _NACL_ERRORS:
            raise BadSignatureError("signature does not verify") from None
        return opened


class SigningKey(_RawKey):
    """Ed25519 signing key from its 32-byte seed; ``verify_key`` is its verify key."""

    __slots__ = ("verify_key", "_secret")

    def __init__(self, seed: Any, encoder: Any = RawEncoder) -> None:
        super().__init__(_decoded(seed, encoder))
        verraw, self._secret = libnacl.crypto_sign_seed_keypair(self._raw)
        self.verify_key = VerifyKey(verraw)

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random signing key."""
        return cls(libnacl.randombytes(KEY_SIZE))

    def sign(self, message: bytes, encoder: Any = RawEncoder) -> SignedMessage:
        """Signature and message, each encoded by ``encoder``."""
        signature = self.signature(message)
        return SignedMessage(encoder.encode(signature) + encoder.encode(bytes(message)))

    def signature(self, message: bytes) -> bytes:
        """The 64-byte detached signature of ``message``."""
        if isinstance(message, str):
            raise CryptoError("sign bytes, not text: encode the text first (raet signed "
                              "part of its in-memory form, which nothing can verify)")
        try:
            signature: bytes = libnacl.crypto_sign_detached(bytes(message), self._secret)
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None
        return signature


# --- key holders ------------------------------------------------------------------------

class Signer:
    """Long-term Ed25519 signing key, built from a 32-byte seed (random when None)."""

    __slots__ = ("key", "keyraw", "keyhex", "verraw", "verhex")

    def __init__(self, key: Any = None) -> None:
        if not isinstance(key, SigningKey):
            key = SigningKey.generate() if key is None else SigningKey(_key(key))
        self.key: SigningKey = key
        self.keyraw = bytes(key)
        self.keyhex = HexKey(self.keyraw.hex())
        self.verraw = bytes(key.verify_key)
        self.verhex = HexKey(self.verraw.hex())

    def sign(self, msg: bytes) -> SignedMessage:
        """The signed message: signature followed by ``msg``."""
        return self.key.sign(msg)

    def signature(self, msg: bytes) -> bytes:
        """The 64-byte detached signature of ``msg``."""
        return self.key.signature(msg)


def hex_view(raw: str, name: str) -> property:
    """Attribute ``name``: the hex of attribute ``raw``, made when read; assigning it (as
    raet code may, to send other key text) keeps the value given instead."""

    def get(holder: Any) -> Any:
        given = holder._given
        if given is not None and name in given:
            return given[name]
        return HexKey(getattr(holder, raw).hex())

    def put(holder: Any, value: Any) -> None:
        if holder._given is None:
            holder._given = {}
        holder._given[name] = value

    return property(get, put, doc=f"``{raw}`` in hex (made when read).")


class Verifier:
    """Ed25519 verify key (raw; its hex is made when read: a remote's record holds less)."""

    __slots__ = ("key", "keyraw", "_given")

    def __init__(self, key: Any = None) -> None:
        """``key`` is required: raet's key-less verifier, which verifies nothing, is refused."""
        self.key = key if isinstance(key, VerifyKey) else VerifyKey(_key(key))
        self.keyraw = bytes(self.key)
        self._given: dict[str, Any] | None = None

    keyhex = hex_view("keyraw", "keyhex")

    def verify(self, signature: bytes, msg: bytes) -> bool:
        """Tell whether ``signature`` is a valid detached signature of ``msg``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        signed = bytes(msg)  # (TypeError for text, as raet)
        try:
            libnacl.crypto_sign_verify_detached(bytes(signature), signed, self.keyraw)
        except _NACL_ERRORS:
            return False
        return True


class Privateer:
    """Curve25519 secret key with its public key (a new random pair when None); raw, the
    hex forms made when read."""

    __slots__ = ("key", "keyraw", "pubraw", "_given")

    def __init__(self, key: Any = None) -> None:
        if not isinstance(key, PrivateKey):
            key = PrivateKey.generate() if key is None else PrivateKey(_key(key))
        self.key: PrivateKey = key
        self.keyraw = bytes(key)
        self.pubraw = bytes(key.public_key)
        self._given: dict[str, Any] | None = None

    keyhex = hex_view("keyraw", "keyhex")
    pubhex = hex_view("pubraw", "pubhex")

    @staticmethod
    def nonce() -> bytes:
        """A fresh random 24-byte nonce."""
        return nonce()

    def encrypt(self, msg: bytes, pubkey: Any, enhex: bool = False) -> tuple[bytes, bytes]:
        """Box ``msg`` from this key to ``pubkey`` (key object, raw or hex); return
        (cipher, nonce), both hex encoded when ``enhex``."""
        cipher, used = Box(self.keyraw, _key(pubkey)).seal(msg)
        return (cipher.hex().encode(), used.hex().encode()) if enhex else (cipher, used)

    def decrypt(self, cipher: bytes, nonce: bytes, pubkey: Any, dehex: bool = False) -> bytes:
        """Open ``cipher`` boxed to this key from ``pubkey``; ``dehex`` when both cipher and
        nonce are hex encoded."""
        if dehex:
            cipher, nonce = _unhex(cipher), _unhex(nonce)
        return Box(self.keyraw, _key(pubkey)).open(cipher, nonce)


def _unhex(data: bytes | str) -> bytes:
    try:
        return HexEncoder.decode(data)
    except (ValueError, TypeError) as ex:
        raise CryptoError(f"not hex: {ex}") from None


class Publican:
    """Curve25519 public key (raw; its hex is made when read)."""

    __slots__ = ("key", "keyraw", "_given")

    def __init__(self, key: Any = None) -> None:
        """``key`` is required: raet's key-less publican is refused."""
        self.key = key if isinstance(key, PublicKey) else PublicKey(_key(key))
        self.keyraw = bytes(self.key)
        self._given: dict[str, Any] | None = None

    keyhex = hex_view("keyraw", "keyhex")


class EncryptedMessage(bytes):
    """What :meth:`Box.encrypt` gives: the nonce, then the cipher (tag first), encoded by
    the encoder given; ``nonce`` and ``ciphertext`` are the two parts, encoded alike."""

    nonce: bytes
    ciphertext: bytes

    @classmethod
    def of(cls, nonce: bytes, cipher: bytes, encoder: Any = RawEncoder) -> EncryptedMessage:
        message = cls(encoder.encode(nonce + cipher))
        message.nonce, message.ciphertext = encoder.encode(nonce), encoder.encode(cipher)
        return message


class Box(Encodable):
    """Curve25519-XSalsa20-Poly1305 box between one secret and one public key (key objects,
    raw bytes or hex); ``bytes(box)`` is the shared key, computed once. Ciphers use the
    "easy" layout (16-byte tag first). ``seal``/``open`` and the RAET coat layout
    (``seal_coat``/``open_coat``) serve the stack; ``encrypt``/``decrypt``/``decode`` are
    raet's object API.
    """

    __slots__ = ("_shared",)
    NONCE_SIZE = NONCE_SIZE

    def __init__(self, private_key: Any, public_key: Any) -> None:
        try:
            self._shared = libnacl.crypto_box_beforenm(_key(public_key), _key(private_key))
        except _NACL_ERRORS as ex:
            raise CryptoError(str(ex)) from None

    def __bytes__(self) -> bytes:
        return self._shared

    @classmethod
    def decode(cls, encoded: Any, encoder: Any = RawEncoder) -> Box:
        """A box from its shared key, encoded by ``encoder``."""
        box = cls.__new__(cls)
        box._shared = _decoded(encoded, encoder)
        return box

    def seal(self, plain: bytes, nonce: bytes | None = None) -> tuple[bytes, bytes]:
        """Encrypt ``plain``; return (cipher, nonce), a fresh nonce when none is given."""
        if nonce is None:
            nonce = libnacl.randombytes(NONCE_SIZE)
        elif len(nonce) != NONCE_SIZE:
            raise CryptoError(f"the nonce must be {NONCE_SIZE} bytes, not {len(nonce)}")
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

    def seal_coat(self, plain: bytes) -> bytes:
        """The RAET coat of ``plain``: cipher followed by its (fresh) nonce."""
        cipher, used = self.seal(plain)
        return cipher + used

    def open_coat(self, coat: bytes) -> bytes:
        """Inverse of ``seal_coat``."""
        if len(coat) < TAG_SIZE + NONCE_SIZE:
            raise CryptoError("coat too short")
        return self.open(coat[:-NONCE_SIZE], coat[-NONCE_SIZE:])

    def encrypt(self, plaintext: bytes, nonce: bytes,
                encoder: Any = RawEncoder) -> EncryptedMessage:
        """raet's: ``plaintext`` sealed with ``nonce``, as nonce + cipher, encoded."""
        cipher, _ = self.seal(plaintext, bytes(nonce))
        return EncryptedMessage.of(bytes(nonce), cipher, encoder)

    def decrypt(self, ciphertext: bytes, nonce: bytes | None = None,
                encoder: Any = RawEncoder) -> bytes:
        """raet's: the plain text of ``ciphertext`` (decoded by ``encoder``), which begins
        with its nonce when ``nonce`` is not given."""
        try:
            cipher = bytes(encoder.decode(ciphertext))
        except (ValueError, TypeError) as ex:
            raise CryptoError(f"ciphertext does not decode: {ex}") from None
        if nonce is None:
            nonce, cipher = cipher[:NONCE_SIZE], cipher[NONCE_SIZE:]
        return self.open(cipher, bytes(nonce))


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


def sign_many(signer: Signer, msgs: Sequence[bytes], pool: Executor | None = None) -> list[bytes]:
    """The detached signatures of ``msgs`` by ``signer``, in order (see :class:`Shared`);
    Ed25519 signatures are deterministic, so they are those of ``signer.signature``."""
    if pool is None:  # nobody to share with: no queue, no lock
        return [signer.signature(msg) for msg in msgs]
    return Shared([partial(signer.signature, msg) for msg in msgs], pool).results()


_PENDING = object()  # a result not in yet


class Shared:
    """Jobs run in order by the caller and, once a result is asked for, by one thread of
    ``pool`` (when given) as well: both take the next job from one queue, so two cores
    sign or verify at once (libnacl computes without the GIL). ``add`` queues more. The
    results do not depend on which thread ran what.

    A batch pays, a trickle does not: the helper needs the GIL back after every job, which
    costs little while the caller is itself in libnacl and much while it runs Python, so
    the jobs are queued first and run when their results are wanted.
    """

    def __init__(self, jobs: Iterable[Callable[[], Any]] = (),
                 pool: Executor | None = None) -> None:
        self._jobs = list(jobs)
        self._results: list[Any] = [_PENDING] * len(self._jobs)
        self._taken = 0  # jobs before this index are taken (by the helper or the caller)
        self._changed = threading.Condition()
        self._pool = pool
        self._helper: Future | None = None

    def add(self, job: Callable[[], Any]) -> int:
        """Queue one more job; its index (for ``result``)."""
        with self._changed:
            self._jobs.append(job)
            self._results.append(_PENDING)
            return len(self._jobs) - 1

    def _help(self) -> None:
        changed, jobs, results = self._changed, self._jobs, self._results
        while True:
            with changed:
                if self._taken >= len(jobs):
                    return
                index = self._taken
                self._taken += 1
            result = jobs[index]()
            with changed:
                results[index] = result
                changed.notify_all()

    def _take(self) -> int | None:
        """Take the next job nobody has taken (None: none left), starting the helper on the
        rest when it is not running."""
        with self._changed:
            if self._taken >= len(self._jobs):
                return None
            index = self._taken
            self._taken += 1
            idle = self._helper is None or self._helper.done()
            if self._pool is not None and idle and self._taken < len(self._jobs):
                self._helper = self._pool.submit(self._help)
            return index

    def result(self, index: int) -> Any:
        """The result of job ``index``: this thread runs the next jobs nobody has taken
        until it is in (the helper may be the one that ran it)."""
        results, changed = self._results, self._changed
        while results[index] is _PENDING:
            taken = self._take()
            if taken is not None:
                results[taken] = self._jobs[taken]()
                continue
            helper = self._helper
            with changed:  # the helper took it: it is on it
                while results[index] is _PENDING and helper is not None and not helper.done():
                    changed.wait(0.05)
            if results[index] is _PENDING:  # the helper failed: its error comes here
                results[index] = self._jobs[index]()
        return results[index]

    def results(self) -> list[Any]:
        """Every result, in order."""
        return [self.result(index) for index in range(len(self._jobs))]
