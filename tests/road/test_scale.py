"""Scale: the work of presence, a timer tick and a join on a main must not grow with the
number of remotes it holds.

Work is counted, not timed: the Python and C function calls made (``sys.setprofile``) and
the peak of memory allocated (``tracemalloc``) during one operation, on a main holding
``SMALL`` and then ``LARGE`` joined, allowed and alive remotes. An operation that visits
every remote makes at least one call more per remote at the larger size: these tests allow
an eighth of a call per remote more (calls are counted exactly, so they are compared
tightly), and less than twice the bytes (a peak moves with the growth of amortized
structures such as the deadline heaps).
"""
from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from raetflo import nacling
from raetflo.raeting import AutoMode
from raetflo.road import presence
from raetflo.road.core import RoadCore
from raetflo.road.estating import RemoteEstate

SMALL, LARGE = 100, 800
ALWAYS = AutoMode.always.value
KEYS = (nacling.Signer().keyhex, nacling.Privateer().pubhex)  # shared: keygen is slow


def work(operation: Callable[[], Any]) -> tuple[int, int]:
    """The function calls made and the peak bytes allocated while ``operation`` runs."""
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    tracemalloc.start()
    try:
        sys.setprofile(count)
        try:
            operation()
        finally:
            sys.setprofile(None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return calls, peak


def held_main(count: int, now: float = 10.0, **kwa: Any) -> RoadCore:
    """A main whose ``count`` remotes are joined, allowed and alive, presence just run."""
    main = RoadCore(**{"name": "main", "ha": ("127.0.0.1", 7530), "main": True,
                       "auto": ALWAYS, "now": 0.0, **kwa})
    for index in range(count):
        remote = main.addRemote(RemoteEstate(
            stack=main, name=f"estate{index:05d}", fuid=index + 1,
            ha=("127.0.0.1", 20000 + index), verkey=KEYS[0], pubkey=KEYS[1]))
        remote.joined = remote.allowed = remote.alived = True
    main.manage(now=0.0)
    main.now = now
    for remote in main.remotes.values():
        presence.refresh(main, remote)
    main.manage()
    main.keep_writes()
    return main


def assert_flat(small: tuple[int, int], large: tuple[int, int], what: str) -> None:
    """The calls at ``LARGE`` remotes are at most those at ``SMALL`` plus an eighth of one
    per remote more; the bytes under twice (plus 1 kB)."""
    (calls_small, bytes_small), (calls_large, bytes_large) = small, large
    assert calls_large <= calls_small + (LARGE - SMALL) // 8, (
        f"{what}: {calls_small} calls at {SMALL} remotes, {calls_large} at {LARGE}")
    assert bytes_large < 2 * bytes_small + 1024, (
        f"{what}: {bytes_small} bytes at {SMALL} remotes, {bytes_large} at {LARGE}")


def test_the_flatness_check_catches_one_call_per_remote() -> None:
    """A cost that grows by one call per remote fails the check; a constant one passes."""
    assert_flat((700, 12000), (700 + (LARGE - SMALL) // 8, 12500), "constant")
    with pytest.raises(AssertionError, match="calls"):
        assert_flat((700 + SMALL, 12000), (700 + LARGE, 12000), "a visit of each remote")


@pytest.mark.parametrize("operation", ["manage", "tick"])
def test_idle_presence_and_tick_cost_does_not_grow_with_remotes(operation: str) -> None:
    """Nothing due: a manage() or a timer tick does as much at 800 remotes as at 100."""
    costs = []
    for count in (SMALL, LARGE):
        main = held_main(count)
        main.now += 0.1
        run = main.manage if operation == "manage" else lambda: main.handle_timer(main.now)
        costs.append(work(run))
    assert_flat(*costs, operation)


def test_a_tick_runs_only_the_due_timers_of_transactions_under_way() -> None:
    """Right after a manage started an alive with every remote, a tick before any redo is
    due does as much at 800 remotes as at 100 (no visit of every transaction)."""
    costs = []
    for count in (SMALL, LARGE):
        main = held_main(count)
        main.now += main.period
        main.manage()
        main.datagrams_to_send()
        assert len(main.transactions) == count
        main.now += 0.1  # the alives' first redo is 0.25 s away
        main.handle_timer(main.now)  # (the heap's amortized rebuild may come here)
        main.now += 0.05
        costs.append(work(lambda: main.handle_timer(main.now)))
    assert_flat(*costs, "tick with alives under way")


def test_manage_visits_only_the_due_remotes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A manage visits the remotes whose alive is due, not every remote."""
    main = held_main(LARGE)
    early = list(main.remotes.values())[:5]
    for remote in early:
        remote.timer.restart(duration=0.05)
    visited: list[str] = []
    real = presence.manage
    monkeypatch.setattr(presence, "manage",
                        lambda core, remote, *a: (visited.append(remote.name),
                                                  real(core, remote, *a)))
    main.now += 0.1
    main.manage()
    assert visited == [remote.name for remote in early]
    visited.clear()
    main.now = 10.0 + main.period  # the others' alives are due, the early ones' not yet
    main.manage()
    assert len(visited) == LARGE - len(early)
    assert not set(visited) & {remote.name for remote in early}


@pytest.mark.parametrize("setting", [{"interim": 0.0}, {"main": False}])
def test_manage_without_reaping_visits_nothing_not_due(setting: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With reaping off (interim 0) or on a non-main (which never reaps), the reap timer
    makes no record due: a manage with no alive due visits none."""
    main = held_main(SMALL, **setting)
    main.now += 0.1
    visited: list[str] = []
    monkeypatch.setattr(presence, "manage", lambda core, remote, *a: visited.append(remote.name))
    main.manage()
    assert visited == []


def test_presence_views_follow_link_changes() -> None:
    """aliveds, availables and changeds change by the remotes whose links changed."""
    main = held_main(SMALL)
    gone, renamed = main.remotes.values()[:2]
    gone.alived = False
    main.renameRemote(renamed, "renamed")
    main.manage()
    assert main.changeds == {"plus": {"renamed"}, "minus": {gone.name, "estate00001"}}
    assert gone.name not in main.aliveds and main.aliveds["renamed"] is renamed
    assert main.availables == set(main.aliveds) and len(main.aliveds) == SMALL - 1
    main.manage()
    assert main.changeds == {"plus": set(), "minus": set()}


def test_changes_remembered_between_manages_are_bounded() -> None:
    """Past ``MaxTouched`` changed names without a manage the core stops listing them; the
    next manage brings the views up to date from the records."""
    main = held_main(SMALL)
    main.MaxTouched = 10
    for remote in main.remotes.values()[:30]:
        remote.alived = False
        assert main.touched is None or len(main.touched) <= main.MaxTouched
    main.manage()
    assert len(main.changeds["minus"]) == 30 and not main.changeds["plus"]
    assert len(main.aliveds) == SMALL - 30 == len(main.availables)
    assert main.touched == set()


def join_new_estate(main: RoadCore, index: int) -> tuple[int, int]:
    """Join one new estate into ``main``; the work of the main's part of it."""
    client = RoadCore(name=f"newcomer{index}", ha=("127.0.0.1", 40000 + index),
                      auto=ALWAYS, now=main.now)
    remote = client.addRemote(RemoteEstate(stack=client, fuid=0, sid=0, ha=main.local.ha))
    client.join(uid=remote.uid)
    total = [0, 0]
    for _ in range(10):  # request, response, ack: a few exchanges
        to_main = [(data, client.local.ha) for data, _ in client.datagrams_to_send()]
        replies: list[tuple[bytes, Any]] = []

        def main_part() -> None:
            for data, sa in to_main:
                main.receive_datagram(data, sa, main.now)
            replies.extend(main.datagrams_to_send())

        calls, peak = work(main_part)
        total[0] += calls
        total[1] = max(total[1], peak)
        main.keep_writes()
        for data, _ in replies:
            client.receive_datagram(data, main.local.ha, client.now)
        if remote.joined and not to_main and not replies:
            break
    assert remote.joined
    return total[0], total[1]


def test_join_cost_does_not_grow_with_remotes() -> None:
    """A join of a new estate costs the main as much at 800 remotes as at 100."""
    costs = []
    for count in (SMALL, LARGE):
        main = held_main(count)
        join_new_estate(main, 0)  # first-use costs (imports, caches) out of the way
        costs.append(join_new_estate(main, 1))
    assert_flat(*costs, "join")


def test_flo_presence_publish_cost_does_not_grow_with_remotes() -> None:
    """After a service pass that changed no link, publishing the servicer's presence
    share costs as much at 800 remotes as at 100."""
    from ioflo.base.storing import Store

    from raetflo.behaving.roading import publish_presence
    costs = []
    for count in (SMALL, LARGE):
        main = held_main(count)
        share = Store(stamp=0.0).create("road.presence")
        seen = publish_presence(share, main, -1)
        assert len(share.fetch("allowed")) == count and share.fetch("idle") is True
        costs.append(work(lambda: publish_presence(share, main, seen)))
    assert_flat(*costs, "publish")


def record_bytes(count: int) -> float:
    """Bytes held per record of ``count`` joined, allowed, alive remotes added to a main."""
    main = held_main(1)
    tracemalloc.start()
    try:
        records = [main.addRemote(RemoteEstate(
            stack=main, name=f"held{index:05d}", fuid=index + 1,
            ha=("127.0.0.1", 30000 + index), verkey=KEYS[0], pubkey=KEYS[1]))
            for index in range(count)]
        for remote in records:
            remote.joined = remote.allowed = remote.alived = True
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return held / count


def test_a_held_record_is_small() -> None:
    """A record with nothing in flight holds no per-message structures, nor a short-term
    key pair before its first allow: under 3,000 bytes (the reference's RSS per remote is
    some 7 to 9 kB)."""
    assert record_bytes(LARGE) < 3000


def test_key_holders_make_their_hex_when_asked_and_keep_none():
    """Per-remote key holders hold raw keys only: the hex forms are made when read."""
    signer, privateer = nacling.Signer(), nacling.Privateer()
    for holder, raw, hexes in ((nacling.Verifier(signer.verhex), signer.verraw, ("keyhex",)),
                               (nacling.Publican(privateer.pubhex), privateer.pubraw,
                                ("keyhex",)),
                               (privateer, privateer.keyraw, ("keyhex", "pubhex"))):
        assert not any(isinstance(getattr(holder, slot, None), (str, dict))
                       for slot in type(holder).__slots__), type(holder).__name__
        assert holder.keyraw == raw and holder.keyhex == raw.hex()
        assert all(isinstance(getattr(holder, name), nacling.HexKey) for name in hexes)
    assert privateer.pubhex == privateer.pubraw.hex()
    privateer.pubhex = b""  # raet code may give other key text to send: it is kept
    assert privateer.pubhex == b"" and privateer.keyhex == privateer.keyraw.hex()


def test_the_default_remote_is_found_without_copying_the_records() -> None:
    """The first remote (the destination of transmit, join, allow and alive given no uid)
    costs as much to find at 800 remotes as at 100."""
    costs = []
    for count in (SMALL, LARGE):
        main = held_main(count)
        costs.append(work(main.retrieveRemote))
        assert main.retrieveRemote() is main.remotes.values()[0]
    assert_flat(*costs, "the default remote")


def grantable(size: int) -> bool:
    """Whether this system gives a socket a receive buffer of ``size`` bytes (forced where
    privileged, else up to ``net.core.rmem_max``)."""
    import socket
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            probe.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE (Linux)
        except OSError:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= size
    finally:
        probe.close()


def test_the_socket_holds_a_ten_thousand_estate_join_burst() -> None:
    """Where the system grants the receive buffer asked for, 10,000 join requests sent
    at once all wait in the socket for the next service pass; none is dropped."""
    import socket

    from raetflo.road.transport import UdpServer
    if not grantable(16 * 1024 * 1024):
        pytest.skip("the system does not grant a 16 MiB receive buffer")
    server = UdpServer(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(10_000):
            sender.sendto(b"j" * 267, server.ha)  # the size of a join request
        received = 0
        while server.receive() != (b"", None):
            received += 1
    finally:
        sender.close()
        server.close()
    assert received == 10_000


def test_a_service_pass_reads_on_while_the_socket_keeps_up_to_its_bound(road) -> None:
    """With more waiting than ``RxBudget``, one serviceAll reads, handles and sends again
    (``RxPasses`` times at most) instead of leaving the rest to overflow the socket."""
    import socket
    main = road("main", main=True)
    main.RxBudget = 10
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for count, handled in ((30, 30), (100, 10 * main.RxPasses)):
            before = main.stats.get("parsing_outer_error", 0)
            for _ in range(count):
                sender.sendto(b"not a packet", main.ha)
            main.serviceAll()
            assert main.stats.get("parsing_outer_error", 0) - before == handled
            main.serviceAll()  # the rest
    finally:
        sender.close()


def test_a_records_transaction_index_shrinks_back_when_emptied() -> None:
    """Once its transactions are done, a record's index holds no more than a new one (a
    dict keeps its table after deletes; thousands of records made that kilobytes)."""
    import sys
    from types import SimpleNamespace

    from raetflo.road.estating import Transactions
    index = Transactions()
    assert not hasattr(index, "__dict__")
    fresh = sys.getsizeof(index) + sys.getsizeof(index._kinds)
    for kind in range(6):
        index[("t", kind)] = SimpleNamespace(kind=kind)
    assert index.of_kind(3) == 1
    del index[("t", 0)]
    index.pop(("t", 1))
    for kind in range(2, 6):
        del index[("t", kind)]
    assert index.of_kind(3) == 0 and len(index) == 0
    assert sys.getsizeof(index) + sys.getsizeof(index._kinds) == fresh


def test_a_remote_record_has_no_attribute_dict_until_given_other_attributes() -> None:
    """The estate fields are slots (a dict per record cost some 300 bytes); an attribute
    of the caller's own still sticks, as on raet's records."""
    main = held_main(1)
    remote = main.addRemote(RemoteEstate(stack=main, name="slotted", fuid=9,
                                         ha=("127.0.0.1", 30999)))
    assert remote.__dict__ == {} and remote.name == "slotted" and remote.sid == 0
    remote.note = "mine"
    assert remote.note == "mine" and remote.__dict__ == {"note": "mine"}
