"""``raetflo probe HOST:PORT``: does a road estate answer? A health check for scripts.

A throw-away estate (fresh keys, a temporary keep removed afterwards, auto mode
``always``) joins the remote, allows and sends it an alive, one step after the other,
printing each with the milliseconds since the probe started. Exit status 0 when the alive
was answered, 1 when a step was refused or the time ran out.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from ioflo.base.consoling import getConsole
from ioflo.base.storing import Store

from ..raeting import AutoMode, StackError, TrnsKind
from ..road.estating import EstateError, RemoteEstate
from ..road.stacking import RoadStack
from . import formatting
from .errors import CommandError, parse_ha

POLL = 0.005  # seconds the probe sleeps between services while it waits for an answer
DEFAULT_TIMEOUT = 5.0  # seconds the whole probe may take


@dataclass
class StepResult:
    step: str
    ok: bool
    ms: float
    detail: str = ""


@dataclass
class Step:
    """One step: how to start it, whether it succeeded, whether it is still under way."""

    name: str
    start: Callable[[], None]
    done: Callable[[], bool]
    busy: Callable[[], bool]


def add_parser(commands: Any) -> None:
    probe = commands.add_parser("probe", help="join, allow and alive a road estate",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    probe.add_argument("ha", metavar="HOST:PORT", help="the estate to probe")
    probe.add_argument("--name", help="the probe estate's name (default: probe_<random>)")
    probe.add_argument("--port", type=int, default=0,
                       help="the local port the probe listens at (default: any free one)")
    probe.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                       help=f"seconds the whole probe may take (default {DEFAULT_TIMEOUT})")
    probe.add_argument("--json", action="store_true", help="print JSON")
    probe.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    host, port = parse_ha(args.ha)
    if not 0 < args.timeout < math.inf:
        raise CommandError("the timeout must be a positive number of seconds")
    if not 0 <= args.port <= 65535:
        raise CommandError(f"bad --port {args.port}: a port is 0 to 65535")
    name = args.name or f"probe_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="raetflo-probe-") as keepdir, terminated():
        results, remote = probe(host, port, name, args.timeout, os.path.join(keepdir, name),
                                args.port)
    ok = len(results) == 3 and all(result.ok for result in results)
    if args.json:
        formatting.print_json({"ha": args.ha, "name": name, "remote": remote, "ok": ok,
                               "steps": [asdict(result) for result in results]}, out)
    else:
        for result in results:
            out.write(f"{result.step:<6} {'ok' if result.ok else 'FAILED':<6} "
                      f"{result.ms:8.1f} ms{'  ' + result.detail if result.detail else ''}\n")
        out.write(f"{args.ha}: estate '{remote}' is alive\n" if ok else
                  f"{args.ha}: probe failed at the {results[-1].step}\n")
    return 0 if ok else 1


@contextlib.contextmanager
def terminated() -> Iterator[None]:
    """While the probe runs, SIGTERM ends it as an exception does, so its temporary keep
    (secret keys) is removed."""
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        before = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def probe(host: str, port: int, name: str, timeout: float,
          keepdir: str, local_port: int = 0) -> tuple[list[StepResult], str | None]:
    """Run the steps against ``host:port``; their results and the remote's name."""
    store = Store(stamp=0.0)
    getConsole().reinit(verbosity=getConsole().Wordage.mute)  # the output is the steps
    try:
        stack = RoadStack(name=name, ha=(listen_host(host), local_port), dirpath=keepdir,
                          store=store,
                          auto=AutoMode.always.value, main=False)
    except StackError as ex:
        raise CommandError(str(ex)) from None
    try:
        try:
            remote = stack.addRemote(RemoteEstate(stack=stack, fuid=0, sid=0, ha=(host, port)))
        except (EstateError, StackError) as ex:
            raise CommandError(str(ex)) from None
        return run_steps(stack, steps(stack, remote), timeout), \
            (remote.name if remote.joined else None)
    finally:
        stack.close()


def listen_host(host: str) -> str:
    """Where the probe listens to reach ``host``: every IPv6 address (dual-stack) for an
    IPv6 literal, else every IPv4 one."""
    return "::" if ":" in host else "0.0.0.0"


def steps(stack: RoadStack, remote: RemoteEstate) -> list[Step]:
    """The join, allow and alive, with no timeouts of their own: the probe's deadline
    ends them (so a join the remote holds pending is still seen pending then)."""
    uid = remote.uid
    return [Step("join", lambda: stack.join(uid=uid, timeout=0.0),
                 lambda: bool(remote.joined), lambda: bool(remote.joinInProcess())),
            Step("allow", lambda: stack.allow(uid=uid, timeout=0.0),
                 lambda: bool(remote.allowed), lambda: bool(remote.allowInProcess())),
            Step("alive", lambda: stack.alive(uid=uid, timeout=0.0),
                 lambda: remote.alived is True,
                 lambda: bool(remote.in_process(TrnsKind.alive)))]


def run_steps(stack: RoadStack, todo: list[Step], timeout: float) -> list[StepResult]:
    """Run ``todo`` in order until one fails; each step's result."""
    began = time.monotonic()
    results = []
    for step in todo:
        step.start()
        ok, detail = wait(stack, step, began + timeout, began)
        results.append(StepResult(step.name, ok, round(stack.store.stamp * 1000, 1), detail))
        if not ok:
            break
    return results


def wait(stack: RoadStack, step: Step, deadline: float, began: float) -> tuple[bool, str]:
    """Service ``stack`` until ``step`` succeeds, ends or ``deadline`` passes."""
    while True:
        stack.store.changeStamp(time.monotonic() - began)
        stack.serviceAll()
        if step.done():
            return True, ""
        now = time.monotonic()
        if now >= deadline:  # reported as when it gave up, not as the last pass's stamp
            stack.store.changeStamp(now - began)
            return False, f"no answer to the {step.name} in time" + pending_note(stack, step)
        if not step.busy():
            hint = (" (does it know this --name? each probe has new keys, which a main "
                    "whose road is immutable refuses: give a new name, or forget that one "
                    "there)" if step.name == "join" and stack.stats.get("joiner_rx_reject")
                    else "")
            return False, f"{step.name} refused by the remote{hint}"
        time.sleep(POLL)


def pending_note(stack: RoadStack, step: Step) -> str:
    """Why a join may hang: the remote holds it pending for its operator."""
    pended = step.name == "join" and any(
        getattr(join, "pended", False) for remote in stack.remotes.values()
        for join in remote.joinInProcess())
    return " (the remote holds it pending: accept this estate there)" if pended else ""
