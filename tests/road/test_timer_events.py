"""The sans-I/O outputs of a road stack: get_timer, next_event and send_message refs."""
from __future__ import annotations

from raetflo import events

from .conftest import ALWAYS, idle, joined, only, provisional, serve


def drain(stack):
    out = []
    while (event := stack.next_event()) is not None:
        out.append(event)
    return out


def test_an_idle_stack_needs_no_timer_and_a_join_arms_its_redo(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    assert main.get_timer() is None and other.get_timer() is None
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    deadline = other.get_timer()
    assert deadline is not None and other.now < deadline <= other.now + 1.0
    serve([main, other], 3.0, until=idle(main, other))
    assert other.get_timer() is None and main.get_timer() is None


def test_presence_changes_come_as_events(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    kinds = [type(e) for e in drain(other)]
    assert kinds[:3] == [events.RemoteJoined, events.RemoteAllowed, events.RemoteAlive]
    main_kinds = {type(e) for e in drain(main)}
    assert {events.RemoteJoined, events.RemoteAllowed, events.RemoteAlive} <= main_kinds
    assert all(e.name == "main" for e in drain(other))


def test_send_message_resolves_with_delivered_and_dropped(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    drain(other)
    ref = other.send_message({"n": 1}, uid=only(other).uid)
    serve([main, other], 2.0, until=idle(main, other))
    assert main.rxMsgs.popleft() == ({"n": 1}, "other")
    assert [e for e in drain(other) if isinstance(e, events.MessageDelivered)] == [
        events.MessageDelivered(ref, "main")]
    gone = other.send_message({"n": 2}, uid=4242)
    other.serviceAll()
    dropped = [e for e in drain(other) if isinstance(e, events.MessageDropped)]
    assert [(e.ref, e.name) for e in dropped] == [(gone, "?")] and "4242" in dropped[0].reason


def test_a_silent_peer_makes_a_dead_event(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    drain(main)
    other.close()
    main.alive(uid=only(main).uid)
    serve([main], 10.0, until=idle(main))
    assert events.RemoteDead("other", only(main).uid) in drain(main)


def test_only_busy_records_are_visited_for_timers():
    from raetflo.road.core import RoadCore
    from raetflo.road.estating import RemoteEstate
    core = RoadCore(name="main", ha=("127.0.0.1", 7530), main=True)
    remotes = [core.addRemote(RemoteEstate(stack=core, ha=("127.0.0.1", 8000 + n)))
               for n in range(2000)]
    core.handle_timer(1.0)
    assert core.get_timer() is None and core.busy_remotes() == []
    core.join(uid=remotes[7].uid)
    assert core.busy_remotes() == [remotes[7]] and core.get_timer() is not None
    core.removeRemote(remotes[7])
    assert core.busy_remotes() == [] and core.get_timer() is None


def test_the_deadline_heap_stays_bounded_under_a_polled_driver(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    uid = only(other).uid
    for n in range(300):
        other.transmit({"n": n}, uid)
    serve([main, other], 5.0, until=idle(main, other))
    assert len(main.rxMsgs) == 300
    assert len(other.deadlines) <= 1024 and len(main.deadlines) <= 1024
    assert other.get_timer() is None and other.deadlines == []


def test_get_timer_follows_a_timer_changed_behind_the_cores_back(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    joiner = next(iter(remote.transactions.values()))
    joiner.redoTimer.duration = 0.7  # not a restart: the core was not told
    assert other.get_timer() == min(joiner.redoTimer.stop, joiner.timer.stop)


def test_ended_transactions_are_not_held_by_the_deadline_heap():
    """After a storm's transactions end, the heap lets them go (not only once it grows)."""
    import gc
    import weakref

    from raetflo.road.core import RoadCore
    from raetflo.road.estating import RemoteEstate
    core = RoadCore(name="main", ha=("127.0.0.1", 7530), main=True)
    remotes = [core.addRemote(RemoteEstate(stack=core, ha=("127.0.0.1", 8000 + n)))
               for n in range(1200)]
    for remote in remotes:
        core.join(uid=remote.uid)
    core.handle_timer(core.now)  # a pass with all of them under way
    joiners = [weakref.ref(t) for r in remotes for t in r.transactions.values()]
    assert len(joiners) == 1200
    for remote in remotes:
        for transaction in list(remote.transactions.values()):
            transaction.remove()
    core.handle_timer(core.now)
    gc.collect()
    held = sum(ref() is not None for ref in joiners)
    assert held <= core.DeadlineSlack and len(core.deadlines) <= core.DeadlineSlack
    assert core.get_timer() is None


def test_a_finished_transaction_is_freed_without_the_cycle_collector(road, monkeypatch):
    """A transaction's timers point back at it; once it is done that loop is cut, so a
    finished one is freed as soon as nothing holds it (not at the next collection, which
    under load let every alive and message of a pass pile up)."""
    import gc
    import weakref

    from raetflo.road.transacting import Transaction
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    made = weakref.WeakSet()
    original = Transaction.__init__

    def noting(self, *args, **kwa):
        original(self, *args, **kwa)
        made.add(self)

    monkeypatch.setattr(Transaction, "__init__", noting)
    uid = only(other).uid
    gc.collect()
    gc.disable()
    try:
        for n in range(5):
            other.alive(uid=uid)
            other.transmit({"n": n}, uid)
            serve([main, other], 1.0, until=idle(main, other))
        assert len(main.rxMsgs) == 5
        filed = {id(entry[2]) for stack in (main, other) for entry in stack.deadlines}
        held = [t for t in made if id(t) not in filed]  # (the heap drops stale entries later)
        assert held == [], [(type(t).__name__, t.state) for t in held]
    finally:
        gc.enable()
