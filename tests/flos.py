"""Running flo scripts in tests: copies of the stock flos on free ports, the commands."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

DEMO_PORTS = (17530, 17531, 17540, 17541, 17550, 17551, 17552, 17560, 17561, 17570, 17571,
              17572, 17573)
DEMO_DIR = "/tmp/raetflo-demo"


def flo_copy(name: str, tmp_path: Path, edits: dict[str, str] | None = None) -> Path:
    """A copy of the stock ``flo/<name>`` on free ports, under ``tmp_path``, with ``edits``."""
    text = (ROOT / "flo" / name).read_text()
    for port in DEMO_PORTS:
        text = text.replace(str(port), str(free_port()))
    text = text.replace(DEMO_DIR, str(tmp_path / "demo"))
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    assert DEMO_DIR not in text and not any(str(port) in text for port in DEMO_PORTS)
    path = tmp_path / name
    path.write_text(text)
    return path


def command(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run one of this environment's commands (``ioflo``, ``raetflo-flo``)."""
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


ROAD_LINES = ['beta received from alpha: {"greeting": "hello beta", "count": 1}',
              'alpha received from beta: {"greeting": "hello alpha", "count": 2}',
              "*** alpha done ***", "*** beta done ***"]


def printed_lines(stdout: str) -> list[str]:
    """The lines the printers and ``print`` verbs wrote, in order."""
    return [line for line in stdout.splitlines()
            if " received from " in line and not line.startswith("To:")
            or line.startswith("***")]
