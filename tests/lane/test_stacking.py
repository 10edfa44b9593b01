"""LaneStack between raetflo yards in one process: the tutorial surface, paging, queues."""
from __future__ import annotations

import errno
import os
import socket
from collections import deque

import pytest
from ioflo.aid.odicting import odict

from raetflo.lane.paging import PackKind
from raetflo.lane.stacking import LaneStack, StackError
from raetflo.lane.yarding import RemoteYard

from .servicing import drain, service


@pytest.fixture
def pair(make_lane):
    """alpha knowing beta (uid 2); beta knowing nobody."""
    alpha = make_lane(LaneStack, "alpha", uid=1)
    beta = make_lane(LaneStack, "beta", uid=1)
    remote = RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(remote)
    return alpha, beta, remote


def test_tutorial_flow(pair, sockdir):
    alpha, beta, remote = pair
    assert (alpha.name, alpha.ha) == ("alpha", os.path.join(sockdir, "zeus.alpha.uxd"))
    assert remote.uid == 2 and remote.name == "beta"
    alpha.transmit(dict(content="Hello this is a message from alpha to beta"), remote.uid)
    service([alpha, beta], lambda: beta.rxMsgs)
    msg, source = beta.rxMsgs.popleft()
    assert (msg, source) == ({"content": "Hello this is a message from alpha to beta"}, "alpha")
    assert isinstance(msg, odict)
    back = beta.remotes.values()[0]  # the sender was added from its socket path
    assert (back.name, back.ha, back.uid, back.rsid) == ("alpha", alpha.ha, 2, remote.sid)
    beta.transmit(dict(content="Hi from beta"))  # no uid: the first remote
    alpha.transmit(dict(content="Hello from alpha"))
    service([alpha, beta], lambda: alpha.rxMsgs and beta.rxMsgs)
    assert drain(alpha) == [({"content": "Hi from beta"}, "beta")]
    assert drain(beta) == [({"content": "Hello from alpha"}, "alpha")]
    assert not alpha.stats and not beta.stats


def test_message_and_txmsgs_without_a_uid_go_to_the_first_remote(pair):
    alpha, beta, remote = pair
    alpha.message({"how": "message"})
    alpha.txMsgs.append(({"how": "txMsgs"}, None))
    service([alpha, beta], lambda: len(beta.rxMsgs) == 2)
    assert drain(beta) == [({"how": "message"}, "alpha"), ({"how": "txMsgs"}, "alpha")]
    assert not alpha.stats


@pytest.mark.parametrize("pk", list(PackKind))
def test_paged_messages(pair, monkeypatch, pk):
    monkeypatch.setattr(LaneStack, "Pk", pk)
    alpha, beta, remote = pair
    msgs = [{"content": f"{n:06d}" * 60000, "n": n, "caf\u00e9": ["\u2603", None, 1.5]}
            for n in range(3)]  # 360 KB each: six pages
    for msg in msgs:
        alpha.transmit(msg, remote.uid)
    alpha.serviceAllTx()
    assert len(alpha.txes) > 0  # more pages than beta's queue takes at once
    service([alpha, beta], lambda: len(beta.rxMsgs) == 3)
    assert drain(beta) == [(msg, "alpha") for msg in msgs]
    assert len(beta.books) == 0


def test_three_hundred_queued_at_once_arrive_in_order(pair):
    alpha, beta, remote = pair
    for n in range(300):
        alpha.transmit({"n": n}, remote.uid)
    rounds = service([alpha, beta], lambda: len(beta.rxMsgs) == 300)
    assert rounds > 1  # the peer's queue filled; the rest waited, in order
    assert drain(beta) == [({"n": n}, "alpha") for n in range(300)]
    assert alpha.stats["busy_transmit_yard"] >= 1 and not alpha.txes


def test_empty_message(pair):
    alpha, beta, remote = pair
    alpha.transmit({}, remote.uid)
    service([alpha, beta], lambda: beta.rxMsgs)
    assert drain(beta) == [({}, "alpha")]


def test_one_page_at_a_time(pair):
    alpha, beta, remote = pair
    alpha.transmit({"x": "y" * 70000}, remote.uid)
    alpha.serviceOneAllTx()
    assert len(alpha.txes) == 1  # the second page of the book waits
    beta.serviceOneAllRx()
    assert not beta.rxMsgs and len(beta.books) == 1
    alpha.serviceOneAllTx()
    beta.serviceOneAllRx()
    assert drain(beta) == [({"x": "y" * 70000}, "alpha")]


def test_incomplete_books_expire_in_store_time(pair, console_text):
    alpha, beta, remote = pair
    alpha.transmit({"x": "y" * 70000}, remote.uid)
    alpha.serviceOneAllTx()
    alpha.txes.clear()  # the second page is lost
    beta.serviceAll()
    assert len(beta.books) == 1
    beta.store.advanceStamp(LaneStack.BookTimeout - 1)
    beta.serviceAll()
    assert len(beta.books) == 1
    beta.store.advanceStamp(1)
    beta.serviceAll()
    assert len(beta.books) == 0 and beta.stats["expired_book"] == 1
    assert "Expired 1 partial book" in console_text()


def test_a_restarted_sender_starts_a_new_session(pair, make_lane):
    alpha, beta, remote = pair
    alpha.transmit({"x": "y" * 70000}, remote.uid)
    alpha.serviceOneAllTx()
    beta.serviceAll()
    alpha.server.close()
    alpha = make_lane(LaneStack, "alpha")
    alpha.addRemote(RemoteYard(stack=alpha, ha=beta.ha))
    alpha.transmit({"again": True})
    service([alpha, beta], lambda: beta.rxMsgs)
    assert drain(beta) == [({"again": True}, "alpha")]
    assert beta.stats["stale_book"] == 1 and len(beta.books) == 0


def test_socket_is_owner_only(make_lane, sockdir):
    stack = make_lane(LaneStack, "alpha", sockdirpath=os.path.join(sockdir, "new", "lane"))
    assert os.stat(stack.ha).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(stack.ha)).st_mode & 0o777 == 0o700


def test_live_socket_is_not_stolen(pair, make_lane):
    alpha, beta, remote = pair
    with pytest.raises(StackError, match="in use by a live process"):
        make_lane(LaneStack, "beta")
    alpha.transmit({"still": "there"}, remote.uid)
    service([alpha, beta], lambda: beta.rxMsgs)
    assert drain(beta) == [({"still": "there"}, "alpha")]


def test_stale_socket_file_is_replaced(make_lane, sockdir):
    path = os.path.join(sockdir, "zeus.alpha.uxd")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(path)  # closed without unlinking, like a crashed process
    stack = make_lane(LaneStack, "alpha")
    assert stack.ha == path and stack.server.opened


def test_a_file_that_is_not_a_socket_is_left_alone(make_lane, sockdir):
    path = os.path.join(sockdir, "zeus.alpha.uxd")
    with open(path, "w") as file:
        file.write("keep me")
    with pytest.raises(StackError, match="not a socket"):
        make_lane(LaneStack, "alpha")
    with open(path) as file:
        assert file.read() == "keep me"


def test_close_removes_only_its_own_socket(make_lane):
    stack = make_lane(LaneStack, "alpha")
    stack.server.close()
    assert not os.path.exists(stack.ha)
    stack = make_lane(LaneStack, "beta")
    os.unlink(stack.ha)  # another process took the path over
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        other.bind(stack.ha)
        stack.server.close()
        assert os.path.exists(stack.ha)


def test_explicit_ha_names_the_yard(make_lane, sockdir):
    stack = make_lane(LaneStack, "", ha=os.path.join(sockdir, "hera.gamma.uxd"), lanename=None,
                      sockdirpath="")
    assert (stack.name, stack.local.lanename, stack.local.dirpath) == ("gamma", "hera", sockdir)


def test_page_for_a_dead_yard_is_dropped_and_the_yard_reaped(pair, console_text):
    alpha, beta, remote = pair
    beta.server.close()
    alpha.transmit({"x": 1}, remote.uid)
    alpha.transmit({"x": "y" * 70000}, remote.uid)
    alpha.serviceAll()
    assert alpha.stats["stale_transmit_yard"] == 1 + 2 and not alpha.remotes and not alpha.txes
    assert "Reaped yard beta" in console_text()
    alpha.transmit({"x": 2}, remote.uid)
    alpha.serviceAll()
    assert alpha.stats["invalid_destination"] == 1


def test_page_for_a_missing_yard_is_dropped(pair):
    alpha, _, _ = pair
    ghost = RemoteYard(stack=alpha, name="ghost")
    alpha.addRemote(ghost)
    alpha.transmit({"x": 1}, ghost.uid)
    alpha.serviceAll()
    assert alpha.stats["stale_transmit_yard"] == 1 and ghost.uid not in alpha.remotes


def test_busy_yard_keeps_its_pages_in_order(pair):
    alpha, beta, remote = pair
    for n in range(30):
        alpha.transmit({"n": n}, remote.uid)
    alpha.serviceAll()
    alpha.serviceAll()  # beta has read nothing: everything still waits
    assert alpha.stats["busy_transmit_yard"] == 2 and len(alpha.txes) > 0
    service([beta, alpha], lambda: len(beta.rxMsgs) == 30)
    assert [msg["n"] for msg, _ in drain(beta)] == list(range(30))


def test_unaccepted_sender(make_lane):
    alpha = make_lane(LaneStack, "alpha")
    beta = make_lane(LaneStack, "beta", accept=False)
    alpha.addRemote(RemoteYard(stack=alpha, ha=beta.ha))
    alpha.transmit({"x": 1})
    alpha.serviceAll()
    beta.serviceAll()
    assert not beta.rxMsgs and not beta.remotes and beta.stats["unaccepted_source_yard"] == 1


def test_bad_transmits_are_counted(pair, make_lane):
    alpha, _, remote = pair
    alpha.transmit(["not", "a", "mapping"], remote.uid)
    alpha.transmit({"set": {1}}, remote.uid)
    alpha.transmit({"x": 1}, 99)
    alpha.serviceAll()
    lonely = make_lane(LaneStack, "lonely")
    lonely.transmit({"x": 1})
    assert dict(alpha.stats) == {"invalid_transmit_body": 1, "packing_error": 1,
                                 "invalid_destination": 1}
    assert lonely.stats["invalid_destination"] == 1 and not alpha.txes


def test_remote_bookkeeping(pair, sockdir):
    alpha, beta, remote = pair
    for clash in (dict(name="beta"), dict(ha=beta.ha), dict(name="alpha"),
                  dict(name="other", uid=2), dict(name="other", uid=1)):
        with pytest.raises(StackError):
            alpha.addRemote(RemoteYard(stack=alpha, **clash))
    gamma = RemoteYard(stack=alpha, name="gamma")
    alpha.addRemote(gamma)
    assert alpha.fetchUidByName("gamma") == gamma.uid and alpha.fetchUidByName("x") is None
    alpha.moveRemote(remote, 7)
    alpha.renameRemote(remote, "bea")
    assert list(alpha.remotes) == [7, gamma.uid] and list(alpha.nameRemotes) == ["bea", "gamma"]
    assert alpha.uidRemotes is alpha.remotes and alpha.remotes[7] is remote
    alpha.removeRemote(gamma)
    alpha.removeAllRemotes()
    assert not alpha.remotes and not alpha.nameRemotes and not alpha.haRemotes


def test_stats_helpers(pair):
    alpha, _, _ = pair
    alpha.incStat("x")
    alpha.incStat("x", 2)
    alpha.updateStat("y", 5)
    alpha.clearStat("x")
    assert dict(alpha.stats) == {"x": 0, "y": 5}
    alpha.clearStats()
    assert dict(alpha.stats) == {"x": 0, "y": 0}


@pytest.mark.parametrize("kind", [odict, dict, lambda: Counts()])
def test_counts_keep_their_order_in_any_stats_mapping(pair, kind):
    """A count of a key already held is changed in place (odict and dict); a new key, or
    a mapping of another type, goes through the mapping's own item setting."""
    alpha, _, _ = pair
    alpha.stats = kind()
    for key in ("b", "a", "b", "c", "a", "b"):
        alpha.incStat(key)
    alpha.incStat("c", 5)
    assert list(alpha.stats.items()) == [("b", 3), ("a", 2), ("c", 6)]
    if isinstance(alpha.stats, odict):
        assert list(alpha.stats.keys()) == ["b", "a", "c"]
    if isinstance(alpha.stats, Counts):
        assert alpha.stats.sets == 7  # every count, each through its own __setitem__


class Counts(dict):
    """A stats mapping that counts its item settings."""

    sets = 0

    def __setitem__(self, key, value):
        self.sets += 1
        super().__setitem__(key, value)


def test_other_send_errors_drop_the_page_but_keep_the_yard(pair, monkeypatch):
    alpha, _, remote = pair

    def refuse(data, ha):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(alpha.server, "send", refuse)
    alpha.transmit({"x": 1}, remote.uid)
    alpha.serviceAll()
    assert dict(alpha.stats) == {"error_transmit_yard": 1}
    assert not alpha.txes and alpha.remotes[remote.uid] is remote


def test_queues_may_be_shared(make_lane):
    rx, tx = deque(), deque()
    stack = make_lane(LaneStack, "alpha", rxMsgs=rx, txMsgs=tx)
    assert stack.rxMsgs is rx and stack.txMsgs is tx


def test_a_closed_stack_services_without_error(pair):
    """Once closed a stack reads nothing and sends nothing: its pages are counted as not
    sent, its yard kept; nothing raises out of the service call."""
    alpha, beta, remote = pair
    alpha.close()
    alpha.close()  # again: nothing more to do
    assert not alpha.server.opened and not os.path.exists(alpha.ha)
    alpha.transmit(dict(content="after close"), remote.uid)
    alpha.serviceAll()
    assert alpha.stats.get("error_transmit_yard") == 1 and remote.uid in alpha.remotes
    beta.serviceAll()
    assert not beta.rxMsgs


def test_tx_queues_a_raw_datagram_for_a_remote_by_uid(pair):
    alpha, _, remote = pair
    alpha.tx(b"raw page", remote.uid)
    assert list(alpha.txes) == [(b"raw page", remote.ha)]
    with pytest.raises(StackError, match="Invalid destination remote id '99'"):
        alpha.tx(b"raw page", 99)


def test_pages_from_an_abstract_socket_or_with_huge_numbers_are_dropped(pair):
    """Neither raises out of the service pass: a sender bound to an abstract address (its
    address comes as bytes) is one without a path; a head number past 32 bits is a bad head."""
    _, beta, _ = pair
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        abstract.bind(b"\x00raetflo-test-abstract-%d" % os.getpid())
        abstract.sendto(b"ri RAET\nsn evil\ndn beta\n\n{}", beta.ha)
        abstract.sendto(b"ri RAET\nsn evil\ndn beta\npn " + b"f" * 4000 + b"\npc "
                        + b"f" * 4001 + b"\n\n{}", beta.ha)
        service([beta], until=lambda: sum(beta.stats.values()) >= 2)  # each drop counted
    finally:
        abstract.close()
    assert not beta.rxMsgs


def test_a_book_of_empty_pages_cannot_grow_without_bound():
    from raetflo.lane.paging import Books, PageHead
    books = Books()
    for pn in range(2000):
        try:
            books.add(PageHead(sn="a", si="s", bi=1, pn=pn, pc=0xFFFF), b"", 0.0)
        except Exception:
            break
    assert books.size >= 2000 * 64  # each page held costs the budget its keep


def test_yards_added_because_they_wrote_are_bounded(make_lane, sockdir, monkeypatch):
    """Under ``accept`` a yard that writes is added; past ``MaxRemotes`` yards a new one is
    refused (``remote_overload``); the yards already known still come in."""
    from raetflo.lane.core import LaneCore
    monkeypatch.setattr(LaneCore, "MaxRemotes", 3)
    beta = make_lane(LaneStack, "beta", uid=1)
    senders = [make_lane(LaneStack, f"y{i}", uid=1) for i in range(5)]
    for sender in senders:
        sender.addRemote(RemoteYard(stack=sender, ha=beta.ha))
        sender.transmit({"from": sender.name})
        sender.serviceAll()
    service([beta], until=lambda: beta.stats.get("remote_overload", 0) >= 2)
    assert len(beta.remotes) == 3 and beta.stats["remote_overload"] == 2
    senders[0].transmit({"again": 1})
    senders[0].serviceAll()
    service([beta], until=lambda: any(m.get("again") for m, _ in drain(beta)))


def test_a_full_inbox_holds_the_rest_in_the_socket(pair, monkeypatch):
    """Past MaxRxMsgs waiting messages the socket is not read: its writers wait, as for
    a full socket, and nothing is lost."""
    alpha, beta, remote = pair
    monkeypatch.setattr(LaneStack, "MaxRxMsgs", 5)
    for n in range(10):
        alpha.transmit({"n": n}, remote.uid)
    for _ in range(4):
        alpha.serviceAll()
        beta.serviceAll()
    assert len(beta.rxMsgs) == 5 and beta.stats["rx_held"] >= 1
    got = drain(beta)
    service([alpha, beta], lambda: len(beta.rxMsgs) == 5)
    assert [msg["n"] for msg, _ in got + drain(beta)] == list(range(10))
