"""Lane page codec: message bodies to pages and back, and reassembly of paged books.

No sockets and no clock: callers pass bytes in and get bytes out, and book expiry is
driven by the time the caller hands to :meth:`Books.expire` (the core's ``now``).

A page is one datagram: an ISO-8859-1 head of ``key value`` lines ending in ``\\n\\n``,
then a section of the serialized body. A body that does not fit one page is cut into a
*book* of pages sharing the head fields but ``pn`` (page number) and ``pc`` (page count).
"""
from __future__ import annotations

import json
import string
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import msgpack
from ioflo.aid.odicting import odict

from .. import raeting
from ..raeting import PackKind

UXD_MAX_PACKET_SIZE = raeting.UXD_MAX_PACKET_SIZE  # largest page (65 535)
MAX_MESSAGE_SIZE = raeting.MAX_MESSAGE_SIZE  # largest serialized body (67_107_840)
MAX_PAGE_COUNT = 0xFFFF  # pn and pc are four hex digits
HEAD_END = b"\n\n"
PREFIX = b"ri RAET\n"
SID_SIZE = 18  # characters of ``si`` written on the wire
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
_json_decoder = json.JSONDecoder(object_pairs_hook=odict)


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


def unpack_body(data: bytes, pk: int) -> odict:
    """Deserialize a whole body into an ordered mapping; PageError ``invalid_page_body``."""
    if not data:
        return odict()
    try:
        if pk == PackKind.json:
            body = _json_decoder.decode(data.decode("utf-8"))
        else:
            body = msgpack.unpackb(data, raw=False, strict_map_key=False,
                                   object_pairs_hook=odict)
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
            if not value or not _HEXDIGITS.issuperset(value):
                raise PageError("invalid_page_header", f"bad hex value in {line!r}")
            fields[key] = int(value, 16)
        elif key in _STR_FIELDS:
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


class Books:
    """Partial books of every sender, bounded in count, bytes and idle time.

    Unlike the reference, an incomplete book does not live forever: :meth:`expire` drops
    books idle for ``timeout`` seconds, and a page that would push the books past
    ``max_books`` or ``max_bytes`` is refused (its book dropped).
    """

    def __init__(self, timeout: float = 10.0, max_books: int = 64,
                 max_bytes: int = 2 * MAX_MESSAGE_SIZE) -> None:
        self.timeout = timeout
        self.max_books = max_books
        self.max_bytes = max_bytes
        self.size = 0  # bytes held in all books
        self._books: OrderedDict[BookKey, PartialBook] = OrderedDict()  # least recently fed first

    def __len__(self) -> int:
        return len(self._books)

    def add(self, head: PageHead, section: bytes, now: float | None) -> bytes | None:
        """File one page of a paged book; the whole body once the book is complete.

        PageError ``invalid_page_number`` (pn not below pc, or pc changed within a book),
        ``missed_page`` (first page seen is not page 0), ``book_overflow`` (limits) or
        ``oversized_book`` (more than MAX_MESSAGE_SIZE).
        """
        key = (head.sn, head.si, head.bi)
        if head.pn >= head.pc:
            raise PageError("invalid_page_number", f"page {head.pn} of {head.pc} in book {key}")
        book = self._books.get(key)
        if book is None:
            if head.pn != 0:
                raise PageError("missed_page", f"missed pages before {head.pn} of book {key}")
            if len(self._books) >= self.max_books:
                raise PageError("book_overflow", f"{len(self._books)} partial books held")
            book = self._books[key] = PartialBook(pc=head.pc, stamp=now)
        elif book.pc != head.pc:
            raise PageError("invalid_page_number",
                            f"page count {head.pc} differs from {book.pc} in book {key}")
        else:
            self._books.move_to_end(key)
            book.stamp = now
        grow = len(section) - len(book.sections.get(head.pn, b""))
        book.sections[head.pn] = section
        book.size += grow
        self.size += grow
        if book.size > MAX_MESSAGE_SIZE:
            self._drop(key)
            raise PageError("oversized_book", f"book {key} exceeds {MAX_MESSAGE_SIZE} bytes")
        if self.size > self.max_bytes:
            self._drop(key)
            raise PageError("book_overflow", f"partial books exceed {self.max_bytes} bytes")
        if len(book.sections) < book.pc:
            return None
        self._drop(key)
        return b"".join(book.sections[pn] for pn in range(book.pc))

    def of(self, sn: str) -> odict:
        """The partial books of sender ``sn``, by (sn, si, bi), least recently fed first."""
        return odict((key, book) for key, book in self._books.items() if key[0] == sn)

    def discard(self, sn: str, si: str) -> int:
        """Drop the books of ``sn`` from sessions other than ``si``; how many."""
        stale = [key for key in self._books if key[0] == sn and key[1] != si]
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
        self.size -= self._books.pop(key).size


# the reference's page and book objects ----------------------------------------------------
# Thin adapters over the codec above, for code written against raet's lane paging API: a
# page or book keeps its head fields in ``data`` (an odict in PAGE_FIELDS order).
PAGE_FIELDS = ("ri", "vn", "pk", "sn", "dn", "si", "bi", "pn", "pc")
PAGE_DEFAULTS = odict(ri="RAET", vn=raeting.VERSION, pk=PackKind.json.value, sn="", dn="",
                      si="0" * SID_SIZE, bi=0, pn=0, pc=1)


def page_data(data: Mapping | None) -> odict:
    """The head fields of a page or book: the defaults, updated by ``data``."""
    fields = odict(PAGE_DEFAULTS)
    if data:
        fields.update(data)
    return fields


class Part:
    """A part (head or body) of a page: ``packed`` holds its bytes."""

    def __init__(self, page: Page | None = None, **kwa) -> None:
        self.page = page
        self.packed = b""

    def __len__(self) -> int:
        return len(self.packed)

    @property
    def size(self) -> int:
        return len(self.packed)


class Head(Part):
    """The head of a page."""


class TxHead(Head):
    def pack(self) -> None:
        """Write the head lines of the page's ``data`` into ``packed``."""
        data = self.page.data
        self.packed = (head_stem(data["sn"], data["dn"], data["si"], data["bi"], data["pk"],
                                 data["vn"]) + head_tail(data["pn"], data["pc"]))


class RxHead(Head):
    def parse(self) -> None:
        """Parse the page's ``packed`` head into its ``data``; the rest is the body's.

        PageError if the head is not a valid page head.
        """
        page = self.page
        packed = page.packed or b""
        head, section = parse(packed)
        self.packed = packed[:len(packed) - len(section)]
        page.body.packed = section
        page.data.update(ri="RAET", **head._asdict())
        page.data["pk"] = int(head.pk)


class Body(Part):
    """The body of a page: ``data`` is the message mapping."""

    def __init__(self, data: Mapping | None = None, **kwa) -> None:
        super().__init__(**kwa)
        self.data = data if data is not None else odict()


class TxBody(Body):
    def pack(self) -> None:
        """Serialize ``data`` by the page's ``pk`` into ``packed``; PageError if it cannot."""
        self.packed = pack_body(self.data, self.page.data["pk"])


class RxBody(Body):
    def parse(self) -> None:
        """Deserialize ``packed`` by the page's ``pk`` into ``data``; PageError if it cannot."""
        pk = self.page.data["pk"]
        if pk not in _PACK_KINDS:
            raise PageError("invalid_page_body", f"unknown pack kind {pk}")
        self.data = unpack_body(self.packed, pk)


class Page:
    """One lane datagram: head fields in ``data``, its bytes in ``packed``."""

    def __init__(self, stack=None, data: Mapping | None = None) -> None:
        self.stack = stack
        self.data = page_data(data)
        self.packed = b""

    @property
    def size(self) -> int:
        return len(self.packed)

    @property
    def paginated(self) -> bool:
        """Whether the page is one of a book of several."""
        return self.data.get("pc", 0) > 1


class TxPage(Page):
    """A page to send; ``embody`` is its message mapping."""

    def __init__(self, embody: Mapping | None = None, **kwa) -> None:
        super().__init__(**kwa)
        self.head = TxHead(page=self)
        self.body = TxBody(page=self, data=embody)

    @property
    def index(self) -> tuple:
        """(sn, dn, si, bi): sender, destination, session and book ids."""
        data = self.data
        return data["sn"], data["dn"], data["si"], data["bi"]

    def prepack(self) -> None:
        """Pack head and body into ``packed``, whatever the size."""
        self.head.pack()
        self.body.pack()
        self.packed = self.head.packed + self.body.packed

    def pack(self) -> None:
        """Pack as :meth:`prepack`; PageError if the page exceeds UXD_MAX_PACKET_SIZE."""
        self.prepack()
        if self.size > UXD_MAX_PACKET_SIZE:
            raise PageError("packing_error", f"page of {self.size} bytes exceeds "
                                             f"{UXD_MAX_PACKET_SIZE}")


class RxPage(Page):
    """A received page; ``packed`` is the datagram."""

    def __init__(self, packed: bytes | None = None, **kwa) -> None:
        super().__init__(**kwa)
        self.head = RxHead(page=self)
        self.body = RxBody(page=self)
        self.packed = packed or b""

    @property
    def index(self) -> tuple:
        """(dn, sn, si, bi): this yard, the sender, session and book ids."""
        data = self.data
        return data["dn"], data["sn"], data["si"], data["bi"]

    def parse(self, packed: bytes | None = None) -> None:
        """Parse head and body (of ``packed`` if given); PageError if either is invalid."""
        if packed:
            self.packed = packed
        self.head.parse()
        self.body.parse()


class Book:
    """A message and its pages: head fields in ``data``, message in ``body``, the whole
    serialized body in ``packed``."""

    def __init__(self, stack=None, data: Mapping | None = None,
                 body: Mapping | None = None) -> None:
        self.stack = stack
        self.data = page_data(data)
        self.body = body
        self.packed = b""

    @property
    def size(self) -> int:
        return len(self.packed)


class TxBook(Book):
    """A message to send, cut into ``pages`` by :meth:`pack`."""

    def __init__(self, **kwa) -> None:
        super().__init__(**kwa)
        self.pages: list[TxPage] = []

    @property
    def index(self) -> tuple:
        """(sn, dn, si, bi), as a TxPage's."""
        data = self.data
        return data["sn"], data["dn"], data["si"], data["bi"]

    def pack(self, data: Mapping | None = None, body: Mapping | None = None) -> None:
        """Serialize ``body`` and cut it into pages; PageError if it cannot be sent."""
        if data:
            self.data.update(data)
        if body is not None:
            self.body = body
        self.packed = pack_body(self.body or {}, self.data["pk"])
        self.paginate(headsize=0)

    def paginate(self, headsize: int) -> None:
        """Cut ``packed`` into ``pages`` (the codec computes the head size itself)."""
        fields = self.data
        raws = paginate(self.packed, fields["sn"], fields["dn"], fields["si"], fields["bi"],
                        fields["pk"])
        self.pages = [self.page(raw, pn, len(raws)) for pn, raw in enumerate(raws)]

    def page(self, raw: bytes, pn: int, pc: int) -> TxPage:
        """The TxPage of datagram ``raw``, page ``pn`` of ``pc``."""
        page = TxPage(stack=self.stack, data=self.data,
                      embody=self.body if pc == 1 else None)
        page.data.update(pn=pn, pc=pc)
        end = raw.index(HEAD_END) + len(HEAD_END)
        page.head.packed, page.body.packed, page.packed = raw[:end], raw[end:], raw
        return page


class RxBook(Book):
    """A received message: :meth:`parse` files its pages, in any order, until complete."""

    def __init__(self, sections: list | None = None, **kwa) -> None:
        super().__init__(**kwa)
        self.sections = sections if sections is not None else []
        self.complete = False

    @property
    def index(self) -> tuple:
        """(dn, sn, si, bi), as an RxPage's."""
        data = self.data
        return data["dn"], data["sn"], data["si"], data["bi"]

    def parse(self, page: RxPage) -> Mapping | None:
        """File ``page`` (its head parsed); the message once every page is in, else None.

        PageError for a page number or count that does not fit the book, or a book over
        MAX_MESSAGE_SIZE.
        """
        if not page.paginated:
            self.data.update(page.data)
            page.body.parse()
            self.body = page.body.data
            self.complete = True
            return self.body
        pn, pc = page.data["pn"], page.data["pc"]
        if not self.sections:
            self.data.update(page.data)
            self.sections = [None] * pc
        if pc != len(self.sections) or pn >= pc:
            raise PageError("invalid_page_number", f"page {pn} of {pc} in a book of "
                                                   f"{len(self.sections)} pages")
        self.sections[pn] = page.body.packed
        if sum(len(section) for section in self.sections if section) > MAX_MESSAGE_SIZE:
            raise PageError("oversized_book", f"book exceeds {MAX_MESSAGE_SIZE} bytes")
        if None in self.sections:
            return None
        self.body = self.desectionize()
        return self.body

    def desectionize(self) -> Mapping:
        """Join the sections into ``packed`` and deserialize the message."""
        self.packed = b"".join(self.sections)
        self.complete = True
        return unpack_body(self.packed, self.data["pk"])
