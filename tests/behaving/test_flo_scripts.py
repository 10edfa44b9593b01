"""The stock flo scripts, and bad ones, run through the real ``ioflo`` command.

Each runs a copy of ``flo/<name>`` on free ports with its directories under the test's
tmp dir, in virtual time (no ``-r``), as a subprocess of this environment's ``ioflo``.
Plain ``ioflo`` finds raetflo's Deeds without ``-b``: the installed start-up hook loads them.
"""
from __future__ import annotations

import os
import socket

import pytest

from ..flos import ROAD_LINES, command, flo_copy, printed_lines


def test_road_flo(tmp_path):
    run = command("ioflo", "-v", "terse", "-f", str(flo_copy("road.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == ROAD_LINES
    assert "Joiner alpha" not in run.stdout  # terse: no transaction chatter
    assert "No running or started taskers. Shutting down skedder" in run.stdout
    assert run.stderr == ""


def test_road_flo_at_default_verbosity_shows_the_handshake(tmp_path):
    run = command("ioflo", "-f", str(flo_copy("road.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == ROAD_LINES
    for line in ("Joiner alpha. Do Join with", "Allower alpha. Do Hello with beta",
                 "Road stack 'beta' closed", "Road stack 'alpha' closed"):
        assert line in run.stdout


def test_road_flo_muted_prints_nothing_of_raetflo(tmp_path):
    run = command("ioflo", "-v", "mute", "-f", str(flo_copy("road.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "received" not in run.stdout and "Joiner" not in run.stdout


def test_lane_flo_with_explicit_behaviours(tmp_path):
    run = command("ioflo", "-v", "terse", "-f", str(flo_copy("lane.flo", tmp_path)),
                  "-b", "raetflo.behaving")
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == [
        'beta received from alpha: {"greeting": "hello beta", "count": 1}',
        'alpha received from beta: {"greeting": "hello alpha", "count": 2}',
        "*** alpha done ***", "*** beta done ***"]
    assert list((tmp_path / "demo" / "lane").iterdir()) == []  # closers removed the sockets


def test_messaging_flo(tmp_path):
    run = command("ioflo", "-v", "terse", "-f", str(flo_copy("messaging.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == [
        'hub received from relay: {"question": "ping"}', "*** hub done ***",
        'client received from relay: {"answer": "pong"}', "*** client done ***",
        "*** relay done ***"]


def test_acceptance_flo_accepts_one_joiner_and_rejects_the_other(tmp_path):
    run = command("ioflo", "-v", "concise", "-f", str(flo_copy("acceptance.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == [
        "*** j2 rejected ***", "*** main accepted j1 and rejected j2 ***",
        "*** j1 allowed ***"]
    lines = run.stdout.splitlines()
    for line in ("Road stack 'main' presence: pending +j1 +j2",
                 "Road stack 'main': remote 'j1' accepted",
                 "Road stack 'main': remote 'j2' rejected",
                 "Road stack 'main' presence: pending -j1 -j2; rejected +j2",
                 "Road stack 'j2': the estate at 127.0.0.1:%d rejected our keys; not joining "
                 "again (with rejoin True tries every 0.5 s)" % main_port(run.stdout)):
        assert line in lines, run.stdout


HUB_LINES = ['hub received from j1: {"question": "who am I?", "asker": "j1"}',
             'hub received from j2: {"question": "who am I?", "asker": "j2"}',
             'hub received from j3: {"question": "who am I?", "asker": "j3"}',
             'j1 received from hub: {"answer": "hello j1, this is the hub"}',
             "*** j1 has its answer ***",
             'j2 received from hub: {"answer": "hello j2, this is the hub"}',
             "*** j2 has its answer ***",
             'j3 received from hub: {"answer": "hello j3, this is the hub"}',
             "*** j3 has its answer ***", "*** hub answered j1 j2 j3 ***"]


@pytest.mark.parametrize("real", [(), ("-r",)], ids=["virtual", "real"])
def test_hub_flo_answers_three_joiners_by_name(tmp_path, real):
    run = command("ioflo", "-v", "terse", *real, "-f", str(flo_copy("hub.flo", tmp_path)),
                  timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    printed = printed_lines(run.stdout)
    if real:  # in real time the houses' turns interleave differently
        assert sorted(printed) == sorted(HUB_LINES) and printed[-1] == HUB_LINES[-1]
    else:
        assert printed == HUB_LINES
    assert run.stderr == ""


def main_port(stdout: str) -> int:
    """The port the flo's main estate opened on, from its console line."""
    line = next(line for line in stdout.splitlines() if line.startswith("Road stack 'main' open"))
    return int(line.split(" with keep")[0].rsplit(":", 1)[1])


PRESENCE_LINES = ["*** main sees j1 alive ***", "*** j1 leaves ***", "*** main sees j1 dead ***",
                  "*** main reaped j1 ***"]


@pytest.mark.parametrize("real", [(), ("-r",)], ids=["virtual", "real"])
def test_presence_flo_sees_a_joiner_go_dead_then_reaped(tmp_path, real):
    run = command("ioflo", "-v", "terse", *real, "-f", str(flo_copy("presence.flo", tmp_path)),
                  timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == PRESENCE_LINES
    assert run.stderr == ""


def test_a_flo_that_misses_its_goal_exits_1(tmp_path):
    flo = flo_copy("road.flo", tmp_path, {'auto "always"': 'auto "never"'})  # beta never accepts
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "raetflo: 'do raetflo exit with message \"road demo: beta did not finish\"' "
        "in house 'beta': road demo: beta did not finish")


# --------------------------------------------------------------------- bad inputs


def assert_clear_failure(run, *phrases: str) -> None:
    """Exit status 1, one 'raetflo: ...' line on stderr, and no traceback."""
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("raetflo: "), run.stderr
    for phrase in phrases:
        assert phrase in last, last


def test_unknown_remote_name(tmp_path):
    flo = flo_copy("road.flo", tmp_path, {
        'init .road.destination with value "alpha"': 'init .road.destination with value "gamma"'})
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert_clear_failure(run, "'do road stack transmitter with greeting \"hello alpha\" count 2'"
                         " in house 'beta': ",
                         "road stack 'beta' has no remote named 'gamma' (its remotes: alpha)")


def test_unknown_remote_to_join(tmp_path):
    flo = flo_copy("road.flo", tmp_path)
    text = flo.read_text()
    start = text.index('init .road.remote with name "beta"')
    end = text.index("\n", start)
    flo.write_text(text[:start] + 'init .road.remote with name "gamma"' + text[end:])
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert_clear_failure(run, "'do road stack joiner' in house 'alpha': ",
                         "road stack 'alpha' has no remote named 'gamma'",
                         "'.road.remote' gives no port to join it at")


def test_port_in_use(tmp_path):
    flo = flo_copy("road.flo", tmp_path)
    text = flo.read_text()
    before = 'name "beta" host "127.0.0.1" port '
    start = text.index(before) + len(before)
    port = int(text[start:text.index(" ", start)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert_clear_failure(run, "'do road stack opener' in house 'beta': ",
                         f"Stack 'beta': Failed opening server at ('127.0.0.1', {port})",
                         "Address already in use")


def test_keep_without_permission(tmp_path):
    keep = tmp_path / "demo" / "road" / "alpha"
    keep.mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(keep, 65534, 65534)
    else:
        keep.chmod(0o500)
    flo = flo_copy("road.flo", tmp_path)
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert_clear_failure(run, "'do road stack opener' in house 'alpha': ",
                         f"Stack 'alpha': Keep directory '{keep}'")


# ------------------------------------------------------------------- raetflo-flo


def test_raetflo_flo_runs_a_good_flo(tmp_path):
    run = command("raetflo-flo", "-v", "terse", "-f", str(flo_copy("road.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == ROAD_LINES


@pytest.mark.parametrize("body, phrase", [
    ("framer f be active first a\n   frame a\n      go nowhere\n", "(see the messages above)"),
    ("framer f be active first a\n   frame a\n      do no such deed\n",
     "No Deed of kind 'NoSuchDeed' in registry"),
])
def test_raetflo_flo_fails_a_flo_that_does_not_build(tmp_path, body, phrase):
    flo = tmp_path / "bad.flo"
    flo.write_text("house bad\n" + body)
    plain = command("ioflo", "-v", "terse", "-f", str(flo))
    run = command("raetflo-flo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith(f"raetflo-flo: cannot build '{flo}'")
    assert phrase in run.stderr
    if "go nowhere" in body:  # what raetflo-flo is for: ioflo says 0 here
        assert plain.returncode == 0 and "Failure building mission" in plain.stdout


def test_raetflo_flo_fails_a_missing_file(tmp_path):
    run = command("raetflo-flo", "-f", str(tmp_path / "none.flo"))
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == f"raetflo-flo: cannot build '{tmp_path / 'none.flo'}'" \
        " (see the messages above)"


# ----------------------------------------------------------------- quiet runs


@pytest.mark.parametrize("quiet", ["-q", "--quiet"])
def test_quiet_prints_only_what_deeds_and_print_say(tmp_path, quiet):
    run = command("raetflo-flo", quiet, "-v", "terse", "-f", str(flo_copy("road.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ROAD_LINES
    assert run.stderr == ""


def test_quiet_at_concise_adds_the_stacks_lines_and_nothing_of_ioflo(tmp_path):
    run = command("raetflo-flo", "-q", "-f", str(flo_copy("acceptance.flo", tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert "Road stack 'main': remote 'j2' rejected" in lines
    assert printed_lines(run.stdout) == ["*** j2 rejected ***",
                                         "*** main accepted j1 and rejected j2 ***",
                                         "*** j1 allowed ***"]
    for ioflo_says in ("Building", "Framer", "Tasker", "To: ", "----", "Skedder", "elapsed"):
        assert not any(ioflo_says in line for line in lines), ioflo_says


def test_quiet_still_says_why_a_flo_did_not_build(tmp_path):
    flo = tmp_path / "bad.flo"
    flo.write_text("house bad\nframer f be active first a\n   frame a\n      go nowhere\n")
    run = command("raetflo-flo", "-q", "-f", str(flo))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines()[-1] == (
        f"raetflo-flo: cannot build '{flo}' (run it without -q to see ioflo's messages)")


def test_quiet_failure_of_a_deed_is_one_line(tmp_path):
    flo = flo_copy("road.flo", tmp_path, {'auto "always"': 'auto "never"'})
    run = command("raetflo-flo", "-q", "-v", "terse", "-f", str(flo))
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "raetflo: 'do raetflo exit with message \"road demo: beta did not finish\"' "
        "in house 'beta': road demo: beta did not finish"]


def test_raetflo_flo_help_names_quiet():
    run = command("raetflo-flo", "-h")
    assert run.returncode == 0 and "-q, --quiet" in run.stdout and "-f FILENAME" in run.stdout


def test_raet_behaviours_load_as_raetflos_where_raet_cannot_import(tmp_path):
    flo = tmp_path / "ref.flo"
    flo.write_text("house h\nframer f be active first a\n   frame a\n"
                   "      do raet road stack closer\n      print fine\n      bid stop all\n")
    run = command("raetflo-flo", "-q", "-v", "concise", "-f", str(flo), "-b", "raet.flo.behaving")
    assert run.returncode == 0, run.stdout + run.stderr
    [line] = run.stderr.splitlines()  # the reason depends on the Python version
    assert line.startswith("raetflo-flo: raet.flo.behaving does not import on this Python (")
    assert line.endswith("); loading raetflo.flo.behaving, its raetflo twin")
    assert run.stdout.splitlines() == ["*** fine ***"]


@pytest.mark.parametrize("name, missing", [("no.such.mod", "no"),
                                           ("raet.no.such", "raet.no")])
def test_a_behaviour_module_that_does_not_import_is_one_line(tmp_path, name, missing):
    run = command("raetflo-flo", "-f", str(flo_copy("road.flo", tmp_path)), "-b", name)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith(f"raetflo-flo: cannot load behaviours '{name}': "), line
    if name.startswith("no."):
        assert line.endswith(f"ModuleNotFoundError: No module named '{missing}'")


def test_a_flo_that_ioflo_cannot_resolve_is_one_line(tmp_path):
    flo = tmp_path / "clash.flo"
    flo.write_text("house h\nframer f be active first a\n   frame a\n"
                   '      set .x.y with z 1\n      go b if .x.y.z == 1\n   frame b\n')
    run = command("raetflo-flo", "-q", "-f", str(flo))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines() == [
        f"raetflo-flo: cannot build '{flo}': ValueError: Level  'y' in 'x.y.z' is "
        "preexisting share"]
