"""``raetflo probe HOST:PORT`` against a raetflo main and a raet 0.6.8 main, each in its own
process, and against a closed port."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from raetflo.raeting import AutoMode

from ..conftest import free_port
from ..flos import ROOT
from . import raetflo

SERVE_SECONDS = 60.0  # the longest a main process of these tests lives


@pytest.fixture
def main_port(tmp_path, request) -> Iterator[int]:
    """The port of a main (``impl``, ``auto`` from the test's parameters) in a subprocess."""
    impl, auto, *host = request.param
    main = subprocess.Popen([sys.executable, "-m", "tests.ops.mainproc", impl,
                             str(tmp_path / "alpha"), str(auto.value), str(SERVE_SECONDS),
                             *host],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        ready = main.stdout.readline().split()
        assert ready[0] == "ready", ready
        yield int(ready[1])
    finally:
        main.stdin.close()
        main.wait(timeout=10)


MAINS = [("raetflo", AutoMode.always), ("raet", AutoMode.always)]


@pytest.mark.parametrize("main_port", MAINS, ids=["raetflo", "raet"], indirect=True)
def test_probe_sees_a_main_alive(main_port):
    run = raetflo("probe", f"127.0.0.1:{main_port}", "--name", "prober", "--timeout", "10")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [["join", "ok"], ["allow", "ok"],
                                                         ["alive", "ok"]]
    times = [float(line.split()[2]) for line in lines[:3]]
    assert times == sorted(times) and all(line.endswith(" ms") for line in lines[:3])
    assert lines[3] == f"127.0.0.1:{main_port}: estate 'alpha' is alive"


@pytest.mark.parametrize("main_port", [("raetflo", AutoMode.always, "::1")], ids=["ipv6"],
                         indirect=True)
def test_probe_over_ipv6(main_port):
    run = raetflo("probe", f"[::1]:{main_port}", "--timeout", "10")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"[::1]:{main_port}: estate 'alpha' is alive"


@pytest.mark.parametrize("main_port", MAINS, ids=["raetflo", "raet"], indirect=True)
def test_probe_json(main_port):
    run = raetflo("probe", f"127.0.0.1:{main_port}", "--timeout", "10", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert (report["ok"], report["remote"]) == (True, "alpha")
    assert report["name"].startswith("probe_")
    assert [(step["step"], step["ok"]) for step in report["steps"]] == \
        [("join", True), ("allow", True), ("alive", True)]


@pytest.mark.parametrize("main_port", [("raetflo", AutoMode.never), ("raet", AutoMode.never)],
                         ids=["raetflo", "raet"], indirect=True)
def test_probe_of_a_main_that_holds_it_pending_fails_at_the_join(main_port):
    run = raetflo("probe", f"127.0.0.1:{main_port}", "--timeout", "1.5")
    assert run.returncode == 1
    first, last = run.stdout.splitlines()
    assert first.split()[:2] == ["join", "FAILED"]
    assert "the remote holds it pending" in first
    assert last == f"127.0.0.1:{main_port}: probe failed at the join"


@pytest.mark.parametrize("main_port", [("raetflo", AutoMode.always)], ids=["raetflo"],
                         indirect=True)
def test_probing_again_with_a_name_says_why_it_is_refused(main_port):
    """Each probe has new keys: a main whose road is immutable refuses them under a name it
    knows, and the probe says so."""
    port = free_port()
    first = raetflo("probe", f"127.0.0.1:{main_port}", "--name", "again", "--port", str(port))
    assert first.returncode == 0, first.stdout + first.stderr
    again = raetflo("probe", f"127.0.0.1:{main_port}", "--name", "again", "--port", str(port))
    assert again.returncode == 1 and "give a new name" in again.stdout, again.stdout


def test_probe_of_a_closed_port_fails_within_its_timeout():
    began = time.monotonic()
    run = raetflo("probe", f"127.0.0.1:{free_port()}", "--timeout", "1", "--json")
    assert time.monotonic() - began < 1 + 5  # the timeout, and starting Python
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["ok"] is False and report["remote"] is None
    [step] = report["steps"]
    # it gives up at its timeout; a loaded machine may be a little late noticing it
    assert step["step"] == "join" and not step["ok"] and 1000 <= step["ms"] < 2500
    assert step["detail"] == "no answer to the join in time"


@pytest.mark.parametrize("args, message", [
    (("probe", "nohost"), "bad address 'nohost'"),
    (("probe", "127.0.0.1:1", "--timeout", "0"), "the timeout must be a positive"),
    (("probe", "127.0.0.1:1", "--timeout", "inf"), "the timeout must be a positive"),
    (("probe", "127.0.0.1:1", "--port", "70000"), "bad --port 70000"),
    (("probe", "name.invalid:7530"), "Cannot resolve address for host 'name.invalid'"),
])
def test_probe_errors(args, message):
    run = raetflo(*args)
    assert run.returncode == 1 and message in run.stderr


def test_a_step_that_times_out_reports_the_time_it_gave_up(monkeypatch):
    """The reported milliseconds are when the deadline was seen passed, never a moment
    before it (the stamp of the last service pass was)."""
    from types import SimpleNamespace

    from raetflo.command import probe as probing
    clock = iter([0.9997, 1.0004])  # the pass's stamp, then the deadline check
    monkeypatch.setattr(probing.time, "monotonic", lambda: next(clock))
    stamps: list[float] = []
    store = SimpleNamespace(changeStamp=stamps.append)
    stack = SimpleNamespace(store=store, serviceAll=lambda: None, remotes={})
    step = SimpleNamespace(name="join", done=lambda: False, busy=lambda: True)
    ok, detail = probing.wait(stack, step, deadline=1.0, began=0.0)
    assert not ok and detail == "no answer to the join in time"
    assert stamps[-1] >= 1.0
