"""A main's presence: ``manage()`` on a silent peer reports it dead, then reaped."""
from __future__ import annotations

from raetflo.events import RemoteAlive, RemoteDead, RemoteReaped

from .conftest import Net, join


def test_silent_peer_is_dead_then_reaped(net: Net) -> None:
    main = net.add("main", 7530, main=True, period=1.0, interim=5.0)
    other = net.add("other", 7531)
    join(net, main, other)
    uid = net.remote(main, other).uid
    net.down.add(net.addr(other))  # the peer goes silent
    net.now += 1.0
    net.manage(main)  # its presence is due: an alive that gets no answer
    assert net.run(3.0, until=lambda: bool(net.of(main, RemoteDead)))
    assert net.of(main, RemoteDead) == [RemoteDead("other", uid)]
    assert not net.of(main, RemoteReaped)
    net.now += 5.0
    net.manage(main)
    net.run(0.1)
    assert net.of(main, RemoteReaped) == [RemoteReaped("other", uid)]
    assert main.reapeds.keys() == ["other"] and not main.aliveds


def test_a_reaped_peer_that_speaks_again_is_alive(net: Net) -> None:
    main = net.add("main", 7530, main=True, period=1.0, interim=2.0)
    other = net.add("other", 7531)
    join(net, main, other)
    net.down.add(net.addr(other))
    net.now += 3.0
    net.manage(main)
    net.run(3.0)
    assert net.of(main, RemoteReaped)
    net.down.clear()
    before = len(net.of(main, RemoteAlive))
    other.alive(uid=net.remote(other, main).uid)
    assert net.run(2.0, until=net.idle)
    assert len(net.of(main, RemoteAlive)) == before + 1
    assert not net.remote(main, other).reaped


def test_manage_takes_the_time_as_an_argument():
    from raetflo.road.core import RoadCore
    core = RoadCore(name="main", ha=("127.0.0.1", 7530), main=True)
    core.manage(now=42.0)
    assert core.now == 42.0


def test_an_answered_alive_files_nothing_and_the_next_one_still_comes(net: Net,
                                                                      monkeypatch) -> None:
    """Restarts that only postpone a presence deadline leave the schedule alone (the entry
    filed earlier finds the later deadline when it comes up); presence goes on."""
    from raetflo.road import presence
    main = net.add("main", 7530, main=True, period=1.0, interim=5.0)
    other = net.add("other", 7531)
    join(net, main, other)
    remote = net.remote(main, other)
    filed: list[str] = []
    real_file = presence.Schedule.file
    monkeypatch.setattr(presence.Schedule, "file",
                        lambda self, record, *when: (filed.append(record.name),
                                                     real_file(self, record, *when))[1])
    completed = main.stats.get("alive_complete", 0)
    main.alive(uid=remote.uid)
    assert net.run(2.0, until=net.idle)
    assert main.stats.get("alive_complete", 0) == completed + 1
    assert filed == []  # the alive's three timer restarts moved deadlines later only
    alives = main.stats.get("alive_complete", 0)
    net.now = remote.timer.stop
    net.manage(main)  # the postponed deadline came: the next alive starts
    assert net.run(2.0, until=net.idle)
    assert main.stats.get("alive_complete", 0) == alives + 1


def test_a_presence_timer_moved_earlier_is_managed_at_its_new_deadline(net: Net) -> None:
    main = net.add("main", 7530, main=True, period=10.0, interim=50.0)
    other = net.add("other", 7531)
    join(net, main, other)
    remote = net.remote(main, other)
    alives = main.stats.get("alive_complete", 0)
    remote.timer.restart(duration=0.5)  # earlier than the deadline it is filed at
    net.now += 0.5
    net.manage(main)
    assert net.run(2.0, until=net.idle)
    assert main.stats.get("alive_complete", 0) == alives + 1


def test_a_transaction_timer_tells_its_owner_only_of_earlier_deadlines() -> None:
    from raetflo.road.transacting import DeadlineTimer
    from raetflo.timing import Timer

    class Clock:
        now = 10.0

    told: list[float] = []
    plain = Timer(Clock(), duration=1.0, on_change=lambda: told.append(plain.stop))
    plain.restart(duration=2.0)
    assert told == [12.0]  # a plain timer tells of every restart
    told.clear()
    deadline = DeadlineTimer(Clock(), duration=1.0, on_change=lambda: told.append(deadline.stop))
    deadline.restart(duration=2.0)  # later: not told
    deadline.restart(duration=0.5)  # earlier: told
    assert told == [10.5]
    told.clear()
    clock = deadline.clock
    clock.now = 11.0
    assert deadline.restart() == (11.0, 11.5) and told == []  # a plain restart, later
    clock.now = 5.0  # a clock set back: the plain restart brings the deadline earlier
    assert deadline.restart() == (5.0, 5.5) and told == [5.5]
