"""The polled driver writes the keep after each pass and before that pass's datagrams go:
no datagram that tells a peer about a state leaves before the state is on disk."""
from __future__ import annotations

from .conftest import ALWAYS, idle, only, provisional, serve


def watch_sends(stack, check):
    """Run ``check()`` before each datagram ``stack`` sends; collect its results."""
    seen = []
    send = stack.server.send

    def checked(data, ha):
        seen.append(check())
        return send(data, ha)

    stack.server.send = checked
    return seen


def test_a_completed_join_is_on_disk_before_any_datagram_says_so(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)

    def on_disk(stack):
        def check():
            joined = [r for r in stack.remotes.values() if r.joined]
            return all((stack.keep.load_remote(r.name) or {}).get("joined") for r in joined)
        return check

    main_seen, other_seen = watch_sends(main, on_disk(main)), watch_sends(other, on_disk(other))
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert remote.joined and only(main).joined and remote.allowed
    assert main_seen and other_seen and all(main_seen) and all(other_seen)


def test_keep_writes_of_one_pass_are_batched(road, monkeypatch):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    writes = []
    real = main.keep.dumpRemote
    monkeypatch.setattr(main.keep, "dumpRemote", lambda r: (writes.append(r.name), real(r)))
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert only(main).allowed
    # one join and one allow: the record is written once per pass that changed it
    assert 1 <= len(writes) <= 3, writes
