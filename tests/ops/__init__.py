"""Tests of the ``raetflo`` operators' command: keeps, live acceptance, the probe."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

COMMAND_TIMEOUT = 60.0  # seconds one command may take in a test


def raetflo(*args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``python -m raetflo ARGS`` with this interpreter; its output and status."""
    return subprocess.run([sys.executable, "-m", "raetflo", *args], capture_output=True,
                          text=True, timeout=timeout)


def ok(*args: str) -> str:
    """The stdout of a command that must succeed, with at most warnings on stderr (a keep
    repairs the modes raet 0.6.8 gives its files, and says so)."""
    run = raetflo(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert all(line.startswith("raetflo: warning: ") for line in run.stderr.splitlines())
    return run.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def fails(*args: str) -> str:
    """The one-line error of a command that must fail with status 1."""
    run = raetflo(*args)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("raetflo: "), run.stderr
    return lines[0]
