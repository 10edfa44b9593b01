"""A keep that holds many remotes: a restart writes nothing that did not change, the keep
writes of one service pass are synced together, and a batch interrupted anywhere leaves
every file whole (its old content or its new)."""
from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import pytest

from raetflo import nacling
from raetflo.raeting import Acceptance
from raetflo.road import keepfiles, keeplock
from raetflo.road.estating import WILDCARD_HOSTS, EstateError, RemoteEstate, normalize_ha
from raetflo.road.keepfiles import KeepError, KeepFiles
from raetflo.road.keeping import RoadKeep

from .conftest import ALWAYS, idle, joined, serve

MINIONS = 300


def add_minions(stack, count: int) -> list[RemoteEstate]:
    """Give ``stack`` ``count`` joined, accepted records, each with a role of its own."""
    verhex, pubhex = nacling.Signer().verhex, nacling.Privateer().pubhex
    return [stack.addRemote(RemoteEstate(
        stack=stack, name=f"minion{index:04d}", fuid=index + 2, sid=1, joined=True,
        ha=("127.0.0.1", 20000 + index), acceptance=Acceptance.accepted.value,
        verkey=verhex, pubkey=pubhex)) for index in range(count)]


def files_of(top: str) -> dict[str, tuple[int, int, bytes]]:
    """Every file below ``top``: its inode, modification time and content."""
    found = {}
    for path in sorted(Path(top).rglob("*")):
        if path.is_file() and path.name != keeplock.LOCK_NAME:
            info = path.stat()
            found[str(path)] = (info.st_ino, info.st_mtime_ns, path.read_bytes())
    return found


def count_syncs(monkeypatch) -> list[str]:
    """Record every fsync and file system sync the keep makes."""
    calls: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), fsync(fd))[1])
    sync = keepfiles.sync_filesystem
    monkeypatch.setattr(keepfiles, "sync_filesystem",
                        lambda fd: (calls.append("syncfs"), sync(fd))[1])
    return calls


@pytest.fixture
def big_main(road):
    """A main whose keep holds MINIONS remotes."""
    main = road("main", main=True, auto=ALWAYS)
    for remote in add_minions(main, MINIONS):
        main.persist_remote(remote)
    main.flush()
    return main


# ------------------------------------------------------------------ restart

def test_a_restart_writes_no_keep_file(road, big_main):
    before = files_of(big_main.keep.dirpath)
    assert len(before) == 2 * MINIONS + 2
    again = road.restart(big_main)
    again.serviceAll()
    assert len(again.remotes) == MINIONS
    assert files_of(again.keep.dirpath) == before


def test_unchanged_records_loaded_from_a_keep_are_not_rewritten(big_main):
    keep = RoadKeep(dirpath=big_main.keep.dirpath)
    loaded = keep.load_all_remotes()
    before = files_of(keep.dirpath)
    for data in loaded.values():
        keep.dump_remote(data)
        keep.dump_remote_role(data)
    assert files_of(keep.dirpath) == before
    changed = {**loaded["minion0007"], "sid": 9}
    keep.dump_remote(changed)
    assert keep.load_remote("minion0007")["sid"] == 9


def test_loading_every_remote_opens_each_directory_once(big_main, monkeypatch):
    keep = RoadKeep(dirpath=big_main.keep.dirpath)
    opened = []
    real = os.open
    monkeypatch.setattr(os, "open", lambda *args, **kwa: (opened.append(args[0]),
                                                          real(*args, **kwa))[1])
    assert len(keep.load_all_remotes()) == MINIONS
    assert len(opened) <= 2 * MINIONS + 8, len(opened)  # the files, and a few directories


def test_a_restored_session_is_in_the_keep_before_a_packet_carries_it(road):
    main, other = road("main", main=True, auto=ALWAYS), road("other", auto=ALWAYS)
    joined(main, other, cascade=True)
    other = road.restart(other)
    remote = next(iter(other.remotes.values()))
    sent = []
    send = other.server.send

    def checked(data, ha):
        sent.append((remote.sid, other.keep.load_remote(remote.name)["sid"]))
        return send(data, ha)

    other.server.send = checked
    other.allow(uid=remote.uid)
    serve([main, other], 3.0, until=idle(main, other))
    assert remote.allowed and sent
    assert all(memory == disk for memory, disk in sent), sent


def test_a_restored_record_untouched_since_keeps_its_old_file(road, big_main):
    path = big_main.keep.remotefilepath("minion0003")
    before = Path(path).read_bytes()
    again = road.restart(big_main)
    serve([again], 1.0)
    assert Path(path).read_bytes() == before
    assert again.nameRemotes["minion0003"].sid == 2  # a new session, used by nothing yet


def test_a_restart_makes_no_key_pairs(road, big_main, monkeypatch):
    made = []
    generate = nacling.PrivateKey.generate
    monkeypatch.setattr(nacling.PrivateKey, "generate",
                        classmethod(lambda cls: (made.append(1), generate())[1]))
    again = road.restart(big_main)
    again.serviceAll()
    assert len(again.remotes) == MINIONS and not made  # a record's pair waits for its allow


def test_a_restart_parses_no_dotted_quad_the_slow_way(road, big_main, monkeypatch):
    parsed = []
    parse = ipaddress.ip_address
    monkeypatch.setattr(ipaddress, "ip_address", lambda host: (parsed.append(host),
                                                               parse(host))[1])
    again = road.restart(big_main)
    assert len(again.remotes) == MINIONS and len(parsed) < 10, len(parsed)


@pytest.mark.parametrize("host", ["1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.0.1",
                                  "01.2.3.4", "1.2.3.00", "1.2.3", "1.2.3.4.5", "127.1",
                                  "256.1.1.1", "1.2.3.1000", "1..3.4", "+1.2.3.4",
                                  "1.2.3.\u0664", "::1", "::ffff:1.2.3.4"])
def test_addresses_are_normalized_as_ipaddress_does(host):
    try:
        expected = str(ipaddress.ip_address(host))
        expected = WILDCARD_HOSTS.get(expected, expected)
    except ValueError:
        expected = None
    try:
        got = normalize_ha((host, 7530))[0]
    except EstateError:
        got = None
    assert got == (expected if host != "::ffff:1.2.3.4" else "1.2.3.4")


# ------------------------------------------------------------------ batches

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_the_writes_of_one_pass_are_synced_together(road, monkeypatch):
    main = road("main", main=True, auto=ALWAYS)
    remotes = add_minions(main, 50)
    calls = count_syncs(monkeypatch)
    for remote in remotes:
        main.persist_remote(remote)
    main.flush()
    assert len(files_of(main.keep.dirpath)) == 2 * 50 + 2
    assert len(calls) <= 4, calls  # not one per file


def test_a_lone_write_is_durable_when_it_returns(tmp_path, monkeypatch):
    files = KeepFiles(str(tmp_path / "k"), str(tmp_path / "k"), os.geteuid)
    calls = count_syncs(monkeypatch)
    files.write(str(tmp_path / "k" / "a.json"), b"{}")
    assert calls.count("fsync") == 2  # the file's data, then its directory entry
    assert (tmp_path / "k" / "a.json").read_bytes() == b"{}"


def test_a_synced_append_makes_a_new_file_s_name_durable_too(tmp_path, monkeypatch):
    files = KeepFiles(str(tmp_path / "k"), str(tmp_path / "k"), os.geteuid)
    calls = count_syncs(monkeypatch)
    datasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append("fdatasync"), datasync(fd))[1])
    path = str(tmp_path / "k" / "log.jsonl")
    files.append(path, b"1\n", sync=True)
    assert calls == ["fdatasync", "fsync"]  # its data, then its directory entry
    files.append(path, b"2\n", sync=True)
    files.append(path, b"3\n")
    assert calls == ["fdatasync", "fsync", "fdatasync"]
    assert (tmp_path / "k" / "log.jsonl").read_bytes() == b"1\n2\n3\n"


def test_a_batch_applies_writes_and_removes_in_order(tmp_path):
    top = str(tmp_path / "k")
    files = KeepFiles(top, top, os.geteuid)
    a, b, c = (os.path.join(top, "sub", name) for name in ("a.json", "b.json", "c.json"))
    files.write(c, b"old")
    with files.batch():
        files.write(a, b"1")
        files.write(a, b"2")
        files.write(b, b"gone")
        files.remove(b)
        files.remove(c)
        files.write(c, b"new")
    assert files.listdir(os.path.dirname(a)) == ["a.json", "c.json"]
    assert files.read(a) == b"2" and files.read(c) == b"new"


def test_a_file_another_writer_replaced_is_written_again(tmp_path):
    top = str(tmp_path / "k")
    ours, theirs = KeepFiles(top, top, os.geteuid), KeepFiles(top, top, os.geteuid)
    path = os.path.join(top, "sub", "a.json")
    ours.write(path, b"ours")
    theirs.write(path, b"theirs")  # say, an operator's tool
    ours.write(path, b"ours")
    assert Path(path).read_bytes() == b"ours"
    ours.read(path)
    theirs.write(path, b"ours")  # the same content, but not the file we know
    theirs.write(path, b"again")
    ours.write(path, b"ours")
    assert Path(path).read_bytes() == b"ours"


@pytest.mark.parametrize("fail", ["sync", "rename"])
def test_an_interrupted_batch_leaves_every_file_whole(tmp_path, monkeypatch, fail):
    top = str(tmp_path / "k")
    files = KeepFiles(top, top, os.geteuid)
    paths = [os.path.join(top, "sub", f"f{index}.json") for index in range(20)]
    for path in paths:
        files.write(path, b"old " + path.encode())
    if fail == "sync":
        monkeypatch.setattr(keepfiles, "sync_filesystem", lambda fd: (_ for _ in ()).throw(
            OSError(5, "Input/output error")))
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(
            OSError(5, "Input/output error")))
    else:
        replace, done = os.replace, []

        def flaky(*args, **kwa):
            if len(done) == 7:
                raise OSError(28, "No space left on device")
            done.append(args)
            return replace(*args, **kwa)

        monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(KeepError):
        with files.batch():
            for path in paths:
                files.write(path, b"new " + path.encode())
    monkeypatch.undo()
    contents = [Path(path).read_bytes() for path in paths]
    assert all(content in (b"old " + path.encode(), b"new " + path.encode())
               for content, path in zip(contents, paths))
    assert sorted(os.listdir(os.path.dirname(paths[0]))) == sorted(
        os.path.basename(path) for path in paths)  # no temporary file left behind
    if fail == "sync":
        assert all(content.startswith(b"old") for content in contents)
    files.write(paths[0], b"new " + paths[0].encode())  # the keep still works
    assert Path(paths[0]).read_bytes().startswith(b"new")


def test_a_failed_batch_is_counted_not_raised_by_the_driver(road, monkeypatch):
    main = road("main", main=True, auto=ALWAYS)
    remotes = add_minions(main, 20)
    for remote in remotes:
        main.persist_remote(remote)
    monkeypatch.setattr(os, "replace", lambda *args, **kwa: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    main.serviceAll()
    assert main.stats.get("keep_error") == 1
    monkeypatch.undo()
    assert main.keep.load_all_remotes() == {}  # nothing half done
