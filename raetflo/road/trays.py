"""raet's packet and tray objects, over the codec in :mod:`raetflo.road.packeting`.

A ``TxPacket`` or ``RxPacket`` keeps every packet field in ``data`` (an odict over
``raeting.PACKET_DEFAULTS``: addresses, head fields, ``fg`` as two hex digits) and its parts
``head``, ``body``, ``coat`` and ``foot``, each with the ``packed`` bytes of that part
(``body.data`` is the body itself). ``TxTray`` splits a message into packets, ``RxTray``
reassembles one. Code written for raet uses these; the stacks use the codec directly.
Keys come from ``packet.stack``: ``local.signer`` signs, ``remotes[uid]`` verifies
(``verfer``) and encrypts (``privee`` with ``publee``), as in raet.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ioflo.aid.odicting import odict

from raetflo import nacling, raeting
from raetflo.raeting import CoatKind, FootKind, PacketError, PcktKind
from raetflo.road import packeting
from raetflo.road.packeting import Head

_HEAD_NAMES = tuple(field.name for field in dataclasses.fields(Head))
_SIGNATURE_SIZE = raeting.FootSize.nacl.value
_ZEROS = bytes(_SIGNATURE_SIZE)


class _Blank:
    """Signer of an all-zero foot: what a packet looks like before it is signed."""

    @staticmethod
    def signature(msg: bytes) -> bytes:
        return _ZEROS


def _head(data: Mapping[str, Any]) -> Head:
    """The codec head for the fields in ``data``."""
    return Head(**{name: data[name] for name in _HEAD_NAMES if name in data})


class Part:
    """One part of a packet; ``packed`` holds its bytes."""

    def __init__(self, packet: Packet | None = None, **kwa: Any) -> None:
        self.packet = packet
        self.packed = b""

    def __len__(self) -> int:
        return len(self.packed)

    @property
    def size(self) -> int:
        return len(self.packed)


class Body(Part):
    """The body part: ``data`` is the body (a mapping, or bytes for raw bodies)."""

    def __init__(self, data: Any = None, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.data = odict() if data is None else data


class Packet:
    """Fields (``data``) and bytes (``packed``) of one packet."""

    def __init__(self, stack: Any = None, data: Mapping[str, Any] | None = None,
                 kind: int | None = None) -> None:
        self.stack = stack
        self.packed = b""
        self.data = odict(raeting.PACKET_DEFAULTS)
        if data:
            self.data.update(data)
        if kind:
            if kind not in set(PcktKind):
                self.data["pk"] = PcktKind.unknown.value
                raise PacketError("bad_kind", f"packet kind {kind!r}")
            self.data["pk"] = kind
        self.head = Part(packet=self)
        self.body = Body(packet=self)
        self.coat = Part(packet=self)
        self.foot = Part(packet=self)

    @property
    def size(self) -> int:
        return len(self.packed)

    @property
    def segmentive(self) -> bool:
        """Whether this packet is a segment of a longer message."""
        return bool(self.data.get("sf") or self.data.get("sc", 1) > 1)

    def refresh(self, data: Mapping[str, Any] | None = None) -> Packet:
        """Reset ``data`` to the defaults updated by ``data``; return self."""
        self.data = odict(raeting.PACKET_DEFAULTS)
        if data:
            self.data.update(data)
        return self

    def _box(self, uid: int) -> nacling.Box:
        """Session box of remote ``uid`` of the stack (its short-term keys)."""
        remote = self.stack.remotes.get(uid)
        if remote is None or remote.publee is None:
            raise PacketError("bad_coat", f"no session keys for remote {uid}")
        return nacling.Box(remote.privee.keyraw, remote.publee.keyraw)

    def _split(self, packed: bytes, hl: int, fl: int) -> None:
        """Set ``packed`` and the head, coat and foot parts from it."""
        self.packed = packed
        end = len(packed) - fl
        self.head.packed, self.coat.packed, self.foot.packed = (
            packed[:hl], packed[hl:end], packed[end:])


class TxPacket(Packet):
    """A packet to send: ``pack`` builds ``packed`` from ``data`` and the body."""

    def __init__(self, embody: Any = None, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.body.data = odict() if embody is None else embody

    @property
    def index(self) -> tuple[Any, ...]:
        """Transaction index (rf, le, re, si, ti, bf), ``re`` the address when no uid."""
        data = self.data
        cf, le, re = data["cf"], data["se"], data["de"]
        if (re == 0 and not cf) or (le == 0 and cf):
            re = (data["dh"], data["dp"])
        return (cf, le, re, data["si"], data["ti"], data["bf"])

    def signature(self, msg: bytes) -> bytes:
        """The local estate's signature of ``msg``."""
        signature: bytes = self.stack.local.signer.signature(msg)
        return signature

    def sign(self) -> None:
        """Sign ``packed`` (whose foot is replaced) when the foot kind is nacl."""
        if self.data["fk"] == FootKind.nacl:
            self.foot.packed = self.signature(self.packed[:-_SIGNATURE_SIZE] + _ZEROS)
            self.packed = self.packed[:-_SIGNATURE_SIZE] + self.foot.packed

    def encrypt(self, msg: bytes) -> tuple[bytes, bytes]:
        """(cipher, nonce) of ``msg`` in the session of remote ``se``, as raet picks it."""
        return self._box(self.data["se"]).seal(msg)

    def prepack(self) -> None:
        """Serialize and encrypt the body and pack the head, with a blank foot."""
        self.packCoat()
        self._pack_head()

    def packCoat(self) -> Head:
        """Serialize ``body.data`` into ``body.packed`` and encrypt that into ``coat.packed``;
        return the codec head of ``data``."""
        head = _head(self.data)
        self.body.packed = body = packeting.encode_body(head.bk, self.body.data)
        box = self._box(self.data["se"]) if head.ck == CoatKind.nacl and body else None
        self.coat.packed = packeting.encrypt(head.ck, body, box)
        return head

    def repack(self) -> None:
        """Pack the head again (after a field change) and sign."""
        self._pack_head()
        self.sign()

    def pack(self) -> None:
        """Build and sign ``packed``; PacketError when it does not fit one datagram."""
        self.prepack()
        self.sign()

    def _pack_head(self) -> None:
        """Pack head and coat with a blank foot; record pl, hl, fl and fg in ``data``."""
        head = _head(self.data)
        packed = packeting.pack(head, self.coat.packed, _Blank)  # type: ignore[arg-type]
        self.data.update(pl=head.pl, hl=head.hl, fl=head.fl, fg=f"{head.fg:02x}")
        self._split(packed, head.hl, head.fl)


class RxPacket(Packet):
    """A received packet: ``parse`` fills ``data`` and ``body.data`` from ``packed``."""

    def __init__(self, packed: bytes | None = None, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.packed = packed or b""

    @property
    def index(self) -> tuple[Any, ...]:
        """Transaction index (rf, le, re, si, ti, bf) as the receiver keys it."""
        data = self.data
        cf, le, re = data["cf"], data["de"], data["se"]
        if (re == 0 and cf) or (le == 0 and not cf):
            re = (data["sh"], data["sp"])
        return (not cf, le, re, data["si"], data["ti"], data["bf"])

    def verify(self, signature: bytes, msg: bytes) -> bool:
        """Whether remote ``de`` of the stack signed ``msg`` with ``signature``."""
        remote = self.stack.remotes.get(self.data["de"])
        return remote is not None and remote.verfer is not None and remote.verfer.verify(
            signature, msg)

    def decrypt(self, cipher: bytes, nonce: bytes) -> bytes:
        """Open ``cipher`` in the session of remote ``de``."""
        try:
            return self._box(self.data["de"]).open(cipher, nonce)
        except nacling.CryptoError as ex:
            raise PacketError("bad_coat", str(ex)) from None

    def parse(self, packed: bytes | None = None) -> None:
        """Parse, verify, decrypt and deserialize; PacketError on any failure."""
        self.parseOuter(packed=packed)
        self.parseInner()

    def parseOuter(self, packed: bytes | None = None) -> None:
        """Parse the head into ``data`` and verify the foot signature."""
        if packed:
            self.packed = packed
        if not self.packed:
            raise PacketError("empty", "nothing to parse")
        parsed = packeting.parse(self.packed, veritive=self.stack.veritive)
        head = parsed.head
        self.data.update((name, getattr(head, name)) for name in _HEAD_NAMES)
        self.data["fg"] = f"{head.fg:02x}"
        self._split(self.packed, head.hl, head.fl)
        if head.fk == FootKind.nacl and not self.verify(
                self.foot.packed, self.packed[:-head.fl] + _ZEROS):
            known = self.data["de"] in self.stack.remotes
            raise PacketError("bad_signature", "key invalid" if known else "nuid not in remotes")

    def unpackInner(self, packed: bytes | None = None) -> None:
        """Set the coat part from ``packed`` by the parsed head and foot lengths."""
        hl, fl = self.data["hl"], self.data["fl"]
        self.coat.packed = self.packed[hl:self.size - fl]

    def parseInner(self) -> None:
        """Decrypt the coat and deserialize the body into ``body.data``."""
        self.unpackInner()
        self.openCoat()

    def openCoat(self) -> None:
        """Decrypt ``coat.packed`` into ``body.packed`` and deserialize it into ``body.data``."""
        coat, ck = self.coat.packed, self.data["ck"]
        if ck == CoatKind.nacl and coat:
            tail = raeting.TailSize.nacl.value
            self.body.packed = self.decrypt(coat[:-tail], coat[-tail:])
        else:
            self.body.packed = packeting.decrypt(ck, coat, None)
        body = packeting.decode_body(self.data["bk"], self.body.packed, odict)
        self.body.data = odict(body) if isinstance(body, dict) else body


class Tray:
    """A whole message: its fields (``data``), body and serialized body (``packed``)."""

    def __init__(self, stack: Any = None, data: Mapping[str, Any] | None = None,
                 body: Any = None, packed: bytes | None = None, **kwa: Any) -> None:
        self.stack = stack
        self.packed = packed or b""
        self.data = odict(raeting.PACKET_DEFAULTS)
        if data:
            self.data.update(data)
        self.body = body

    @property
    def size(self) -> int:
        return len(self.packed)


class TxTray(Tray):
    """A message to send; ``pack`` makes its ``packets`` (segments when it is too big)."""

    def __init__(self, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.packets: list[TxPacket] = []
        self.current = 0  # next packet to send
        self.last = 0  # last packet sent

    def pack(self, data: Mapping[str, Any] | None = None, body: Any = None) -> None:
        """Serialize the body into one signed packet, or into segments if it does not fit."""
        if data:
            self.data.update(data)
        if body is not None:
            self.body = body
        self.current = 0
        packet = TxPacket(stack=self.stack, kind=PcktKind.message.value, embody=self.body,
                          data=self.data)
        head = packet.packCoat()
        self.packed = packet.coat.packed
        parts = packeting.segment(head, self.packed)
        if len(parts) == 1:
            packet.repack()
            self.packets = [packet]
        else:
            self.packets = [self._segment(part, coat) for part, coat in parts]

    def packetize(self, headsize: int, footsize: int) -> None:
        """Split ``packed`` into segment packets (sizes are recomputed from ``data``)."""
        self.packets = [self._segment(part, coat)
                        for part, coat in packeting.segment(_head(self.data), self.packed)]

    def _segment(self, head: Head, coat: bytes) -> TxPacket:
        packet = TxPacket(stack=self.stack, data=self.data)
        packet.data.update(sn=head.sn, sc=head.sc, ml=head.ml, sf=head.sf)
        packet.coat.packed = packet.body.packed = coat
        packet.repack()
        return packet


class RxTray(Tray):
    """Reassembles a received message from its packets (parsed by ``parseOuter``)."""

    def __init__(self, segments: list[bytes | None] | None = None, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.segments = segments if segments is not None else []
        self.complete = False
        self.highest = 0  # highest segment number received

    def parse(self, packet: Packet) -> Any:
        """Take in one packet; return the body once the message is complete, else None."""
        sc, sn = packet.data["sc"], packet.data["sn"]
        if sc == 1:
            self.data.update(packet.data)
            packet.parseInner()  # type: ignore[attr-defined]
            self.body = packet.body.data
            self.complete = True
            return self.body
        if not self.segments:
            self.data.update(packet.data)
            self.segments = [None] * sc
        if sc != len(self.segments) or not 0 <= sn < sc:
            raise PacketError("bad_segment", f"segment {sn} of {sc} in a {len(self.segments)}"
                                             "-segment message")
        self.highest = max(self.highest, sn)
        self.segments[sn] = packet.packed[packet.data["hl"]:packet.size - packet.data["fl"]]
        if None in self.segments:
            return None
        self.body = self.desegmentize()
        return self.body

    def missing(self, begin: int | None = None, end: int | None = None) -> list[int]:
        """Numbers of the segments not yet received from ``begin`` up to ``end`` (excluded;
        the highest received by default)."""
        begin = 0 if begin is None else begin
        end = self.highest if end is None else end
        return [sn for sn in range(begin, end) if self.segments[sn] is None]

    def desegmentize(self) -> Any:
        """Join the segments, decrypt and deserialize; return the body."""
        self.packed = b"".join(self.segments)  # type: ignore[arg-type]
        if self.data["sc"] > 1 and self.size != self.data["ml"]:
            raise PacketError("bad_length", f"message of {self.size} bytes, "
                                            f"ml {self.data['ml']}")
        packet = RxPacket(stack=self.stack, data=self.data)
        packet.coat.packed = self.packed
        packet.openCoat()
        self.complete = True
        return packet.body.data
