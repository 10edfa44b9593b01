"""The tutorial examples run and print the tutorial's transaction lines."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[1]

JOIN_LINES = [
    "Joiner alpha. Do Join with estate_<hex> in 1 at 0.0",
    "Joinent beta. Added new remote name='alpha' nuid='2' fuid='2' ha='('127.0.0.1', <p0>)' role='alpha'",
    "Joinent beta. Do Accept of alpha in 1 at 0.0",
    "Joiner alpha. Do Ack Accept, Done with beta in 1 at 0.1",
    "Allower alpha. Do Hello with beta in 2 at 0.1",
    "Joinent beta. Done with alpha in 1 at 0.1",
    "Allowent beta. Do Cookie with alpha in 2 at 0.1",
    "Allower alpha. Do Initiate with beta in 2 at 0.2",
    "Allowent beta. Do Ack Initiate with alpha in 2 at 0.2",
    "Allower alpha. Do Ack Final, Done with beta in 2 at 0.30000000000000004",
    "Aliver alpha. Do Alive with beta in 3 at 0.30000000000000004",
    "Allowent beta. Done with alpha in 2 at 0.30000000000000004",
    "Alivent beta. Do ack alive with alpha in 3 at 0.30000000000000004",
    "Alivent beta. Done with alpha in 3 at 0.30000000000000004",
    "Aliver alpha. Done with beta in 3 at 0.4",
    "Finished",
]


def run_example(name: str, tmp_path, nports: int) -> tuple[list[str], list[int]]:
    ports = [free_port() for _ in range(nports)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--host", "127.0.0.1",
         "--ports", *map(str, ports), "--basedirpath", str(tmp_path / "keep")],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    lines = [re.sub(r"estate_[0-9a-f]{32}", "estate_<hex>", line) for line in lines]
    return lines, ports


def test_road_join_example(tmp_path):
    lines, ports = run_example("road_join.py", tmp_path, 2)
    expected = [line.replace("<p0>", str(ports[0])) for line in JOIN_LINES]
    assert lines == expected
    assert not any((tmp_path / "keep").iterdir())  # the example clears its keeps
