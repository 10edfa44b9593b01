"""examples/aio_road.py runs as a program and its roads talk."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_aio_road_example_runs():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "aio_road.py")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "minion  joined and allowed with main" in proc.stdout
    for n in (1, 2, 3):
        assert f"main    got {{'n': {n}}} from minion" in proc.stdout
        assert f"minion  got {{'double': {2 * n}}} from main" in proc.stdout
