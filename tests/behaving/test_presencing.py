"""The presence Deeds (manager, acceptor), run through ioflo's test frame, on shares."""
from __future__ import annotations

import io

import pytest
from ioflo.aid.consoling import getConsole

from raetflo.behaving.presencing import RoadStackManager
from raetflo.raeting import Acceptance
from raetflo.road.keeping import RoadKeep

from ..conftest import free_port
from ..flos import command
from .conftest import fails
from .test_roading import road


def main_with_joiners(frame, tmp_path, *names: str, auto: str = "never", **acceptor) -> None:
    """``main`` (at ``auto``, with a manager and an acceptor) and joiners ``names``."""
    main = road(frame, "main", tmp_path, main=True, auto=auto)
    frame.add("RoadStackManager", inode=".main.road.")
    frame.add("RoadStackAcceptor", inode=".main.road.", **acceptor)
    for name in names:
        road(frame, name, tmp_path)
        frame.init(f".{name}.road.remote", port=main["port"])
        frame.add("RoadStackJoiner", inode=f".{name}.road.", retry=0.5)


def estate(frame, name: str, field: str):
    return frame.value(f".main.road.estate.{name}", field)


def status(frame, name: str, field: str = "allowed"):
    return frame.value(f".{name}.road.status", field)


def decided(frame) -> bool:
    return bool(status(frame, "j1") and estate(frame, "j2", "acceptance") == "rejected")


def role_acceptance(tmp_path, role: str) -> int | None:
    """What the main's keep, read afresh, holds of ``role``."""
    keep = RoadKeep(stackname="main", dirpath=str(tmp_path / "keep" / "main"))
    return keep.load_remote_role(role)["acceptance"]


def test_acceptor_accepts_one_pending_estate_and_rejects_another(frame, tmp_path):
    main_with_joiners(frame, tmp_path, "j1", "j2", accept="j*", reject="j2")
    frame.init(".main.road.estate.j1", alived=0.0)  # as a flo's 'if alived in' makes it
    frame.enter()
    assert frame.run(lambda: decided(frame))
    assert (status(frame, "j1", "joined"), status(frame, "j2", "allowed")) == (True, False)
    assert (estate(frame, "j1", "acceptance"), estate(frame, "j1", "joined")) == \
        ("accepted", True)
    assert estate(frame, "j1", "port") == frame.value(".j1.road.local", "port")
    assert estate(frame, "j2", "joined") is False
    assert role_acceptance(tmp_path, "j1") == Acceptance.accepted
    assert role_acceptance(tmp_path, "j2") == Acceptance.rejected
    assert frame.run(lambda: frame.value(".main.road.presence", "allowed") == ["j1"])
    assert frame.value(".main.road.presence", "rejected") == ["j2"]
    assert frame.value(".main.road.presence", "pending") == []
    assert frame.value(".main.road.tally.rejected") == 1
    assert not frame.run(lambda: status(frame, "j2"), limit=3.0)  # j2 never gets in


def test_acceptor_applies_names_in_the_acceptance_share(frame, tmp_path):
    main_with_joiners(frame, tmp_path, "j1", "j2")
    frame.enter()
    assert frame.run(lambda: frame.value(".main.road.presence", "pending") == ["j1", "j2"])
    assert frame.value(".main.road.tally.pending") == 2
    assert not frame.run(lambda: status(frame, "j1"), limit=2.0)  # pending, not allowed
    frame.init(".main.road.acceptance", accept=["j1"], reject="j2")
    assert frame.run(lambda: decided(frame))
    assert frame.value(".main.road.presence", "rejected") == ["j2"]


@pytest.mark.parametrize("parms, phrase", [
    ({"accept": 7}, "'accept' must be a name or a list of names, not 7"),
    ({"reject": ["j1", 2]}, "'reject' must be a name or a list of names, not ['j1', 2]"),
])
def test_acceptor_refuses_bad_patterns(frame, tmp_path, parms, phrase):
    road(frame, "main", tmp_path, main=True, auto="never")
    frame.add("RoadStackAcceptor", inode=".main.road.", **parms)
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        frame.run(lambda: False, limit=0.125)
    fails(exc, "'RoadStackAcceptor' in house 'HouseTest': ", phrase)


def test_manager_sees_a_joiner_go_dead_then_reaped(frame, tmp_path, monkeypatch):
    console = getConsole()
    told = io.StringIO()
    monkeypatch.setattr(console, "_verbosity", console.Wordage.concise)
    monkeypatch.setattr(console, "_file", told)
    main = road(frame, "main", tmp_path, main=True, auto="always")
    frame.add("RoadStackManager", inode=".main.road.", immediate=True)
    frame.init(".j1.road.local", name="j1", port=free_port(), keep=str(tmp_path / "keep/j1"))
    frame.init(".j1.road.remote", port=main["port"])
    opener = frame.add("RoadStackOpener", "manual", ".j1.road.")
    servicer = frame.add("RoadStackServicer", "manual", ".j1.road.")
    joiner = frame.add("RoadStackJoiner", "manual", ".j1.road.")
    closer = frame.add("RoadStackCloser", "manual", ".j1.road.")
    frame.enter()
    stack = frame.value(".main.road.stack")
    stack.period, stack.interim = 1.0, 4.0
    opener()
    alive = frame.run(lambda: servicer() or joiner() or estate(frame, "j1", "alived") is True)
    assert alive
    presence = frame.store.fetch(".main.road.presence")
    assert (presence["alived"], presence["dead"], presence["reaped"]) == (["j1"], [], [])
    assert frame.value(".main.road.tally.alived") == 1
    assert "Road stack 'main' presence: joined +j1" in told.getvalue()
    closer()  # j1 goes away
    assert estate(frame, "j1", "dead") is False
    assert frame.run(lambda: estate(frame, "j1", "alived") is False)
    assert estate(frame, "j1", "dead") is True
    assert (presence["alived"], presence["dead"], presence["reaped"]) == ([], ["j1"], [])
    assert presence["changed"]["minus"] == ["j1"]
    assert estate(frame, "j1", "reaped") is not True
    assert frame.run(lambda: estate(frame, "j1", "reaped") is True, limit=8.0)
    assert (presence["dead"], presence["reaped"]) == (["j1"], ["j1"])
    assert frame.value(".main.road.tally.reaped") == 1
    text = told.getvalue()
    assert "Road stack 'main' presence: alived -j1; dead +j1" in text
    assert "Road stack 'main' presence: reaped +j1" in text


def test_manager_bounds_its_estate_shares_and_follows_renames(frame, tmp_path, monkeypatch,
                                                                printed):
    monkeypatch.setattr(RoadStackManager, "MaxEstates", 1)
    main_with_joiners(frame, tmp_path, "j1", "j2", auto="always")
    frame.add("RoadStackManager", inode=".j1.road.")
    frame.enter()
    assert frame.run(lambda: status(frame, "j1") and status(frame, "j2"))
    assert frame.run(lambda: len(frame.value(".main.road.presence", "allowed")) == 1)
    first = frame.value(".main.road.presence", "allowed")[0]
    other = {"j1": "j2", "j2": "j1"}[first]
    assert frame.store.fetch(f".main.road.estate.{other}") is None
    assert frame.value(".main.road.stack").stats["estate_share_overload"] == 1
    assert printed().count("1 estate shares, none made for") == 1
    assert frame.value(".j1.road.presence", "allowed") == ["main"]  # not its first name
    assert frame.value(".j1.road.estate.main", "allowed") is True


ACCEPTANCE_FLO = """
house main
init .road.local with name "main" port {main} main True auto "never" keep "{keeps}/main"
framer stack be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack manager with immediate True
         do road stack acceptor with accept "j1" reject "j2*"
      exit
         do road stack closer
framer watch be active first wait
   frame wait
      go done if alived in .road.estate.j1 and .road.tally.rejected >= 1
      go failed if elapsed >= 8
   frame done
      print main saw j1 alive and j2 rejected
      bid stop all
   frame failed
      enter
         do raetflo exit with message "main did not finish"
"""
JOINER_FLO = """
house {name}
init .road.local with name "{name}" port {port} keep "{keeps}/{name}"
init .road.remote with port {main}
framer stack be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack joiner
      exit
         do road stack closer
framer watch be active first wait
   frame wait
      go done if allowed in .road.status
      go stop if elapsed >= 4
   frame done
      print {name} allowed
      bid stop all
   frame stop
      print {name} stopped
      bid stop all
"""


def test_a_real_ioflo_run_accepts_one_estate_and_rejects_another(tmp_path):
    ports = dict(main=free_port(), keeps=str(tmp_path / "keeps"))
    flo = ACCEPTANCE_FLO.format(**ports) + "".join(
        JOINER_FLO.format(name=name, port=free_port(), **ports) for name in ("j1", "j2"))
    (tmp_path / "acceptance.flo").write_text(flo)
    run = command("ioflo", "-v", "concise", "-f", str(tmp_path / "acceptance.flo"))
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    for line in ("*** main saw j1 alive and j2 rejected ***", "*** j1 allowed ***",
                 "*** j2 stopped ***", "Road stack 'main': remote 'j1' accepted",
                 "Road stack 'main': remote 'j2' rejected"):
        assert line in lines, run.stdout
    assert "Road stack 'main' presence: pending +j1 +j2" in lines
    assert "Road stack 'main' presence: pending -j1 -j2; rejected +j2" in lines


class Unscannable(dict):
    """Remotes a run must not scan: what a flo tick with nothing changed would visit."""

    def values(self):
        raise AssertionError("the acceptor scanned the remotes with nothing changed")


def test_acceptor_rescans_only_when_presence_or_its_patterns_change(frame, tmp_path,
                                                                    monkeypatch):
    main_with_joiners(frame, tmp_path, "j1")
    frame.enter()
    assert frame.run(lambda: frame.value(".main.road.presence", "pending") == ["j1"])
    stack = frame.value(".main.road.stack")
    monkeypatch.setattr(stack, "remotes", Unscannable(stack.remotes))
    frame.run(lambda: False, limit=0.5)  # the joiner's redone joins change nothing
    monkeypatch.setattr(stack, "remotes", dict(stack.remotes))
    frame.init(".main.road.acceptance", accept="j1")  # new patterns: scanned again
    assert frame.run(lambda: status(frame, "j1"))
