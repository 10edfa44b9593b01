"""``raetflo keep`` on keeps raet 0.6.8 wrote (json and msgpack): it reads them, and what it
writes the reference reads back."""
from __future__ import annotations

from pathlib import Path

import pytest

from ..interop import refshim

refshim.install()

from raet import nacling as ref_nacling  # noqa: E402
from raet.road import estating as ref_estating  # noqa: E402
from raet.road import keeping as ref_keeping  # noqa: E402
from raet.road import stacking as ref_stacking  # noqa: E402

from raetflo.command.formatting import fingerprint  # noqa: E402
from raetflo.raeting import Acceptance  # noqa: E402

from . import ok, ok_json  # noqa: E402


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture(params=["json", "msgpack"])
def ref_keep(request, tmp_path, ha, monkeypatch):
    """A reference main's keep (auto never) holding remote 'beta' pending; its keys."""
    monkeypatch.setattr(ref_keeping.RoadKeep, "Ext", request.param)
    path = tmp_path / "alpha"
    signer, privateer = ref_nacling.Signer(), ref_nacling.Privateer()
    stack = ref_stacking.RoadStack(name="alpha", ha=ha(), dirpath=str(path), main=True, auto=0)
    try:
        remote = ref_estating.RemoteEstate(stack=stack, name="beta", fuid=7,
                                           ha=("127.0.0.1", 7531), verkey=signer.verhex,
                                           pubkey=privateer.pubhex)
        stack.addRemote(remote)
        assert stack.keep.statusRemote(remote, dump=True) == Acceptance.pending
        stack.dumpRemote(remote)
        local = (text(stack.local.signer.verhex), text(stack.local.priver.pubhex))
    finally:
        stack.server.close()
    return path, (text(signer.verhex), text(privateer.pubhex)), local


def restored(path: Path, ha) -> dict[str, tuple]:
    """What a reference stack restarted on the keep at ``path`` holds: name -> (acceptance,
    verhex)."""
    stack = ref_stacking.RoadStack(name="alpha", ha=ha(), dirpath=str(path), main=True, auto=0)
    try:
        return {remote.name: (remote.acceptance, text(remote.verfer.keyhex))
                for remote in stack.remotes.values()}
    finally:
        stack.server.close()


def test_reads_a_reference_keep(ref_keep):
    path, (verhex, pubhex), (local_verhex, local_pubhex) = ref_keep
    [row] = ok_json("keep", "list", "--dir", str(path))
    assert (row["name"], row["uid"], row["fuid"], row["status"]) == ("beta", 2, 7, "pending")
    assert (row["verhex"], row["pubfp"]) == (verhex, fingerprint(pubhex))
    assert ok("keep", "list", "--dir", str(path)).splitlines()[1].split()[4] == "pending"
    local = ok_json("keep", "local", "--dir", str(path))
    assert (local["name"], local["verhex"], local["pubhex"]) == \
        ("alpha", local_verhex, local_pubhex)


def test_reference_sees_an_accept(ref_keep, ha):
    path, (verhex, _), _ = ref_keep
    ok("keep", "accept", "beta", "--dir", str(path))
    assert restored(path, ha) == {"beta": (Acceptance.accepted, verhex)}


def test_reference_restores_a_pin(ref_keep, ha):
    path, (verhex, _), _ = ref_keep
    signer, privateer = ref_nacling.Signer(), ref_nacling.Privateer()
    ok("keep", "pin", "gamma", "--verhex", text(signer.verhex), "--pubhex",
       text(privateer.pubhex), "--ha", "127.0.0.1:7533", "--dir", str(path))
    assert restored(path, ha) == {"beta": (Acceptance.pending, verhex),
                                  "gamma": (Acceptance.accepted, text(signer.verhex))}
