"""``raetflo`` (``python -m raetflo``): ioflo's options run a flo as ``raetflo-flo`` does,
the subcommands sit beside them, and the console script points at this command."""
from __future__ import annotations

import configparser
import subprocess

from raetflo.command import main

from ..flos import BIN, ROAD_LINES, ROOT, flo_copy, printed_lines
from . import raetflo


def test_ioflo_options_run_a_flo(tmp_path):
    flo = flo_copy("road.flo", tmp_path)
    run = raetflo("-v", "terse", "-n", "raet", "-f", str(flo), "-b", "raetflo.behaving")
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == ROAD_LINES


def test_a_flo_that_does_not_build_fails(tmp_path):
    flo = tmp_path / "bad.flo"
    flo.write_text("house bad\nframer f be active first a\n   frame a\n      go nowhere\n")
    run = raetflo("-v", "terse", "-f", str(flo))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"cannot build '{flo}'" in run.stderr.splitlines()[-1]


def test_help_names_the_subcommands_and_the_flo_usage():
    run = raetflo("-h")
    assert run.returncode == 0
    assert "keep" in run.stdout and "probe" in run.stdout and "-f FILE" in run.stdout
    assert raetflo("-V").stdout.startswith("raetflo ")


def test_no_arguments_is_a_usage_error():
    run = raetflo()
    assert run.returncode == 2 and "usage: raetflo" in run.stderr


def test_console_script_is_this_command():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = dict(line.split(" = ") for line in
                   config["options.entry_points"]["console_scripts"].strip().splitlines())
    assert scripts["raetflo"] == "raetflo.command:main"
    assert scripts["raetflo-flo"] == "raetflo.runner:main"


def test_main_takes_an_argument_list(capsys, tmp_path):
    assert main(["keep", "list", "--dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"raetflo: no keep at '{tmp_path / 'none'}'\n"


def test_the_installed_raetflo_script_is_ours_whichever_package_wrote_it(tmp_path):
    """raet 0.6.8's script of the same name (the last package installed writes it) runs
    our command through the start-up hook."""
    script = BIN / "raetflo"
    wrote = "raet" if "raet floscript runner" in script.read_text() else "raetflo"
    run = subprocess.run([str(script), "keep", "list", "--dir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr) == (1, f"raetflo: no keep at '{tmp_path / 'none'}'\n"), \
        wrote
    version = subprocess.run([str(script), "-V"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("raetflo ") and "ioflo" in version.stdout, wrote


def test_every_command_says_the_same_version_and_help_has_no_markup():
    from . import raetflo as command
    versions = {command(flag).stdout for flag in ("--version", "-V")}
    assert len(versions) == 1 and "ioflo" in versions.pop()
    assert "``" not in command("probe", "--help").stdout
