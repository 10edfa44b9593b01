"""Keep files written by the reference raet 0.6.8 are read by us, and the other way round."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import refshim

refshim.install()

from raet import nacling  # noqa: E402
from raet.road import estating, keeping as refkeeping, stacking  # noqa: E402

from raetflo.raeting import Acceptance, AutoMode  # noqa: E402
from raetflo.road.keeping import RoadKeep  # noqa: E402

EXTS = ["json", "msgpack"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=EXTS)
def ext(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Keep file extension for both implementations; HOME pointed at tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(refkeeping.RoadKeep, "Ext", request.param)
    yield request.param


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_reference_keep_read_by_us(tmp_path: Path, ext: str) -> None:
    port = free_port()
    stack = stacking.RoadStack(name="alpha", ha=("127.0.0.1", port),
                               dirpath=str(tmp_path / "alpha"), main=True, auto=2)
    try:
        signer, privateer = nacling.Signer(), nacling.Privateer()
        remote = estating.RemoteEstate(stack=stack, name="beta", fuid=7,
                                       ha=("127.0.0.1", 7531), verkey=signer.verhex,
                                       pubkey=privateer.pubhex)
        stack.addRemote(remote)
        stack.dumpRemote(remote)
        assert stack.keep.statusRemote(remote) == Acceptance.accepted
        local = stack.local
    finally:
        stack.server.close()

    keep = RoadKeep(dirpath=str(tmp_path / "alpha"), ext=ext)
    data = keep.load_local()
    assert data is not None
    assert (data["name"], data["uid"], data["role"], data["sid"]) == ("alpha", 1, "alpha", 0)
    assert data["ha"] == data["aha"] == ["127.0.0.1", port]
    assert data["sighex"] == text(local.signer.keyhex)
    assert data["prihex"] == text(local.priver.keyhex)
    remotes = keep.load_all_remotes()
    assert list(remotes) == ["beta"] and keep.errors == []
    beta = remotes["beta"]
    assert (beta["name"], beta["uid"], beta["fuid"], beta["role"]) == ("beta", 2, 7, "beta")
    assert beta["ha"] == ["127.0.0.1", 7531]
    assert beta["acceptance"] is Acceptance.accepted.value
    assert beta["verhex"] == text(signer.verhex)
    assert beta["pubhex"] == text(privateer.pubhex)

    # Rewritten by us, every file is byte for byte what the reference wrote.
    ours = RoadKeep(dirpath=str(tmp_path / "ours"), ext=ext)
    ours.dump_local(data)
    ours.dump_local_role(data)
    ours.dump_remote(beta)
    ours.dump_remote_role(beta)
    for path in (Path(keep.localfilepath), Path(keep.localrolepath),
                 Path(keep.remotefilepath("beta")), Path(keep.remoterolepath("beta"))):
        twin = tmp_path / "ours" / path.relative_to(tmp_path / "alpha")
        assert twin.read_bytes() == path.read_bytes(), path


def test_our_keep_restored_by_reference(tmp_path: Path, ext: str) -> None:
    port = free_port()
    signer, privateer = nacling.Signer(), nacling.Privateer()
    peer_signer, peer_privateer = nacling.Signer(), nacling.Privateer()
    keep = RoadKeep(dirpath=str(tmp_path / "alpha"), ext=ext)
    keep.dump_local({"name": "alpha", "uid": 3, "ha": ("127.0.0.1", port), "iha": None,
                     "natted": None, "fqdn": "localhost", "dyned": None, "sid": 0, "puid": 9,
                     "aha": ("127.0.0.1", port), "role": "alpha"})
    keep.dump_local_role({"role": "alpha", "sighex": signer.keyhex,
                          "prihex": privateer.keyhex})
    beta = {"name": "beta", "uid": 9, "fuid": 4, "ha": ("127.0.0.1", 7531), "iha": None,
            "natted": None, "fqdn": "localhost", "dyned": None, "sid": 5, "main": True,
            "kind": 3, "joined": True, "role": "beta", "acceptance": Acceptance.accepted,
            "verhex": peer_signer.verhex, "pubhex": peer_privateer.pubhex}
    keep.dump_remote(beta)
    keep.dump_remote_role(beta)

    stack = stacking.RoadStack(name="other", ha=("127.0.0.1", free_port()),
                               dirpath=str(tmp_path / "alpha"))
    try:
        assert stack.local.name == "alpha"
        assert stack.local.uid == 3
        assert stack.ha == ("127.0.0.1", port)
        assert stack.puid == 9
        assert text(stack.local.signer.keyhex) == text(signer.keyhex)
        assert text(stack.local.priver.keyhex) == text(privateer.keyhex)
        [remote] = list(stack.remotes.values())
        assert (remote.name, remote.uid, remote.fuid, remote.joined) == ("beta", 9, 4, True)
        assert remote.sid == 6  # restored records start a new session
        assert text(remote.verfer.keyhex) == text(peer_signer.verhex)
        assert text(remote.pubber.keyhex) == text(peer_privateer.pubhex)
        assert remote.acceptance == Acceptance.accepted
    finally:
        stack.server.close()

    # The reference dumped everything again on construction; we still read it.
    again = keep.load_all_remotes()["beta"]
    assert (again["uid"], again["sid"], again["acceptance"]) == (9, 6, Acceptance.accepted)
    assert keep.load_local()["sighex"] == text(signer.keyhex)  # type: ignore[index]


SCENARIOS: list[tuple[str, Any]] = [
    ("nothing stored", None),
    ("accepted", Acceptance.accepted),
    ("pending", Acceptance.pending),
    ("rejected", Acceptance.rejected),
]


@pytest.mark.parametrize("auto", list(AutoMode))
@pytest.mark.parametrize("label, stored", SCENARIOS)
@pytest.mark.parametrize("same", [True, False])
def test_acceptance_matches_reference(tmp_path: Path, ext: str, auto: AutoMode, label: str,
                                      stored: Acceptance | None, same: bool) -> None:
    old, new = ("aa" * 32, "bb" * 32), ("cc" * 32, "dd" * 32)
    theirs = refkeeping.RoadKeep(dirpath=str(tmp_path / "ref"), auto=int(auto))
    ours = RoadKeep(dirpath=str(tmp_path / "ours"), auto=auto, ext=ext)
    if stored is not None:
        ours.dump_remote_role({"role": "beta", "acceptance": stored, "verhex": old[0],
                               "pubhex": old[1]})
        Path(theirs.remoteroledirpath, f"role.beta.{ext}").write_bytes(
            Path(ours.remoterolepath("beta")).read_bytes())
    keys = old if same else new
    expected = theirs.statusRole("beta", keys[0], keys[1], dump=True)
    assert ours.status_role("beta", keys[0], keys[1]) == expected
    reread = RoadKeep(dirpath=str(tmp_path / "ref"), ext=ext)
    assert reread.load_remote_role("beta") == ours.load_remote_role("beta")
