"""The layers of ARCHITECTURE.md, checked on the source: the protocol cores import no I/O,
no ioflo and no driver module, at module level or inside functions."""
from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "raetflo"
CORES = ["raetflo.road.core", "raetflo.lane.core"]
FORBIDDEN = {"socket", "select", "selectors", "asyncio", "ioflo", "shutil", "time"}
DRIVERS = {"raetflo.stacking", "raetflo.road.stacking", "raetflo.road.keeping",
           "raetflo.road.keepfiles", "raetflo.road.transport", "raetflo.road.resolving",
           "raetflo.lane.stacking", "raetflo.lane.transport", "raetflo.aio", "raetflo.behaving",
           "raetflo.flo", "raetflo.road.trays", "raetflo.road.cryptoshare"}
# (module, import) pairs allowed, each with its reason
ALLOWED = {
    ("raetflo.road.estating", "raetflo.road.resolving"):
        "Estate.normalizeHost, the reference API's own lookup; the core never calls it",
    ("raetflo.road.packeting", "raetflo.road.trays"):
        "module __getattr__ for raet's packet classes, made only when raet code asks",
    ("raetflo.lane.paging", "raetflo.lane.pages"):
        "module __getattr__ for raet's page and book classes, made only when asked",
    ("raetflo.nacling", "time"): "time-stamped uuids, a helper of the reference API",
    ("raetflo.lane.yarding", "time"): "lane session ids are time-based, as on the wire",
    ("raetflo.raeting", "ioflo"): "the reference API's odict tables, made when first read",
}


def module_path(name: str) -> pathlib.Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imports(name: str, path: pathlib.Path) -> set[str]:
    """Modules ``name`` imports anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(branch.test) for node in ast.walk(branch)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names
                         if module_path(f"{module}.{alias.name}") is not None)
    return found


def reach(start: str) -> list[tuple[str, str]]:
    """Every (module, import) pair reachable from ``start`` through raetflo modules."""
    seen, todo, pairs = set(), [start], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_path(name)
        if path is None:
            continue
        for imported in sorted(imports(name, path)):
            pairs.append((name, imported))
            if imported.startswith("raetflo") and (name, imported) not in ALLOWED:
                todo.append(imported)
    return pairs


@pytest.mark.parametrize("core", CORES)
def test_a_core_reaches_no_io_no_ioflo_and_no_driver(core):
    bad = []
    for module, imported in reach(core):
        top = imported.split(".")[0]
        driver = any(imported == d or imported.startswith(d + ".") for d in DRIVERS)
        if (top in FORBIDDEN or driver) and (module, imported) not in ALLOWED \
                and (module, top) not in ALLOWED:
            bad.append(f"{module} imports {imported}")
    assert bad == []
