"""A running main at auto ``never`` honours what ``raetflo keep`` changes in another process
at that estate's next join or allow, with no restart. The main and the joiners run here in
virtual time; the command runs in a subprocess between service rounds."""
from __future__ import annotations

from pathlib import Path

import pytest

from raetflo.command.keepcmd import PIN_UID_BASE
from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.keeping import KeepError, RoadKeep
from raetflo.road.stacking import RoadStack, service_stacks

from . import ok

STEP = 0.1  # seconds of virtual time per service round


class Road:
    """A main at auto never and its joiners (auto always), on loopback, in virtual time."""

    def __init__(self, tmp_path: Path, ha) -> None:
        self.tmp_path, self.ha = tmp_path, ha
        self.keep = tmp_path / "alpha"
        self.stacks: list[RoadStack] = []
        self.main = self.start_main()

    def start_main(self) -> RoadStack:
        main = RoadStack(name="alpha", ha=self.ha(), dirpath=str(self.keep), main=True,
                         auto=AutoMode.never.value)
        self.stacks.append(main)
        return main

    def restart_main(self) -> None:
        self.main.close()
        self.stacks.remove(self.main)
        self.main = self.start_main()

    def joiner(self, name: str) -> RoadStack:
        stack = RoadStack(name=name, ha=self.ha(), dirpath=str(self.tmp_path / name),
                          auto=AutoMode.always.value, store=self.main.store)
        stack.addRemote(RemoteEstate(stack=stack, fuid=0, sid=0, ha=self.main.ha))
        self.stacks.append(stack)
        return stack

    def run(self, seconds: float, until=None) -> None:
        service_stacks(self.stacks, seconds, STEP, until)

    def link(self, stack: RoadStack) -> RemoteEstate | None:
        """``stack``'s record of the main (None once the main rejected it)."""
        return next(iter(stack.remotes.values()), None)

    def record(self, name: str) -> RemoteEstate | None:
        """The main's record of ``name``."""
        return self.main.nameRemotes.get(name)

    def status(self, name: str) -> int | None:
        """The acceptance of ``name``'s role in the main's keep."""
        return RoadKeep(dirpath=str(self.keep)).load_remote_role(name)["acceptance"]

    def keep_cmd(self, *args: str) -> str:
        return ok("keep", *args, "--dir", str(self.keep))

    def join_pending(self, name: str) -> RoadStack:
        """A joiner ``name`` whose join the main holds pending."""
        stack = self.joiner(name)
        stack.join(cascade=True)
        self.run(1.0, lambda: self.main.pendings != {})
        assert self.status(name) == Acceptance.pending
        return stack

    def join_allowed(self, name: str) -> RoadStack:
        """A joiner ``name`` the operator accepted, joined and allowed."""
        stack = self.join_pending(name)
        self.keep_cmd("accept", name)
        self.run(5.0, lambda: self.link(stack).allowed)
        assert self.link(stack).allowed
        return stack

    def close(self) -> None:
        for stack in self.stacks:
            stack.close()


@pytest.fixture
def road(tmp_path, ha):
    road = Road(tmp_path, ha)
    yield road
    road.close()


def test_accept_lets_a_pending_joiner_through(road):
    beta = road.join_pending("beta")
    road.keep_cmd("accept", "beta")
    road.run(5.0, lambda: road.link(beta).allowed)
    assert road.link(beta).joined and road.link(beta).allowed
    assert road.record("beta").joined and road.record("beta").acceptance == Acceptance.accepted
    assert road.status("beta") == Acceptance.accepted


def test_accept_after_the_join_timed_out_admits_the_next_join(road):
    beta = road.join_pending("beta")
    road.run(10.0, lambda: not road.link(beta).joinInProcess())
    assert not road.link(beta).joined
    road.keep_cmd("accept", "beta")
    beta.join(cascade=True)
    road.run(5.0, lambda: road.link(beta).allowed)
    assert road.link(beta).allowed


def test_reject_refuses_a_pending_joiner(road):
    beta = road.join_pending("beta")
    road.keep_cmd("reject", "beta")
    road.run(5.0, lambda: not road.link(beta).joinInProcess())
    assert not road.link(beta).joined and road.record("beta") is None  # refused, as raet does
    assert road.status("beta") == Acceptance.rejected
    beta.join()
    road.run(5.0, lambda: road.link(beta) is None)  # rejected now: the joiner drops its link
    assert road.link(beta) is None and road.record("beta") is None


def test_reject_refuses_the_next_allow_of_a_joined_estate(road):
    beta = road.join_allowed("beta")
    road.keep_cmd("reject", "beta")
    beta.allow()
    road.run(5.0, lambda: not road.link(beta).allowInProcess())
    assert not road.link(beta).allowed
    assert road.record("beta") is None
    assert road.status("beta") == Acceptance.rejected  # not written back as accepted
    assert road.main.stats.get("allow_rejected_remote") == 1


def test_forget_makes_the_estate_join_anew_at_its_next_allow(road):
    beta = road.join_allowed("beta")
    road.keep_cmd("forget", "beta")
    beta.allow(cascade=True)
    road.run(3.0, lambda: road.status("beta") is not None)
    assert road.status("beta") == Acceptance.pending  # judged as a newcomer: pending
    assert not road.record("beta").joined and not road.link(beta).allowed
    assert road.main.stats.get("allow_unaccepted_remote") == 1
    road.keep_cmd("accept", "beta")
    road.run(10.0, lambda: road.link(beta).allowed)
    assert road.link(beta).allowed and road.record("beta").joined


def test_forget_makes_the_estate_join_anew_at_its_next_join(road):
    beta = road.join_allowed("beta")
    road.keep_cmd("forget", "beta")
    beta.join()
    road.run(2.0, lambda: road.status("beta") is not None)
    assert road.status("beta") == Acceptance.pending
    assert not road.record("beta").joined


def test_a_pinned_estate_joins_with_no_operator_step(road):
    gamma = road.joiner("gamma")
    road.keep_cmd("pin", "gamma", "--verhex", gamma.local.signer.verhex,
                  "--pubhex", gamma.local.priver.pubhex)
    gamma.join(cascade=True)
    road.run(5.0, lambda: road.link(gamma).allowed)
    assert road.link(gamma).allowed
    kept = RoadKeep(dirpath=str(road.keep)).load_remote("gamma")
    assert kept["joined"] and kept["uid"] == road.record("gamma").uid < PIN_UID_BASE


def test_a_pinned_estate_joins_a_main_restarted_before_it_came(road):
    gamma = road.joiner("gamma")
    road.keep_cmd("pin", "gamma", "--verhex", gamma.local.signer.verhex,
                  "--pubhex", gamma.local.priver.pubhex)
    road.restart_main()
    assert road.record("gamma").acceptance == Acceptance.accepted
    road.link(gamma).ha = road.main.ha
    gamma.join(cascade=True)
    road.run(5.0, lambda: road.link(gamma).allowed)
    assert road.link(gamma).allowed


def test_a_pin_with_other_keys_is_rejected(road):
    gamma = road.joiner("gamma")
    impostor = road.joiner("delta")
    road.keep_cmd("pin", "gamma", "--verhex", impostor.local.signer.verhex,
                  "--pubhex", impostor.local.priver.pubhex)
    gamma.join()
    road.run(5.0, lambda: road.link(gamma) is None)
    assert road.link(gamma) is None and road.record("gamma") is None
    assert road.status("gamma") == Acceptance.accepted


def test_an_allow_is_refused_while_the_keep_cannot_be_read(road, monkeypatch):
    beta = road.join_allowed("beta")

    def broken(role):
        raise KeepError("keep unreadable")

    monkeypatch.setattr(road.main.keep, "load_remote_role", broken)
    errors = road.main.stats.get("keep_error", 0)
    road.run(1.0, lambda: "allow_correspond_complete" in road.main.stats)
    done = road.main.stats["allow_correspond_complete"]
    beta.allow()
    road.run(2.0, lambda: not road.link(beta).allowInProcess())
    assert road.main.stats["keep_error"] > errors
    assert beta.stats["allower_transaction_failure"] == 1  # refused
    assert road.record("beta").joined  # nothing changed: the next allow asks again
    monkeypatch.undo()
    beta.allow()
    road.run(2.0, lambda: road.main.stats["allow_correspond_complete"] > done)
    assert road.main.stats["allow_correspond_complete"] == done + 1


def test_accept_after_a_rejection_admits_the_estates_next_join(road):
    beta = road.join_pending("beta")
    road.keep_cmd("reject", "beta")
    road.run(5.0, lambda: road.link(beta) is None)  # refused: the main forgot its record
    assert road.record("beta") is None
    road.keep_cmd("accept", "beta")  # by its role, whose file the main kept
    assert road.status("beta") == Acceptance.accepted
    beta.addRemote(RemoteEstate(stack=beta, fuid=0, sid=0, ha=road.main.ha))
    beta.join()
    road.run(5.0, lambda: getattr(road.record("beta"), "joined", None) is True)
    assert road.link(beta).joined is True and road.record("beta").joined is True
