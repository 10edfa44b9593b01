"""Wire constants and enumerations of RAET, with their exact on-the-wire values.

Also the names code written for raet 0.6.8 imports from ``raet.raeting``: the packet and page
field tables, the handshake struct packers and the ``RaetError`` family of exceptions.
"""
from __future__ import annotations

import enum
import struct
from typing import Any


from raetflo.abiding import basestring  # noqa: F401  (raet code reads raeting.basestring)

RAET_PORT = 7530
RAET_TEST_PORT = 7531
DEFAULT_SRC_HOST = ""
DEFAULT_DST_HOST = "127.0.0.1"

# Read at pack time (tests may change it to provoke packing errors).
UDP_MAX_PACKET_SIZE = 1024
UDP_MAX_DATAGRAM_SIZE = 65535
UDP_MAX_SAFE_PAYLOAD = 548  # IPv4 minimum MTU 576 less the IP and UDP headers
UXD_MAX_PACKET_SIZE = 65535  # largest datagram on a unix domain (lane) socket
MAX_HEAD_SIZE = 255
MAX_SEGMENT_COUNT = 65535
MAX_MESSAGE_SIZE = UDP_MAX_PACKET_SIZE * MAX_SEGMENT_COUNT  # 67_107_840: whole-message coat

RX_BUFFER_COUNT = 2  # receive buffer is this many max packets

PROTOCOL_ID = "RAET"
_VERSIONS = [("0.1", 0)]  # protocol version name -> ``vn`` value
VERSION = 0

HEAD_END = b"\n\n"  # terminator of a raet (text) head
JSON_END = b"\r\n\r\n"  # terminator of a json head

# CurveCP allow bodies: hello, cookie and initiate, and the boxed stuff inside the last two.
HELLO_PACKER = struct.Struct("!64s32s80s24s")
COOKIESTUFF_PACKER = struct.Struct("!32sLL24s")
COOKIE_PACKER = struct.Struct("!80s24s")
INITIATESTUFF_PACKER = struct.Struct("!32s48s24s128s")
INITIATE_PACKER = struct.Struct("!32s24s248s24s")


class HeadKind(enum.IntEnum):
    raet = 0
    json = 1
    binary = 2
    unknown = 255


class BodyKind(enum.IntEnum):
    nada = 0
    json = 1
    raw = 2
    msgpack = 3
    unknown = 255


class FootSize(enum.IntEnum):
    """Foot (signature) size in bytes by foot kind name (``unknown`` is an alias of nada)."""

    nada = 0
    nacl = 64
    sha2 = 256
    crc64 = 8
    unknown = 0


class TailSize(enum.IntEnum):
    """Coat tail (nonce) size in bytes by coat kind name (``unknown`` is an alias of nada)."""

    nada = 0
    nacl = 24
    crc16 = 2
    crc64 = 8
    unknown = 0


class CoatKind(enum.IntEnum):
    nada = 0
    nacl = 1
    crc16 = 2
    crc64 = 3
    unknown = 255


class FootKind(enum.IntEnum):
    nada = 0
    nacl = 1
    sha2 = 2
    crc64 = 3
    unknown = 255


class TrnsKind(enum.IntEnum):
    message = 0
    join = 1
    bind = 2
    allow = 3
    alive = 4
    unknown = 255


class PcktKind(enum.IntEnum):
    message = 0
    ack = 1
    nack = 2
    resend = 3
    request = 4
    response = 5
    hello = 6
    cookie = 7
    initiate = 8
    unjoined = 9
    unallowed = 10
    renew = 11
    refuse = 12
    reject = 13
    pend = 14
    done = 15
    unknown = 255


class Acceptance(enum.IntEnum):
    pending = 0
    accepted = 1
    rejected = 2


class AutoMode(enum.IntEnum):
    never = 0
    once = 1
    always = 2


class PackKind(enum.IntEnum):
    """Serialization of lane page bodies."""

    json = 0
    pack = 1


# Sizes of the foot (signature) and of the coat tail (nonce) by kind, in bytes.
FOOT_SIZES = {kind: int(FootSize[kind.name]) for kind in FootKind}
TAIL_SIZES = {kind: int(TailSize[kind.name]) for kind in CoatKind}

HEAD_TERMINATORS = {HeadKind.raet: HEAD_END, HeadKind.json: JSON_END}

# Extra head bytes a segment may need beyond the whole-message head (sn, sc, ml).
SEGMENT_HEAD_ALLOWANCE = {HeadKind.raet: 27, HeadKind.json: 36}

# Flag bits of the packed ``fg`` head field, highest bit first.
FLAG_BITS = {"vf": 0x80, "df": 0x40, "nf": 0x20, "af": 0x10,
             "sf": 0x08, "wf": 0x04, "bf": 0x02, "cf": 0x01}

# Session and transaction id arithmetic (32 bit, wrapping, 0 reserved).
SID_WRAP_MODULO = SID_MODULO = 0x100000000
SID_WRAP_DELTA = SID_DELTA = 0x80000000  # a sid this far ahead (modulo) or more is older
SID_ROLLOVER = 0xFFFFFFFF
UID_ROLLOVER = 0xFFFFFFFF
TID_ROLLOVER = 0xFFFFFFFF

# Join ``mode`` operation flag bits.
OPERATION_MAIN = 0x01

# Transaction kinds for which a packet without a transaction may start a correspondent.
STARTERS = {
    (TrnsKind.join, PcktKind.request),
    (TrnsKind.allow, PcktKind.hello),
    (TrnsKind.alive, PcktKind.request),
    (TrnsKind.message, PcktKind.message),
}

# Packet kinds that are never answered when stale.
NACK_KINDS = frozenset({PcktKind.nack, PcktKind.unjoined, PcktKind.unallowed,
                        PcktKind.renew, PcktKind.refuse, PcktKind.reject})


def next_id(value: int, rollover: int = UID_ROLLOVER) -> int:
    """Next value of a wrapping 32 bit id counter that never yields 0."""
    value += 1
    return 1 if value > rollover else value


# Packet fields as raet's packet objects hold them (``packet.data``): the addresses (sh sp dh
# dp), every head field and the packed flags ``fg``, with their defaults.
_PACKET_DEFAULTS = [
    ("sh", DEFAULT_SRC_HOST), ("sp", RAET_PORT), ("dh", DEFAULT_DST_HOST), ("dp", RAET_PORT),
    ("ri", PROTOCOL_ID), ("vn", VERSION), ("pk", 0), ("pl", 0), ("hk", 0), ("hl", 0),
    ("se", 0), ("de", 0), ("cf", False), ("bf", False), ("nf", False), ("df", False),
    ("vf", False), ("si", 0), ("ti", 0), ("tk", 0), ("dt", 0), ("oi", 0), ("wf", False),
    ("sn", 0), ("sc", 1), ("ml", 0), ("sf", False), ("af", False),
    ("bk", 0), ("ck", 0), ("fk", 0), ("fl", 0), ("fg", "00"),
]
PACKET_FIELDS = [name for name, _ in _PACKET_DEFAULTS]
PACKET_FLAGS = list(FLAG_BITS)  # highest bit first
PACKET_FLAG_FIELDS = PACKET_FLAGS
# Names allowed in a head (raet also reserves bl and cl, which it never sends).
PACKET_HEAD_FIELDS = ["ri", "vn", "pk", "pl", "hk", "hl", "se", "de", "cf", "bf", "nf", "df",
                      "vf", "si", "ti", "tk", "dt", "oi", "wf", "sn", "sc", "ml", "sf", "af",
                      "bk", "bl", "ck", "cl", "fk", "fl", "fg"]
# ``format`` spec of each field's value in a raet head ("" for flags, packed into fg).
_FORMATS = {"ri": ".4s", "pl": "04x", "hl": "02x", "dt": "f", "fg": ".2s"}
_PACKET_FIELD_FORMATS = [(name, _FORMATS.get(name, "" if name in FLAG_BITS else "x"))
                         for name in PACKET_FIELDS[4:]]

# Lane page head fields, their defaults and value formats.
_PAGE_DEFAULTS = [("ri", PROTOCOL_ID), ("vn", VERSION), ("pk", 0), ("sn", ""), ("dn", ""),
                  ("si", "0" * 18), ("bi", 0), ("pn", 0), ("pc", 1)]
PAGE_FIELDS = [name for name, _ in _PAGE_DEFAULTS]
_PAGE_FIELD_FORMATS = [("ri", ".4s"), ("vn", "x"), ("pk", "x"), ("sn", "s"), ("dn", "s"),
                       ("si", ".18s"), ("bi", "x"), ("pn", "04x"), ("pc", "04x")]

# The reference API's tables are ioflo odicts; they are made when first read, so the
# protocol core (which imports this module) does not import ioflo.
_ODICT_TABLES = {
    "VERSIONS": lambda: _VERSIONS,
    "VERSION_NAMES": lambda: [(vn, name) for name, vn in _VERSIONS],
    "PACKET_DEFAULTS": lambda: _PACKET_DEFAULTS,
    "PACKET_FIELD_FORMATS": lambda: _PACKET_FIELD_FORMATS,
    "PAGE_DEFAULTS": lambda: _PAGE_DEFAULTS,
    "PAGE_FIELD_FORMATS": lambda: _PAGE_FIELD_FORMATS,
}


def __dir__() -> list[str]:  # (PEP 562: the names made when first used are listed too)
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    items = _ODICT_TABLES.get(name)
    if items is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ioflo.aid.odicting import odict
    table = globals()[name] = odict(items())
    return table


def get_exception_error(ex: BaseException) -> int:
    """The error code of an OS exception (``errno``, else ``winerror``); TypeError if none."""
    for name in ("errno", "winerror"):
        if hasattr(ex, name):
            code: int = getattr(ex, name)
            return code
    raise TypeError(f"Cannot find error code in exception: {ex}")


class RaetError(Exception):
    """Base of RAET errors. ``message`` is the text; ``reason`` its first part, a short slug
    where raetflo raises it (``PacketError("too_big", "packet of 1100 bytes")``)."""

    def __init__(self, message: str | None = None, detail: str = "") -> None:
        text = f"{message}: {detail}" if detail else message
        super().__init__(text)
        self.message = text
        self.reason = message


class StackError(RaetError):
    """A stack cannot be built or used as asked."""


class EstateError(RaetError):
    """An estate cannot be built or used as asked."""


class TransactionError(RaetError):
    """A transaction cannot proceed."""


class PacketError(RaetError):
    """A packet cannot be built or parsed; ``reason`` is a statistics slug."""


class PacketSizeError(PacketError):
    """A packet is too big to send unsegmented."""


class KeepError(RaetError):
    """A keep cannot be read or written safely."""


class YardError(RaetError):
    """A lane yard cannot be built or used as asked."""


class PageError(RaetError):
    """A lane page cannot be built or parsed."""


# a star import takes the names made when first used too
__all__ = sorted({name for name in globals() if not name.startswith("_")} | set(_ODICT_TABLES))
