"""The reference's lane paging objects and names, compared call for call with raet 0.6.8."""
from __future__ import annotations

import pytest
from ioflo.aid.odicting import odict

from . import refshim

refshim.install()

from raet import raeting as ref_raeting  # noqa: E402
from raet.lane import paging as ref_paging  # noqa: E402
from raet.lane import yarding as ref_yarding  # noqa: E402

from raetflo import raeting  # noqa: E402
from raetflo.lane import paging, yarding  # noqa: E402

SID = "5e1f0a2b3c4d5e6f70"
ROUTE = odict([("src", ["mayor", "main", None]), ("dst", ["citizen", "other", None])])
SMALL = odict([("route", ROUTE), ("content", "Hello all yards.")])
BIG = odict([("route", ROUTE), ("content", "".join(str(i).rjust(10) for i in range(10000)))])
KINDS = [kind.value for kind in raeting.PackKind]


def fields(pk: int) -> odict:
    return odict(pk=pk, sn="boy", dn="girl", si=SID, bi=1)


def test_names_and_values_of_the_reference():
    assert {k.name: k.value for k in raeting.PackKind} == \
        {k.name: k.value for k in ref_raeting.PackKind}
    assert raeting.UXD_MAX_PACKET_SIZE == ref_raeting.UXD_MAX_PACKET_SIZE
    assert issubclass(paging.PageError, raeting.PageError)
    assert issubclass(raeting.PageError, raeting.RaetError)
    assert list(paging.PAGE_DEFAULTS.items()) == list(ref_raeting.PAGE_DEFAULTS.items())


def test_yard_static_helpers_as_the_reference(tmp_path):
    dirpath = str(tmp_path / "sock")
    assert yarding.Yard.computeHa(dirpath, "ash", "lord") == \
        ref_yarding.Yard.computeHa(dirpath, "ash", "lord")
    ha = yarding.Yard.computeHa(dirpath, "ash", "lord")[0]
    assert yarding.Yard.namesFromHa(ha) == ref_yarding.Yard.namesFromHa(ha) == ("ash", "lord")


@pytest.mark.parametrize("pk", KINDS)
@pytest.mark.parametrize("data", [odict(), fields])
def test_tx_page_packs_as_the_reference(pk, data):
    data = data(pk) if callable(data) else odict(pk=pk)
    ours, theirs = paging.TxPage(data=data, embody=SMALL), ref_paging.TxPage(data=data,
                                                                            embody=SMALL)
    ours.pack()
    theirs.pack()
    assert ours.packed == theirs.packed
    assert (ours.head.packed, ours.body.packed) == (theirs.head.packed, theirs.body.packed)
    assert ours.data == theirs.data and ours.index == theirs.index
    assert (ours.size, ours.paginated) == (theirs.size, theirs.paginated)


@pytest.mark.parametrize("pk", KINDS)
def test_rx_page_parses_as_the_reference(pk):
    page = ref_paging.TxPage(data=fields(pk), embody=SMALL)
    page.pack()
    ours, theirs = paging.RxPage(packed=page.packed), ref_paging.RxPage(packed=page.packed)
    ours.parse()
    theirs.parse()
    assert list(ours.data.items()) == list(theirs.data.items())
    assert ours.body.data == theirs.body.data == SMALL
    assert (ours.head.packed, ours.body.packed) == (theirs.head.packed, theirs.body.packed)
    assert ours.index == theirs.index == ("girl", "boy", SID, 1)


@pytest.mark.parametrize("pk", KINDS)
def test_oversized_page_raises_page_error(pk):
    page = paging.TxPage(data=fields(pk), embody=BIG)
    with pytest.raises(raeting.PageError):
        page.pack()
    page.prepack()  # packs whatever the size
    assert page.size > raeting.UXD_MAX_PACKET_SIZE


@pytest.mark.parametrize("pk", KINDS)
@pytest.mark.parametrize("body", [SMALL, BIG])
def test_tx_book_pages_as_the_reference(pk, body):
    ours = paging.TxBook(data=fields(pk), body=body)
    theirs = ref_paging.TxBook(data=fields(pk), body=body)
    ours.pack()
    theirs.pack()
    assert ours.packed == theirs.packed and ours.index == theirs.index
    assert [p.packed for p in ours.pages] == [p.packed for p in theirs.pages]
    assert [p.data for p in ours.pages] == [p.data for p in theirs.pages]
    assert [p.head.packed for p in ours.pages] == [p.head.packed for p in theirs.pages]


def received(book) -> list:
    """The pages of a TxBook as a receiver has them: heads parsed."""
    pages = []
    for sent in book.pages:
        page = paging.RxPage(packed=sent.packed)
        page.head.parse()
        pages.append(page)
    return pages


@pytest.mark.parametrize("pk", KINDS)
@pytest.mark.parametrize("order", [1, -1])
def test_rx_book_reassembles_pages_in_any_order(pk, order):
    sent = ref_paging.TxBook(data=fields(pk), body=BIG)
    sent.pack()
    book = paging.RxBook()
    pages = received(sent)[::order]
    assert [book.parse(page) for page in pages] == [None, BIG]
    assert book.complete and book.body == BIG and book.packed == sent.packed
    assert book.index == ("girl", "boy", SID, 1)
    assert (book.data["sn"], book.data["si"], book.data["bi"]) == ("boy", SID, 1)


def test_rx_book_refuses_a_page_that_does_not_fit():
    sent = paging.TxBook(data=fields(0), body=BIG)
    sent.pack()
    first, second = received(sent)
    book = paging.RxBook()
    book.parse(first)
    second.data["pc"] = 3
    with pytest.raises(paging.PageError) as info:
        book.parse(second)
    assert info.value.stat == "invalid_page_number"


def test_rx_book_of_one_page_is_complete_at_once():
    sent = paging.TxBook(data=fields(1), body=SMALL)
    sent.pack()
    [page] = received(sent)
    book = paging.RxBook()
    assert book.parse(page) == SMALL and book.complete
