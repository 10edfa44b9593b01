"""A joiner's ``status`` tells the truth: pending, rejected, attempts; a rejected joiner
stops (or, with ``rejoin True``, tries again every ``retry`` seconds) and says why."""
from __future__ import annotations

import pytest

from raetflo.behaving import FloError

from .conftest import fails
from .test_roading import road


def never(frame, tmp_path, **parms) -> None:
    """beta, a main estate at auto never, and alpha, whose joiner has ``parms``."""
    beta = road(frame, "beta", tmp_path, main=True, auto="never")
    road(frame, "alpha", tmp_path)
    frame.init(".alpha.road.remote", name="beta", host="127.0.0.1", port=beta["port"])
    frame.add("RoadStackJoiner", inode=".alpha.road.", **parms)


def status(frame) -> dict:
    return dict(frame.store.fetch(".alpha.road.status").items())


def pending_at_beta(frame):
    stack = frame.value(".beta.road.stack")
    return next(iter(stack.remotes.values()), None) if stack is not None else None


def test_pending_then_rejected_joiner_stops_and_says_why(frame, tmp_path, printed):
    never(frame, tmp_path)
    frame.enter()
    assert frame.run(lambda: status(frame)["pending"])
    assert status(frame) == {"joined": False, "allowed": False, "pending": True,
                             "rejected": False, "remote": "beta", "attempts": 1}
    beta = frame.value(".beta.road.stack")
    beta.keep.reject_remote(pending_at_beta(frame))
    assert frame.run(lambda: status(frame)["rejected"])
    attempts = status(frame)["attempts"]  # a refusal, a retry, then the reject
    assert not frame.run(lambda: status(frame)["attempts"] > attempts, limit=5.0)  # stopped
    assert status(frame) == {"joined": False, "allowed": False, "pending": False,
                             "rejected": True, "remote": "beta", "attempts": attempts}
    said = [line for line in printed().splitlines() if "rejected" in line]
    assert said == [f"Road stack 'alpha': the estate at 127.0.0.1:{beta.ha[1]} rejected "
                    "our keys; not joining again (with rejoin True tries every 1.0 s)"]
    assert "Rejected by with" not in printed() and "by estate_" not in printed()


def test_a_rejected_joiner_with_rejoin_tries_at_retry(frame, tmp_path):
    never(frame, tmp_path, rejoin=True, retry=2.0)
    frame.enter()
    assert frame.run(lambda: pending_at_beta(frame) is not None)
    beta = frame.value(".beta.road.stack")
    beta.keep.reject_remote(pending_at_beta(frame))
    assert frame.run(lambda: status(frame)["rejected"])
    stamps: dict[int, float] = {}
    frame.run(lambda: stamps.setdefault(status(frame)["attempts"], frame.store.stamp) and False,
              limit=8.0)
    times = sorted(stamps.values())[1:]  # the first is when this loop began
    assert len(times) >= 3
    assert all(later - earlier >= 2.0 - 0.125 for earlier, later in zip(times, times[1:]))


@pytest.mark.parametrize("parms, phrase", [
    ({"retry": "soon"}, "parameter 'retry' must be a number, got 'soon'"),
    ({"retry": 0}, "'retry' must be a number of seconds > 0, not 0"),
    ({"rejoin": "yes"}, "parameter 'rejoin' must be True or False, got 'yes'"),
])
def test_joiner_refuses_bad_parameters(frame, tmp_path, parms, phrase):
    """A wrong type is refused when the Deed is made, a wrong value when it runs."""
    never(frame, tmp_path)
    with pytest.raises((SystemExit, FloError)) as exc:
        join = frame.add("RoadStackJoiner", "manual", ".alpha.road.", **parms)
        frame.enter()
        join()
    fails(exc, phrase)
