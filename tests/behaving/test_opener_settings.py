"""The road stack opener's deployment settings, and a flo address that differs from the keep's."""
from __future__ import annotations

import pytest

from raetflo.raeting import BodyKind
from raetflo.road.keeping import RoadKeep
from raetflo.road.stacking import RoadStack

from ..conftest import free_port
from ..flos import command
from .conftest import fails

SIGHEX = "1f" * 32
PRIHEX = "2e" * 32


def opener(frame, tmp_path, **local):
    """An opener and a closer (run by hand) for ``.road.local`` with ``local``."""
    frame.init(".road.local", name="alpha", port=free_port(), keep=str(tmp_path / "k"), **local)
    acts = frame.add("RoadStackOpener", "manual"), frame.add("RoadStackCloser", "manual")
    frame.enter()
    return acts


def test_opener_takes_every_deployment_setting(frame, tmp_path):
    base = tmp_path / "base"
    frame.init(".road.local", name="alpha", port=free_port(), basedirpath=str(base),
               bk="msgpack", period=2.0, offset=0.5, interim=7, mutable=True, uid=9,
               role="alpha_role", sigkey=SIGHEX, prikey=PRIHEX, burst=4)
    frame.add("RoadStackOpener", "enter")
    frame.enter()
    stack = frame.value(".road.stack")
    assert isinstance(stack, RoadStack)
    assert stack.Bk == BodyKind.msgpack
    assert (stack.period, stack.offset, stack.interim, stack.mutable) == (2.0, 0.5, 7.0, True)
    assert (stack.local.uid, stack.local.role) == (9, "alpha_role")
    assert stack.local.signer.keyhex == SIGHEX and stack.local.priver.keyhex == PRIHEX
    assert stack.keep.dirpath == str(base / "alpha")
    assert stack.BurstSize == 4 and RoadStack.BurstSize == 0
    stack.server.close()


def test_the_timeout_setting_bounds_every_message_and_the_closer_reports_the_rest(
        frame, tmp_path):
    """``timeout`` becomes the stack's ``MessageTimeout``; a closer closes the stack, so
    a message not confirmed then is given up with its line and counted, not lost."""
    open_, close = opener(frame, tmp_path, timeout=2.5)
    open_()
    stack = frame.value(".road.stack")
    assert stack.MessageTimeout == 2.5 and RoadStack.MessageTimeout is None
    peer = stack.newRemote(ha=("127.0.0.1", free_port()))
    stack.addRemote(peer)
    peer.joined = peer.allowed = True  # (nobody answers there)
    stack.transmit({"never": "confirmed"}, peer.uid)
    stack.serviceAll()
    close()
    assert frame.value(".road.stack") is None and not stack.server.opened
    assert stack.stats.get("message_unconfirmed", 0) + stack.stats.get("message_dropped", 0) == 1


def test_opener_defaults_leave_the_stack_as_raet_makes_it(frame, tmp_path):
    open_, close = opener(frame, tmp_path)
    open_()
    stack = frame.value(".road.stack")
    assert stack.Bk == BodyKind.json and stack.period == RoadStack.Period
    assert stack.interim == RoadStack.Interim and "BurstSize" not in vars(stack)
    close()


@pytest.mark.parametrize("local, phrases", [
    ({"bk": "xml"}, ["field 'bk' of share '.road.local' must be one of json, msgpack"]),
    ({"period": "soon"}, ["field 'period'", "must be float or int, not 'soon'"]),
    ({"interim": -1.0}, ["field 'interim'", "must be >= 0, not -1.0"]),
    ({"burst": -2}, ["field 'burst'", "must be >= 0, not -2"]),
    ({"mutable": "yes"}, ["field 'mutable'", "must be bool"]),
    ({"uid": 1.5}, ["field 'uid'", "must be int"]),
    ({"sigkey": "abc"}, ["field 'sigkey' of share '.road.local' must be 64 hex digits"]),
    ({"prikey": "zz" * 32}, ["field 'prikey'", "must be 64 hex digits"]),
])
def test_opener_refuses_bad_deployment_settings(frame, tmp_path, local, phrases):
    frame.init(".road.local", name="alpha", port=free_port(), keep=str(tmp_path / "k"),
               **local)
    frame.add("RoadStackOpener", "enter")
    with pytest.raises(SystemExit) as exc:
        frame.enter()
    fails(exc, "'RoadStackOpener' in house 'HouseTest': ", *phrases)
    assert frame.value(".road.stack") is None


def test_a_flo_port_that_differs_from_the_keeps_wins_and_is_reported(frame, tmp_path, printed):
    open_, close = opener(frame, tmp_path)
    open_()
    old = frame.value(".road.stack").ha
    close()
    new = free_port()
    frame.init(".road.local", port=new)
    open_()
    stack = frame.value(".road.stack")
    assert stack.ha == ("127.0.0.1", new) and stack.local.ha == ("127.0.0.1", new)
    saved = stack.keep.load_local()
    assert tuple(saved["aha"]) == tuple(saved["ha"]) == ("127.0.0.1", new)
    lines = [line for line in printed().splitlines() if "differs" in line]
    assert lines == [f"Road stack 'alpha': the flo's address 127.0.0.1:{new} differs from "
                     f"the keep's address 127.0.0.1:{old[1]} ('{stack.keep.dirpath}'); the flo's "
                     "wins and the keep is updated (set clean True for a new estate, or "
                     "the keep's value in '.road.local' to keep it)"]
    close()
    printed_before = printed()
    open_()  # the keep now agrees: nothing to report
    assert printed().count("differs") == printed_before.count("differs")
    close()


def test_a_flo_host_and_identity_that_differ_from_the_keeps(frame, tmp_path, printed):
    open_, close = opener(frame, tmp_path, host="127.0.0.1", uid=3)
    open_()
    key = frame.value(".road.stack").local.signer.keyhex
    close()
    frame.init(".road.local", host="0.0.0.0", uid=4, sigkey=SIGHEX)
    open_()
    stack = frame.value(".road.stack")
    assert stack.ha[0] == "0.0.0.0" and stack.local.uid == 4
    assert stack.local.signer.keyhex == SIGHEX != key
    line, = [line for line in printed().splitlines() if "differ" in line]
    assert "the flo's address 0.0.0.0:" in line and "uid 4" in line and "sigkey" in line
    assert "differ from the keep's address 127.0.0.1:" in line and "uid 3" in line
    assert SIGHEX not in line and key not in line  # secret keys are never printed
    close()


def test_clean_decides_for_a_new_estate_without_a_report(frame, tmp_path, printed):
    open_, close = opener(frame, tmp_path)
    open_()
    close()
    frame.init(".road.local", port=free_port(), clean=True)
    open_()
    assert "differs" not in printed()
    close()


def test_a_flo_with_settings_through_the_ioflo_command(tmp_path):
    port = free_port()
    flo = tmp_path / "settings.flo"
    keep = tmp_path / "keep"
    flo.write_text(f"""house settings
framer alpha be active first start
frame start
  init .road.local with name "alpha" port {port} keep "{keep}" bk "msgpack" period 0.5 interim 3.0 burst 2
  init .road.local with role "alpha_role" uid 7 mutable true sigkey "{SIGHEX}" prikey "{PRIHEX}"
  enter
    do road stack opener
  exit
    do road stack closer
  go done
frame done
  print "opened"
  bid stop me
""")
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "opened" in run.stdout and "differ" not in run.stdout
    assert RoadKeep(stackname="alpha", dirpath=str(keep)).load_local()["sighex"] == SIGHEX
    other = free_port()
    flo.write_text(flo.read_text().replace(f"port {port}", f"port {other}"))
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 0, run.stdout + run.stderr
    assert (f"Road stack 'alpha': the flo's address 127.0.0.1:{other} differs from the "
            f"keep's address 127.0.0.1:{port}") in run.stdout


def test_the_cleaner_finds_a_keep_under_basedirpath(frame, tmp_path):
    frame.init(".road.local", name="alpha", port=free_port(), basedirpath=str(tmp_path / "b"))
    open_, close = frame.add("RoadStackOpener", "manual"), frame.add("RoadStackCloser", "manual")
    cleaner = frame.add("RoadStackCleaner", "manual")
    frame.enter()
    open_()
    close()
    assert (tmp_path / "b" / "alpha" / "local").is_dir()
    cleaner()  # the stack is closed: the keep is found from .road.local
    assert not (tmp_path / "b" / "alpha").exists()


def test_a_bad_setting_leaves_the_keep_as_it_was(frame, tmp_path):
    open_, close = opener(frame, tmp_path)
    open_()
    keep = frame.value(".road.stack").keep
    saved = keep.load_local()
    close()
    frame.init(".road.local", port=free_port(), period="soon")
    with pytest.raises(SystemExit):
        open_()
    assert frame.value(".road.stack") is None and keep.load_local() == saved
