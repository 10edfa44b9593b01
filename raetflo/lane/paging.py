"""Lane page codec: message bodies to pages and back, and reassembly of paged books.

No sockets and no clock: callers pass bytes in and get bytes out, and book expiry is
driven by the time the caller hands to :meth:`Books.expire` (the core's ``now``).

A page is one datagram: an ISO-8859-1 head of ``key value`` lines ending in ``\\n\\n``,
then a section of the serialized body. A body that does not fit one page is cut into a
*book* of pages sharing the head fields but ``pn`` (page number) and ``pc`` (page count).
"""
from __future__ import annotations

import itertools
import json
import string
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import msgpack

from .. import raeting
from ..bodies import from_json, from_msgpack
from ..raeting import PackKind
from ..road.delivery import DeliveredMemory

UXD_MAX_PACKET_SIZE = raeting.UXD_MAX_PACKET_SIZE  # largest page (65 535)
MAX_MESSAGE_SIZE = raeting.MAX_MESSAGE_SIZE  # largest serialized body (67_107_840)
MAX_PAGE_COUNT = 0xFFFF  # pn and pc are four hex digits
HEAD_END = b"\n\n"
PREFIX = b"ri RAET\n"
SID_SIZE = 18  # characters of ``si`` written on the wire
MAX_SID_SIZE = 64  # the longest ``si`` taken (it is kept per remote)
PAGINATION_ALLOWANCE = 2  # bytes a paged head is assumed to grow (kept for identical splits)


class PageError(raeting.PageError):
    """A page, book or body that must be dropped; ``stat`` names the counter to raise."""

    def __init__(self, stat: str, message: str) -> None:
        super().__init__(message)
        self.stat = stat


class PageHead(NamedTuple):
    """The fields of a page head, as values."""
    sn: str = ""
    dn: str = ""
    si: str = "0" * SID_SIZE
    bi: int = 0
    pn: int = 0
    pc: int = 1
    pk: int = PackKind.json
    vn: int = 0


_HEX_FIELDS = frozenset({"vn", "pk", "bi", "pn", "pc"})
_STR_FIELDS = frozenset({"sn", "dn", "si"})
_HEXDIGITS = frozenset(string.hexdigits)
_DEFAULTS = PageHead()._asdict()
_PACK_KINDS = frozenset(PackKind)

_json_encoder = json.JSONEncoder(separators=(",", ":"))


# bodies ----------------------------------------------------------------------------------
def pack_body(body: Mapping, pk: int = PackKind.json) -> bytes:
    """Serialize a message mapping; an empty mapping is an empty body.

    JSON is compact and ASCII-only; msgpack writes strings (and bytes) as old-spec raw,
    as the reference does. PageError ``packing_error`` if it cannot be serialized or is
    larger than MAX_MESSAGE_SIZE.
    """
    if not body:
        return b""
    try:
        if pk == PackKind.json:
            data = _json_encoder.encode(body).encode("ascii")
        elif pk == PackKind.pack:
            data = msgpack.packb(body, use_bin_type=False)
        else:
            raise PageError("packing_error", f"unknown pack kind {pk}")
    except (TypeError, ValueError, OverflowError, RecursionError) as ex:
        raise PageError("packing_error", f"cannot serialize body: {ex}") from None
    if len(data) > MAX_MESSAGE_SIZE:
        raise PageError("packing_error",
                        f"body of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    return data


def unpack_body(data: bytes, pk: int, mapping: type = dict) -> Any:
    """Deserialize a whole body into a ``mapping`` (nested maps too); PageError
    ``invalid_page_body``."""
    if not data:
        return mapping()
    try:
        if pk == PackKind.json:
            body = from_json(data.decode("utf-8"), mapping)
        else:
            body = from_msgpack(data, mapping)
    except (ValueError, TypeError, RecursionError) as ex:
        raise PageError("invalid_page_body", f"undecodable body: {ex}") from None
    if not isinstance(body, Mapping):
        raise PageError("invalid_page_body", f"body is a {type(body).__name__}, not a mapping")
    return body


# pages -----------------------------------------------------------------------------------
def head_stem(sn: str, dn: str, si: str, bi: int, pk: int = PackKind.json,
              vn: int = raeting.VERSION) -> bytes:
    """The head lines every page of a book shares (all but ``pn`` and ``pc``)."""
    return (f"ri RAET\nvn {vn:x}\npk {pk:x}\nsn {sn}\ndn {dn}\nsi {si[:SID_SIZE]}\n"
            f"bi {bi:x}\n").encode("latin-1")


def head_tail(pn: int, pc: int) -> bytes:
    """The last head lines of page ``pn`` of ``pc``, with the head terminator."""
    return f"pn {pn:04x}\npc {pc:04x}\n\n".encode("ascii")


def paginate(body: bytes, sn: str, dn: str, si: str, bi: int,
             pk: int = PackKind.json) -> list[bytes]:
    """The pages of one serialized body, in order (byte-identical to the reference)."""
    stem = head_stem(sn, dn, si, bi, pk)
    single = stem + head_tail(0, 1)
    if len(single) + len(body) <= UXD_MAX_PACKET_SIZE:
        return [single + body]
    section = UXD_MAX_PACKET_SIZE - (len(single) + PAGINATION_ALLOWANCE)
    count = -(-len(body) // section) if section > 0 else MAX_PAGE_COUNT + 1
    if count > MAX_PAGE_COUNT:
        raise PageError("packing_error", f"head of {len(single)} bytes leaves no room to page")
    view = memoryview(body)
    return [b"".join((stem, head_tail(i, count), view[i * section:(i + 1) * section]))
            for i in range(count)]


def parse(raw: bytes) -> tuple[PageHead, bytes]:
    """Split a datagram into its head and body section.

    Lenient like the reference (fields in any order, repeated or missing), strict where the
    reference would crash: PageError ``invalid_page_size`` (over 65 535 bytes) or
    ``invalid_page_header`` (prefix, terminator, line, key or hex value).
    """
    if len(raw) > UXD_MAX_PACKET_SIZE:
        raise PageError("invalid_page_size", f"page of {len(raw)} bytes is too big")
    if not raw.startswith(PREFIX):
        raise PageError("invalid_page_header", "page does not start with 'ri RAET'")
    end = raw.find(HEAD_END, len(PREFIX) - 1)
    if end < 0:
        raise PageError("invalid_page_header", "page head has no terminator")
    fields = dict(_DEFAULTS)
    lines = raw[len(PREFIX):end].decode("latin-1").split("\n") if end > len(PREFIX) else ()
    for line in lines:
        key, sep, value = line.partition(" ")
        if not sep or " " in value:
            raise PageError("invalid_page_header", f"bad page head line {line!r}")
        if key in _HEX_FIELDS:
            if not value or len(value) > 8 or not _HEXDIGITS.issuperset(value):
                raise PageError("invalid_page_header",
                                f"bad hex value in {line[:40]!r}")  # (at most 32 bits)
            fields[key] = int(value, 16)
        elif key in _STR_FIELDS:
            if key == "si" and len(value) > MAX_SID_SIZE:
                raise PageError("invalid_page_header", f"si of {len(value)} characters")
            fields[key] = value
        elif key != "ri" or value != "RAET":
            raise PageError("invalid_page_header", f"unknown page head line {line!r}")
    head = PageHead(**fields)
    if head.pk not in _PACK_KINDS:
        raise PageError("invalid_page_body", f"unknown pack kind {head.pk}")
    return head, raw[end + len(HEAD_END):]


# books -----------------------------------------------------------------------------------
BookKey = tuple[str, str, int]  # (sn, si, bi)


@dataclass
class PartialBook:
    """A partial book: the sections received so far."""
    pc: int
    stamp: float | None
    sections: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


@dataclass
class SenderBooks:
    """The partial books of one sender: their keys, least recently fed first, and bytes."""
    keys: dict[BookKey, None] = field(default_factory=dict)
    size: int = 0


# what holding one page of a partial book costs beside its bytes, charged to the books'
# byte bounds (so pages with empty sections still count)
PAGE_COST = 96


class Books:
    """Partial books of every sender, bounded in count, bytes and idle time.

    Unlike the reference, an incomplete book does not live forever: :meth:`expire` drops
    books idle for ``timeout`` seconds, and room for a new page is made by dropping the
    books fed least recently (each reported to ``on_evict``): the sender's own first, once
    it holds ``max_sender_books`` books or more than ``max_sender_bytes``; past
    ``max_books`` or ``max_bytes``, those of the sender holding the most books (bytes). So
    writers that start books and never end them (or a clock that never moves) lose their
    own oldest, not another's message in progress.
    The book being fed is never dropped to make room, only refused (``book_overflow``)
    when it alone is over ``max_bytes``.
    """

    def __init__(self, timeout: float = 10.0, max_books: int = 64,
                 max_bytes: int = 2 * MAX_MESSAGE_SIZE, max_sender_books: int = 8,
                 max_sender_bytes: int = MAX_MESSAGE_SIZE,
                 on_evict: Callable[[BookKey, str], None] | None = None) -> None:
        self.timeout = timeout
        self.max_books = max_books
        self.max_bytes = max_bytes
        self.max_sender_books = max_sender_books
        self.max_sender_bytes = max_sender_bytes
        self.on_evict = on_evict
        self.size = 0  # bytes held in all books
        self._books: OrderedDict[BookKey, PartialBook] = OrderedDict()  # least recently fed first
        self._senders: dict[str, SenderBooks] = {}

    def __len__(self) -> int:
        return len(self._books)

    def add(self, head: PageHead, section: bytes, now: float | None) -> bytes | None:
        """File one page of a paged book; the whole body once the book is complete.

        PageError ``invalid_page_number`` (pn not below pc, or pc changed within a book),
        ``missed_page`` (first page seen is not page 0), ``oversized_book`` (more than
        MAX_MESSAGE_SIZE) or ``book_overflow`` (this book alone is over ``max_bytes``).
        """
        key = (head.sn, head.si, head.bi)
        if head.pn >= head.pc:
            raise PageError("invalid_page_number", f"page {head.pn} of {head.pc} in book {key}")
        book = self._books.get(key)
        if book is None:
            if head.pn != 0:
                raise PageError("missed_page", f"missed pages before {head.pn} of book {key}")
            sender = self._senders.get(head.sn)
            while sender is not None and len(sender.keys) >= self.max_sender_books:
                self._evict(next(iter(sender.keys)),
                            f"{len(sender.keys)} partial books from {head.sn!r} held")
                sender = self._senders.get(head.sn)
            while self._books and len(self._books) >= self.max_books:
                self._evict(self._victim(key, lambda held: len(held.keys)),
                            f"{len(self._books)} partial books held")
            sender = self._senders.setdefault(head.sn, SenderBooks())
            book = self._books[key] = PartialBook(pc=head.pc, stamp=now)
            sender.keys[key] = None
        elif book.pc != head.pc:
            raise PageError("invalid_page_number",
                            f"page count {head.pc} differs from {book.pc} in book {key}")
        else:
            sender = self._senders[head.sn]
            self._books.move_to_end(key)
            del sender.keys[key]
            sender.keys[key] = None
            book.stamp = now
        held = book.sections.get(head.pn)
        grow = len(section) - len(held) if held is not None else len(section) + PAGE_COST
        book.sections[head.pn] = section
        book.size += grow
        sender.size += grow
        self.size += grow
        if book.size - len(book.sections) * PAGE_COST > MAX_MESSAGE_SIZE:  # its bytes
            self._drop(key)
            raise PageError("oversized_book", f"book {key} exceeds {MAX_MESSAGE_SIZE} bytes")
        self._make_room(key, sender)
        if len(book.sections) < book.pc:
            return None
        self._drop(key)
        return b"".join(book.sections[pn] for pn in range(book.pc))

    def _make_room(self, key: BookKey, sender: SenderBooks) -> None:
        """Drop the books fed least recently, other than ``key``'s, while its sender's or
        all books are over their byte bounds; refuse ``key``'s if it alone is over."""
        while sender.size > self.max_sender_bytes and len(sender.keys) > 1:
            self._evict(_oldest_but(sender.keys, key),
                        f"partial books from {key[0]!r} over {self.max_sender_bytes} bytes")
        while self.size > self.max_bytes:
            if len(self._books) == 1:
                self._drop(key)
                raise PageError("book_overflow", f"partial books exceed {self.max_bytes} bytes")
            self._evict(self._victim(key, lambda held: held.size),
                        f"partial books over {self.max_bytes} bytes")

    def _victim(self, key: BookKey, measure: Callable[[SenderBooks], int]) -> BookKey:
        """The book dropped to make room in all books: the least recently fed of the
        sender holding the most (by ``measure``), never ``key``'s (there is another)."""
        victim, most = key, -1
        for other in self._books:  # least recently fed first: the first of equals wins
            if other != key:
                held = measure(self._senders[other[0]])
                if held > most:
                    victim, most = other, held
        return victim

    def _evict(self, key: BookKey, why: str) -> None:
        self._drop(key)
        if self.on_evict is not None:
            self.on_evict(key, why)

    def of(self, sn: str) -> dict:
        """The partial books of sender ``sn``, by (sn, si, bi), least recently fed first."""
        sender = self._senders.get(sn)
        return {key: self._books[key] for key in sender.keys} if sender is not None else {}

    def discard(self, sn: str, si: str | int) -> int:
        """Drop the books of ``sn`` from sessions other than ``si`` (0: none received yet, so
        every session is another); how many."""
        sender = self._senders.get(sn)
        stale = [key for key in sender.keys if key[1] != si] if sender is not None else []
        for key in stale:
            self._drop(key)
        return len(stale)

    def expire(self, now: float | None) -> int:
        """Drop books idle for ``timeout`` seconds at time ``now``; how many."""
        count = 0
        if now is None:
            return count
        while self._books:
            key, book = next(iter(self._books.items()))
            if book.stamp is not None and now < book.stamp + self.timeout:
                break
            self._drop(key)
            count += 1
        return count

    def deadline(self) -> float | None:
        """When the least recently fed book expires (None: no book, or no time known).

        Books are kept least recently fed first, so with a clock that does not go back
        this is the earliest expiry, and :meth:`expire` at it drops that book."""
        if not self._books:
            return None
        stamp = next(iter(self._books.values())).stamp
        return None if stamp is None else stamp + self.timeout

    def _drop(self, key: BookKey) -> None:
        size = self._books.pop(key).size
        self.size -= size
        sender = self._senders[key[0]]
        del sender.keys[key]
        sender.size -= size
        if not sender.keys:
            del self._senders[key[0]]


class DeliveredBooks(DeliveredMemory):
    """The book ids (``bi``) delivered from one sender's session: its counter gives each
    message the next one, so a book delivered again is a replayed page. Id 0, which no
    counter gives, is not remembered."""

    Window = 1024  # ids remembered below the highest: a few hundred bytes per remote

    def fresh(self, bi: int) -> bool:
        """Whether book ``bi`` may be delivered: not delivered yet, nor too old to tell."""
        return not bi or not (bi in self or self.stale(bi))


def _oldest_but(keys: Mapping[BookKey, Any], key: BookKey) -> BookKey:
    """The first of ``keys`` (two or more, least recently fed first) that is not ``key``."""
    first, second = itertools.islice(keys, 2)
    return second if first == key else first


# raet code imports its page and book classes from this module; ours live in ``pages``
_ADAPTERS = ("PAGE_FIELDS", "PAGE_DEFAULTS", "page_data", "Part", "Head", "TxHead", "RxHead",
             "Body", "TxBody", "RxBody", "Page", "TxPage", "RxPage", "Book", "TxBook", "RxBook")


def __dir__() -> list[str]:  # (PEP 562: the names made when first used are listed too)
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name not in _ADAPTERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import pages
    return getattr(pages, name)


# a star import takes the names made when first used too
__all__ = sorted({name for name in globals() if not name.startswith("_")} | set(_ADAPTERS))
