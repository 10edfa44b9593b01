"""raet's lane page and book objects, as thin adapters over the page codec in
:mod:`raetflo.lane.paging` (where raet code imports them from)."""
from __future__ import annotations

from collections.abc import Mapping
from ioflo.aid.odicting import odict

from .. import raeting
from ..raeting import PackKind
from .paging import (_PACK_KINDS, HEAD_END, MAX_MESSAGE_SIZE, SID_SIZE, UXD_MAX_PACKET_SIZE, PageError, head_stem,
                     head_tail, pack_body, paginate, parse, unpack_body)

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
    page: TxPage

    def pack(self) -> None:
        """Write the head lines of the page's ``data`` into ``packed``."""
        data = self.page.data
        self.packed = (head_stem(data["sn"], data["dn"], data["si"], data["bi"], data["pk"],
                                 data["vn"]) + head_tail(data["pn"], data["pc"]))


class RxHead(Head):
    page: RxPage

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
    page: TxPage

    def pack(self) -> None:
        """Serialize ``data`` by the page's ``pk`` into ``packed``; PageError if it cannot."""
        self.packed = pack_body(self.data, self.page.data["pk"])


class RxBody(Body):
    page: RxPage

    def parse(self) -> None:
        """Deserialize ``packed`` by the page's ``pk`` into ``data``; PageError if it cannot."""
        pk = self.page.data["pk"]
        if pk not in _PACK_KINDS:
            raise PageError("invalid_page_body", f"unknown pack kind {pk}")
        self.data = unpack_body(self.packed, pk, odict)


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
        return unpack_body(self.packed, self.data["pk"], odict)
