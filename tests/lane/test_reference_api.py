"""Names of raet 0.6.8's lane API on our stack: RemoteYard.books and removeStaleBooks."""
from __future__ import annotations

import os

from raetflo.lane.stacking import LaneStack
from raetflo.lane.yarding import RemoteYard

BIG = {"content": "x" * 100_000}  # two pages


def one_page_each_way(alpha, beta):
    """Send one queued page from each stack and receive it on the other."""
    for stack in (alpha, beta):
        stack.serviceOneAllTx()
    for stack in (alpha, beta):
        stack.serviceOneAllRx()


def test_books_shows_the_partial_books_of_each_remote(make_lane):
    alpha, beta = make_lane(LaneStack, "alpha"), make_lane(LaneStack, "beta")
    to_beta = RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(to_beta)
    alpha.transmit(BIG, to_beta.uid)
    one_page_each_way(alpha, beta)
    from_alpha = beta.nameRemotes["alpha"]
    assert len(from_alpha.books) == 1 and len(to_beta.books) == 0
    [(sn, si, bi)] = from_alpha.books.keys()
    assert (sn, si, bi) == ("alpha", to_beta.sid, 1) and from_alpha.rsid == to_beta.sid
    one_page_each_way(alpha, beta)
    assert len(from_alpha.books) == 0 and beta.rxMsgs.popleft() == (BIG, "alpha")


def test_remove_stale_books_drops_books_of_other_sessions(make_lane):
    alpha, beta = make_lane(LaneStack, "alpha"), make_lane(LaneStack, "beta")
    to_beta = RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(to_beta)
    alpha.transmit(BIG, to_beta.uid)
    one_page_each_way(alpha, beta)
    from_alpha = beta.nameRemotes["alpha"]
    from_alpha.removeStaleBooks()
    assert len(from_alpha.books) == 1  # its session is still the current one
    from_alpha.rsid = "another session"
    from_alpha.removeStaleBooks()
    assert len(from_alpha.books) == 0 and len(beta.books) == 0
    assert beta.stats["stale_book"] == 1


def test_a_yard_without_a_stack_has_no_books():
    assert RemoteYard(ha="/tmp/lane.yard.uxd").books == {}


def test_server_from_local_reopens_the_yard_socket(make_lane):
    alpha = make_lane(LaneStack, "alpha")
    assert alpha.server.opened and alpha.accept is LaneStack.Accept
    alpha.server.close()
    alpha.server = alpha.serverFromLocal()
    assert alpha.server.opened and alpha.server.ha == alpha.ha


def test_the_yard_socket_reopens_in_place_and_names_its_buffer_as_ioflo_s(make_lane):
    """``server.reopen()`` and ``server.bs``, as raet code uses ioflo's servers."""
    alpha = make_lane(LaneStack, "alpha")
    beta = make_lane(LaneStack, "beta")
    assert alpha.server.bs == alpha.server.bufsize and alpha.server.ss is alpha.server.sock
    assert alpha.server.reopen() is True and alpha.server.opened
    assert alpha.server.ha == alpha.ha and os.path.exists(alpha.ha)
    beta.addRemote(RemoteYard(stack=beta, ha=alpha.ha))
    beta.transmit({"after": "reopen"}, beta.remotes.values()[0].uid)
    for _ in range(20):
        beta.serviceAll()
        alpha.serviceAll()
        if alpha.rxMsgs:
            break
    assert [dict(body) for body, _ in alpha.rxMsgs] == [{"after": "reopen"}]


def test_a_subclass_processrx_gets_raet_s_pages_and_the_yard(make_lane):
    """raet code overriding ``processRx(self, received, remote)`` gets each page as raet
    hands it over (an ``RxPage`` with its head parsed, and the yard it came from); raet's
    ``processRx`` then files or delivers it as usual, a big message included."""
    from raetflo.lane.pages import RxPage
    seen: list[tuple[type, str, int]] = []

    class Traced(LaneStack):
        def processRx(self, received, remote):
            seen.append((type(received), remote.name, received.data["pc"] if "pc" in
                         received.data else 1))
            return super().processRx(received, remote)

    alpha, beta = make_lane(LaneStack, "alpha"), make_lane(Traced, "beta")
    to_beta = RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(to_beta)
    alpha.transmit({"small": 1}, to_beta.uid)
    alpha.transmit(BIG, to_beta.uid)
    for _ in range(4):
        one_page_each_way(alpha, beta)
    assert list(beta.rxMsgs) == [({"small": 1}, "alpha"), (BIG, "alpha")]
    assert {(kind, name) for kind, name, _ in seen} == {(RxPage, "alpha")} and len(seen) == 3
