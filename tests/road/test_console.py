"""Console lines follow the tutorial's verbosity: chatty at concise, silent at terse."""
from __future__ import annotations

import io

import pytest

from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack, service_stacks


def handshake_and_message(tmp_path, ha) -> None:
    main = RoadStack(name="beta", ha=ha(), main=True, auto=AutoMode.always.value,
                     dirpath=str(tmp_path / "beta"))
    other = RoadStack(name="alpha", ha=ha(), auto=AutoMode.always.value,
                      dirpath=str(tmp_path / "alpha"))
    remote = RemoteEstate(stack=other, ha=main.ha)
    other.addRemote(remote)
    other.join(uid=remote.uid, cascade=True)
    service_stacks([main, other], 1.0)
    other.transmit({"hi": 1}, remote.uid)
    service_stacks([main, other], 1.0)
    assert len(main.rxMsgs) == 1
    main.server.close()
    other.server.close()


@pytest.mark.parametrize("level,expect", [("terse", False), ("concise", True)])
def test_console_verbosity(tmp_path, ha, terse_console, level, expect, monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(terse_console, "_file", log)  # the console has no public sink setter
    terse_console.reinit(verbosity=getattr(terse_console.Wordage, level))
    handshake_and_message(tmp_path, ha)
    out = log.getvalue()
    assert ("Joiner alpha. Do Join with" in out) is expect
    assert ("Messengent beta. Complete with alpha" in out) is expect
    if not expect:
        assert out == ""
