"""The road keep: location, layout, file format, permissions, loading, acceptance, clearing."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import msgpack
import pytest

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road import keeping
from raetflo.road.keeping import KeepError, RoadKeep

SIG, PRI = "1f" * 32, "2e" * 32
VER, PUB = "3d" * 32, "4c" * 32
LOCAL = {"name": "alpha", "uid": 1, "ha": ("127.0.0.1", 7530), "iha": None, "natted": None,
         "fqdn": "localhost", "dyned": None, "sid": 0, "puid": 2,
         "aha": ("0.0.0.0", 7530), "role": "alpha"}
LOCAL_ROLE = {"role": "alpha", "sighex": SIG, "prihex": PRI}
REMOTE = {"name": "beta", "uid": 2, "fuid": 5, "ha": ("127.0.0.1", 7531), "iha": None,
          "natted": None, "fqdn": "localhost", "dyned": None, "sid": 3, "main": True,
          "kind": 0, "joined": True, "role": "beta"}
REMOTE_ROLE = {"role": "beta", "acceptance": Acceptance.accepted, "verhex": VER,
               "pubhex": PUB}

REMOTE_JSON = """{
  "name": "beta",
  "uid": 2,
  "fuid": 5,
  "ha": [
    "127.0.0.1",
    7531
  ],
  "iha": null,
  "natted": null,
  "fqdn": "localhost",
  "dyned": null,
  "sid": 3,
  "main": true,
  "kind": 0,
  "joined": true,
  "role": "beta"
}"""


class Remote:
    """A minimal remote record for the acceptance calls."""

    def __init__(self, role: str = "beta", verhex: str = VER, pubhex: str = PUB) -> None:
        self.role, self.verhex, self.pubhex = role, verhex, pubhex
        self.acceptance: Acceptance | None = None


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Default keep base under tmp_path, HOME pointed at tmp_path/home."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(RoadKeep, "KeepDir", str(tmp_path / "tmp" / "raet" / "keep"))
    monkeypatch.setattr(RoadKeep, "AltKeepDir", None)
    return tmp_path


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def as_nobody(path: Path) -> None:
    """Make ``path`` owned by another user (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    os.chown(path, 65534, 65534)


# --------------------------------------------------------------------------- location

def test_default_location_and_layout(base: Path) -> None:
    keep = RoadKeep(stackname="alpha")
    path = base / "tmp" / "raet" / "keep" / "alpha"
    assert keep.dirpath == str(path)
    assert keep.localdirpath == str(path / "local")
    assert keep.remotedirpath == str(path / "remote")
    assert keep.roledirpath == str(path / "role")
    assert keep.localroledirpath == str(path / "role" / "local")
    assert keep.remoteroledirpath == str(path / "role" / "remote")
    assert keep.localfilepath == str(path / "local" / "estate.json")
    assert keep.localrolepath == str(path / "role" / "local" / "role.json")
    assert keep.remotefilepath("beta") == str(path / "remote" / "estate.beta.json")
    assert keep.remoterolepath("beta") == str(path / "role" / "remote" / "role.beta.json")
    assert (keep.auto, keep.ext, keep.prefix) == (AutoMode.never.value, "json", "estate")
    for directory in (base / "tmp" / "raet", base / "tmp" / "raet" / "keep", path,
                      path / "local", path / "remote", path / "role", path / "role" / "local",
                      path / "role" / "remote"):
        assert directory.is_dir()
        assert mode(directory) == 0o700


def test_unnamed_stack_uses_base(base: Path) -> None:
    assert RoadKeep(stackname="").dirpath == str(base / "tmp" / "raet" / "keep")
    assert RoadKeep().dirpath == str(base / "tmp" / "raet" / "keep" / "stack")


def test_explicit_dirpath_and_basedirpath(base: Path) -> None:
    assert RoadKeep(stackname="x", dirpath="~/k").dirpath == str(base / "home" / "k")
    keep = RoadKeep(stackname="x", basedirpath=str(base / "b"))
    assert keep.dirpath == str(base / "b" / "x")
    assert mode(base / "b" / "x") == 0o700
    assert not (base / "tmp").exists()


def test_prefix_ext_and_auto(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), prefix="node", ext="msgpack", auto=1)
    assert keep.localfilepath == str(base / "k" / "local" / "node.msgpack")
    assert keep.remotefilepath("b") == str(base / "k" / "remote" / "node.b.msgpack")
    assert keep.auto == 1 and type(keep.auto) is int  # the value given, as raet keeps it
    assert RoadKeep(dirpath=str(base / "k"), auto=AutoMode.once).auto is AutoMode.once
    with pytest.raises(KeepError, match="extension"):
        RoadKeep(dirpath=str(base / "k"), ext="yaml")


def test_fallback_when_default_is_not_a_directory(base: Path) -> None:
    (base / "tmp" / "raet").mkdir(parents=True)
    (base / "tmp" / "raet" / "keep").write_text("in the way")
    keep = RoadKeep(stackname="alpha")
    assert keep.dirpath == str(base / "home" / ".raet" / "keep" / "alpha")
    assert mode(base / "home" / ".raet") == 0o700
    assert mode(keep.localdirpath) == 0o700


def test_fallback_when_default_is_a_symlink(base: Path) -> None:
    (base / "tmp").mkdir()
    (base / "elsewhere").mkdir()
    (base / "tmp" / "raet").symlink_to(base / "elsewhere")
    keep = RoadKeep(stackname="alpha")
    assert keep.dirpath == str(base / "home" / ".raet" / "keep" / "alpha")
    assert list((base / "elsewhere").iterdir()) == []


def test_fallback_when_default_owned_by_another_user(base: Path) -> None:
    (base / "tmp" / "raet").mkdir(parents=True)
    as_nobody(base / "tmp" / "raet")
    keep = RoadKeep(stackname="alpha")
    assert keep.dirpath == str(base / "home" / ".raet" / "keep" / "alpha")
    assert not (base / "tmp" / "raet" / "keep").exists()


def test_fallback_when_keep_dir_owned_by_another_user(base: Path) -> None:
    path = base / "tmp" / "raet" / "keep" / "alpha"
    RoadKeep(stackname="alpha")
    as_nobody(path / "local")
    assert RoadKeep(stackname="alpha").dirpath == str(base / "home" / ".raet" / "keep" / "alpha")


def test_alt_base_is_configurable(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (base / "tmp").write_text("in the way")
    monkeypatch.setattr(RoadKeep, "AltKeepDir", str(base / "alt" / "keep"))
    assert RoadKeep(stackname="a").dirpath == str(base / "alt" / "keep" / "a")


def test_no_usable_location(base: Path) -> None:
    (base / "tmp").write_text("in the way")
    (base / "home" / ".raet").write_text("in the way")
    with pytest.raises(KeepError, match="No usable keep directory"):
        RoadKeep(stackname="alpha")


def test_explicit_dirpath_not_creatable(base: Path) -> None:
    (base / "file").write_text("")
    path = base / "file" / "keep"
    with pytest.raises(KeepError, match=f"'{path}' cannot be created"):
        RoadKeep(dirpath=str(path))
    with pytest.raises(KeepError, match="cannot be created"):
        RoadKeep(stackname="s", basedirpath=str(base / "file"))


def test_explicit_dirpath_not_usable(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(KeepError, match="not readable and writable"):
        RoadKeep(dirpath=str(base / "k"))


def test_explicit_dirpath_owned_by_another_user(base: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (base / "k").mkdir()
    monkeypatch.setattr(keeping, "effective_uid", lambda: os.geteuid() + 4321)
    with pytest.raises(KeepError, match=f"'{base / 'k'}' is owned by uid"):
        RoadKeep(dirpath=str(base / "k"))


def test_explicit_dirpath_owned_by_nobody(base: Path) -> None:
    (base / "k").mkdir()
    as_nobody(base / "k")
    with pytest.raises(KeepError, match="owned by uid 65534"):
        RoadKeep(dirpath=str(base / "k"))
    with pytest.raises(KeepError, match="owned by uid 65534"):
        RoadKeep(stackname="k", basedirpath=str(base))


def test_explicit_dirpath_symlink_refused(base: Path) -> None:
    (base / "real").mkdir()
    (base / "link").symlink_to(base / "real")
    with pytest.raises(KeepError, match="symlink"):
        RoadKeep(dirpath=str(base / "link"))
    (base / "k").mkdir()
    (base / "k" / "local").symlink_to(base / "real")
    with pytest.raises(KeepError, match=f"'{base / 'k' / 'local'}' is a symlink"):
        RoadKeep(dirpath=str(base / "k"))


def test_invalid_names(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    for bad in ("a/b", "a b", ".a", "a\0b", "", "..", None):
        with pytest.raises(KeepError):
            keep.dump_remote({**REMOTE, "name": bad})
        with pytest.raises(KeepError):
            keep.dump_remote_role({**REMOTE_ROLE, "role": bad})
        with pytest.raises(KeepError):
            keep.load_remote(bad)  # type: ignore[arg-type]
        with pytest.raises(KeepError):
            keep.load_remote_role(bad)  # type: ignore[arg-type]
        with pytest.raises(KeepError):
            keep.clear_remote(bad)  # type: ignore[arg-type]
    for bad in ("a/b", "a b", ".a"):
        with pytest.raises(KeepError):
            RoadKeep(stackname=bad)
        with pytest.raises(KeepError):
            RoadKeep(dirpath=str(base / "k"), prefix=bad)


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize("ext", ["json", "msgpack"])
def test_round_trip(base: Path, ext: str) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), ext=ext)
    assert keep.load_local() is None
    assert keep.load_remote("beta") is None
    assert keep.load_all_remotes() == {}
    keep.dump_local(LOCAL)
    keep.dump_local_role(LOCAL_ROLE)
    keep.dump_remote(REMOTE)
    keep.dump_remote_role(REMOTE_ROLE)
    local = keep.load_local()
    assert local == jsonable({**LOCAL, **LOCAL_ROLE})
    assert list(local) == list(LOCAL) + ["sighex", "prihex"]  # type: ignore[arg-type]
    remote = keep.load_remote("beta")
    assert remote == jsonable({**REMOTE, **REMOTE_ROLE})
    assert list(remote) == list(REMOTE) + ["acceptance", "verhex", "pubhex"]  # type: ignore
    assert remote["acceptance"] is Acceptance.accepted.value  # type: ignore[index]
    assert keep.load_all_remotes() == {"beta": remote}
    assert keep.load_remote_role("beta") == REMOTE_ROLE
    assert keep.errors == []


def test_exact_json_layout(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    keep.dump_remote_role(REMOTE_ROLE)
    keep.dump_local(LOCAL)
    keep.dump_local_role(LOCAL_ROLE)
    assert Path(keep.remotefilepath("beta")).read_text() == REMOTE_JSON
    assert Path(keep.remoterolepath("beta")).read_text() == (
        '{\n  "role": "beta",\n  "acceptance": 1,\n'
        f'  "verhex": "{VER}",\n  "pubhex": "{PUB}"\n}}')
    assert Path(keep.localrolepath).read_text() == (
        f'{{\n  "role": "alpha",\n  "sighex": "{SIG}",\n  "prihex": "{PRI}"\n}}')
    text = Path(keep.localfilepath).read_text()
    assert list(json.loads(text)) == list(LOCAL)
    assert text == json.dumps(jsonable(LOCAL), indent=2)


def test_msgpack_layout(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), ext="msgpack")
    keep.dump_remote(REMOTE)
    raw = Path(keep.remotefilepath("beta")).read_bytes()
    assert raw == msgpack.packb(jsonable(REMOTE), use_bin_type=False)
    assert b"\xa4name\xa4beta" in raw  # str as raw (fixstr), not bin
    assert list(msgpack.unpackb(raw, raw=False)) == list(REMOTE)


def test_dump_extra_fields_ignored_missing_fields_refused(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote({**REMOTE, **REMOTE_ROLE})
    assert Path(keep.remotefilepath("beta")).read_text() == REMOTE_JSON
    with pytest.raises(ValueError, match="fuid"):
        keep.dump_remote({k: v for k, v in REMOTE.items() if k != "fuid"})


def test_bytes_values_are_written_as_text(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_local_role({"role": b"alpha", "sighex": SIG.encode(), "prihex": PRI.encode()})
    assert json.loads(Path(keep.localrolepath).read_text()) == LOCAL_ROLE


def test_permissions_owner_only(base: Path) -> None:
    old = os.umask(0)
    try:
        keep = RoadKeep(dirpath=str(base / "k"))
        keep.dump_local(LOCAL)
        keep.dump_local_role(LOCAL_ROLE)
        keep.dump_remote(REMOTE)
        keep.dump_remote_role(REMOTE_ROLE)
    finally:
        os.umask(old)
    for root, dirs, files in os.walk(keep.dirpath):
        assert mode(root) == 0o700
        for name in files:
            assert mode(os.path.join(root, name)) == 0o600


def test_atomic_write_leaves_no_temp_files(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    keep.dump_remote({**REMOTE, "sid": 4})
    assert os.listdir(keep.remotedirpath) == ["estate.beta.json"]

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeepError, match="Cannot write keep file .*No space left"):
        keep.dump_remote({**REMOTE, "sid": 5})
    assert os.listdir(keep.remotedirpath) == ["estate.beta.json"]
    assert keep.load_remote("beta")["sid"] == 4  # type: ignore[index]


# --------------------------------------------------------------------------- loading

def test_local_without_role_file_refused(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_local(LOCAL)
    with pytest.raises(KeepError, match=f"'{keep.localrolepath}' is missing.*cleanlocal=True"):
        keep.load_local()


def test_local_wrong_fields_refused_and_kept(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_local_role(LOCAL_ROLE)
    Path(keep.localfilepath).write_text(json.dumps({**LOCAL, "extra": 1}))
    with pytest.raises(KeepError, match="wrong fields: has unexpected extra"):
        keep.load_local()
    assert os.path.exists(keep.localfilepath)
    assert os.path.exists(keep.localrolepath)


@pytest.mark.parametrize("ext, junk", [("json", b'{"name": '), ("json", b"[1, 2]"),
                                       ("json", b"\xff\xfe"), ("msgpack", b"\xc1"),
                                       ("msgpack", b"\x92\x01")])
def test_corrupt_local_raises(base: Path, ext: str, junk: bytes) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), ext=ext)
    keep.dump_local(LOCAL)
    Path(keep.localrolepath).write_bytes(junk)
    with pytest.raises(KeepError, match=f"'{keep.localrolepath}' is corrupt"):
        keep.load_local()
    Path(keep.localfilepath).write_bytes(junk)
    with pytest.raises(KeepError, match=f"'{keep.localfilepath}' is corrupt"):
        keep.load_local()
    assert os.path.exists(keep.localfilepath)


def test_unreadable_local_raises(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    os.mkdir(keep.localfilepath)
    with pytest.raises(KeepError, match=f"'{keep.localfilepath}' is unreadable"):
        keep.load_local()


def test_remote_without_role_file(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    assert keep.load_remote("beta") == jsonable(
        {**REMOTE, "acceptance": None, "verhex": None, "pubhex": None})
    assert keep.load_remote_role("gamma") == {"role": "gamma", "acceptance": None,
                                              "verhex": None, "pubhex": None}


@pytest.mark.parametrize("ext", ["json", "msgpack"])
def test_corrupt_remote_set_aside_and_reported(base: Path, ext: str) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), ext=ext)
    keep.dump_remote(REMOTE)
    keep.dump_remote({**REMOTE, "name": "gamma", "role": "gamma"})
    keep.dump_remote({**REMOTE, "name": "delta", "role": "delta"})
    keep.dump_remote_role({**REMOTE_ROLE, "role": "delta", "acceptance": 7})
    bad = Path(keep.remotefilepath("gamma"))
    bad.write_bytes(b"\xc1 not a keep file")
    remotes = keep.load_all_remotes()
    assert list(remotes) == ["beta"]  # delta's keys were lost with its role file
    assert len(keep.errors) == 3
    assert "bad acceptance 7" in keep.errors[0]
    assert "the file of its role 'delta' was damaged" in keep.errors[1]
    assert f"'{bad}' is corrupt" in keep.errors[2]
    assert not bad.exists() and Path(f"{bad}.corrupt").exists()
    assert keep.load_remote("gamma") is None
    keep.load_all_remotes()
    assert keep.errors == []


def test_remote_not_a_regular_file_set_aside(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    os.mkdir(keep.remotefilepath("gamma"))
    os.mkfifo(keep.remotefilepath("delta"))  # opening it must not block
    assert list(keep.load_all_remotes()) == ["beta"]
    assert len(keep.errors) == 2 and all("not a regular file" in e for e in keep.errors)
    assert sorted(os.listdir(keep.remotedirpath)) == [
        "estate.beta.json", "estate.delta.json.corrupt", "estate.gamma.json.corrupt"]


def test_remote_wrong_fields_set_aside(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    path = Path(keep.remotedirpath) / "estate.gamma.json"
    path.write_text(json.dumps({"name": "gamma", "role": "gamma"}))
    assert list(keep.load_all_remotes()) == ["beta"]
    assert len(keep.errors) == 1 and "wrong fields" in keep.errors[0]
    assert not path.exists() and Path(f"{path}.corrupt").exists()


def test_load_all_ignores_other_files(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_remote(REMOTE)
    remote = Path(keep.remotedirpath)
    for name in ("estate.json", "estate.x.msgpack", "other.x.json", ".estate.x.json.tmp"):
        (remote / name).write_text("junk")
    assert list(keep.load_all_remotes()) == ["beta"]
    assert keep.errors == []


# --------------------------------------------------------------------------- acceptance

def role_file(keep: RoadKeep, role: str = "beta") -> dict[str, Any] | None:
    path = Path(keep.remoterolepath(role))
    return json.loads(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("auto, first, again, changed, after_reject", [
    (AutoMode.always, Acceptance.accepted, Acceptance.accepted, Acceptance.accepted,
     Acceptance.accepted),
    (AutoMode.once, Acceptance.accepted, Acceptance.accepted, Acceptance.rejected,
     Acceptance.rejected),
    (AutoMode.never, Acceptance.pending, Acceptance.pending, Acceptance.rejected,
     Acceptance.rejected),
])
def test_status_role_per_auto_mode(base: Path, auto: AutoMode, first: Acceptance,
                                   again: Acceptance, changed: Acceptance,
                                   after_reject: Acceptance) -> None:
    keep = RoadKeep(dirpath=str(base / "k"), auto=auto)
    assert keep.status_role("beta", VER, PUB, dump=False) is first.value
    assert role_file(keep) is None
    assert keep.statusRole("beta", VER, PUB) is first.value
    assert role_file(keep) == {"role": "beta", "acceptance": first, "verhex": VER,
                               "pubhex": PUB}
    assert keep.status_role("beta", VER, PUB) is again.value
    new = "5b" * 32
    assert keep.status_role("beta", new, PUB) is changed.value
    stored = role_file(keep)
    if changed is Acceptance.rejected:
        assert stored == {"role": "beta", "acceptance": first, "verhex": VER, "pubhex": PUB}
    else:
        assert stored == {"role": "beta", "acceptance": 1, "verhex": new, "pubhex": PUB}
    remote = Remote()
    keep.reject_remote(remote)
    assert remote.acceptance is Acceptance.rejected.value
    assert keep.status_remote(remote) is after_reject.value
    assert remote.acceptance is after_reject.value
    assert role_file(keep)["acceptance"] == after_reject  # type: ignore[index]


def test_never_mode_operator_accept(base: Path) -> None:
    keep = RoadKeep(dirpath=str(base / "k"))
    remote = Remote()
    assert keep.statusRemote(remote) is Acceptance.pending.value
    keep.acceptRemote(remote)
    assert remote.acceptance is Acceptance.accepted.value
    assert keep.status_role("beta", VER, PUB) is Acceptance.accepted.value
    keep.pendRemote(remote)
    assert remote.acceptance is Acceptance.pending.value
    assert role_file(keep)["acceptance"] == 0  # type: ignore[index]
    keep.rejectRemote(remote)
    assert keep.judge_role("beta", VER, PUB).reason == "Never keys already rejected"


# --------------------------------------------------------------------------- clearing

def filled(base: Path) -> RoadKeep:
    keep = RoadKeep(dirpath=str(base / "k"))
    keep.dump_local(LOCAL)
    keep.dump_local_role(LOCAL_ROLE)
    for name in ("beta", "gamma"):
        keep.dump_remote({**REMOTE, "name": name, "role": name})
        keep.dump_remote_role({**REMOTE_ROLE, "role": name})
    return keep


def test_clear_files(base: Path) -> None:
    keep = filled(base)
    keep.clear_remote("beta")
    keep.clear_remote_role("gamma")
    assert os.listdir(keep.remotedirpath) == ["estate.gamma.json"]
    assert os.listdir(keep.remoteroledirpath) == ["role.beta.json"]
    keep.clear_local()
    assert keep.load_local() is None
    assert os.path.exists(keep.localrolepath)
    keep.clear_local_role()
    assert not os.path.exists(keep.localrolepath)
    keep = filled(base)
    keep.clear_all_remotes()
    keep.clear_all_remote_roles()
    assert os.listdir(keep.remotedirpath) == os.listdir(keep.remoteroledirpath) == []
    keep = filled(base)
    keep.clear_all()
    for root, dirs, files in os.walk(keep.dirpath):
        assert files == []
    assert os.path.isdir(keep.remoteroledirpath)


def test_clear_all_dir_then_lazy_recreate(base: Path) -> None:
    keep = filled(base)
    keep.clearAllDir()
    assert not os.path.exists(keep.dirpath)
    assert keep.load_local() is None
    assert keep.load_all_remotes() == {}
    keep.clear_all()
    keep.clear_all_dir()
    keep.dump_remote(REMOTE)
    assert mode(keep.dirpath) == mode(keep.remotedirpath) == 0o700
    assert keep.load_remote("beta") is not None


def test_clear_all_dir_refuses_symlink(base: Path) -> None:
    keep = filled(base)
    os.rename(keep.dirpath, base / "real")
    os.symlink(base / "real", keep.dirpath)
    with pytest.raises(KeepError, match="symlink"):
        keep.clear_all_dir()
    assert (base / "real" / "local" / "estate.json").exists()
    with pytest.raises(KeepError, match="symlink"):
        keep.dump_local({**LOCAL, "sid": 1})  # unchanged data is not written at all
