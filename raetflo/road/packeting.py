"""RAET road packet codec: bytes <-> ``Packet`` (head, coat, foot), bodies, coats and segments.

Pure functions, no I/O. Parsing untrusted bytes either returns a ``Packet`` or raises
``PacketError``; its ``reason`` is a short slug meant for statistics.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any

import msgpack

from raetflo import nacling, raeting
from raetflo.bodies import from_json, from_msgpack
from raetflo.nacling import Box, CryptoError, Signer, Verifier
from raetflo.raeting import (BodyKind, CoatKind, FootKind, HeadKind, PacketError, PcktKind,
                             TrnsKind)


# Wire order of head fields: always ri pl hl fg, then the optional fields.
HEAD_FIELDS = ("ri", "pl", "hl", "fg", "vn", "pk", "hk", "se", "de", "si", "ti", "tk",
               "dt", "oi", "sn", "sc", "ml", "bk", "ck", "fk", "fl")
_OPTIONAL = HEAD_FIELDS[4:]
_DEFAULTS = tuple(1 if name == "sc" else 0 for name in _OPTIONAL)
_FLAGS = tuple(raeting.FLAG_BITS.items())

_U32 = 0xFFFFFFFF
_SIGNATURE_SIZE = raeting.FOOT_SIZES[FootKind.nacl]
_ZEROS = bytes(_SIGNATURE_SIZE)

# Fixed-width start of each head kind (pl, hl, fg) and its terminator.
_RAET_START = b"ri RAET\npl %04x\nhl %02x\nfg %02x"
_JSON_START = b'{"ri":"RAET","pl":"%07x","hl":"%02x","fg":"%02x"'
_RAET_PREFIX = b"ri RAET\n"
_JSON_PREFIX = b'{"ri":"RAET",'
_RAET_END = raeting.HEAD_TERMINATORS[HeadKind.raet]
_JSON_TERMINATOR = raeting.HEAD_TERMINATORS[HeadKind.json]
_JSON_END = b"}" + _JSON_TERMINATOR
_START_SIZE: dict[int, int] = {HeadKind.raet: len(_RAET_START % (0, 0, 0)),
                               HeadKind.json: len(_JSON_START % (0, 0, 0))}
_END_SIZE: dict[int, int] = {HeadKind.raet: len(_RAET_END), HeadKind.json: len(_JSON_END)}
# Receive bound: fixed at the default packet size, so lowering raeting.UDP_MAX_PACKET_SIZE
# at run time (it limits what we send) does not refuse packets peers sent under it.
_RX_PACKET_SIZE = raeting.UDP_MAX_PACKET_SIZE
_PL_LIMIT: dict[int, int] = {HeadKind.raet: 0xFFFF, HeadKind.json: 0xFFFFFFF}
_FORMATS: dict[int, tuple[bytes, ...]] = {
    HeadKind.raet: tuple(b"\n%s %s" % (name.encode(), b"%f" if name == "dt" else b"%x")
                         for name in _OPTIONAL),
    HeadKind.json: tuple(b',"%s":%s' % (name.encode(), b"%a" if name == "dt" else b"%d")
                         for name in _OPTIONAL),
}

# Receive side: the known keys, which are integers, and the accepted enum values.
_INT_KEYS = frozenset(HEAD_FIELDS) - {"ri", "fg", "dt"}
_RAET_INTS = {name.encode(): name for name in _INT_KEYS}
_HEX_STR_KEYS = frozenset(("pl", "hl"))
_FLAG_SETS = tuple(tuple((name, bool(fg & bit)) for name, bit in _FLAGS) for fg in range(256))
_FLAGS_SET = tuple({name: True for name, flag in flags if flag} for flags in _FLAG_SETS)


def _known(kind: type[enum.IntEnum]) -> frozenset[int]:
    return frozenset(int(m) for m in kind if m.name != "unknown")


# The kinds parse compares with, as plain ints (an enum member is slower to reach)
_RAET, _JSON = int(HeadKind.raet), int(HeadKind.json)
_MESSAGE_PK, _MESSAGE_TK = int(PcktKind.message), int(TrnsKind.message)
_NACL_FOOT = int(FootKind.nacl)
_VERSION = raeting.VERSION
_PKS = _known(PcktKind)
_TKS = _known(TrnsKind)
_BKS = _known(BodyKind)
_FKS = _known(FootKind)

# Transaction kinds whose every packet must be signed: the reference always signs them, and
# an unsigned one could change session state. Message packets must be signed with ``veritive``.
SIGNED_KINDS = frozenset({TrnsKind.allow, TrnsKind.alive})


@dataclass(slots=True)
class Head:
    """Head field values of one packet (names as on the wire)."""

    pk: int = 0
    hk: int = 0
    vn: int = 0
    se: int = 0
    de: int = 0
    si: int = 0
    ti: int = 0
    tk: int = 0
    dt: float = 0.0
    oi: int = 0
    sn: int = 0
    sc: int = 1
    ml: int = 0
    bk: int = 0
    ck: int = 0
    fk: int = 0
    fl: int = 0
    cf: bool = False
    bf: bool = False
    nf: bool = False
    df: bool = False
    vf: bool = False
    wf: bool = False
    sf: bool = False
    af: bool = False
    pl: int = 0
    hl: int = 0

    @property
    def fg(self) -> int:
        """The flags packed into one byte (bits as in ``raeting.FLAG_BITS``)."""
        return (self.vf << 7 | self.df << 6 | self.nf << 5 | self.af << 4
                | self.sf << 3 | self.wf << 2 | self.bf << 1 | self.cf)

    @fg.setter
    def fg(self, value: int) -> None:
        for name, flag in _FLAG_SETS[value & 0xFF]:
            setattr(self, name, flag)

    def copy(self, **changes: Any) -> Head:
        """Return a copy with the given fields changed (ten times quicker than
        ``dataclasses.replace``, which matters: every packet sent copies a head)."""
        new = Head(*_head_values(self))
        for name, value in changes.items():
            setattr(new, name, value)
        return new


_head_values = attrgetter(*(field.name for field in dataclasses.fields(Head)))


@dataclass(slots=True)
class Packet:
    """A parsed packet: its head and raw bytes, whose coat (possibly encrypted body bytes)
    and foot are cut out when asked for (a packet kept for a transaction holds no copy)."""

    head: Head
    packed: bytes

    @property
    def coat(self) -> bytes:
        head = self.head
        return self.packed[head.hl:len(self.packed) - head.fl]

    @property
    def foot(self) -> bytes:
        return self.packed[len(self.packed) - self.head.fl:]


def _foot_size(fk: int) -> int:
    return _SIGNATURE_SIZE if fk == _NACL_FOOT else 0


def _fields(head: Head, fl: int) -> bytes:
    """Encode the non-default optional fields of ``head`` in wire order."""
    try:
        formats = _FORMATS[head.hk]
    except KeyError:
        raise PacketError("bad_kind", f"head kind {head.hk!r}") from None
    values = (head.vn, head.pk, head.hk, head.se, head.de, head.si, head.ti, head.tk,
              head.dt, head.oi, head.sn, head.sc, head.ml, head.bk, head.ck, head.fk, fl)
    pairs = zip(formats, _DEFAULTS, values, strict=True)
    return b"".join([fmt % value for fmt, default, value in pairs if value != default])


def head_length(head: Head) -> int:
    """Length of the head ``pack`` would emit for ``head`` (lengths have fixed widths)."""
    fields = _fields(head, _foot_size(head.fk))
    return _START_SIZE[head.hk] + len(fields) + _END_SIZE[head.hk]


def pack(head: Head, coat: bytes = b"", signer: Signer | None = None,
         stream: nacling.Shared | None = None) -> Any:
    """Serialise one packet; set ``head.fl``, ``head.pl`` and ``head.hl``; sign when fk is
    nacl: now, or with ``stream`` there, giving an :class:`Unsigned` (bytes otherwise)."""
    unsigned = frame(head, coat, signer)
    if not head.fl or signer is None:  # (frame refuses a signed packet without a signer)
        return unsigned
    if stream is not None:
        return Unsigned(unsigned, stream.add(partial(signer.signature, unsigned)), stream)
    return unsigned[:-head.fl] + signer.signature(unsigned)


class Unsigned:
    """A signed packet whose signature job ``index`` of ``stream`` makes: ``packed``
    (waiting for it) is what ``pack`` would have given. Once whole it lets its frame and
    the stream go (a transaction holds its last packet for redos; the stream holds every
    frame of its pass)."""

    __slots__ = ("frame", "index", "stream", "_packed")

    def __init__(self, frame: bytes, index: int, stream: nacling.Shared) -> None:
        self.frame: bytes | None = frame
        self.index = index
        self.stream: nacling.Shared | None = stream
        self._packed: bytes | None = None

    @property
    def packed(self) -> bytes:
        if self._packed is None:
            assert self.frame is not None and self.stream is not None
            self._packed = self.frame[:-_SIGNATURE_SIZE] + self.stream.result(self.index)
            self.frame = self.stream = None
        return self._packed


def pack_many(parts: Sequence[tuple[Head, bytes]], signer: Signer | None,
              pool: Executor | None = None, stream: nacling.Shared | None = None) -> list[Any]:
    """``pack`` of each ``(head, coat)`` pair: with ``stream`` as ``pack`` does, else the
    signatures made together, partly by a thread of ``pool`` (see ``nacling.sign_many``);
    the very bytes ``pack`` gives."""
    if stream is not None:
        return [pack(head, coat, signer, stream) for head, coat in parts]
    frames = [frame(head, coat, signer) for head, coat in parts]
    signed = [index for index, (head, _) in enumerate(parts) if head.fl]
    if signed and signer is not None:  # (frame refuses a signed packet without a signer)
        signatures = nacling.sign_many(signer, [frames[index] for index in signed], pool)
        for index, signature in zip(signed, signatures):
            frames[index] = frames[index][:-_SIGNATURE_SIZE] + signature
    return frames


def frame(head: Head, coat: bytes, signer: Signer | None) -> bytes:
    """Head and coat of one packet, with an all-zero foot when fk is nacl (what the
    signature signs); set ``head.fl``, ``head.pl`` and ``head.hl``. PacketError when it
    does not fit, or is to be signed without a ``signer``."""
    fl = _foot_size(head.fk)
    fields = _fields(head, fl)
    hk = head.hk
    hl = _START_SIZE[hk] + len(fields) + _END_SIZE[hk]
    if hl > raeting.MAX_HEAD_SIZE:
        raise PacketError("too_big", f"head of {hl} bytes")
    pl = hl + len(coat) + fl
    if pl > raeting.UDP_MAX_PACKET_SIZE or pl > _PL_LIMIT[hk]:
        raise PacketError("too_big", f"packet of {pl} bytes")
    head.fl, head.pl, head.hl = fl, pl, hl
    if hk == HeadKind.raet:
        start = _RAET_START % (pl, hl, head.fg)
        end = _RAET_END
    else:
        start = _JSON_START % (pl, hl, head.fg)
        end = _JSON_END
    if not fl:
        return b"".join((start, fields, end, coat))
    if signer is None:
        raise PacketError("missing_signature", "no signer for a signed packet")
    return b"".join((start, fields, end, coat, _ZEROS))


def _bad(detail: str) -> PacketError:
    return PacketError("bad_head", detail)


def _dt(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError("dt")
    return value


def _in_range(name: str, value: int) -> bool:
    """Whether a head field value is a 32 bit unsigned int; a coat kind may be any 32 bit
    int, as raet sends a kind it cannot make (refused when the body is decoded)."""
    return (-_U32 if name == "ck" else 0) <= value <= _U32


# Parsed raet head lines, by line: most of a head is looked up, not parsed (a link's ids,
# kinds and flags repeat from packet to packet, and a message's segments differ only in
# sn). Bounded: emptied once it holds HEAD_LINES_MAX, so lines a peer makes up cost it
# nothing it can keep.
_UNCACHED_FIELDS = frozenset((b"sn", b"dt", b"oi"))  # (values that seldom repeat)
_LINES: dict[bytes, tuple[str, Any]] = {}
HEAD_LINES_MAX = 1024


def _raet_line(line: bytes) -> tuple[str, Any]:
    """(field name, value) of one raet head line; KeyError for an unknown field,
    ValueError for a bad line or value."""
    key, value = line.split(b" ")
    name = _RAET_INTS.get(key)
    if name is not None:
        number = int(value, 16)
        if not 0 <= number <= _U32 and not _in_range(name, number):
            raise ValueError(f"{name} out of range")
        item: tuple[str, Any] = (name, number)
    elif key == b"fg":
        item = ("fg", int(value, 16))
    elif key == b"dt":
        item = ("dt", _dt(float(value)))
    elif key == b"ri":
        item = ("ri", value)
    else:
        raise KeyError(key)
    if key not in _UNCACHED_FIELDS:
        if len(_LINES) >= HEAD_LINES_MAX:
            _LINES.clear()
        _LINES[line] = item
    return item


def _raet_fields(text: bytes) -> dict[str, Any]:
    """Field values of a raet head (without its terminator); flags are packed in ``fg``."""
    get = _LINES.get
    try:
        values = dict([get(line) or _raet_line(line) for line in text.split(b"\n")])
    except KeyError as ex:
        raise _bad(f"unknown field {ex}") from None
    except ValueError as ex:
        raise _bad(f"bad field line or value: {ex}") from None
    fg = values.get("fg", 0)
    if values.pop("ri", None) != b"RAET" or not 0 <= fg <= 0xFF:
        raise _bad("ri or fg")
    values["fg"] = fg
    return values


def _hex(value: Any) -> int:
    if type(value) is not str:
        raise ValueError("hex field is not a string")
    return int(value, 16)


def _json_fields(text: bytes) -> dict[str, Any]:
    """Field values of a json head (without its terminator); flags are packed in ``fg``."""
    try:
        pairs = json.loads(text.decode("ascii"))
    except (ValueError, RecursionError):
        raise _bad("json head does not decode") from None
    if type(pairs) is not dict:
        raise _bad("json head is not an object")
    ri = pairs.pop("ri", None)
    dt = pairs.pop("dt", None)
    try:
        fg = _hex(pairs.pop("fg", "0"))
        for name in _HEX_STR_KEYS.intersection(pairs):
            pairs[name] = _hex(pairs[name])
        if not _INT_KEYS.issuperset(pairs):
            raise ValueError(f"unknown fields {sorted(pairs.keys() - _INT_KEYS)}")
        for item in pairs.items():
            if type(item[1]) is not int or not _in_range(*item):
                raise ValueError("value is not a 32 bit unsigned int")
        if dt is not None:
            if type(dt) is not int and type(dt) is not float:
                raise ValueError("dt is not a number")
            pairs["dt"] = _dt(dt)
    except ValueError as ex:
        raise _bad(str(ex)) from None
    if ri != "RAET" or not 0 <= fg <= 0xFF:
        raise _bad("ri or fg")
    pairs["fg"] = fg
    return pairs


def parse(data: bytes, *, veritive: bool = True) -> Packet:
    """Parse and structurally check one datagram (head checks and foot checks, no crypto).

    Allow and alive packets must be signed, and with ``veritive`` message packets too.
    """
    size = len(data)
    if size > max(raeting.UDP_MAX_PACKET_SIZE, _RX_PACKET_SIZE) * raeting.RX_BUFFER_COUNT:
        raise PacketError("oversized", f"{size} bytes")
    if data.startswith(_RAET_PREFIX):
        kind, end_mark = _RAET, _RAET_END
    elif data.startswith(_JSON_PREFIX):
        kind, end_mark = _JSON, _JSON_TERMINATOR
    else:
        raise PacketError("garbage", "unrecognizable head")
    limit = raeting.MAX_HEAD_SIZE
    end = data.find(end_mark, 0, limit)
    if end < 0:
        raise PacketError("truncated" if size < limit else "bad_head", "no head terminator")
    hl = end + len(end_mark)
    values = _raet_fields(data[:end]) if kind == _RAET else _json_fields(data[:end])
    fg = values.pop("fg")
    if fg:
        values.update(_FLAGS_SET[fg])  # (a clear flag is the default)
    head = Head(**values)
    if head.hk != kind:
        raise PacketError("bad_kind", f"hk {head.hk} in a {HeadKind(kind).name} head")
    if head.hl != hl:
        raise PacketError("bad_length", f"hl {head.hl} but head is {hl} bytes")
    if head.pl != size:
        raise PacketError("truncated" if head.pl > size else "bad_length",
                          f"pl {head.pl} but datagram is {size} bytes")
    if head.vn != _VERSION:
        raise PacketError("bad_version", f"vn {head.vn}")
    pk, tk, fk = head.pk, head.tk, head.fk
    if (pk not in _PKS or tk not in _TKS or head.bk not in _BKS
            or fk not in _FKS):  # the coat kind is checked as the body is decoded
        raise PacketError("bad_kind", "unknown packet, transaction, body or foot kind")
    if pk == _MESSAGE_PK and head.sn >= head.sc:  # an ack's sn is the highest seen
        raise _bad(f"sn {head.sn} sc {head.sc}")
    fl = head.fl
    if fl != _foot_size(fk):
        raise _bad(f"fl {fl} for fk {fk}")
    if fl > size - hl:
        raise PacketError("bad_length", "no room for the foot")
    if fk != _NACL_FOOT and (tk in SIGNED_KINDS or (veritive and tk == _MESSAGE_TK)):
        raise PacketError("missing_signature",
                          f"unsigned {TrnsKind(tk).name} transaction packet")
    return Packet(head, data)


def verify(packet: Packet, verifier: Verifier) -> None:
    """Check the foot signature of a parsed packet; a no-op unless fk is nacl."""
    if packet.head.fk != FootKind.nacl:
        return
    if not verifier.verify(packet.foot, signed_part(packet)):
        raise PacketError("bad_signature")


def signed_part(packet: Packet) -> bytes:
    """What the foot of a signed packet signs: the packet with an all-zero foot."""
    return packet.packed[:-packet.head.fl] + _ZEROS


_JSON_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def encode_body(bk: int, body: Any) -> bytes:
    """Serialise a body of kind ``bk`` (an empty mapping gives zero bytes)."""
    if bk == BodyKind.nada:
        return b""
    if bk == BodyKind.raw:
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise PacketError("bad_body", "raw body must be bytes")
        return bytes(body)
    if bk not in (BodyKind.json, BodyKind.msgpack):
        raise PacketError("bad_body", f"body kind {bk!r}")
    if type(body) is not dict:  # (a plain dict, the usual body, skips the abc check)
        if not isinstance(body, Mapping):
            raise PacketError("bad_body", "body must be a mapping")
        if not isinstance(body, dict):
            body = dict(body)
    if not body:
        return b""
    try:
        if bk == BodyKind.json:
            return _JSON_ENCODE(body).encode("ascii")
        packed: bytes = msgpack.packb(body, use_bin_type=True)
        return packed
    except (TypeError, ValueError, OverflowError, RecursionError) as ex:
        raise PacketError("bad_body", str(ex)) from None


def decode_body(bk: int, data: bytes, mapping: type = dict) -> Any:
    """Deserialise a body of kind ``bk``: bytes (raw) or a ``mapping`` (json, msgpack,
    nada) whose nested maps are of that type too (the polled driver asks for ioflo's
    ``odict``, as raet delivers)."""
    if bk == BodyKind.nada:
        return mapping()
    if bk == BodyKind.raw:
        return bytes(data)
    if bk == BodyKind.json:
        if not data:
            return mapping()
        try:
            body = from_json(bytes(data).decode("utf-8"), mapping)
        except (ValueError, RecursionError) as ex:
            raise PacketError("bad_body", str(ex)) from None
    elif bk == BodyKind.msgpack:
        if not data:
            return mapping()
        try:
            body = from_msgpack(data, mapping)
        except Exception as ex:  # msgpack raises many kinds of errors on hostile input
            raise PacketError("bad_body", str(ex)) from None
    else:
        raise PacketError("bad_body", f"body kind {bk!r}")
    if type(body) is not mapping:
        raise PacketError("bad_body", "body is not a mapping")
    return body


def encrypt(ck: int, plain: bytes, box: Box | None) -> bytes:
    """Build the coat of kind ``ck`` from body bytes (empty body, empty coat)."""
    return _coat(ck, plain, box, Box.seal_coat)


def decrypt(ck: int, coat: bytes, box: Box | None) -> bytes:
    """Recover body bytes from a coat of kind ``ck``."""
    return _coat(ck, coat, box, Box.open_coat)


def _coat(ck: int, data: bytes, box: Box | None,
          crypt: Callable[[Box, bytes], bytes]) -> bytes:
    """Apply ``crypt`` for a nacl coat: nada passes through, empty stays empty."""
    if ck == CoatKind.nada:
        return data
    if ck != CoatKind.nacl:
        raise PacketError("bad_coat", f"coat kind {ck!r} not supported")
    if not data:
        return b""
    if box is None:
        raise PacketError("bad_coat", "no box")
    try:
        return crypt(box, data)
    except CryptoError as ex:
        raise PacketError("bad_coat", str(ex)) from None


def segment(head: Head, coat: bytes) -> list[tuple[Head, bytes]]:
    """Split a message coat into (segment head, coat slice) pairs.

    Returns ``[(head, coat)]`` when the whole packet fits. Segment heads copy ``head``
    (flags included) and add sn, sc, ml and sf.
    """
    fl = _foot_size(head.fk)
    size = len(coat)
    maximum = raeting.UDP_MAX_PACKET_SIZE
    if raeting.MAX_HEAD_SIZE + size + fl <= maximum:  # fits with any head: no need to measure
        return [(head, coat)]
    hl = head_length(head)
    if hl + size + fl <= maximum:
        return [(head, coat)]
    if size > raeting.MAX_MESSAGE_SIZE:
        raise PacketError("too_big", f"message coat of {size} bytes")
    step = maximum - (hl + raeting.SEGMENT_HEAD_ALLOWANCE[HeadKind(head.hk)] + fl)
    if step <= 0:
        raise PacketError("too_big", "no room for a segment")
    count = -(-size // step)
    if count > raeting.MAX_SEGMENT_COUNT:
        raise PacketError("too_big", f"{count} segments")
    return [(head.copy(sn=sn, sc=count, ml=size, sf=True), coat[sn * step:(sn + 1) * step])
            for sn in range(count)]


# raet's packet and tray objects (in raetflo.road.trays, over this codec) by their raet names.
# ``Head`` and ``Packet`` here are the codec's own.
_TRAY_NAMES = frozenset(("Part", "Body", "TxPacket", "RxPacket", "Tray", "TxTray", "RxTray"))


def __dir__() -> list[str]:  # (PEP 562: the names made when first used are listed too)
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in _TRAY_NAMES:
        from raetflo.road import trays
        return getattr(trays, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# a star import takes the names made when first used too
__all__ = sorted({name for name in globals() if not name.startswith("_")} | set(_TRAY_NAMES))
