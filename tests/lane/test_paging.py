"""Page codec: byte-exact pages captured from raet 0.6.8, parsing rules, book reassembly."""
from __future__ import annotations

import pytest

from raetflo.lane import paging
from raetflo.lane.paging import Books, PageHead, PackKind, PageError

SI_A = "66106a1b800e2d7d83"  # alpha's session id for beta in the captured run
SI_B = "66106a1b8031f156e0"
ROUTE = {"route": {"src": ["mayor", "main", None], "dst": ["citizen", "other", None]},
         "content": "Hello all yards."}


def head_bytes(sn: str, dn: str, si: str, bi: str, pk: str = "0", pn: str = "0000",
               pc: str = "0001") -> bytes:
    return (f"ri RAET\nvn 0\npk {pk}\nsn {sn}\ndn {dn}\nsi {si}\nbi {bi}\npn {pn}\npc {pc}"
            "\n\n").encode()


def pages(body, sn="alpha", dn="beta", si=SI_A, bi=1, pk=PackKind.json) -> list[bytes]:
    return paging.paginate(paging.pack_body(body, pk), sn, dn, si, bi, pk=pk)


# captured pages ---------------------------------------------------------------------------
@pytest.mark.parametrize("body, bi, pk, expected", [
    ({"content": "Hello this is a message from alpha to beta"}, 1, 0,
     b'{"content":"Hello this is a message from alpha to beta"}'),
    ({"content": "caf\u00e9 \u2603"}, 3, 0, b'{"content":"caf\\u00e9 \\u2603"}'),
    ({}, 4, 0, b""),
    ({"route": {"src": ["mayor", "alpha", None], "dst": ["citizen", "beta", None]},
      "content": "caf\u00e9 \u2603"}, 2, 1,
     b"\x82\xa5route\x82\xa3src\x93\xa5mayor\xa5alpha\xc0\xa3dst\x93\xa7citizen\xa4beta\xc0"
     b"\xa7content\xa9caf\xc3\xa9 \xe2\x98\x83"),
])
def test_captured_single_pages(body, bi, pk, expected):
    assert pages(body, bi=bi, pk=pk) == [head_bytes("alpha", "beta", SI_A, f"{bi:x}",
                                                    pk=str(pk)) + expected]


def test_captured_reply_page_keeps_key_order_and_types():
    body = {"content": "Hi from beta", "n": 1, "ok": True, "none": None, "f": 1.5, "l": [1, "x"]}
    [page] = pages(body, sn="beta", dn="alpha", si=SI_B)
    assert len(page) == 153
    assert page == head_bytes("beta", "alpha", SI_B, "1") + \
        b'{"content":"Hi from beta","n":1,"ok":true,"none":null,"f":1.5,"l":[1,"x"]}'


def test_captured_two_page_book():
    content = "".join(f"{n:10d}" for n in range(10000))
    book = pages({"content": content}, bi=5)
    assert [len(page) for page in book] == [65533, 34639]
    assert book[0].startswith(head_bytes("alpha", "beta", SI_A, "5", pc="0002") +
                              b'{"content":"         0         1')
    assert book[1].startswith(head_bytes("alpha", "beta", SI_A, "5", pn="0001", pc="0002") +
                              b"    6544      6545")


def test_reference_test_vectors():
    """Lengths the reference's own paging tests assert."""
    [page] = paging.paginate(paging.pack_body(ROUTE), "", "", "0" * 18, 0)
    assert len(page) == 169
    [page] = paging.paginate(paging.pack_body(ROUTE, PackKind.pack), "boy", "girl", "0" * 18, 1,
                             pk=PackKind.pack)
    assert len(page) == 147
    book = paging.paginate(paging.pack_body({"msg": "a" * 100000}), "boy", "girl", "0" * 18, 1)
    assert [len(page) for page in book] == [65533, 34631]


def test_single_page_boundary():
    head = len(head_bytes("alpha", "beta", SI_A, "1"))
    assert len(paging.paginate(b"x" * (65535 - head), "alpha", "beta", SI_A, 1)) == 1
    assert [len(p) for p in paging.paginate(b"x" * (65536 - head), "alpha", "beta", SI_A, 1)] \
        == [65533, 82]


def test_long_session_id_is_cut_to_18():
    [page] = paging.paginate(b"", "a", "b", "0123456789abcdef0123456789", 1)
    assert b"\nsi 0123456789abcdef01\n" in page


def test_msgpack_strings_are_old_spec_raw():
    data = paging.pack_body({"s": "x" * 40}, PackKind.pack)
    assert data[:6] == b"\x81\xa1s\xda\x00\x28"  # raw16, never str8


@pytest.mark.parametrize("body", [{"b": {1, 2}}, {"n": float("inf"), "o": object()}])
def test_unserializable_body_is_a_packing_error(body):
    with pytest.raises(PageError) as info:
        paging.pack_body(body)
    assert info.value.stat == "packing_error"


def test_oversized_body_is_a_packing_error(monkeypatch):
    monkeypatch.setattr(paging, "MAX_MESSAGE_SIZE", 100)
    with pytest.raises(PageError) as info:
        paging.pack_body({"x": "y" * 100})
    assert info.value.stat == "packing_error"


# parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pk", list(PackKind))
def test_round_trip(pk):
    body = {"route": ["a", None], "caf\u00e9": "\u2603", "n": -3, "f": 2.5, "t": True,
            "nested": {"z": 1, "a": [1, {"b": None}]}}
    [page] = pages(body, pk=pk)
    head, section = paging.parse(page)
    assert head == PageHead(sn="alpha", dn="beta", si=SI_A, bi=1, pn=0, pc=1, pk=pk, vn=0)
    decoded = paging.unpack_body(section, head.pk)
    assert decoded == body and list(decoded) == list(body)


def test_lenient_heads_like_the_reference():
    head, body = paging.parse(b"ri RAET\ndn beta\nsn alpha\nsn gamma\nvn 7\n\n{}\n\n")
    assert head == PageHead(sn="gamma", dn="beta", vn=7)  # any order, last wins, defaults
    assert body == b"{}\n\n"  # split at the first terminator
    assert paging.parse(b"ri RAET\n\n") == (PageHead(), b"")
    assert paging.parse(b"ri RAET\nsi \nbi FF\n\n")[0] == PageHead(si="", bi=255)


@pytest.mark.parametrize("raw", [
    b"", b"garbage", b"ri RAETX\nsn a\n\n", b"ri RAET\r\nsn a\r\n\r\n", b"ri RAET\nsn a\n",
    b"ri RAET\nsn\n\n", b"ri RAET\nsn a b\n\n", b"ri RAET\nxx 1\n\n", b"ri RAET\nbi -1\n\n",
    b"ri RAET\nbi 0x1\n\n", b"ri RAET\npn 1_0\n\n", b"ri RAET\npc \n\n", b"ri RAET\nri X\n\n",
])
def test_bad_heads(raw):
    with pytest.raises(PageError) as info:
        paging.parse(raw)
    assert info.value.stat == "invalid_page_header"


def test_oversized_page():
    with pytest.raises(PageError) as info:
        paging.parse(head_bytes("a", "b", SI_A, "1") + b"x" * 65535)
    assert info.value.stat == "invalid_page_size"


@pytest.mark.parametrize("raw, pk", [
    (b"{", 0), (b"[1, 2]", 0), (b'{"a": 1} x', 0), (b"\xff\xfe", 0), (b"\x93\x01\x02\x03", 1),
    (b"\x81\xa1a", 1), (b"\x81\xa2\xff\xfe\x01", 1), (b"\x81\x91\x01\x02", 1),
    (b"[" * 100000, 0), (b"\x91" * 100000, 1),
])
def test_bad_bodies(raw, pk):
    with pytest.raises(PageError) as info:
        paging.unpack_body(raw, pk)
    assert info.value.stat == "invalid_page_body"


def test_unknown_pack_kind():
    with pytest.raises(PageError) as info:
        paging.parse(b"ri RAET\npk 2\n\n{}")
    assert info.value.stat == "invalid_page_body"


# books ----------------------------------------------------------------------------------------
def book_of(body: bytes, bi: int = 1, si: str = SI_A) -> list[tuple[PageHead, bytes]]:
    return [paging.parse(page) for page in paging.paginate(body, "alpha", "beta", si, bi)]


BIG = bytes(range(256)) * 1000  # 256 000 bytes: four pages


def test_book_reassembles_in_any_order():
    books = Books()
    parts = book_of(BIG)
    assert len(parts) == 4
    first, *rest = parts
    assert books.add(*first, now=0.0) is None
    assert books.add(*rest[2], now=0.0) is None
    assert books.add(*rest[0], now=0.0) is None
    assert books.add(*rest[0], now=0.0) is None  # a repeat overwrites
    assert books.add(*rest[1], now=0.0) == BIG
    assert len(books) == 0 and books.size == 0


def assert_drop(stat: str, books: Books, head: PageHead, section: bytes, now: float = 0.0):
    with pytest.raises(PageError) as info:
        books.add(head, section, now)
    assert info.value.stat == stat


def test_book_must_start_at_page_zero():
    books = Books()
    parts = book_of(BIG)
    assert_drop("missed_page", books, *parts[1])
    assert len(books) == 0


def test_page_number_must_fit_the_count():
    books = Books()
    head, section = book_of(BIG)[0]
    books.add(head, section, 0.0)
    assert_drop("invalid_page_number", books, head._replace(pn=4), section)
    assert_drop("invalid_page_number", books, head._replace(pn=1, pc=5), section)
    assert_drop("invalid_page_number", books, head._replace(bi=9, pn=0xFFFF, pc=2), section)
    assert len(books) == 1


def evicting(**bounds) -> tuple[Books, list]:
    """Books with ``bounds`` that note each book they drop to make room."""
    dropped: list = []
    return Books(on_evict=lambda key, why: dropped.append(key[2]), **bounds), dropped


def test_books_make_room_by_dropping_the_least_recently_fed():
    books, dropped = evicting(max_books=2, max_bytes=220_000)
    for bi in (1, 2):
        books.add(*book_of(BIG, bi=bi)[0], now=0.0)
    books.add(*book_of(BIG, bi=1)[1], now=0.0)  # book 2 is now the least recently fed
    books.add(*book_of(BIG, bi=3)[0], now=0.0)  # over the count: book 2 goes
    assert dropped == [2] and list(books.of("alpha")) == [("alpha", SI_A, 1),
                                                          ("alpha", SI_A, 3)]
    books.add(*book_of(BIG, bi=3)[1], now=0.0)  # 4 x 64 k over 220 k: book 1 goes
    assert dropped == [2, 1] and len(books) == 1
    assert books.size == 2 * (len(book_of(BIG, bi=3)[0][1]) + paging.PAGE_COST)
    assert_drop("missed_page", books, *book_of(BIG, bi=1)[2])


def test_a_book_alone_over_the_byte_bound_is_refused():
    books, dropped = evicting(max_bytes=100_000)
    parts = book_of(BIG)
    books.add(*parts[0], now=0.0)
    assert_drop("book_overflow", books, *parts[1])
    assert len(books) == 0 and books.size == 0 and dropped == []


def test_each_sender_is_bounded_on_its_own():
    books, dropped = evicting(max_sender_books=2, max_sender_bytes=200_000)
    other = [paging.parse(page) for page in paging.paginate(BIG, "gamma", "beta", SI_A, 9)]
    books.add(*other[0], now=0.0)
    for bi in (1, 2, 3):
        books.add(*book_of(BIG, bi=bi)[0], now=0.0)
    assert dropped == [1] and len(books.of("alpha")) == 2 and len(books.of("gamma")) == 1
    books.add(*book_of(BIG, bi=3)[1], now=0.0)  # alpha's 3 x 64 k: under 200 k
    assert dropped == [1]
    books.add(*book_of(BIG, bi=3)[2], now=0.0)  # 4 x 64 k: book 2 goes, book 3 stays over
    assert dropped == [1, 2] and list(books.of("alpha")) == [("alpha", SI_A, 3)]
    assert books.add(*book_of(BIG, bi=3)[3], now=0.0) == BIG
    assert books.add(*other[1], now=0.0) is None and len(books.of("gamma")) == 1
    assert books.size == 2 * (len(other[0][1]) + paging.PAGE_COST)


def test_book_larger_than_the_largest_message_is_dropped(monkeypatch):
    monkeypatch.setattr(paging, "MAX_MESSAGE_SIZE", 100_000)
    books = Books()
    parts = book_of(BIG)
    books.add(*parts[0], now=0.0)
    assert_drop("oversized_book", books, *parts[1])
    assert len(books) == 0 and books.size == 0


def test_idle_books_expire():
    books = Books(timeout=10.0)
    old, young = book_of(BIG, bi=1), book_of(BIG, bi=2)
    books.add(*old[0], now=0.0)
    books.add(*young[0], now=5.0)
    assert books.expire(9.9) == 0
    books.add(*old[1], now=9.9)  # feeding a book keeps it alive
    assert books.expire(15.0) == 1  # the young book is now the idlest
    assert books.expire(19.5) == 0
    assert books.expire(20.0) == 1
    assert len(books) == 0 and books.size == 0
    assert_drop("missed_page", books, *old[2])


def test_session_change_discards_other_sessions():
    books = Books()
    books.add(*book_of(BIG, si="old")[0], now=0.0)
    books.add(*book_of(BIG, si="new", bi=2)[0], now=0.0)
    assert books.discard("alpha", "new") == 1
    assert books.discard("gamma", "new") == 0
    assert len(books) == 1


def test_many_writers_at_their_bound_cannot_push_out_another_s_book():
    """Room is made at the expense of the writers holding the most, so eight writers of
    eight books each do not evict a ninth's one book in progress."""
    books, dropped = evicting(max_books=64, max_sender_books=8)
    alice = [paging.parse(page) for page in paging.paginate(BIG, "alice", "beta", SI_A, 1)]
    books.add(*alice[0], now=0.0)
    for name in (f"e{index}" for index in range(8)):
        for bi in range(1, 9):
            head, section = paging.parse(paging.paginate(BIG, name, "beta", SI_A, bi)[0])
            books.add(head, b"x", now=0.0)
    assert len(books) == 64 and len(dropped) == 1 and books.of("alice")
    for part in alice[1:-1]:
        assert books.add(*part, now=0.0) is None
    assert books.add(*alice[-1], now=0.0) == BIG
