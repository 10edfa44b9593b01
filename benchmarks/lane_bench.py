"""Lane throughput: messages per second between two yards, raetflo beside raet 0.6.8.

Run from the repository root: ``python benchmarks/lane_bench.py [--count N] [--rounds R]``.
Each scenario sends messages from alpha to beta (two stacks in one process, sockets in a
private temporary directory) and times from the first transmit until beta has them all;
the best of ``--rounds`` runs is reported for each implementation, with the ratio
raetflo / raet (above 1: raetflo is faster).

Scenarios: small JSON messages queued a few at a time (what a flo does every tick), the
same all queued at once, small msgpack messages, and 300 KB JSON messages (five pages).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import raetflo  # noqa: E402,F401
from tests.interop import refshim  # noqa: E402

refshim.install()  # the reference needs it on Python 3.11; it wraps json.loads and msgpack

from ioflo.base.consoling import getConsole  # noqa: E402
from raet.lane import stacking as ref_stacking  # noqa: E402
from raet.lane import yarding as ref_yarding  # noqa: E402

from raetflo.lane import stacking, yarding  # noqa: E402

IMPLS = {"raetflo": (stacking.LaneStack, yarding.RemoteYard),
         "raet": (ref_stacking.LaneStack, ref_yarding.RemoteYard)}


def run(impl: str, count: int, batch: int, pk: int, size: int) -> float:
    """Seconds to deliver ``count`` messages alpha -> beta, ``batch`` queued per round."""
    LaneStack, RemoteYard = IMPLS[impl]
    old_pk = LaneStack.Pk
    LaneStack.Pk = pk
    sockdir = tempfile.mkdtemp(prefix="lanebench", dir="/tmp")
    alpha = LaneStack(name="alpha", lanename="bench", sockdirpath=sockdir)
    beta = LaneStack(name="beta", lanename="bench", sockdirpath=sockdir)
    try:
        remote = RemoteYard(stack=alpha, ha=beta.ha)
        alpha.addRemote(remote)
        filler = "x" * size
        msgs = [{"content": filler, "n": n, "route": ["alpha", "beta", None]}
                for n in range(count)]
        received = 0
        start = time.perf_counter()
        sent = 0
        while received < count:
            for msg in msgs[sent:sent + batch]:
                alpha.transmit(msg, remote.uid)
            sent += batch
            alpha.serviceAll()
            beta.serviceAll()
            received += len(beta.rxMsgs)
            beta.rxMsgs.clear()
        elapsed = time.perf_counter() - start
        drops = {key: value for stack in (alpha, beta) for key, value in stack.stats.items()
                 if key != "busy_transmit_yard"}  # a full queue waits; anything else is a loss
        if received != count or drops:
            raise RuntimeError(f"{impl}: {received} of {count} delivered, stats {drops}")
        return elapsed
    finally:
        alpha.server.close()
        beta.server.close()
        shutil.rmtree(sockdir, ignore_errors=True)
        LaneStack.Pk = old_pk


def best(func: Callable[[], float], rounds: int) -> float:
    return min(func() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="small messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (best kept)")
    args = parser.parse_args()
    console = getConsole()
    console.reinit(verbosity=console.Wordage.terse)

    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("small json, 10 per tick", dict(count=args.count, batch=10, pk=0, size=20)),
        ("small json, all queued", dict(count=args.count // 4, batch=args.count, pk=0, size=20)),
        ("small msgpack, 10 per tick", dict(count=args.count, batch=10, pk=1, size=20)),
        ("300 KB json (5 pages)", dict(count=max(args.count // 100, 20), batch=2, pk=0,
                                       size=300_000)),
    ]
    print(f"{'scenario':30} {'raetflo msg/s':>14} {'raet msg/s':>12} {'ratio':>7}")
    slowest = float("inf")
    for title, params in scenarios:
        rates = {impl: params["count"] / best(lambda: run(impl, **params), args.rounds)
                 for impl in IMPLS}
        ratio = rates["raetflo"] / rates["raet"]
        slowest = min(slowest, ratio)
        print(f"{title:30} {rates['raetflo']:14.0f} {rates['raet']:12.0f} {ratio:7.2f}")
    print(f"lowest ratio raetflo/raet: {slowest:.2f}")


if __name__ == "__main__":
    main()
