"""Keep writes: what a core asks its driver to persist, per pass, and a restart from it."""
from __future__ import annotations

from raetflo.events import MessageDelivered, MessageReceived
from raetflo.road.persisting import KeepWrite

from .conftest import Net, join


def named(batch: list[KeepWrite]) -> list[tuple[str, str]]:
    """The record writes of ``batch`` (the journal's lines have tests of their own)."""
    return [(write.kind, getattr(write.target, "name", write.target)) for write in batch
            if write.kind != "journal"]


def records(batches: list[list[KeepWrite]]) -> list[list[tuple[str, str]]]:
    """The record writes of each batch that made any."""
    return [named(batch) for batch in batches if named(batch)]


def test_a_completed_join_writes_remote_and_local_in_one_batch(net: Net, pair) -> None:
    main, other = pair
    provisional = net.provisional(other, main)
    first_name = provisional.name  # renamed by the join
    other.join(uid=provisional.uid)
    assert net.run(5.0, until=net.idle)
    assert records(net.disks[net.addr(main)].batches) == [
        [("remote", "other"), ("local", "main")]]
    assert records(net.disks[net.addr(other)].batches) == [
        [("forget_remote", first_name), ("remote", "main"), ("local", "other")]]
    other.allow(uid=provisional.uid)  # an allow writes the record's new session id
    assert net.run(5.0, until=net.idle)
    assert named(net.disks[net.addr(main)].batches[-1]) == [("remote", "other")]
    assert named(net.disks[net.addr(other)].batches[-1]) == [("remote", "main")]


def test_writes_of_one_pass_are_deduplicated_latest_last(pair) -> None:
    main, other = pair
    remote = main.addRemote(main.newRemote(fuid=0, sid=0, ha=other.local.ha, name="peer"))
    main.persist_remote(remote)
    main.persist_local()
    main.persist_remote(remote)
    main.forget_remote_file("gone")
    assert main.keep_writes() == [KeepWrite("local", main.local),
                                  KeepWrite("remote", remote),
                                  KeepWrite("forget_remote", "gone")]
    assert main.keep_writes() == []


def test_restarted_cores_talk_again_from_what_was_persisted(net: Net, pair) -> None:
    main, other = pair
    join(net, main, other)
    other = net.restart(net.addr(other))
    main = net.restart(net.addr(main))
    assert [r.name for r in main.remotes.values()] == ["other"]
    ref = other.send_message({"after": "restart"}, timeout=5.0)
    assert net.run(5.0, until=lambda: bool(net.of(other, MessageDelivered)))
    assert net.of(main, MessageReceived) == [MessageReceived({"after": "restart"}, "other")]
    assert net.of(other, MessageDelivered) == [MessageDelivered(ref, "main")]
