"""``pip install .`` and ``pip install -e .`` both install the start-up hook.

Each installs a copy of the project into a fresh virtual environment (built in pip's
isolated build environment, as a user's install is), checks the hook is at the root of
site-packages, runs the road flo with that environment's Python through the plain
``ioflo`` command, and uninstalls again.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig

import pytest

from .flos import BIN, ROAD_LINES, ROOT, flo_copy, printed_lines

SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "raetflo_hook.py",
           "raetflo_hook.pth", "raetflo")


def pip(venv_python, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python), "-q", *args],
                   check=True, capture_output=True, timeout=300)


@pytest.mark.parametrize("mode", [(), ("-e",)], ids=["regular", "editable"])
def test_install_puts_the_hook_in_site_packages(tmp_path, mode):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip(python, "install", "--no-deps", *mode, str(source))
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(python), "-c", purelib], capture_output=True, text=True,
                          check=True)
    hook = tmp_path / site.stdout.strip() / "raetflo_hook.pth"
    assert hook.read_text() == (ROOT / "raetflo_hook.pth").read_text()

    # ioflo, libnacl and msgpack come from this environment, after the new one's own
    (hook.parent / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    flo = flo_copy("road.flo", tmp_path)
    run = subprocess.run([str(python), str(BIN / "ioflo"), "-v", "terse", "-f", str(flo)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert printed_lines(run.stdout) == ROAD_LINES
    where = subprocess.run([str(python), "-c", "import raetflo; print(raetflo.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    assert where.stdout.startswith(str(source if mode else venv))

    pip(python, "uninstall", "-y", "raetflo")
    assert not hook.exists()
