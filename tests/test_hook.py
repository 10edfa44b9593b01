"""The start-up hook: ioflo works on 3.11 and finds raetflo's Deeds, at no start-up cost."""
from __future__ import annotations

import subprocess
import sys

import pytest

import raetflo_hook


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A trigger module and a behaviours module in place of ioflo's and raetflo's."""
    (tmp_path / "fake_trigger.py").write_text("ORDER = ['trigger']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(raetflo_hook, "TRIGGER", "fake_trigger")
    monkeypatch.setattr(raetflo_hook, "BEHAVIOURS", "fake_behaviours")
    monkeypatch.setattr(sys, "meta_path", [finder for finder in sys.meta_path
                                           if not isinstance(finder, raetflo_hook.TriggerFinder)])
    for name in ("fake_trigger", "fake_behaviours"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    raetflo_hook.install()
    yield tmp_path
    for name in ("fake_trigger", "fake_behaviours"):
        sys.modules.pop(name, None)


def test_importing_the_trigger_imports_the_behaviours(fake):
    (fake / "fake_behaviours.py").write_text(
        "import fake_trigger\nfake_trigger.ORDER.append('behaviours')\n")
    import fake_trigger
    assert fake_trigger.ORDER == ["trigger", "behaviours"]
    assert fake_trigger.__spec__.loader.get_filename("fake_trigger").endswith("fake_trigger.py")


def test_broken_behaviours_do_not_break_the_trigger(fake, capsys):
    (fake / "fake_behaviours.py").write_text("raise ImportError('no libsodium')\n")
    import fake_trigger
    assert fake_trigger.ORDER == ["trigger"]
    assert capsys.readouterr().err == (
        "raetflo: behaviours not loaded (ImportError: no libsodium); "
        "'ioflo -b fake_behaviours' shows the full error\n")


def test_install_is_idempotent_and_answers_only_for_the_trigger(fake):
    raetflo_hook.install()
    finders = [f for f in sys.meta_path if isinstance(f, raetflo_hook.TriggerFinder)]
    assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    assert finders[0].find_spec("json") is None


def python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_start_up_imports_neither_ioflo_nor_raetflo():
    assert python("import collections, sys; "
                  "print(hasattr(collections, 'abc'), 'ioflo' in sys.modules, "
                  "'raetflo' in sys.modules)") == "True False False"


def test_importing_what_the_ioflo_command_runs_loads_the_deeds():
    assert python("import sys, ioflo.app.run; from ioflo.base.doing import Doer; "
                  "print('raetflo.behaving' in sys.modules, 'RoadStackOpener' in Doer.Registry)"
                  ) == "True True"
