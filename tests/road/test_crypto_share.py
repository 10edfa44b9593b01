"""The polled driver shares the core's crypto with a worker only while its loop's thread
is short of time (road.cryptoshare): the hand-offs cost CPU that a loop with time to
spare would only pay."""
from __future__ import annotations

import pytest

from raetflo.road import offload
from raetflo.road.core import RoadCore
from raetflo.road.cryptoshare import CryptoShare
from raetflo.road.stacking import RoadStack
from raetflo.stacking import StackError


class Clocks:
    """A wall clock and a thread CPU clock that the test moves."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def spend(self, wall: float, busy: float) -> None:
        self.wall += wall
        self.cpu += wall * busy


def gauge(clocks: Clocks, above: float = 0.75, below: float = 0.5) -> CryptoShare:
    return CryptoShare(above, below, window=0.5, wall=lambda: clocks.wall,
                       cpu=lambda: clocks.cpu)


def test_it_shares_while_the_loop_is_busy_and_not_while_it_has_time_to_spare():
    clocks = Clocks()
    share = gauge(clocks)
    assert share.decide() and share.busy is None  # no window yet: as before
    clocks.spend(0.2, 0.1)
    assert share.decide()  # (the window is not over)
    clocks.spend(0.4, 0.1)
    assert not share.decide() and share.busy == pytest.approx(0.1)
    for busy, sharing in ((0.6, False), (0.9, True), (0.6, True), (0.4, False)):
        clocks.spend(0.5, busy)
        assert share.decide() is sharing, busy


def test_above_zero_always_shares_and_thresholds_are_checked():
    clocks = Clocks()
    share = gauge(clocks, above=0.0, below=0.0)
    clocks.spend(5.0, 0.0)
    assert share.decide()
    with pytest.raises(ValueError, match=r"below \(0.9\) <= above \(0.5\)"):
        gauge(clocks, above=0.5, below=0.9)


def test_a_stack_with_bad_thresholds_says_which(road, monkeypatch):
    monkeypatch.setattr(RoadStack, "CryptoShareBelow", 2.0)
    with pytest.raises(StackError, match="crypto share thresholds"):
        road("main", main=True)


def test_a_stack_whose_loop_has_time_to_spare_does_its_crypto_inline(road, monkeypatch):
    monkeypatch.setattr(RoadCore, "CryptoWorkers", 1)
    stack = road("main", main=True)
    clocks = Clocks()
    stack.crypto_share = gauge(clocks)
    stack.serviceAll()
    assert stack.share_crypto and offload.crypto_pool(stack, 1000) is not None
    clocks.spend(1.0, 0.2)
    stack.serviceAll()
    assert not stack.share_crypto and offload.crypto_pool(stack, 1000) is None
    clocks.spend(1.0, 0.95)
    stack.serviceAll()
    assert stack.share_crypto and offload.crypto_pool(stack, 1000) is not None


def test_a_bare_core_shares_as_configured():
    core = RoadCore(name="bare")
    assert core.share_crypto
