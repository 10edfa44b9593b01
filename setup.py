"""Build hook only: the metadata lives in setup.cfg.

``raetflo_hook.pth`` must land at the root of site-packages (setup.cfg explains why and how).
Regular wheels get it from ``data_files``, but setuptools leaves data files out of editable
wheels (setuptools issue 3399), so ``EditableWheel`` adds it to the editable wheel when
setuptools did not.
"""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.editable_wheel import editable_wheel

PTH = "raetflo_hook.pth"


def add_to_wheel(wheel: Path, arcname: str, data: bytes) -> None:
    """Add ``arcname`` (with its RECORD line) to ``wheel``, unless the wheel installs it."""
    with zipfile.ZipFile(wheel) as old:
        if any(name == arcname or name.endswith(f".data/purelib/{arcname}")
               for name in old.namelist()):
            return
        entries = [(info, old.read(info)) for info in old.infolist()]
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    line = f"{arcname},sha256={digest},{len(data)}\n".encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as new:
        for info, content in entries:
            if info.filename.endswith(".dist-info/RECORD"):
                record = (info, content.rstrip(b"\n") + b"\n" + line)
            else:
                new.writestr(info, content)
        new.writestr(arcname, data)
        new.writestr(*record)


class EditableWheel(editable_wheel):
    """``editable_wheel`` whose wheel also installs raetflo_hook.pth."""

    def run(self) -> None:
        super().run()
        data = (Path(__file__).resolve().parent / PTH).read_bytes()
        for wheel in Path(self.dist_dir).glob("*.whl"):
            add_to_wheel(wheel, PTH, data)


setup(cmdclass={"editable_wheel": EditableWheel})
