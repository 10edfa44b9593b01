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
