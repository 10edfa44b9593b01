"""A RoadKeep subclass that overrides raet's method names (a policy of who is accepted,
or where records live, as Salt's keep does) is what the stack asks, as raet's stack does."""
from __future__ import annotations

import os

import pytest

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.keeping import RoadKeep

from .conftest import ALWAYS, idle, provisional, serve, stat


class PolicyKeep(RoadKeep):
    """Accepts the roles it allows and rejects the others, whatever ``auto`` says."""

    def __init__(self, allowed: tuple[str, ...] = ("good",), **kwa) -> None:
        super().__init__(**kwa)
        self.allowed = allowed
        self.asked: list[str] = []

    def statusRole(self, role, verhex, pubhex, dump=True):
        self.asked.append(role)
        status = (Acceptance.accepted if role in self.allowed else Acceptance.rejected).value
        if dump:
            self.dumpRemoteRoleData(dict(role=role, acceptance=status, verhex=verhex,
                                         pubhex=pubhex), role)
        return status


class RemotePolicyKeep(RoadKeep):
    """The same policy, by ``statusRemote``."""

    def statusRemote(self, remote, dump=True):
        remote.acceptance = (Acceptance.accepted if remote.role == "good"
                             else Acceptance.rejected).value
        return remote.acceptance


class TracingKeep(RoadKeep):
    """Notes which of raet's load and dump methods the stack goes through."""

    def __init__(self, **kwa) -> None:
        self.calls: list[str] = []
        super().__init__(**kwa)

    def loadLocalData(self):
        self.calls.append("loadLocalData")
        return super().loadLocalData()

    def loadAllRemoteData(self):
        self.calls.append("loadAllRemoteData")
        return super().loadAllRemoteData()

    def loadRemoteRoleData(self, role):
        self.calls.append("loadRemoteRoleData")
        return super().loadRemoteRoleData(role)

    def dumpRemoteData(self, data, name):
        self.calls.append("dumpRemoteData")
        super().dumpRemoteData(data, name)

    def dumpRemoteRoleData(self, data, role):
        self.calls.append("dumpRemoteRoleData")
        super().dumpRemoteRoleData(data, role)


def joined_by_role(road, keep, tmp_path):
    main = road("main", main=True, keep=keep)
    result = {}
    for role in ("good", "bad"):
        estate = road(f"e_{role}", role=role, auto=ALWAYS)
        remote = provisional(estate, main)
        estate.join(uid=remote.uid, cascade=True)
        serve([main, estate], 5.0, until=idle(main, estate))
        result[role] = (estate, remote)
    return main, result


@pytest.mark.parametrize("keep_class", [PolicyKeep, RemotePolicyKeep])
def test_a_keep_s_own_acceptance_policy_decides(road, tmp_path, keep_class):
    keep = keep_class(stackname="main", dirpath=str(tmp_path / "keeps" / "main"),
                      auto=AutoMode.never.value)
    main, result = joined_by_role(road, keep, tmp_path)
    good, remote = result["good"]
    assert remote.joined is True and remote.allowed is True
    bad, remote = result["bad"]
    assert remote.joined is not True
    if keep_class is PolicyKeep:  # rejected at once
        assert not bad.remotes and stat(bad, "joiner_rx_reject") == 1
    # (a keep deciding by statusRemote is asked of the record once the join pends, as in
    # raet: statusRole first judges the join's keys, by auto never)
    assert [r.name for r in main.remotes.values()] == ["e_good"]
    if keep_class is PolicyKeep:
        assert set(keep.asked) == {"good", "bad"}
        assert main.keep.loadRemoteRoleData("bad")["acceptance"] == Acceptance.rejected


def test_a_keep_that_fails_to_judge_costs_only_that_join(road, tmp_path):
    class Broken(RoadKeep):
        def statusRole(self, role, verhex, pubhex, dump=True):
            if role == "bad":
                raise RuntimeError("policy server down")
            return "yes" if role == "odd" else Acceptance.accepted.value

    keep = Broken(stackname="main", dirpath=str(tmp_path / "keeps" / "main"))
    main, result = joined_by_role(road, keep, tmp_path)
    assert result["good"][1].allowed is True
    assert result["bad"][1].joined is not True and stat(main, "keep_error") >= 1
    odd = road("e_odd", role="odd", auto=ALWAYS)
    remote = provisional(odd, main)
    odd.join(uid=remote.uid, cascade=True)
    serve([main, odd], 5.0, until=idle(main, odd))
    assert remote.joined is not True


def test_raet_s_load_and_dump_names_are_the_ones_the_stack_goes_through(road, tmp_path):
    dirpath = str(tmp_path / "keeps" / "main")
    keep = TracingKeep(stackname="main", dirpath=dirpath, auto=AutoMode.always.value)
    main, result = joined_by_role(road, keep, tmp_path)
    assert {"dumpRemoteData", "dumpRemoteRoleData", "loadRemoteRoleData"} <= set(keep.calls)
    main = road.restart(main, main=True, keep=TracingKeep(stackname="main", dirpath=dirpath))
    assert {"loadLocalData", "loadAllRemoteData"} <= set(main.keep.calls)
    assert sorted(main.nameRemotes) == ["e_bad", "e_good"]


class AuditKeep(RoadKeep):
    """raet's own ``statusRemote``, noting each call: it reads the record's key objects."""

    def __init__(self, **kwa) -> None:
        super().__init__(**kwa)
        self.seen: list[tuple[str, str]] = []

    def statusRole(self, role, verhex, pubhex, dump=True):
        self.seen.append(("statusRole", role))
        return super().statusRole(role, verhex, pubhex, dump=dump)

    def statusRemote(self, remote, dump=True):
        self.seen.append(("statusRemote", remote.name))
        status = self.statusRole(role=remote.role, verhex=remote.verfer.keyhex,
                                 pubhex=remote.pubber.keyhex, dump=dump)
        remote.acceptance = status
        return status


@pytest.mark.parametrize("auto", [AutoMode.once, AutoMode.never])
def test_a_keep_overriding_status_remote_is_asked_as_raet_asks_it(road, tmp_path, auto):
    """A join's keys are judged by ``statusRole`` and a record's by ``statusRemote`` of the
    record (raet's own ``statusRemote`` reads its ``verfer`` and ``pubber``): every join
    failed when ``statusRemote`` was given the join's keys on a stand-in."""
    keep = AuditKeep(stackname="main", dirpath=str(tmp_path / "keeps" / "main"),
                     auto=auto.value)
    main = road("main", main=True, keep=keep)
    other = road("e_good", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert stat(main, "keep_error") == 0
    assert keep.seen[0] == ("statusRole", "e_good")
    if auto is AutoMode.never:  # pending: the operator accepts, the record is asked again
        assert remote.joined is not True
        keep.acceptRemote(only_remote(main))
        serve([main, other], 5.0, until=lambda: remote.joined is True)
        assert ("statusRemote", "e_good") in keep.seen
    assert remote.joined is True
    if not remote.allowed:
        other.allow(uid=remote.uid)
    serve([main, other], 3.0, until=lambda: bool(remote.allowed) and idle(main, other)())
    other.transmit({"x": 1}, remote.uid)
    serve([main, other], 3.0, until=lambda: bool(main.rxMsgs))
    assert [dict(body) for body, _ in main.rxMsgs] == [{"x": 1}]


def only_remote(stack):
    (remote,) = stack.remotes.values()
    return remote


def test_a_keep_holding_the_local_keys_elsewhere_restarts_with_them(road, tmp_path, ha):
    """A keep keeping the local secret keys in a file of its own (Salt's does: it
    overrides ``loadLocalRoleData`` and ``dumpLocalRole``) restarts with those keys: the
    stack looked for the role file the keep never writes and refused to start."""
    import json

    from raetflo.road.stacking import RoadStack
    pki = tmp_path / "pki.json"

    class PkiKeep(RoadKeep):
        def loadLocalRoleData(self):
            if not pki.exists():
                return dict(sighex=None, prihex=None)
            data = json.loads(pki.read_text())
            return dict(sighex=data["sign"], prihex=data["priv"])

        def dumpLocalRole(self, local):
            pki.write_text(json.dumps({"sign": str(local.signer.keyhex),
                                       "priv": str(local.priver.keyhex)}))

    def start(address):
        keep = PkiKeep(dirpath=str(tmp_path / "master"), stackname="master")
        saved = keep.loadLocalRoleData()  # as Salt's stack setup does
        return RoadStack(name="master", main=True, ha=address, keep=keep,
                         sigkey=saved["sighex"], prikey=saved["prihex"])

    first = start(ha())
    verhex, address = first.local.signer.verhex, first.ha
    assert pki.exists() and not os.path.exists(first.keep.localrolepath)
    first.close()
    again = start(address)
    assert again.local.signer.verhex == verhex
    again.close()


def test_a_keep_whose_role_records_leave_fields_out_still_serves(road, tmp_path):
    """Salt's keep answers ``loadRemoteRoleData`` with an empty map (its keys live
    elsewhere): a join to it raised KeyError on the packet path, and a restart failed."""

    class KeysElsewhere(RoadKeep):
        def loadRemoteRoleData(self, role):
            return {}

        def statusRole(self, role, verhex, pubhex, dump=True):
            return Acceptance.accepted.value

    dirpath = str(tmp_path / "keeps" / "main")
    main = road("main", main=True, keep=KeysElsewhere(stackname="main", dirpath=dirpath))
    other = road("other", auto=ALWAYS)
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=idle(main, other))
    assert remote.joined is True and stat(main, "rx_exception") == 0
    again = road.restart(main, main=True, keep=KeysElsewhere(stackname="main", dirpath=dirpath))
    assert again.local.signer.verhex == main.local.signer.verhex
