"""Keep safety: an identity is never silently replaced, damaged remote files never lock a peer
out, unsafe modes are repaired, a swapped-in symlink is never written through, bad names are
refused."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road import keeping
from raetflo.road.keeping import MAX_NAME_BYTES, KeepError, RoadKeep, check_name
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack, StackError

from .conftest import ALWAYS, NEVER, ONCE, idle, only, provisional, serve, stat as count

A, P = Acceptance.accepted, Acceptance.pending
SIG, PRI = "1f" * 32, "2e" * 32
VER, PUB = "3d" * 32, "4c" * 32
BAD_HEX = "zz" * 32
REMOTE = {"name": "beta", "uid": 2, "fuid": 5, "ha": ["127.0.0.1", 7531], "iha": None,
          "natted": None, "fqdn": "localhost", "dyned": None, "sid": 3, "main": True,
          "kind": 0, "joined": True, "role": "beta"}
REMOTE_ROLE = {"role": "beta", "acceptance": 1, "verhex": VER, "pubhex": PUB}


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def rewrite_json(path: str, **changes: object) -> None:
    data = json.loads(Path(path).read_text())
    Path(path).write_text(json.dumps({**data, **changes}))


def restart_peer(road, other: RoadStack) -> RoadStack:
    """``other`` again with its identity, but no record of any main: it will join vacuously."""
    return road.restart(other, cleanremote=True, auto=ALWAYS)


def rejoin(main: RoadStack, other: RoadStack, duration: float = 3.0) -> RemoteEstate:
    remote = provisional(other, main)
    other.join(uid=remote.uid)
    serve([main, other], duration, until=idle(main, other))
    return remote


def joined_pair(road, auto: int) -> tuple[RoadStack, RoadStack]:
    main = road("main", main=True, auto=auto)
    other = road("other", auto=ALWAYS)
    rejoin(main, other, duration=6.0)
    if auto == NEVER:
        main.keep.acceptRemote(only(main))
        other = restart_peer(road, other)
        rejoin(main, other)
    assert only(main).joined is True
    return main, other


# ------------------------------------------------------------------ the local identity

def local_role_damaged(road, damage) -> tuple[RoadStack, str, dict]:
    """A stack whose local role file was damaged by ``damage(path)`` after it was saved."""
    stack = road("alpha")
    path = stack.keep.localrolepath
    saved = json.loads(Path(path).read_text())
    stack.close()
    damage(path)
    return stack, path, saved


@pytest.mark.parametrize("damage, problem", [
    (os.unlink, "is missing"),
    (lambda path: Path(path).write_text("{}"), "lacks"),
    (lambda path: rewrite_json(path, prihex=None), "prihex"),
    (lambda path: Path(path).write_text(json.dumps({"role": "alpha", "sighex": SIG})), "prihex"),
    (lambda path: rewrite_json(path, sighex=BAD_HEX), "sighex"),
    (lambda path: rewrite_json(path, prihex="ab"), "prihex"),
])
def test_damaged_local_role_never_makes_a_new_identity(road, damage, problem):
    stack, path, saved = local_role_damaged(road, damage)
    damaged = Path(path).read_bytes() if os.path.exists(path) else None
    with pytest.raises(StackError) as info:
        road.restart(stack)
    message = str(info.value)
    assert path in message and problem in message
    assert "cleanlocal=True" in message  # says how to make a new identity on purpose
    assert isinstance(info.value.__cause__, KeepError)
    # nothing was replaced: both files are as they were, for the operator to restore
    assert os.path.exists(stack.keep.localfilepath)
    assert (Path(path).read_bytes() if os.path.exists(path) else None) == damaged


def test_new_identity_only_on_purpose(road):
    stack, path, saved = local_role_damaged(road, os.unlink)
    again = road.restart(stack, cleanlocal=True)
    assert again.local.signer.keyhex != saved["sighex"]
    assert json.loads(Path(path).read_text())["sighex"] == again.local.signer.keyhex


def test_intact_local_identity_restored(road):
    stack = road("alpha")
    keys = (stack.local.signer.keyhex, stack.local.priver.keyhex)
    again = road.restart(stack)
    assert (again.local.signer.keyhex, again.local.priver.keyhex) == keys


def test_damaged_local_estate_refused_not_deleted(road):
    stack = road("alpha")
    stack.close()
    rewrite_json(stack.keep.localfilepath, extra=1)
    with pytest.raises(StackError, match=f"'{stack.keep.localfilepath}'.*wrong fields"):
        road.restart(stack)
    assert os.path.exists(stack.keep.localfilepath)


def test_bad_local_hex_is_a_keep_error_naming_the_file(tmp_path):
    keep = RoadKeep(dirpath=str(tmp_path / "k"))
    keep.dump_local({"name": "a", "uid": 1, "ha": ["127.0.0.1", 1], "iha": None,
                     "natted": None, "fqdn": "x", "dyned": None, "sid": 0, "puid": 1,
                     "aha": ["127.0.0.1", 1], "role": "a"})
    keep.dump_local_role({"role": "a", "sighex": SIG, "prihex": BAD_HEX})
    with pytest.raises(KeepError, match=f"'{keep.localrolepath}'.*prihex"):
        keep.load_local()


# ------------------------------------------------------------------ damaged remote files

def test_bad_remote_hex_is_set_aside_not_raised(road):
    main, other = joined_pair(road, ALWAYS)
    main.close()
    path = main.keep.remoterolepath("other")
    rewrite_json(path, verhex=BAD_HEX)
    again = road.restart(main, main=True, auto=ALWAYS)  # a bare CryptoError escaped here
    assert os.path.exists(f"{path}.corrupt") and mode(f"{path}.corrupt") == 0o600
    assert any(path in error and "verhex" in error for error in again.keep.errors)
    # the estate whose keys were lost is set aside too: the peer joins afresh
    assert count(again, "keep_file_damaged") == 2 and not again.remotes
    assert again.keep.load_remote_role("other")["verhex"] is None
    rejoin(again, restart_peer(road, other))
    assert only(again).joined is True and only(again).acceptance == A


def test_bad_remote_hex_at_keep_level(tmp_path):
    keep = RoadKeep(dirpath=str(tmp_path / "k"), auto=AutoMode.always)
    keep.dump_remote(REMOTE)
    keep.dump_remote_role({**REMOTE_ROLE, "pubhex": BAD_HEX})
    assert keep.load_remote("beta") is None
    assert len(keep.errors) == 2 and "pubhex" in keep.errors[0]
    assert os.path.exists(f"{keep.remotefilepath('beta')}.corrupt")
    assert keep.status_role("beta", VER, PUB) is A.value


@pytest.mark.parametrize("junk", ["not json", "[1, 2]", json.dumps({"role": "other"})])
def test_damaged_remote_estate_does_not_lock_the_peer_out(road, junk):
    main, other = joined_pair(road, ONCE)
    main.close()
    path = main.keep.remotefilepath("other")
    Path(path).write_text(junk)
    os.chmod(path, 0o644)
    again = road.restart(main, main=True, auto=ONCE)
    assert not again.remotes
    rejoin(again, restart_peer(road, other))  # role file intact: same keys, accepted
    assert only(again).joined is True and only(again).acceptance == A
    assert json.loads(Path(path).read_text())["name"] == "other"
    assert len(again.keep.errors) == 1 and path in again.keep.errors[0]
    assert count(again, "keep_file_damaged") == 1
    assert os.path.exists(f"{path}.corrupt") and mode(f"{path}.corrupt") == 0o600


@pytest.mark.parametrize("auto, outcome", [(ALWAYS, A), (ONCE, P), (NEVER, P)])
def test_damaged_role_file_never_accepts_changed_keys(road, tmp_path, auto, outcome):
    main, other = joined_pair(road, auto)
    main.close()
    path = main.keep.remoterolepath("other")
    Path(path).write_text("\x00 damaged")
    again = road.restart(main, main=True, auto=auto)
    # an impostor with new keys under the same name and role
    impostor = road("other", dirpath=str(tmp_path / "impostor"), auto=ALWAYS)
    rejoin(again, impostor, duration=6.0)
    assert only(again).acceptance == outcome
    assert (only(again).joined is True) == (outcome == A)
    assert os.path.exists(f"{path}.corrupt")
    assert count(again, "keep_file_damaged") == 2  # the role file and the estate file
    # asking again does not turn the pending role into an accepted one under once
    impostor = restart_peer(road, impostor)
    rejoin(again, impostor, duration=6.0)
    assert only(again).acceptance == outcome
    if outcome == P:  # the operator decides
        again.keep.acceptRemote(only(again))
        rejoin(again, restart_peer(road, impostor))
        assert only(again).joined is True and only(again).acceptance == A


def test_role_damaged_while_running_is_pending_under_once(tmp_path):
    keep = RoadKeep(dirpath=str(tmp_path / "k"), auto=AutoMode.once)
    keep.dump_remote_role(REMOTE_ROLE)
    path = keep.remoterolepath("beta")
    Path(path).write_bytes(b"\xc1\xc1")
    assert keep.status_role("beta", "5b" * 32, PUB) is P.value  # raised KeepError before
    assert os.path.exists(f"{path}.corrupt")
    assert keep.status_role("beta", "5b" * 32, PUB) is P.value  # the pending record stays pending
    assert len(keep.errors) == 1 and path in keep.errors[0]
    keep.clear_remote_role("beta")  # the operator starts the role afresh
    assert not os.path.exists(f"{path}.corrupt")
    assert keep.status_role("beta", "5b" * 32, PUB) is A.value


def test_damage_hook_reports_every_set_aside(tmp_path):
    keep = RoadKeep(dirpath=str(tmp_path / "k"), auto=AutoMode.once)
    seen: list[str] = []
    keep.on_damage = seen.append
    keep.dump_remote_role(REMOTE_ROLE)
    Path(keep.remoterolepath("beta")).write_text("junk")
    keep.status_role("beta", VER, PUB)
    assert seen == keep.errors and len(seen) == 1


# ------------------------------------------------------------------ modes and ownership

def test_loose_keep_repaired(tmp_path):
    path = tmp_path / "k"
    RoadKeep(dirpath=str(path)).dump_remote(REMOTE)
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o777)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666)
    keep = RoadKeep(dirpath=str(path))
    for root, dirs, files in os.walk(path):
        assert mode(root) == 0o700, root
    assert keep.load_remote("beta") is not None
    assert mode(keep.remotefilepath("beta")) == 0o600
    os.chmod(keep.remotedirpath, 0o777)
    keep.dump_remote({**REMOTE, "sid": 9})  # repaired when written too
    assert mode(keep.remotedirpath) == 0o700
    os.chmod(keep.remotefilepath("beta"), 0o644)
    keep.dump_remote({**REMOTE, "sid": 9})  # unchanged, but not left loose
    assert mode(keep.remotefilepath("beta")) == 0o600


def test_keep_file_owned_by_another_user_refused(tmp_path, monkeypatch):
    keep = RoadKeep(dirpath=str(tmp_path / "k"))
    keep.dump_remote(REMOTE)
    monkeypatch.setattr(keeping, "effective_uid", lambda: os.geteuid() + 4321)
    with pytest.raises(KeepError, match="owned by uid"):
        keep.load_remote("beta")
    with pytest.raises(KeepError, match="owned by uid"):
        keep.dump_remote({**REMOTE, "sid": 8})


# ------------------------------------------------------------------ symlinks after start-up

def snapshot(top: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("swapped, write, read", [
    ("remote", lambda keep, n: keep.dump_remote({**REMOTE, "sid": n}),
     lambda keep: keep.load_remote("beta")),
    ("role", lambda keep, n: keep.dump_remote_role({**REMOTE_ROLE, "acceptance": n % 3}),
     lambda keep: keep.load_remote_role("beta")),
])
def test_symlink_swapped_in_after_start_is_never_written_through(tmp_path, swapped, write,
                                                                 read):
    keep = RoadKeep(dirpath=str(tmp_path / "k"))
    keep.dump_remote(REMOTE)
    keep.dump_remote_role(REMOTE_ROLE)
    write(keep, 4)  # the directories have been checked and used
    outside = tmp_path / "outside"
    os.rename(os.path.join(keep.dirpath, swapped), outside)
    os.symlink(outside, os.path.join(keep.dirpath, swapped))
    before = snapshot(outside)
    with pytest.raises(KeepError, match="symlink"):
        write(keep, 5)
    with pytest.raises(KeepError, match="symlink"):
        read(keep)
    assert snapshot(outside) == before


# ------------------------------------------------------------------ names

def test_bad_names_refused(tmp_path):
    keep = RoadKeep(dirpath=str(tmp_path / "k"), ext="msgpack")
    too_long = ["x" * (MAX_NAME_BYTES + 1), "\u00e9" * (MAX_NAME_BYTES // 2 + 1)]
    for bad in ["..", ".", "a/b", "a\0b", "a\nb", "a\x7fb", "a\x9bb", "a\u202eb", *too_long]:
        with pytest.raises(KeepError):
            check_name(bad)
        with pytest.raises(KeepError):
            keep.dump_remote({**REMOTE, "name": bad})
        with pytest.raises(KeepError):
            keep.dump_remote_role({**REMOTE_ROLE, "role": bad})
    longest = "x" * MAX_NAME_BYTES
    assert check_name(longest) == longest
    keep.dump_remote({**REMOTE, "name": longest, "role": longest})
    keep.dump_remote_role({**REMOTE_ROLE, "role": longest})
    assert keep.load_remote(longest)["verhex"] == VER
    assert len(os.path.basename(keep.remotefilepath(longest)).encode()) <= 255


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("field, value", [("uid", "x"), ("fuid", None), ("sid", [1]),
                                          ("uid", True), ("name", None), ("ha", "here"),
                                          ("ha", ["127.0.0.1", "7530"])])
def test_a_remote_estate_with_a_field_of_the_wrong_type_is_set_aside(road, field, value):
    main, other = joined_pair(road, ONCE)
    main.close()
    path = main.keep.remotefilepath("other")
    rewrite_json(path, **{field: value})
    again = road.restart(main, main=True, auto=ONCE)  # a TypeError escaped here
    assert not again.remotes and os.path.exists(f"{path}.corrupt")
    assert any(path in error and field in error for error in again.keep.errors)
    rejoin(again, restart_peer(road, other))
    assert only(again).joined is True and only(again).acceptance == A


def test_deeply_nested_keep_files_are_damaged_not_a_recursion_error(road):
    main, other = joined_pair(road, ONCE)
    main.close()
    path = main.keep.remotefilepath("other")
    Path(path).write_text(DEEP)
    again = road.restart(main, main=True, auto=ONCE)
    assert not again.remotes and os.path.exists(f"{path}.corrupt")
    again.close()
    Path(again.keep.localfilepath).write_text(DEEP)
    with pytest.raises(StackError, match="corrupt"):
        road.restart(again)


@pytest.mark.parametrize("field, value", [("uid", "x"), ("puid", "x"), ("name", None),
                                          ("sid", 1.5)])
def test_a_local_estate_with_a_field_of_the_wrong_type_is_refused(road, field, value):
    stack = road("alpha")
    stack.close()
    rewrite_json(stack.keep.localfilepath, **{field: value})
    with pytest.raises(StackError, match=f"'{stack.keep.localfilepath}'.*{field}"):
        road.restart(stack)


HOLD = """
import sys, time
from raetflo.road.stacking import RoadStack
stack = RoadStack(name="held", ha=("127.0.0.1", 0), dirpath=sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
stack.close()
"""


def test_a_keep_another_process_holds_is_refused_until_it_lets_go(tmp_path, ha):
    import subprocess
    import sys
    keep = str(tmp_path / "keep")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, keep], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StackError, match="in use by another process: stop that stack"):
            RoadStack(name="held", ha=ha(), dirpath=keep)
    finally:
        holder.communicate("\n", timeout=20)
    again = RoadStack(name="held", ha=ha(), dirpath=keep)  # let go: ours now
    twin = RoadStack(name="held", ha=ha(), dirpath=keep)  # stacks of one process share it
    twin.close()
    again.close()


def test_a_closed_stack_lets_its_keep_go_for_another_process(tmp_path, ha):
    import subprocess
    import sys
    keep = str(tmp_path / "keep")
    RoadStack(name="held", ha=ha(), dirpath=keep).close()
    other = subprocess.run([sys.executable, "-c", HOLD, keep], input="\n",
                           capture_output=True, text=True, timeout=20)
    assert other.returncode == 0 and other.stdout.strip() == "held", other.stderr


def test_a_local_role_file_of_another_user_is_not_met_with_a_new_identity(tmp_path,
                                                                            monkeypatch):
    """Its owner can give it back; the error says so, not to make new keys."""
    keep = RoadKeep(dirpath=str(tmp_path / "k"))
    stack = RoadStack(name="alpha", ha=("127.0.0.1", 0), keep=keep)
    stack.close()
    monkeypatch.setattr(keeping, "effective_uid", lambda: os.geteuid() + 4321)
    with pytest.raises(KeepError) as refused:
        keep.load_local()
    message = str(refused.value)
    assert "owned by uid" in message and "chown" in message and "cleanlocal" not in message


def test_restoring_records_already_held_raises_and_leaves_the_keep_alone(tmp_path, ha):
    """raet raises StackError when a record to restore is held already; the files were set
    aside as damaged (renamed .corrupt), so the next start had no remotes at all."""
    from raetflo.road.estating import RemoteEstate
    from raetflo.road.stacking import RoadStack
    from raetflo.stacking import StackError
    dirpath = str(tmp_path / "alpha")
    stack = RoadStack(name="alpha", ha=ha(), dirpath=dirpath)
    for i, name in enumerate(["r1", "r2"]):
        stack.addRemote(RemoteEstate(stack=stack, name=name, ha=("127.0.0.1", 17710 + i),
                                     verkey=b"%02d" % (i + 1) * 32,
                                     pubkey=b"%02d" % (i + 5) * 32), dump=True)
    remote_dir = os.path.join(dirpath, "remote")
    before = sorted(os.listdir(remote_dir))
    with pytest.raises(StackError, match="r1"):
        stack.restoreRemotes()
    with pytest.raises(StackError, match="r2"):
        stack.restoreRemote("r2")
    assert sorted(os.listdir(remote_dir)) == before
    assert not stack.stats.get("failed_restore_remote")
    stack.removeAllRemotes(clear=False)
    stack.restoreRemotes()  # the way to restore them again
    assert sorted(stack.nameRemotes) == ["r1", "r2"]
    ha_, _ = stack.ha, stack.close()
    again = RoadStack(name="alpha", ha=ha_, dirpath=dirpath)
    assert sorted(again.nameRemotes) == ["r1", "r2"]
    again.close()


def test_a_stack_without_a_name_keeps_its_identity_in_the_base_directory(tmp_path, ha):
    """As raet's: an unnamed stack's keep is the base directory itself, so a restart finds
    the same name and keys (each start made a new name, keys and directory)."""
    from raetflo.road.stacking import RoadStack
    base = str(tmp_path / "base")
    first = RoadStack(ha=ha(), basedirpath=base, main=True)
    name, verhex, address = first.name, first.local.signer.verhex, first.ha
    assert first.keep.dirpath == base
    first.close()
    again = RoadStack(ha=address, basedirpath=base)
    assert (again.name, again.local.signer.verhex) == (name, verhex)
    kept = sorted(entry for entry in os.listdir(base) if not entry.startswith("."))
    assert kept == ["local", "remote", "role"]
    again.close()
