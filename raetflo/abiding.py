"""Names that code written for raet imports with ``from raet.abiding import *``.

raet kept these for Python 2 compatibility; on Python 3 they are the builtins they stand for
and two text-to-bytes helpers."""
from __future__ import annotations

__all__ = ["long", "basestring", "unicode", "xrange", "ns2b", "ns2u"]

long = int
basestring = (str, bytes)
unicode = str
xrange = range


def ns2b(text: str) -> bytes:
    """Native text as bytes, one byte per character (Latin-1)."""
    return text.encode("iso-8859-1")


def ns2u(text: str) -> str:
    """Native text as text (unchanged on Python 3)."""
    return text
