"""A raetflo main house with the manager and acceptor, at auto never, and a raet 0.6.8 joiner.

As in test_flo_interop.py, the reference stack lives in a house of the same flo, run by
test-only Deeds, so both sides share ioflo's virtual time; the run is ``ioflo.app.run.run``.
"""
from __future__ import annotations

from typing import Any

from ioflo.aid.odicting import odict
from ioflo.base.deeding import Deed
from raet.road import estating as ref_estating
from raet.road import stacking as ref_stacking

from raetflo.raeting import AutoMode

from ..conftest import free_port
from .test_flo_interop import ReferenceRoadCloser, run_flo  # noqa: F401 (registers its Deed)

STATE = ("joined", "allowed", "alived")


class ReferenceRoadJoiner(Deed):
    """``do reference road joiner``: a raet 0.6.8 estate that joins the main and allows.

    It joins again whenever no transaction is under way and it is not joined, allows once
    joined. Ioinits (inode ``ref.``): ``local`` (read: name, port, keep, main: the main's
    port), ``stack`` (write: the reference RoadStack), ``remote`` (write: ``joined``,
    ``allowed``, ``alived`` of its record of the main).
    """

    Ioinits = odict(inode="ref.", local="local", stack="stack",
                    remote=odict(ipath="remote", ival=odict(joined=None, allowed=None,
                                                            alived=None)))

    def action(self, **kwa: Any) -> None:
        stack = self.stack.value
        if stack is None:
            stack = self.stack.value = ref_stacking.RoadStack(
                store=self.store, name=self.local["name"], ha=("127.0.0.1", self.local["port"]),
                dirpath=self.local["keep"], auto=AutoMode.always.value)
            stack.addRemote(ref_estating.RemoteEstate(stack=stack, fuid=0, sid=0,
                                                      ha=("127.0.0.1", self.local["main"])))
        stack.serviceAll()
        remote = stack.remotes.values()[0]
        if not stack.transactions:
            if not remote.joined:
                stack.join(uid=remote.uid)
            elif not remote.allowed:
                stack.allow(uid=remote.uid)
        state = {field: getattr(remote, field) for field in STATE}
        if any(self.remote.fetch(field) != value for field, value in state.items()):
            self.remote.update(state)


class ShareHistory(Deed):
    """``do share history per watched ".a.share" history ".b.list"``: each change of the
    watched share's fields, appended to ``history`` as (stamp, fields)."""

    Ioinits = odict(watched="watched", history=odict(ipath="history", ival=odict(value=None)))

    def action(self, **kwa: Any) -> None:
        if self.history.value is None:
            self.history.value = []
        fields = dict(self.watched.items())
        if not self.history.value or self.history.value[-1][1] != fields:
            self.history.value.append((self.store.stamp, fields))


FLO = """
house reference
init .ref.local with name "minion" port {minion} keep "{keep}/minion" main {main}

framer stack be active first serve
   frame serve
      do reference road joiner
      do share history per watched ".ref.remote" history ".ref.history"
      exit
         do reference road closer

framer watch be active first wait
   frame wait
      go linger if allowed in .ref.remote
      go failed if elapsed >= 10
   frame linger
      go done if elapsed >= 1
   frame done
      bid stop all
   frame failed
      do raetflo exit with message "reference: not allowed"

house main
init .road.local with name "main" port {main} main True auto "never" keep "{keep}/main"

framer stack be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack manager with immediate True
         do road stack acceptor
         do share history per watched ".road.estate.minion" history ".road.history"
      exit
         do road stack closer

framer watch be active first wait
   frame wait
      go hold if .road.tally.pending >= 1
      go failed if elapsed >= 10
   frame hold
      go accept if elapsed >= 1.5
   frame accept
      put "minion" into accept in .road.acceptance
      go alive if alived in .road.estate.minion
      go failed if elapsed >= 10
   frame alive
      go done if .road.tally.dead >= 1
      go failed if elapsed >= 20
   frame done
      bid stop all
   frame failed
      do raetflo exit with message "main: did not see minion accepted, alive and dead"
"""


def first(history: list, field: str, value: Any, after: float = 0.0) -> float:
    """The first stamp from ``after`` on at which ``field`` had ``value`` in a ShareHistory
    list."""
    return next(stamp for stamp, fields in history
                if stamp >= after and fields.get(field) == value)


def test_flo_manager_and_acceptor_with_a_reference_joiner(tmp_path, monkeypatch):
    skedder, log = run_flo(FLO.format(main=free_port(), minion=free_port(),
                                      keep=tmp_path / "keep"), tmp_path, monkeypatch, verbose=2)
    assert skedder.built
    assert "raetflo:" not in log, log
    stores = {house.name: house.store for house in skedder.houses}
    main, reference = stores["main"], stores["reference"]
    ours, theirs = main.fetch(".road.history").value, reference.fetch(".ref.history").value
    pending, accepted = first(ours, "acceptance", "pending"), first(ours, "acceptance", "accepted")
    assert accepted - pending >= 1.5  # held pending by the flo
    assert all(not fields["joined"] for stamp, fields in theirs if stamp < accepted)
    joined = first(theirs, "joined", True)
    assert first(theirs, "allowed", True) >= joined >= accepted  # no restart: the same run
    alived = first(ours, "alived", True)
    assert accepted <= alived < first(ours, "alived", False, after=alived)
    estate = main.fetch(".road.estate.minion")
    assert (estate["alived"], estate["acceptance"]) == (False, "accepted")
    assert main.fetch(".road.presence")["dead"] == ["minion"]
    assert "Road stack 'main': remote 'minion' accepted" in log
    assert main.fetch(".road.stack").value is None
    assert reference.fetch(".ref.stack").value is None
