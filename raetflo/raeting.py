"""Wire constants and enumerations of RAET, with their exact on-the-wire values."""
from __future__ import annotations

import enum

RAET_PORT = 7530
RAET_TEST_PORT = 7531
DEFAULT_SRC_HOST = ""
DEFAULT_DST_HOST = "127.0.0.1"

# Read at pack time (tests may change it to provoke packing errors).
UDP_MAX_PACKET_SIZE = 1024
UDP_MAX_DATAGRAM_SIZE = 65535
UDP_SAFE_PAYLOAD = 548
MAX_HEAD_SIZE = 255
MAX_SEGMENT_COUNT = 65535
MAX_MESSAGE_SIZE = UDP_MAX_PACKET_SIZE * MAX_SEGMENT_COUNT  # 67_107_840: whole-message coat
UXD_MAX_PACKET_SIZE = 65535  # largest lane page (one Unix datagram)

RX_BUFFER_COUNT = 2  # receive buffer is this many max packets

PROTOCOL_ID = "RAET"
VERSION = 0


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
    """Serialization of a lane page body (page head field ``pk``)."""
    json = 0
    pack = 1


class RaetError(Exception):
    """Base of the errors raised by raetflo's reference-compatible API."""


class PageError(RaetError):
    """A lane page, book or message body that cannot be packed or parsed."""


# Sizes of the foot (signature) and of the coat tail (nonce) by kind, in bytes.
FOOT_SIZES = {FootKind.nada: 0, FootKind.nacl: 64, FootKind.sha2: 256,
              FootKind.crc64: 8, FootKind.unknown: 0}
TAIL_SIZES = {CoatKind.nada: 0, CoatKind.nacl: 24, CoatKind.crc16: 2,
              CoatKind.crc64: 8, CoatKind.unknown: 0}

HEAD_TERMINATORS = {HeadKind.raet: b"\n\n", HeadKind.json: b"\r\n\r\n"}

# Extra head bytes a segment may need beyond the whole-message head (sn, sc, ml).
SEGMENT_HEAD_ALLOWANCE = {HeadKind.raet: 27, HeadKind.json: 36}

# Flag bits of the packed ``fg`` head field, highest bit first.
FLAG_BITS = {"vf": 0x80, "df": 0x40, "nf": 0x20, "af": 0x10,
             "sf": 0x08, "wf": 0x04, "bf": 0x02, "cf": 0x01}

# Session and transaction id arithmetic (32 bit, wrapping, 0 reserved).
SID_MODULO = 0x100000000
SID_DELTA = 0x80000000
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
