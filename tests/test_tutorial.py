"""The tutorial's four examples, verbatim but for the package name, print what raet 0.6.8 prints.

Each example in ``examples/tutorial/`` runs in a subprocess twice: as it is (raetflo) and with
``raetflo`` replaced by ``raet`` (the reference, patched for Python 3.11 by refshim). Their
console lines must be equal once the random parts are masked: estate names made from uuids,
the perceived service duration and the lane example's temporary directory.

The road examples bind the fixed UDP ports 7531-7533 and use the default keep (raetflo's
under ``/tmp/raet``, raet's under ``/var/cache/raet``), so each run gets a private network
namespace with those directories private when the machine allows one; otherwise it runs on
the host if the ports are free, and the test is skipped, saying why, only when neither is
possible.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "examples" / "tutorial"
PORTS = (7531, 7532, 7533)
KEEP_BASES = ("/tmp/raet", "/var/cache/raet")  # the default keeps' parents: raetflo's, raet's
USES_PORTS = {"road_example1.py": True, "road_example2.py": True, "road_example3.py": True,
              "lane_example1.py": False}
LAUNCHERS = (("unshare", "-n", "-m"), ("unshare", "-r", "-n", "-m"))
REFERENCE_RUNNER = ("import runpy, sys; from tests.interop import refshim; refshim.install(); "
                    "runpy.run_path(sys.argv[1], run_name='__main__')")
MASKS = ((re.compile(r"estate_[0-9a-f]{32}"), "estate_<uuid>"),
         (re.compile(r"duration = \S+ seconds"), "duration = <elapsed> seconds"),
         (re.compile(r"/raet\w{8}base/"), "/raet<tmp>base/"))


def setup_script() -> str:
    """Inside a new namespace: loopback up, the keep bases private, then run "$0" "$@"."""
    steps = ["ip link set lo up"]
    for path in KEEP_BASES:
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)  # the mount point
        except OSError:
            continue  # a keep base this user cannot create is not used by its runs either
        steps.append(f"mount -t tmpfs -o mode=0700 tmpfs {path}")
    return " && ".join([*steps, 'exec "$0" "$@"'])


@functools.cache
def namespace() -> tuple[tuple[str, ...] | None, str]:
    """The command prefix that gives a private network and keeps, or None and why not."""
    script = setup_script()
    problems = []
    for launcher in LAUNCHERS:
        command = [*launcher, "sh", "-c", script, "true"]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as ex:
            problems.append(f"{' '.join(launcher)}: {ex}")
            continue
        if proc.returncode == 0:
            return (*launcher, "sh", "-c", script), ""
        problems.append(f"{' '.join(launcher)}: {proc.stderr.strip() or proc.returncode}")
    return None, "; ".join(problems)


def busy_ports() -> list[int]:
    """Those of the tutorial's UDP ports that cannot be bound on the host now."""
    busy = []
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                busy.append(port)
    return busy


def prefix_for(example: str) -> list[str]:
    """How to launch ``example``: in a namespace, else on the host; skip if neither works."""
    launcher, why = namespace()
    if launcher:
        return list(launcher)
    if not USES_PORTS[example]:
        return []
    busy = busy_ports()
    if busy:
        pytest.skip(f"no private network namespace ({why}) and UDP ports {busy} are in use")
    return []


def run(prefix: list[str], args: list[str]) -> list[str]:
    """Run a Python command under ``prefix``; its masked stdout lines (it must succeed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([*prefix, sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    for pattern, mask in MASKS:
        lines = [pattern.sub(mask, line) for line in lines]
    return lines


@pytest.mark.parametrize("example", sorted(USES_PORTS))
def test_tutorial_example_prints_what_the_reference_prints(example, tmp_path):
    if importlib.util.find_spec("raet") is None:
        pytest.skip("the reference raet 0.6.8 (the test extra) is not installed")
    source = (TUTORIAL / example).read_text()
    assert "raetflo" in source and "import raet\n" not in source
    reference = tmp_path / example
    reference.write_text(source.replace("raetflo", "raet"))
    prefix = prefix_for(example)

    ours = run(prefix, [str(TUTORIAL / example)])
    theirs = run(prefix, ["-c", REFERENCE_RUNNER, str(reference)])

    assert ours == theirs
    assert [line for line in ours if line][-1] == "Finished"
    assert len(ours) > 10
