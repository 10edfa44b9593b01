"""Presence: manage() starts alives, marks silent remotes dead and reaps them on a main."""
from __future__ import annotations

from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack, service_stacks


def test_dead_remote_is_marked_reaped_and_revived(tmp_path, ha):
    main = RoadStack(name="main", ha=ha(), main=True, auto=AutoMode.always.value, interim=5.0,
                     dirpath=str(tmp_path / "main"))
    other = RoadStack(name="other", ha=ha(), auto=AutoMode.always.value,
                      dirpath=str(tmp_path / "other"))
    remote = RemoteEstate(stack=other, fuid=0, sid=0, ha=main.ha)
    other.addRemote(remote)
    other.join(uid=remote.uid, cascade=True)
    service_stacks([main, other], 1.0)
    peer = main.remotes.values()[0]
    main.manage()
    assert main.availables == {"other"}
    assert main.changeds["plus"] == {"other"}

    other.server.close()  # the peer goes silent
    history = []
    for _ in range(150):  # 15 s of virtual time
        main.manage()
        main.serviceAll()
        main.store.advanceStamp(0.1)
        history.append((main.store.stamp, peer.alived, peer.reaped))
    dead_at = next(t for t, alived, _ in history if alived is False)
    reaped_at = next(t for t, _, reaped in history if reaped)
    assert 2.0 <= dead_at <= 4.5  # first alive after the presence period, 2 s timeout
    assert reaped_at - dead_at >= 4.5  # reap interim after the last alive -> dead change
    assert main.stats["remote_reap"] == 1
    main.manage()
    assert "other" not in main.availables
    assert main.reapeds == {"other": peer}
    for _ in range(30):  # no alives are started for a reaped remote
        main.manage()
        main.serviceAll()
        main.store.advanceStamp(0.1)
        assert not main.transactions

    revived = RoadStack(name="other", ha=other.ha, dirpath=other.keep.dirpath,
                        auto=AutoMode.always.value)
    revived.alive(uid=revived.remotes.values()[0].uid, cascade=True)
    service_stacks([main, revived], 3.0, until=lambda: peer.alived is True)
    main.manage()
    assert peer.reaped is False and peer.alived is True
    assert main.stats["remote_unreap"] == 1
    assert "other" in main.availables and main.changeds["plus"] == {"other"}
    main.server.close()
    revived.server.close()


def test_a_reaped_record_that_was_alive_is_unreaped_by_its_next_refresh(tmp_path, ha):
    """raet's rule, which its code and tests rely on: a record reaped while still alived
    is unreaped (and its reap timer restarted) by the refresh its failed alive makes."""
    main = RoadStack(name="main", ha=ha(), main=True, auto=AutoMode.always.value, interim=1.0,
                     dirpath=str(tmp_path / "main"))
    remote = RemoteEstate(stack=main, name="peer", ha=("127.0.0.1", 7539))
    main.addRemote(remote)
    remote.alived = True
    main.store.advanceStamp(1.5)
    main.manage()
    assert remote.reaped is True and main.stats["remote_reap"] == 1
    remote.refresh(alived=False)
    assert remote.reaped is False and remote.alived is False
    assert main.stats["remote_unreap"] == 1 and not remote.reapTimer.expired
    main.server.close()


def test_a_second_refresh_at_the_same_time_still_changes_what_it_must(tmp_path, ha):
    """Refreshes repeated at one time (every segment of a burst) change nothing the first
    did not; one that would (dead, reaped, a changed period) still does."""
    main = RoadStack(name="main", ha=ha(), main=True, auto=AutoMode.always.value, interim=1.0,
                     dirpath=str(tmp_path / "main"))
    remote = RemoteEstate(stack=main, name="peer", ha=("127.0.0.1", 7539))
    main.addRemote(remote)
    remote.refresh(alived=True)
    remote.refresh(alived=True)
    assert remote.alived is True and remote.timer.start == main.now
    remote.refresh(alived=False)
    assert remote.alived is False
    remote.refresh(alived=True)
    assert remote.alived is True
    remote.reaped = True
    remote.refresh(alived=True)
    assert remote.reaped is False and main.stats["remote_unreap"] == 1
    main.period = 3.0
    remote.refresh(alived=True)
    assert remote.timer.duration == 3.0
    main.server.close()
