"""Byte encoders for keys, as raet's ``encoding`` module names them.

An encoder is a class with static ``encode(data)`` and ``decode(data)``; ``Encodable`` gives a
key object ``encode(encoder)`` over its raw bytes (``bytes(key)``).
"""
from __future__ import annotations

import base64
import binascii
from typing import Any


class RawEncoder:
    """Bytes as they are."""

    @staticmethod
    def encode(data: bytes) -> bytes:
        return data

    @staticmethod
    def decode(data: bytes) -> bytes:
        return data


class HexEncoder:
    """Lowercase hex (decoding accepts ASCII text or bytes)."""

    @staticmethod
    def encode(data: bytes) -> bytes:
        return binascii.hexlify(data)

    @staticmethod
    def decode(data: bytes | str) -> bytes:
        return binascii.unhexlify(data)


class Base16Encoder:
    """RFC 4648 base16 (uppercase hex)."""

    @staticmethod
    def encode(data: bytes) -> bytes:
        return base64.b16encode(data)

    @staticmethod
    def decode(data: bytes | str) -> bytes:
        return base64.b16decode(data)


class Base32Encoder:
    """RFC 4648 base32."""

    @staticmethod
    def encode(data: bytes) -> bytes:
        return base64.b32encode(data)

    @staticmethod
    def decode(data: bytes | str) -> bytes:
        return base64.b32decode(data)


class Base64Encoder:
    """RFC 4648 base64."""

    @staticmethod
    def encode(data: bytes) -> bytes:
        return base64.b64encode(data)

    @staticmethod
    def decode(data: bytes | str) -> bytes:
        return base64.b64decode(data)


class Encodable:
    """Mixin for objects whose ``bytes()`` is their raw key."""

    def __bytes__(self) -> bytes:
        raise NotImplementedError("an Encodable gives its raw bytes")

    def encode(self, encoder: Any = RawEncoder) -> bytes:
        """The raw bytes of this object, encoded by ``encoder``."""
        encoded: bytes = encoder.encode(bytes(self))
        return encoded
