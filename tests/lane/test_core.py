"""LaneCore alone: datagrams and times in; events, stats and datagrams out. No sockets, no
directories: the yards' paths below are never created."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from raetflo.events import MessageReceived, RemoteRemoved
from raetflo.lane import paging
from raetflo.lane.core import LaneCore
from raetflo.lane.yarding import RemoteYard

DIR = "/nonexistent/raetflo-lane"  # the core computes paths in it and never touches it
BIG = {"content": "x" * 150_000, "n": 1}  # three pages
FORBIDDEN = {"os", "socket", "time", "ioflo", "raetflo.lane.transport"}


def core(name: str, **kwa) -> LaneCore:
    return LaneCore(name=name, lanename="zeus", sockdirpath=DIR, **kwa)


@pytest.fixture
def pair() -> tuple[LaneCore, LaneCore, RemoteYard]:
    """alpha knowing beta; beta knowing nobody."""
    alpha, beta = core("alpha"), core("beta")
    to_beta = RemoteYard(stack=alpha, name="beta")
    alpha.addRemote(to_beta)
    return alpha, beta, to_beta


def hand(sender: LaneCore, receiver: LaneCore, now: float) -> int:
    """Give ``receiver`` every datagram ``sender`` has to send, at ``now``; how many."""
    out = sender.datagrams_to_send()
    for data, ha in out:
        assert ha == receiver.ha
        receiver.receive_datagram(data, sender.ha, now)
    return len(out)


def events(lane: LaneCore) -> list:
    return list(iter(lane.next_event, None))


def imported(path: Path) -> set[str]:
    """The absolute names of the modules a file imports (relative ones resolved)."""
    package = "raetflo.lane"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_core_module_imports_no_io():
    import raetflo.lane.core as module
    names = imported(Path(module.__file__))
    assert "raetflo.lane.paging" in names  # the resolution works
    assert not {name for name in names
                if name in FORBIDDEN or name.split(".")[0] in FORBIDDEN
                or name.startswith("raetflo.lane.transport")}


def test_paged_round_trip_between_two_cores(pair):
    alpha, beta, to_beta = pair
    alpha.transmit(BIG, to_beta.uid)
    assert hand(alpha, beta, 1.0) == 3
    assert events(beta) == [MessageReceived(BIG, "alpha")] and not beta.rxMsgs
    back = beta.nameRemotes["alpha"]  # admitted from the path it sent from
    assert (back.ha, back.rsid, back.uid) == (alpha.ha, to_beta.sid, 2)
    beta.transmit({"reply": BIG["content"]}, back.uid)
    assert hand(beta, alpha, 2.0) == 3
    assert events(alpha) == [MessageReceived({"reply": BIG["content"]}, "beta")]
    assert not alpha.stats and not beta.stats and len(beta.books) == 0
    assert not os.path.exists(DIR)


def test_the_polled_driver_takes_messages_from_rx_msgs(pair):
    class Polled(LaneCore):
        EmitMessages = False

    alpha, _, to_beta = pair
    beta = Polled(name="beta", lanename="zeus", sockdirpath=DIR)
    alpha.transmit({"x": 1}, to_beta.uid)
    hand(alpha, beta, 0.0)
    assert list(beta.rxMsgs) == [({"x": 1}, "alpha")] and events(beta) == []


def test_a_partial_book_expires_at_its_deadline(pair):
    alpha, beta, to_beta = pair
    assert beta.get_timer() is None
    alpha.transmit(BIG, to_beta.uid)
    first, second, _ = (data for data, _ in alpha.datagrams_to_send())
    beta.receive_datagram(first, alpha.ha, 5.0)
    assert beta.get_timer() == 5.0 + LaneCore.BookTimeout
    beta.receive_datagram(second, alpha.ha, 7.0)  # feeding a book puts its deadline off
    deadline = beta.get_timer()
    assert deadline == 7.0 + LaneCore.BookTimeout
    beta.handle_timer(deadline - 0.001)
    assert len(beta.books) == 1 and not beta.stats
    beta.handle_timer(deadline)
    assert len(beta.books) == 0 and beta.stats == {"expired_book": 1}
    assert beta.get_timer() is None and events(beta) == []


def test_the_earliest_book_sets_the_timer(pair):
    alpha, beta, to_beta = pair
    for now in (3.0, 4.0):
        alpha.transmit(BIG, to_beta.uid)
        beta.receive_datagram(alpha.datagrams_to_send()[0][0], alpha.ha, now)
    assert beta.get_timer() == 3.0 + LaneCore.BookTimeout
    beta.handle_timer(beta.get_timer())
    assert beta.get_timer() == 4.0 + LaneCore.BookTimeout and beta.stats["expired_book"] == 1


SI = "0123456789abcdef01"
BOOK = paging.paginate(b'{"x":"' + b"y" * 70000 + b'"}', "alpha", "beta", SI, 7)
GOOD = paging.paginate(b'{"ok":true}', "alpha", "beta", SI, 8)[0]


@pytest.mark.parametrize("datagram, stat", [
    (b"garbage", "invalid_page_header"),
    (GOOD + b"x" * 65535, "invalid_page_size"),
    (GOOD[:-3], "invalid_page_body"),
    (paging.paginate(b'{"ok":true}', "alpha", "gamma", SI, 1)[0], "invalid_destination"),
    (BOOK[1], "missed_page"),
])
def test_bad_pages_are_counted_and_dropped(pair, datagram, stat):
    alpha, beta, _ = pair
    beta.receive_datagram(datagram, alpha.ha, 0.0)
    assert beta.stats == {stat: 1} and events(beta) == []
    beta.receive_datagram(GOOD, alpha.ha, 0.0)
    assert events(beta) == [MessageReceived({"ok": True}, "alpha")]


@pytest.mark.parametrize("source", [None, f"{DIR}/zeus.gamma.uxd", f"{DIR}/alpha.sock"])
def test_a_sender_its_path_does_not_name_is_not_admitted(source):
    beta = core("beta")
    beta.receive_datagram(GOOD, source, 0.0)
    assert beta.stats == {"invalid_source_yard": 1} and not beta.remotes


def test_admission_of_unknown_yards():
    beta = core("beta")
    beta.receive_datagram(GOOD, "/elsewhere/hera.alpha.uxd", 0.0)
    [alpha] = beta.remotes.values()
    assert (alpha.name, alpha.lanename) == ("alpha", "hera")
    assert alpha.ha == "/elsewhere/hera.alpha.uxd"
    assert beta.haRemotes[alpha.ha] is alpha and events(beta)[0].source == "alpha"
    closed = core("beta", accept=False)
    closed.receive_datagram(GOOD, f"{DIR}/zeus.alpha.uxd", 0.0)
    assert closed.stats == {"unaccepted_source_yard": 1} and not closed.remotes


def test_an_unreachable_yard_is_removed_and_reported(pair):
    alpha, _, to_beta = pair
    alpha.unreachable(to_beta.ha)
    assert events(alpha) == [RemoteRemoved("beta", to_beta.uid)] and not alpha.remotes
    alpha.unreachable(to_beta.ha)  # more of its pages were already on their way
    assert alpha.stats == {"stale_transmit_yard": 2} and events(alpha) == []
    alpha.transmit({"x": 1}, to_beta.uid)
    assert alpha.datagrams_to_send() == [] and alpha.stats["invalid_destination"] == 1


def test_page_raises_what_cannot_be_sent_and_counts_it(pair):
    alpha, _, to_beta = pair
    with pytest.raises(paging.PageError):
        alpha.page({"set": {1}}, to_beta)
    assert alpha.stats == {"packing_error": 1}
    assert len(alpha.page(BIG, to_beta)) == 3
