"""The keep's raet 0.6.8 API (constructor, role data, loads/dumps, clears, stack keep methods)
gives what the reference gives for the same calls."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import refshim

refshim.install()

from raet.road import keeping as refkeeping  # noqa: E402
from raet.road import transacting as reftransacting  # noqa: E402

from raetflo.raeting import Acceptance, AutoMode  # noqa: E402
from raetflo.road import joining, transacting  # noqa: E402
from raetflo.road.keeping import KeepError, RoadKeep  # noqa: E402
from raetflo.road.stacking import RoadStack  # noqa: E402

VER, PUB = "3d" * 32, "4c" * 32
SIG, PRI = "1f" * 32, "2e" * 32
ROLE = {"role": "beta", "acceptance": Acceptance.accepted.value, "verhex": VER, "pubhex": PUB}
REMOTE = {"name": "beta", "uid": 2, "fuid": 5, "ha": ["127.0.0.1", 7531], "iha": None,
          "natted": None, "fqdn": "localhost", "dyned": None, "sid": 3, "main": True,
          "kind": 0, "joined": True, "role": "beta"}


def both(tmp_path: Path, **kwa: Any) -> tuple[Any, RoadKeep]:
    """A reference keep and ours, built with the same arguments below ``tmp_path``."""
    def place(impl: str) -> dict[str, Any]:
        return {key: str(tmp_path / impl / value) if key.endswith("dirpath") else value
                for key, value in kwa.items()}
    return refkeeping.RoadKeep(**place("ref")), RoadKeep(**place("ours"))


def relative(keep: Any, root: Path) -> dict[str, str]:
    """The keep's path attributes relative to ``root``."""
    names = ("dirpath", "localdirpath", "remotedirpath", "roledirpath", "localroledirpath",
             "remoteroledirpath", "localfilepath", "localrolepath")
    return {name: os.path.relpath(getattr(keep, name), root) for name in names}


def test_signature_matches_the_reference() -> None:
    import inspect
    ours = inspect.signature(RoadKeep.__init__).parameters
    theirs = inspect.signature(refkeeping.RoadKeep.__init__).parameters
    for name in ("stackname", "prefix", "auto", "baseroledirpath", "roledirpath"):
        assert list(ours).index(name) == list(theirs).index(name)
        assert ours[name].default == theirs[name].default
    assert RoadKeep.Ext == refkeeping.RoadKeep.Ext and RoadKeep.Auto == refkeeping.RoadKeep.Auto
    for name in ("LocalFields", "LocalDumpFields", "LocalRoleFields", "RemoteFields",
                 "RemoteDumpFields", "RemoteRoleFields"):
        assert getattr(RoadKeep, name) == getattr(refkeeping.RoadKeep, name)


@pytest.mark.parametrize("kwa", [
    {"stackname": "alpha", "basedirpath": "keep"},
    {"stackname": "alpha", "dirpath": "k", "baseroledirpath": "roles"},
    {"stackname": "alpha", "dirpath": "k", "roledirpath": "r/role"},
])
def test_layout_matches_the_reference(tmp_path: Path, kwa: dict[str, Any]) -> None:
    theirs, ours = both(tmp_path, **kwa)
    assert relative(ours, tmp_path / "ours") == relative(theirs, tmp_path / "ref")
    for path in relative(ours, tmp_path / "ours"):
        if not path.endswith("filepath") and path != "localrolepath":
            assert os.path.isdir(getattr(ours, path))


def test_role_files_in_a_separate_role_dir_are_owner_only(tmp_path: Path) -> None:
    keep = RoadKeep(stackname="alpha", dirpath=str(tmp_path / "k"),
                    baseroledirpath=str(tmp_path / "roles"))
    keep.dumpLocalRoleData({"role": "alpha", "sighex": SIG, "prihex": PRI})
    keep.dumpRemoteRoleData(ROLE, "beta")
    assert keep.localrolepath == str(tmp_path / "roles" / "alpha" / "role" / "local" /
                                     "role.json")
    assert os.stat(keep.localrolepath).st_mode & 0o777 == 0o600
    assert os.stat(keep.roledirpath).st_mode & 0o777 == 0o700
    assert keep.loadLocalRoleData() == {"role": "alpha", "sighex": SIG, "prihex": PRI}
    assert keep.loadAllRemoteRoleData() == {"beta": ROLE}
    assert not os.listdir(os.path.join(keep.dirpath, "remote"))


@pytest.mark.parametrize("auto", [None, 0, 1, 2, AutoMode.once])
def test_auto_is_the_value_given(tmp_path: Path, auto: Any) -> None:
    theirs, ours = both(tmp_path, dirpath="k", auto=auto)
    assert ours.auto is theirs.auto


def test_role_data_round_trip_matches_the_reference(tmp_path: Path) -> None:
    theirs, ours = both(tmp_path, dirpath="k")
    for keep in (theirs, ours):
        assert keep.loadLocalRoleData() == {"role": None, "sighex": None, "prihex": None}
        assert keep.loadRemoteRoleData("beta") == {"role": "beta", "acceptance": None,
                                                   "verhex": None, "pubhex": None}
        keep.dumpLocalRoleData({"role": "alpha", "sighex": SIG, "prihex": PRI})
        keep.dumpRemoteRoleData(dict(ROLE), "beta")
        keep.dumpRemoteData(dict(REMOTE), "beta")
    assert ours.loadLocalRoleData() == theirs.loadLocalRoleData()
    assert ours.loadRemoteRoleData("beta") == theirs.loadRemoteRoleData("beta")
    assert ours.loadRemoteRoleData("beta")["acceptance"] is Acceptance.accepted.value
    assert ours.loadRemoteData("beta") == theirs.loadRemoteData("beta")
    assert ours.loadAllRemoteData() == theirs.loadAllRemoteData()
    assert ours.loadAllRemoteRoleData() == theirs.loadAllRemoteRoleData()
    assert ours.loadLocalData() is None and theirs.loadLocalData() is None
    assert ours.verifyRemoteData(ROLE, remoteFields=ours.RemoteRoleFields)
    assert not ours.verifyLocalData(ROLE)


def test_status_values_are_plain_ints_as_the_reference(tmp_path: Path) -> None:
    theirs, ours = both(tmp_path, dirpath="k", auto=AutoMode.never.value)
    for keep in (theirs, ours):
        assert keep.statusRole("beta", VER, PUB) is Acceptance.pending.value
        keep.auto = AutoMode.once.value
        assert keep.statusRole("beta", VER, PUB) is Acceptance.accepted.value
        assert keep.statusRole("beta", "5b" * 32, PUB) is Acceptance.rejected.value
    assert ours.loadRemoteRoleData("beta") == theirs.loadRemoteRoleData("beta")


def test_clear_dirs(tmp_path: Path) -> None:
    keep = RoadKeep(dirpath=str(tmp_path / "k"))
    keep.clearLocalDir()
    keep.clearRemoteRoleDir()
    assert not os.path.exists(keep.localdirpath)
    assert not os.path.exists(keep.remoteroledirpath)
    keep.dumpRemoteData(dict(REMOTE), "beta")
    with pytest.raises(KeepError, match="Cannot remove"):
        keep.clearRemoteDir()


def test_static_dump_and_load(tmp_path: Path) -> None:
    path = str(tmp_path / "x.json")
    RoadKeep.dump({"a": b"bytes", "b": 1}, path)
    assert RoadKeep.load(path) == refkeeping.RoadKeep.load(path) == {"a": "bytes", "b": 1}
    assert os.stat(path).st_mode & 0o777 == 0o600
    (tmp_path / "bad.json").write_text("{")
    assert RoadKeep.load(str(tmp_path / "bad.json")) is None
    assert RoadKeep.load(str(tmp_path / "missing.json")) is None
    with pytest.raises(KeepError, match="ext"):
        RoadKeep.dump({}, str(tmp_path / "x.yaml"))


def test_explicit_unusable_dirpath_is_refused_not_replaced(tmp_path: Path) -> None:
    """Deliberately stricter than raet, which silently moves to ~/.raet/keep/<name>."""
    (tmp_path / "file").write_text("")
    with pytest.raises(KeepError, match="cannot be created"):
        RoadKeep(stackname="main", basedirpath=str(tmp_path / "file"))


@pytest.mark.parametrize("cls", ["Joiner", "Joinent"])
def test_join_redo_timers_match_the_reference(cls: str) -> None:
    ours, theirs = getattr(transacting, cls), getattr(reftransacting, cls)
    for name in ("RedoTimeoutMin", "RedoTimeoutMax", "PendRedoTimeout"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_join_redo_timers_set_on_the_class_are_honoured(tmp_path: Path, ha: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(joining.Joiner, "RedoTimeoutMin", 0.5)
    monkeypatch.setattr(joining.Joiner, "RedoTimeoutMax", 0.5)
    alpha = RoadStack(name="alpha", ha=ha(), dirpath=str(tmp_path / "alpha"))
    try:
        remote = alpha.newRemote(fuid=0, sid=0, ha=ha())
        alpha.addRemote(remote)
        alpha.join(uid=remote.uid)
        joiner = alpha.transactions[0]
        assert joiner.redoTimer.duration == 0.5 == joiner.redoTimeoutMin
        given = joining.Joiner(alpha, remote, redoTimeoutMin=2.0, pendRedoTimeout=9.0)
        assert (given.redoTimeoutMin, given.redoTimeoutMax, given.pendRedoTimeout) == \
            (2.0, 0.5, 9.0)
        assert given.redoTimer.duration == 2.0
    finally:
        alpha.close()
