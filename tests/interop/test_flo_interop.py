"""A raetflo flo house joins a reference raet 0.6.8 RoadStack and exchanges messages.

The reference stack lives in a house of the same flo, run by two test-only Deeds, so both
sides share ioflo's virtual time; the run is ioflo's own ``ioflo.app.run.run``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ioflo.aid.consoling import getConsole
from ioflo.aid.odicting import odict
from ioflo.app.run import run
from ioflo.base.deeding import Deed
from raet.road import stacking as ref_stacking

from raetflo.raeting import AutoMode

from ..conftest import free_port


class ReferenceRoadMain(Deed):
    """``do reference road main``: a raet 0.6.8 main estate that answers every message.

    Ioinits (inode ``ref.``): ``local`` (read: name, port, keep), ``stack`` (write: the
    reference RoadStack), ``answered`` (write: count of messages answered).
    """

    Ioinits = odict(inode="ref.", local="local", stack="stack",
                    answered=odict(ipath="answered", ival=0))

    def action(self, **kwa: Any) -> None:
        stack = self.stack.value
        if stack is None:
            stack = self.stack.value = ref_stacking.RoadStack(
                store=self.store, name=self.local["name"], main=True,
                ha=("127.0.0.1", self.local["port"]), dirpath=self.local["keep"],
                auto=AutoMode.always.value)
        stack.serviceAll()
        while stack.rxMsgs:
            msg, name = stack.rxMsgs.popleft()
            stack.transmit(odict(answer=f"hello {name}", to=msg["greeting"]),
                           uid=stack.fetchUidByName(name))
            self.answered.value += 1


class ReferenceRoadCloser(Deed):
    """``do reference road closer``: close the reference stack (inode ``ref.``)."""

    Ioinits = odict(inode="ref.", stack="stack")

    def action(self, **kwa: Any) -> None:
        if self.stack.value is not None:
            self.stack.value.server.close()
            self.stack.value = None


FLO = """
house reference
init .ref.local with name "elder" port {main} keep "{keep}/elder"

framer stack be active first serve
   frame serve
      do reference road main
      exit
         do reference road closer

framer watch be active first wait
   frame wait
      go linger if .ref.answered >= 1
      go failed if elapsed >= 10
   frame linger
      go done if elapsed >= 1
   frame done
      bid stop all
   frame failed
      do raetflo exit with message "reference: no message"

house alpha
init .road.local with name "alpha" port {alpha} keep "{keep}/alpha"
init .road.remote with name "elder" port {main}

framer stack be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack receiver
      exit
         do road stack closer

framer talk be active first join
   frame join
      do road stack joiner
      go greet if allowed in .road.status
      go failed if elapsed >= 10
   frame greet
      enter
         do road stack transmitter with greeting "hello elder"
      go done if .road.received >= 1
      go failed if elapsed >= 10
   frame done
      bid stop all
   frame failed
      do raetflo exit with message "alpha: no answer"
"""


def run_flo(text: str, tmp_path: Path, monkeypatch: Any, verbose: int = 1) -> tuple[Any, str]:
    """Run flo ``text`` in this process in virtual time; its skedder and console log."""
    # ioflo's run() reopens its console at consolepath, closing the file it held
    console, log = getConsole(), tmp_path / "console.txt"
    monkeypatch.setattr(console, "_file", open(log, "w"))
    monkeypatch.setattr(console, "_path", "")
    flo = tmp_path / "test.flo"
    flo.write_text(text)
    skedder = run(filepath=str(flo), behaviors=["raetflo.behaving"], period=0.125,
                  real=False, verbose=verbose, consolepath=str(log))
    console.close()
    return skedder, log.read_text()


def test_flo_house_and_reference_stack_exchange_messages(tmp_path, monkeypatch):
    skedder, log = run_flo(FLO.format(main=free_port(), alpha=free_port(),
                                      keep=tmp_path / "keep"), tmp_path, monkeypatch)
    assert skedder.built
    assert "No running or started taskers. Shutting down skedder" in log
    stores = {house.name: house.store for house in skedder.houses}
    alpha, reference = stores["alpha"], stores["reference"]
    status = alpha.fetch(".road.status")
    assert (status["joined"], status["allowed"], status["remote"]) == (True, True, "elder")
    assert alpha.fetch(".road.received").value == 1
    assert [(dict(msg), name) for msg, name in alpha.fetch(".road.rxmsgs").value] == [
        ({"answer": "hello alpha", "to": "hello elder"}, "elder")]
    assert reference.fetch(".ref.answered").value == 1
    assert alpha.fetch(".road.stack").value is None  # closed by the exit actions
    assert reference.fetch(".ref.stack").value is None
