"""Start-up hook of the raetflo distribution, imported by ``raetflo_hook.pth``.

Python runs the ``.pth`` line at every interpreter start in the environment where raetflo
is installed, so this module stays cheap: it imports nothing of ioflo or raetflo. It

* imports ``collections.abc``, which ioflo 2.0.3 uses without importing it (so
  ``import ioflo``, and the ``ioflo`` command, fail on Python 3.10+ without it), and
* watches for the import of ``ioflo.app.run`` (what the ``ioflo`` command runs) and then
  imports ``raetflo.behaving``, so ``ioflo -f some.flo`` finds raetflo's Deeds without
  ``-b raetflo.behaving``;
* when that import comes from raet 0.6.8's ``raetflo`` script (raet installs one in the
  same ``bin/`` as ours, and the package pip installs last wins the file), runs raetflo's
  command instead, so ``raetflo`` is ours whatever the install order.
"""
from __future__ import annotations

import collections.abc  # noqa: F401
import sys

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing costs start-up time
if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

TRIGGER = "ioflo.app.run"
BEHAVIOURS = "raetflo.behaving"
SCRIPT = "raetflo"  # the name of our command, and of raet's flo runner script
REFERENCE_SCRIPT_DOC = "raet floscript runner"  # how raet's script describes itself


def reference_script() -> bool:
    """Whether this process runs raet's ``raetflo`` script."""
    main = sys.modules.get("__main__")
    return (sys.argv[0].rsplit("/", 1)[-1] == SCRIPT
            and REFERENCE_SCRIPT_DOC in (getattr(main, "__doc__", None) or ""))


class ChainLoader:
    """Wraps the loader of the trigger module: once it has run, import the behaviours."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> object:
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        try:
            __import__(BEHAVIOURS)
        except Exception as ex:  # a broken raetflo must not break every ioflo run
            sys.stderr.write(f"raetflo: behaviours not loaded ({type(ex).__name__}: {ex}); "
                             f"'ioflo -b {BEHAVIOURS}' shows the full error\n")
            return
        if reference_script():
            from raetflo.command import main
            raise SystemExit(main())


class TriggerFinder:
    """A meta path finder that only answers for the trigger module, by asking the others."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> ModuleSpec | None:
        if fullname != TRIGGER:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = ChainLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once."""
    if not any(isinstance(finder, TriggerFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, TriggerFinder())
