"""Hostile datagrams from raw sockets are counted and dropped; the stack goes on."""
from __future__ import annotations

import os
import random
import socket

import pytest

from raetflo.lane import paging
from raetflo.lane.stacking import LaneStack

from .servicing import drain

SI = "0123456789abcdef01"


def page(body: bytes = b'{"n":1}', sn: str = "raw", dn: str = "beta", **fields) -> bytes:
    head = dict(vn="0", pk="0", sn=sn, dn=dn, si=SI, bi="1", pn="0000", pc="0001")
    head.update(fields)
    return "".join(f"{key} {value}\n" for key, value in (("ri", "RAET"), *head.items())) \
        .encode() + b"\n" + body


@pytest.fixture
def beta(make_lane):
    return make_lane(LaneStack, "beta")


@pytest.fixture
def raw(sockdir):
    """A plain socket bound where a yard named 'raw' on lane 'zeus' would be."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sock.bind(os.path.join(sockdir, "zeus.raw.uxd"))
        yield sock


def feed(stack: LaneStack, sock: socket.socket, *datagrams: bytes) -> list:
    """Send each datagram to ``stack`` and service it; what it delivered."""
    for datagram in datagrams:
        sock.sendto(datagram, stack.ha)
        stack.serviceAll()
    return drain(stack)


GOOD = page(b'{"ok":true}')
BOOK = paging.paginate(b'{"x":"' + b"y" * 70000 + b'"}', "raw", "beta", SI, 7)


@pytest.mark.parametrize("datagram, stat", [
    (b"", "invalid_page_header"),
    (b"garbage", "invalid_page_header"),
    (GOOD[:30], "invalid_page_header"),  # truncated head
    (page(bi="zz"), "invalid_page_header"),
    (page(sn="a b"), "invalid_page_header"),
    (GOOD + b"x" * 65535, "invalid_page_size"),
    (GOOD[:-3], "invalid_page_body"),  # truncated body
    (page(b"[1,2]"), "invalid_page_body"),
    (page(pk="7"), "invalid_page_body"),
    (page(b"\x81\xa1a\xa2\xff\xfe", pk="1"), "invalid_page_body"),
    (page(dn="gamma"), "invalid_destination"),
    (page(sn="gamma"), "invalid_source_yard"),  # not the yard its socket path names
    (page(pn="0002", pc="0002"), "invalid_page_number"),
    (BOOK[1], "missed_page"),
])
def test_bad_datagram_is_counted_and_dropped(beta, raw, datagram, stat):
    assert feed(beta, raw, datagram) == []
    assert dict(beta.stats) == {stat: 1}
    assert feed(beta, raw, GOOD) == [({"ok": True}, "raw")]


def test_truncated_page_of_a_book(beta, raw):
    assert feed(beta, raw, BOOK[0], BOOK[1][:-10]) == []
    assert dict(beta.stats) == {"invalid_page_body": 1} and len(beta.books) == 0
    assert feed(beta, raw, *BOOK) == [({"x": "y" * 70000}, "raw")]


def test_unbound_and_unnamed_senders_are_not_added(beta, sockdir):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unbound:
        assert feed(beta, unbound, GOOD) == []
    for path in ("raw.sock", "zeus.a.b.uxd"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(os.path.join(sockdir, path))
            assert feed(beta, sock, page(sn="a.b")) == []
    assert dict(beta.stats) == {"invalid_source_yard": 3} and not beta.remotes


def test_fuzzed_pages_never_escape_serviceAll(beta, raw):
    rng = random.Random(7)
    seeds = [GOOD, page(b"\x81\xa1n\x01", pk="1"), *BOOK]
    for _ in range(400):
        datagram = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            spot = rng.randrange(min(len(datagram), 120))
            action = rng.random()
            if action < 0.4:
                datagram[spot] = rng.randrange(256)
            elif action < 0.7:
                del datagram[spot:spot + rng.randint(1, 8)]
            else:
                datagram[spot:spot] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        raw.sendto(bytes(datagram), beta.ha)
        beta.serviceAll()
    assert sum(beta.stats.values()) > 300
    drain(beta)
    assert feed(beta, raw, GOOD) == [({"ok": True}, "raw")]


def test_a_known_yard_cannot_be_impersonated(beta, raw, sockdir, tmp_path):
    """Pages naming a known yard come from its socket, or are dropped: a writer bound under
    another name, or under the same file name elsewhere, or not bound at all, is not it."""
    assert feed(beta, raw, GOOD) == [({"ok": True}, "raw")]
    forged = page(b'{"forged":true}')  # sn "raw"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as twin, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unbound:
        other.bind(os.path.join(sockdir, "zeus.mallory.uxd"))
        twin.bind(str(elsewhere / "zeus.raw.uxd"))
        for sock in (other, twin, unbound):
            assert feed(beta, sock, forged) == []
    assert dict(beta.stats) == {"invalid_source_yard": 3}
    assert [remote.name for remote in beta.remotes.values()] == ["raw"]
    assert feed(beta, raw, page(b'{"ok":true}', bi="9")) == [({"ok": True}, "raw")]


def test_one_writer_cannot_hold_every_partial_book(beta, raw, sockdir):
    """A writer that starts books and never ends them loses its own oldest; another yard's
    paged message still gets through (and so does the writer's own next one)."""
    for bi in range(100, 100 + 2 * LaneStack.MaxBooks):
        raw.sendto(paging.paginate(b'{"x":"' + b"y" * 70000 + b'"}', "raw", "beta", SI,
                                   bi)[0], beta.ha)
        beta.serviceAll()
    assert len(beta.books) <= LaneStack.MaxSenderBooks
    assert beta.stats["book_overflow"] == 2 * LaneStack.MaxBooks - LaneStack.MaxSenderBooks
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sock.bind(os.path.join(sockdir, "zeus.other.uxd"))
        other = paging.paginate(b'{"x":"' + b"z" * 70000 + b'"}', "other", "beta", SI, 1)
        assert feed(beta, sock, *other) == [({"x": "z" * 70000}, "other")]
    assert feed(beta, raw, *BOOK) == [({"x": "y" * 70000}, "raw")]


def test_an_empty_datagram_from_an_unbound_socket_is_counted_and_reading_goes_on(beta, raw):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unbound:
        for sock, datagram in ((raw, GOOD), (unbound, b""), (raw, page(b'{"ok":true}', bi="2"))):
            sock.sendto(datagram, beta.ha)
        beta.serviceAll()
    assert drain(beta) == [({"ok": True}, "raw")] * 2
    assert dict(beta.stats) == {"invalid_page_header": 1}


def test_a_session_id_longer_than_any_sender_writes_is_a_bad_head(beta, raw):
    assert feed(beta, raw, page(si="s" * 60000)) == []
    assert dict(beta.stats) == {"invalid_page_header": 1} and not beta.remotes
    assert feed(beta, raw, page(si="s" * paging.MAX_SID_SIZE)) == [({"n": 1}, "raw")]


def test_a_writer_bound_at_a_relative_path_is_not_added(beta, tmp_path, monkeypatch):
    """Its path names a socket only from its own working directory: replies would go
    astray."""
    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("zeus.rel.uxd")
        assert feed(beta, sock, page(sn="rel")) == []
    assert dict(beta.stats) == {"invalid_source_yard": 1} and not beta.remotes


def test_a_replayed_page_is_not_delivered_again(beta, raw):
    """A sender's books are numbered (bi) within its session: a book delivered already,
    a page replayed by anyone who can write the socket, is dropped; a new session starts
    the count again."""
    assert feed(beta, raw, GOOD, GOOD, page(bi="2"), GOOD) == [({"ok": True}, "raw"),
                                                              ({"n": 1}, "raw")]
    assert dict(beta.stats) == {"duplicate_book": 2}
    assert feed(beta, raw, *BOOK, *BOOK) == [({"x": "y" * 70000}, "raw")]
    assert beta.stats["duplicate_book"] == 4  # each page of the book again
    fresh = page(b'{"again":1}', si="f" * 18)  # a new session: bi 1 again
    assert feed(beta, raw, fresh, page(b'{"zero":1}', bi="0"), page(b'{"zero":2}', bi="0")) \
        == [({"again": 1}, "raw"), ({"zero": 1}, "raw"), ({"zero": 2}, "raw")]


def test_yards_that_are_gone_make_room_for_new_ones(beta, sockdir, monkeypatch):
    """At MaxRemotes an unknown writer is refused, unless some known yards are gone (no
    live socket at their paths): those are reaped to make room."""
    monkeypatch.setattr(LaneStack, "MaxRemotes", 4)
    live = []
    for index in range(4):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(sockdir, f"zeus.y{index}.uxd"))
        assert feed(beta, sock, page(sn=f"y{index}")) == [({"n": 1}, f"y{index}")]
        live.append(sock)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dave:
        dave.bind(os.path.join(sockdir, "zeus.dave.uxd"))
        assert feed(beta, dave, page(sn="dave")) == []  # all four still there
        assert beta.stats["remote_overload"] == 1
        for sock in live[:2]:  # two go away (one leaves its socket file behind)
            sock.close()
        os.unlink(os.path.join(sockdir, "zeus.y0.uxd"))
        beta.store.advanceStamp(LaneStack.GoneCheckPeriod)
        assert feed(beta, dave, page(sn="dave", bi="2")) == [({"n": 1}, "dave")]
    assert sorted(remote.name for remote in beta.remotes.values()) == ["dave", "y2", "y3"]
    for sock in live[2:]:
        sock.close()


def test_a_yard_of_this_lane_takes_its_name_back_from_a_writer_elsewhere(beta, raw, tmp_path):
    """The first writer whose socket path names a yard is added under that name, from any
    directory or lane; the yard of that name in this lane's own directory (which only
    this user can write to) takes the name back, and replies go to it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as squatter:
        squatter.bind(str(elsewhere / "otherlane.raw.uxd"))
        squatter.setblocking(False)
        assert feed(beta, squatter, page(b'{"who":"squatter"}')) == [({"who": "squatter"},
                                                                       "raw")]
        assert feed(beta, raw, page(b'{"who":"raw"}', si="r" * 18)) == [({"who": "raw"}, "raw")]
        assert dict(beta.stats) == {"yard_moved": 1}
        assert feed(beta, squatter, page(b'{"who":"squatter"}', bi="2")) == []
        assert beta.stats["invalid_source_yard"] == 1
        beta.transmit({"reply": 1}, beta.fetchUidByName("raw"))
        beta.serviceAll()
        assert b'"reply"' in raw.recv(65536)
        with pytest.raises(BlockingIOError):
            squatter.recv(65536)
