"""Bad flo input: one line naming the Deed, its flo line and the parameter; status 1.

Each case runs a copy of a stock flo with one mistake through the real ``ioflo`` command
and through ``raetflo-flo``; both must stop with exit status 1 and no traceback.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import raetflo.behaving
from raetflo.behaving.roading import RoadStackJoiner, RoadStackTransmitter

from ..flos import command, flo_copy

COMMANDS = ["ioflo", "raetflo-flo"]


def fails_clearly(program: str, flo: Path, *phrases: str) -> None:
    """``program`` stops the flo with status 1 and one last 'raetflo: ...' line."""
    run = command(program, "-v", "terse", "-f", str(flo))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("raetflo: "), run.stderr
    for phrase in phrases:
        assert phrase in last, last


@pytest.mark.parametrize("program", COMMANDS)
def test_unknown_parameter(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path,
                   {"do road stack joiner": "do road stack joiner with retyr 2.0"})
    fails_clearly(program, flo, "'do road stack joiner with retyr 2.0' in house 'alpha': ",
                  "unknown parameter 'retyr' (known: retry, rejoin)")


@pytest.mark.parametrize("program", COMMANDS)
def test_parameter_of_a_deed_that_takes_none(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path,
                   {"do road stack printer": "do road stack printer with colour 80"})
    fails_clearly(program, flo, "'do road stack printer with colour 80' in house ",
                  "unknown parameter 'colour' (known: width)")


@pytest.mark.parametrize("program", COMMANDS)
def test_wrong_parameter_type(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path,
                   {"do road stack joiner": 'do road stack joiner with retry "soon"'})
    fails_clearly(program, flo, "'do road stack joiner with retry \"soon\"' in house 'alpha': ",
                  "parameter 'retry' must be a number, got 'soon'")


@pytest.mark.parametrize("program", COMMANDS)
@pytest.mark.parametrize("old, new, problem", [
    ('with destination "hub"', "with destination 5",
     "parameter 'destination' must be a string, got 5"),
    ('with destination "hub"', 'with reply "yes"',
     "parameter 'reply' must be True or False, got 'yes'"),
])
def test_wrong_relayer_parameter(tmp_path, program, old, new, problem):
    flo = flo_copy("messaging.flo", tmp_path, {old: new})
    fails_clearly(program, flo, f"'do message relayer {new}' in house 'relay': ",
                  problem)


@pytest.mark.parametrize("program", COMMANDS)
def test_missing_setting(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path)
    text, count = re.subn(r'(local with name "beta" host "127.0.0.1") port \d+', r"\1",
                          flo.read_text())
    assert count == 1
    flo.write_text(text)
    fails_clearly(program, flo, "'do road stack opener' in house 'beta': ",
                  "set field 'port' of share '.road.local'")


@pytest.mark.parametrize("program", COMMANDS)
def test_wrong_setting_type(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path)
    text, count = re.subn(r'(local with name "beta" host "127.0.0.1") port \d+',
                          r'\1 port "any"', flo.read_text())
    assert count == 1
    flo.write_text(text)
    fails_clearly(program, flo, "'do road stack opener' in house 'beta': ",
                  "field 'port' of share '.road.local' must be int, not 'any'")


@pytest.mark.parametrize("program", COMMANDS)
def test_a_misspelt_setting_is_named_not_ignored(tmp_path, program):
    flo = flo_copy("road.flo", tmp_path, {"main True": "mian True"})
    fails_clearly(program, flo, "'do road stack opener' in house 'beta': ",
                  "unknown field 'mian' in share '.road.local'; did you mean 'main'?")


def test_a_misspelt_lane_setting_is_named_not_ignored(tmp_path):
    flo = flo_copy("lane.flo", tmp_path, {' sockdir "': ' sockdirs "'})
    fails_clearly("raetflo-flo", flo, "'do lane stack opener' in house ",
                  "unknown field 'sockdirs' in share '.lane.local'; did you mean 'sockdir'?")


def test_a_port_out_of_range_says_the_range(tmp_path):
    flo = flo_copy("road.flo", tmp_path)
    text, count = re.subn(r'(local with name "beta" host "127.0.0.1") port \d+',
                          r"\1 port 99999", flo.read_text())
    assert count == 1
    flo.write_text(text)
    fails_clearly("raetflo-flo", flo, "port 99999 is not in 0..65535")


@pytest.mark.parametrize("program", COMMANDS)
def test_two_houses_on_one_keep_are_refused(tmp_path, program):
    """One identity per keep: the second house would take the first's (with clean, wipe
    it while it runs)."""
    flo = flo_copy("road.flo", tmp_path, {'/road/alpha" clean True': '/road/beta" clean True'})
    fails_clearly(program, flo, "'do road stack opener' in house 'alpha': ",
                  "is in use by road stack 'beta' of this run; give each stack a keep")
    assert (tmp_path / "demo" / "road" / "beta").is_dir()


def test_the_design_names_are_importable():
    from raetflo.behaving import (JoinerInitiator, LaneStackServicer, RoadStackOpener,
                                  TransmitterDeed)
    assert issubclass(JoinerInitiator, RoadStackJoiner)
    assert issubclass(TransmitterDeed, RoadStackTransmitter)
    for deed in (JoinerInitiator, LaneStackServicer, RoadStackOpener, TransmitterDeed):
        assert deed.__name__ in raetflo.behaving.__all__
        assert deed.__module__.startswith("raetflo.behaving.")


def test_a_reserved_word_as_a_field_names_its_line(tmp_path):
    """ioflo's parser fails on a reserved word where a field goes with an error of its own
    (a TypeError, no line); raetflo-flo says what it means and where."""
    flo = flo_copy("road.flo", tmp_path,
                   {"do road stack joiner": 'do road stack joiner\n'
                                            '         do road stack transmitter with from "me"'})
    run = command("raetflo-flo", "-q", "-v", "terse", "-f", str(flo))
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr, run.stderr
    last = run.stderr.splitlines()[-1]
    line = next(number for number, text in enumerate(flo.read_text().splitlines(), 1)
                if 'with from "me"' in text)
    for phrase in (f"line {line}", 'do road stack transmitter with from "me"',
                   "a word ioflo reserves", "with share"):
        assert phrase in last, last
