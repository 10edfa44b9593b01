"""``raetflo keep ...`` through a subprocess, on keeps written by raetflo and by raet 0.6.8:
output, ``--json``, the files it writes and every error case."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from raetflo import nacling
from raetflo.command.errors import CommandError, parse_ha
from raetflo.command.formatting import fingerprint
from raetflo.command.keepcmd import PIN_UID_BASE
from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.keeping import RoadKeep
from raetflo.road.stacking import RoadStack, service_stacks

from . import fails, ok, ok_json

VERHEX, PUBHEX = nacling.Signer().verhex, nacling.Privateer().pubhex


@pytest.fixture
def main_keep(tmp_path, ha) -> Path:
    """The keep of a main at auto never that holds joiner 'beta' pending."""
    main = RoadStack(name="alpha", ha=ha(), dirpath=str(tmp_path / "alpha"), main=True,
                     auto=AutoMode.never.value)
    beta = RoadStack(name="beta", ha=ha(), dirpath=str(tmp_path / "beta"),
                     auto=AutoMode.always.value)
    try:
        beta.addRemote(RemoteEstate(stack=beta, fuid=0, sid=0, ha=main.ha))
        beta.join()
        service_stacks([main, beta], 1.0, until=lambda: bool(main.pendings))
        assert main.pendings
    finally:
        main.close()
        beta.close()
    return tmp_path / "alpha"


def role_file(keep: Path, role: str) -> dict:
    return json.loads((keep / "role" / "remote" / f"role.{role}.json").read_text())


def test_list_and_show_a_pending_joiner(main_keep):
    table = ok("keep", "list", "--dir", str(main_keep)).splitlines()
    assert table[0].split() == ["name", "uid", "ha", "role", "status", "verfp", "pubfp"]
    assert len(table) == 2 and table[1].split()[0] == "beta"
    assert table[1].split()[4] == "pending"
    [row] = ok_json("keep", "list", "--dir", str(main_keep))
    stored = RoadKeep(dirpath=str(main_keep)).load_remote("beta")
    assert {key: row[key] for key in stored} == stored
    assert row["status"] == "pending" and row["verfp"] == fingerprint(stored["verhex"])
    assert ok_json("keep", "show", "beta", "--dir", str(main_keep)) == row
    shown = ok("keep", "show", "beta", "--dir", str(main_keep))
    assert f"verhex      {stored['verhex']}" in shown.splitlines()


def test_fingerprint_is_a_short_sha256_of_the_raw_key():
    digest = hashlib.sha256(bytes.fromhex(VERHEX)).hexdigest()
    assert fingerprint(VERHEX).replace(":", "") == digest[:16]
    assert fingerprint(None) == "-"


def test_accept_then_reject_write_the_role_file(main_keep):
    assert ok("keep", "accept", "beta", "--dir", str(main_keep)) == \
        "beta: accepted (role beta)\n"
    assert role_file(main_keep, "beta")["acceptance"] == Acceptance.accepted
    ok("keep", "reject", "beta", "--dir", str(main_keep))
    assert role_file(main_keep, "beta")["acceptance"] == Acceptance.rejected
    assert ok_json("keep", "show", "beta", "--dir", str(main_keep))["status"] == "rejected"


def test_accept_of_several_changes_none_when_one_is_unknown(main_keep):
    assert "no remote or role 'gamma'" in fails("keep", "accept", "beta", "gamma", "--dir",
                                                str(main_keep))
    assert role_file(main_keep, "beta")["acceptance"] == Acceptance.pending


def test_forget_deletes_the_remote_and_its_role(main_keep):
    assert ok("keep", "forget", "beta", "--dir", str(main_keep)) == \
        "beta: forgotten with role beta\n"
    assert os.listdir(main_keep / "remote") == []
    assert os.listdir(main_keep / "role" / "remote") == []
    assert ok_json("keep", "list", "--dir", str(main_keep)) == []


def test_forget_keeps_a_role_another_remote_holds(main_keep):
    ok("keep", "pin", "gamma", "--verhex", VERHEX, "--pubhex", PUBHEX, "--role", "shared",
       "--dir", str(main_keep))
    ok("keep", "pin", "delta", "--verhex", VERHEX, "--pubhex", PUBHEX, "--role", "shared",
       "--dir", str(main_keep))
    assert "also held by delta" in ok("keep", "forget", "gamma", "--dir", str(main_keep))
    assert role_file(main_keep, "shared")["verhex"] == VERHEX


def test_pin_writes_an_accepted_remote_a_restarted_stack_restores(main_keep, ha):
    out = ok("keep", "pin", "gamma", "--verhex", VERHEX.upper(), "--pubhex", PUBHEX,
             "--ha", "127.0.0.1:7532", "--dir", str(main_keep))
    assert out.startswith("gamma: pinned, accepted (role gamma")
    assert role_file(main_keep, "gamma") == {"role": "gamma", "acceptance": 1,
                                             "verhex": VERHEX, "pubhex": PUBHEX}
    shown = ok_json("keep", "show", "gamma", "--dir", str(main_keep))
    assert (shown["uid"], shown["fuid"], shown["ha"]) == (PIN_UID_BASE, 0, ["127.0.0.1", 7532])
    main = RoadStack(name="alpha", dirpath=str(main_keep), main=True)
    try:
        gamma = main.nameRemotes["gamma"]
        assert (gamma.verhex, gamma.acceptance) == (VERHEX, Acceptance.accepted)
    finally:
        main.close()


def test_local_shows_the_public_keys_only(main_keep):
    saved = RoadKeep(dirpath=str(main_keep)).load_local()
    local = ok_json("keep", "local", "--dir", str(main_keep))
    assert local["verhex"] == nacling.Signer(saved["sighex"]).verhex
    assert local["pubhex"] == nacling.Privateer(saved["prihex"]).pubhex
    assert (local["name"], local["uid"], local["verfp"]) == \
        ("alpha", saved["uid"], fingerprint(local["verhex"]))
    text = ok("keep", "local", "--dir", str(main_keep))
    assert saved["sighex"] not in text and saved["prihex"] not in text
    assert f"pubhex  {local['pubhex']}" in text.splitlines()


def test_new_makes_an_identity_a_stack_starts_with(tmp_path):
    keep = tmp_path / "base" / "fresh"
    out = ok("keep", "new", "fresh", "--ha", "127.0.0.1:0", "--base", str(tmp_path / "base"),
             "--stack", "fresh")
    assert out.splitlines()[0].split() == ["name", "fresh"]
    local = ok_json("keep", "local", "--dir", str(keep))
    stack = RoadStack(name="fresh", dirpath=str(keep))
    try:
        assert (stack.local.name, stack.local.signer.verhex) == ("fresh", local["verhex"])
    finally:
        stack.close()
    assert "already holds local estate 'fresh'" in fails("keep", "new", "other", "--dir",
                                                        str(keep))


def test_base_and_stack_name_the_tutorial_layout(main_keep):
    rows = ok_json("keep", "list", "--base", str(main_keep.parent), "--stack", "alpha")
    assert [row["name"] for row in rows] == ["beta"]


@pytest.mark.parametrize("args, message", [
    (("keep", "list", "--dir", "{missing}"), "no keep at"),
    (("keep", "show", "zeta", "--dir", "{keep}"), "no remote or role 'zeta' in keep"),
    (("keep", "forget", "zeta", "--dir", "{keep}"), "no remote 'zeta' in keep"),
    (("keep", "pin", "zeta", "--verhex", "abc", "--pubhex", PUBHEX, "--dir", "{keep}"),
     "bad verhex"),
    (("keep", "pin", "zeta", "--verhex", VERHEX, "--pubhex", "x" * 64, "--dir", "{keep}"),
     "bad pubhex"),
    (("keep", "pin", "beta", "--verhex", VERHEX, "--pubhex", PUBHEX, "--dir", "{keep}"),
     "the name 'beta' is taken"),
    (("keep", "pin", "alpha", "--verhex", VERHEX, "--pubhex", PUBHEX, "--dir", "{keep}"),
     "the name 'alpha' is taken"),
    (("keep", "pin", "zeta", "--verhex", VERHEX, "--pubhex", PUBHEX, "--role", "beta",
      "--dir", "{keep}"), "role 'beta' already holds other keys"),
    (("keep", "pin", "../x", "--verhex", VERHEX, "--pubhex", PUBHEX, "--dir", "{keep}"),
     "remote name"),
    (("keep", "pin", "zeta", "--verhex", VERHEX, "--pubhex", PUBHEX, "--ha", "nohost",
      "--dir", "{keep}"), "bad address 'nohost'"),
    (("keep", "list", "--dir", "{keep}", "--stack", "alpha"), "either --dir or --stack"),
    (("keep", "list"), "give the keep"),
    (("keep", "local", "--dir", "{beta}"), "no keep at"),
])
def test_errors_are_one_line_and_status_1(main_keep, tmp_path, args, message):
    values = {"keep": str(main_keep), "missing": str(tmp_path / "missing"),
              "beta": str(tmp_path / "nothing")}
    assert message in fails(*(arg.format(**values) for arg in args))
    assert not (tmp_path / "missing").exists()


def test_a_keep_without_a_local_estate(tmp_path):
    for part in ("local", "remote", "role"):
        (tmp_path / "empty" / part).mkdir(parents=True, mode=0o700)
    (tmp_path / "empty").chmod(0o700)
    assert "no local estate in keep" in fails("keep", "local", "--dir", str(tmp_path / "empty"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a keep to another user")
def test_a_keep_owned_by_another_user_is_refused(main_keep):
    for path in (main_keep, *main_keep.rglob("*")):
        os.chown(path, 4321, 4321)
    message = fails("keep", "list", "--dir", str(main_keep))
    assert "is owned by uid 4321" in message and "refusing to use it" in message


def test_accept_of_a_remote_whose_role_file_is_gone(main_keep):
    (main_keep / "role" / "remote" / "role.beta.json").unlink()
    assert "remote 'beta' has no keys in the keep" in fails("keep", "accept", "beta", "--dir",
                                                           str(main_keep))


@pytest.mark.parametrize("text, ha", [("127.0.0.1:7530", ("127.0.0.1", 7530)),
                                      ("[::1]:7531", ("::1", 7531)),
                                      ("host.example:0", ("host.example", 0))])
def test_addresses_are_host_colon_port(text, ha):
    assert parse_ha(text) == ha


@pytest.mark.parametrize("text", ["7530", ":7530", "host:", "host:port", "host:70000"])
def test_bad_addresses(text):
    with pytest.raises(CommandError, match="expected HOST:PORT"):
        parse_ha(text)


def test_accept_reaches_a_rejected_role_whose_estate_record_is_gone(main_keep):
    """A main forgets the record of an estate it rejects and keeps its role file: the
    operator accepts it by that role's name (the role is the estate's name by default)."""
    ok("keep", "reject", "beta", "--dir", str(main_keep))
    for name in os.listdir(main_keep / "remote"):
        os.remove(main_keep / "remote" / name)
    assert ok("keep", "accept", "beta", "--dir", str(main_keep)) == \
        "beta: accepted (role beta)\n"
    assert role_file(main_keep, "beta")["acceptance"] == Acceptance.accepted
    assert "no remote or role 'gamma'" in fails("keep", "accept", "gamma", "--dir",
                                                str(main_keep))


def test_accept_names_the_other_estates_of_the_role_it_changes(main_keep):
    for name in ("gamma", "delta"):
        ok("keep", "pin", name, "--verhex", VERHEX, "--pubhex", PUBHEX, "--role", "shared",
           "--dir", str(main_keep))
    assert ok("keep", "reject", "gamma", "--dir", str(main_keep)) == \
        "gamma: rejected (role shared, also held by delta)\n"
