"""asyncio road benchmark: the asyncio driver beside the polled RoadStack and raet 0.6.8.

Each implementation runs the same scenarios against a peer of its own kind, every
scenario in a fresh subprocess of its own, on loopback with keeps in a temporary dir:

1. ``msgs``: small messages sent at once from one road to the other; messages/s.
2. ``rtt``:  request/response round trips; median and p99 latency in ms.
3. ``idle``: a joined and allowed pair left alone for ``--idle`` seconds; the CPU time
   one road takes (process time of the pair, halved).

``aio`` is ``raetflo.aio``: both roads on one event loop in real time, presence on,
sends awaited as asyncio code would. ``raetflo`` (the polled RoadStack) and ``raet`` run
``msgs`` and ``rtt`` exactly as ``road_bench.py`` does (service rounds without sleeping,
virtual time) and ``idle`` as a house would: every ``--tick`` seconds each stack is
serviced (``manage()`` once a period), its store on real time. Run
``python benchmarks/aio_bench.py`` (or ``--quick``).
"""
from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import road_bench as rb  # noqa: E402  (its harness runs the polled stacks)

IMPLS = ("aio", "raetflo", "raet")
SCENARIOS = ("msgs", "rtt", "idle")
QUICK = {"messages": 200, "round_trips": 50, "idle": 2.0, "repeat": 1}
WARMUP = 5  # round trips not counted


# the asyncio driver ----------------------------------------------------------------------
async def aio_pair(keepdir: str) -> tuple[Any, Any]:
    """Two asyncio roads, alpha joined and allowed with the main beta."""
    from raetflo import aio
    from raetflo.raeting import AutoMode
    common: dict[str, Any] = dict(ha=("127.0.0.1", 0), auto=AutoMode.always.value,
                                  basedirpath=keepdir)
    beta = await aio.open_road(name="beta", main=True, **common)
    alpha = await aio.open_road(name="alpha", **common)
    await alpha.join(beta.ha)
    await alpha.allow("beta")
    return alpha, beta


async def aio_msgs(keepdir: str, count: int, timeout: float) -> dict[str, Any]:
    """Send ``count`` small messages at once; time until beta has them all."""
    alpha, beta = await aio_pair(keepdir)
    seqs: list[int] = []

    async def collect() -> None:
        async for msg, _ in beta.messages():
            seqs.append(msg["seq"])
            if len(seqs) == count:
                return

    start = time.perf_counter()
    sends = [alpha.send({"subject": "bench", "seq": seq}, to="beta") for seq in range(count)]
    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        pass
    elapsed = time.perf_counter() - start
    confirmed = sum(1 for ok in await asyncio.gather(*sends, return_exceptions=True)
                    if ok is None)
    await close(alpha, beta)
    complete = sorted(seqs) == list(range(count))
    return {"value": count / elapsed if complete else None, "seconds": elapsed,
            "delivered": len(seqs), "confirmed": confirmed}


async def aio_rtt(keepdir: str, count: int, timeout: float) -> dict[str, Any]:
    """Alpha sends, beta answers on receipt; latency of each request/response pair."""
    alpha, beta = await aio_pair(keepdir)
    confirms: list[asyncio.Future[None]] = []

    async def echo() -> None:
        async for msg, source in beta.messages():
            confirms.append(beta.send({"subject": "pong", "seq": msg["seq"]}, to=source))

    async def ping(seq: int) -> float:
        start = time.perf_counter()
        confirms.append(alpha.send({"subject": "ping", "seq": seq}, to="beta"))
        while (await alpha.receive())[0]["seq"] != seq:
            pass
        return time.perf_counter() - start

    echoing = asyncio.create_task(echo())
    latencies: list[float] = []
    try:
        async with asyncio.timeout(timeout):
            for seq in range(WARMUP + count):
                latency = await ping(seq)
                if seq >= WARMUP:
                    latencies.append(latency)
    except TimeoutError:
        pass
    echoing.cancel()
    await asyncio.gather(*confirms, return_exceptions=True)
    await close(alpha, beta)
    return latency_result(latencies, count)


async def aio_idle(keepdir: str, duration: float) -> dict[str, Any]:
    """CPU time of an idle joined pair over ``duration`` seconds, per road."""
    alpha, beta = await aio_pair(keepdir)
    await asyncio.sleep(0.2)  # let the allow's last packets settle
    start = time.process_time()
    await asyncio.sleep(duration)
    cpu = time.process_time() - start
    await close(alpha, beta)
    return idle_result(cpu, duration)


async def close(*roads: Any) -> None:
    for road in roads:
        await road.close()


# the polled drivers -----------------------------------------------------------------------
def polled_idle(bench: rb.Bench, duration: float, tick: float) -> dict[str, Any]:
    """CPU time of an idle joined pair serviced every ``tick`` s on real time, per road."""
    alpha, beta, _, _ = bench.pair()
    stacks = [alpha, beta]
    start = last = time.perf_counter()
    manage_at = start + alpha.period
    cpu = time.process_time()
    while (now := time.perf_counter()) - start < duration:
        for stack in stacks:
            stack.store.advanceStamp(now - last)
            if now >= manage_at:
                stack.manage()
            stack.serviceAll()
        if now >= manage_at:
            manage_at += alpha.period
        last = now
        time.sleep(max(0.0, tick - (time.perf_counter() - now)))
    cpu = time.process_time() - cpu
    bench.close()
    return idle_result(cpu, duration)


# results -----------------------------------------------------------------------------------
def latency_result(latencies: list[float], count: int) -> dict[str, Any]:
    if len(latencies) < count:
        return {"value": None, "p99": None, "answered": len(latencies)}
    latencies.sort()
    p99 = latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)]
    return {"value": statistics.median(latencies) * 1e3, "p99": p99 * 1e3,
            "answered": len(latencies)}


def idle_result(cpu: float, duration: float) -> dict[str, Any]:
    per_road = cpu / 2
    return {"value": per_road * 1e3, "percent": round(100 * per_road / duration, 3),
            "seconds": duration}


def worker(args: argparse.Namespace) -> None:
    """Run one scenario of one implementation and print its result as a JSON line."""
    impl = rb.load("raetflo" if args.worker == "aio" else args.worker)
    keepdir = tempfile.mkdtemp(prefix=f"aio_bench_{args.worker}_")
    try:
        if args.worker == "aio":
            result = asyncio.run(aio_scenario(args, keepdir))
        else:
            result = polled_scenario(args, rb.Bench(impl, keepdir))
    finally:
        shutil.rmtree(keepdir, ignore_errors=True)
    rb.print_result(result)


async def aio_scenario(args: argparse.Namespace, keepdir: str) -> dict[str, Any]:
    if args.scenario == "msgs":
        return rb.median_of([await aio_msgs(f"{keepdir}/{run}", args.messages, args.timeout)
                             for run in range(args.repeat)])
    if args.scenario == "rtt":
        return await aio_rtt(keepdir, args.round_trips, args.timeout)
    return await aio_idle(keepdir, args.idle)


def polled_scenario(args: argparse.Namespace, bench: rb.Bench) -> dict[str, Any]:
    if args.scenario == "msgs":
        return rb.median_of([rb.small_messages(bench, args.messages, args.timeout,
                                               confirm=False) for _ in range(args.repeat)])
    if args.scenario == "rtt":
        return rb.round_trips(bench, args.round_trips, args.timeout, warmup=WARMUP)
    return polled_idle(bench, args.idle, args.tick)


def run_worker(impl: str, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one scenario in a subprocess (see ``road_bench.run_command``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl,
           "--scenario", scenario, "--messages", str(args.messages),
           "--round-trips", str(args.round_trips), "--idle", str(args.idle),
           "--tick", str(args.tick), "--repeat", str(args.repeat),
           "--timeout", str(args.timeout)]
    return rb.run_command(cmd, f"{impl} {scenario}", args.show_console,
                          args.timeout * (args.repeat + 1) + args.idle + 120)


Row = tuple[str, str, Callable[[dict[str, Any]], float | None]]


def rows(args: argparse.Namespace) -> dict[str, list[Row]]:
    return {
        "msgs": [("small messages (msg/s)", "higher", lambda r: r["value"])],
        "rtt": [("round trip median (ms)", "lower", lambda r: r["value"]),
                ("round trip p99 (ms)", "lower", lambda r: r.get("p99"))],
        "idle": [(f"idle road CPU over {args.idle:g} s (ms)", "lower", lambda r: r["value"])],
    }


DETAILS: dict[str, tuple[str, ...]] = {
    "msgs": ("seconds", "rounds", "delivered", "confirmed", "runs", "console_lines"),
    "rtt": ("answered", "console_lines"),
    "idle": ("percent", "console_lines"),
}


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"aio_bench: {args.messages} small messages, {args.round_trips} round trips, "
          f"{args.idle:g} s idle (polled tick {args.tick:g} s); "
          f"python {sys.version.split()[0]}")
    header = (f"{'figure':30} {'aio':>10} {'raetflo':>10} {'raet 0.6.8':>11} "
              f"{'aio/raetflo':>12} {'aio/raet':>9}  better")
    print(header)
    print("-" * len(header))
    table = rows(args)
    for scenario in args.scenarios:
        got = results[scenario]
        for label, better, get in table[scenario]:
            ours, polled, ref = (get(got[impl]) for impl in IMPLS)
            print(f"{label:30} {rb.fmt(ours):>10} {rb.fmt(polled):>10} {rb.fmt(ref):>11} "
                  f"{rb.ratio(ours, polled):>12} {rb.ratio(ours, ref):>9}  {better}")
    rb.print_details(results, args.scenarios, IMPLS, DETAILS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="small messages (1)")
    parser.add_argument("--round-trips", type=int, default=200, help="round trips (2)")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds (3)")
    parser.add_argument("--tick", type=float, default=0.1,
                        help="seconds between services of an idle polled stack (3)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of (1); the median is reported")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="wall seconds allowed per timed run")
    return rb.parse_common(parser, argv, QUICK, IMPLS, SCENARIOS)


if __name__ == "__main__":
    rb.run_main(parse_args(), worker, run_worker, report, IMPLS)
