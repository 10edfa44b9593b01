"""Road benchmark: raetflo and raet 0.6.8 side by side on loopback.

Each implementation runs the same scenarios against a peer of its own kind, every
scenario in a fresh subprocess of its own (so peak RSS and imports stay separate):

0. ``ceiling``: the machine's crypto ceiling, libnacl alone: packets/s of sign + box +
   open + verify, and MB/s of the crypto a large message needs (always run first).
1. ``msgs``:  small messages queued at once from one stack to the other; messages/s until
   all are delivered and confirmed.
2. ``big``:   one large message; MB/s until delivered and confirmed.
3. ``window``: small messages with at most ``--window`` in flight; messages/s.
4. ``rtt``:   request/response round trips; median and p99 latency in ms.
5. ``storm``: many non-main estates join one main estate at once; seconds until all are
   allowed, first joins that failed, peak RSS.

Stacks are serviced in one process without sleeping; every service round advances each
stack's virtual clock by 0.1 s. Run ``python benchmarks/road_bench.py`` (or ``--quick``);
``--worker IMPL --scenario NAME`` runs one scenario and prints its result as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
IMPLS = ("raetflo", "raet")
SCENARIOS = ("ceiling", "msgs", "big", "window", "rtt", "storm")
STEP = 0.1  # virtual seconds per service round
SETUP_ROUNDS = 200  # most rounds to join and allow a pair before timing starts
RESULT_TAG = "RESULT "
QUICK = {"messages": 200, "size": 100_000, "round_trips": 50, "joiners": 20, "repeat": 1}
CEILING_PACKET = 256  # bytes signed and verified per small packet of the ceiling
CEILING_BODY = 64  # bytes boxed and opened per small packet of the ceiling


@dataclass
class Impl:
    """The road classes of one implementation."""

    name: str
    RoadStack: Any
    RemoteEstate: Any
    always: int


def load(name: str) -> Impl:
    """Import implementation ``name`` and set the shared ioflo console to terse."""
    sys.path.insert(0, str(ROOT))
    if name == "raet":
        from tests.interop import refshim
        refshim.install()
        from raet.raeting import AutoMode
        from raet.road.estating import RemoteEstate
        from raet.road.stacking import RoadStack
    else:
        import raetflo  # noqa: F401
        from raetflo.raeting import AutoMode
        from raetflo.road.estating import RemoteEstate
        from raetflo.road.stacking import RoadStack
    from ioflo.base.consoling import getConsole
    console = getConsole()
    console.reinit(verbosity=console.Wordage.terse)
    return Impl(name, RoadStack, RemoteEstate, AutoMode.always.value)


def free_ports(count: int) -> list[int]:
    """``count`` distinct UDP ports on 127.0.0.1 that were free a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class Bench:
    """Makes stacks of one implementation with fresh keeps under a private temp dir."""

    def __init__(self, impl: Impl, keepdir: str) -> None:
        self.impl = impl
        self.keepdir = keepdir
        self.stacks: list[Any] = []
        self.generation = 0  # keeps of closed stacks are never reused

    def stack(self, name: str, port: int, main: bool = False) -> Any:
        stack = self.impl.RoadStack(name=name, ha=("127.0.0.1", port), main=main,
                                    auto=self.impl.always,
                                    dirpath=os.path.join(self.keepdir, str(self.generation),
                                                         name))
        self.stacks.append(stack)
        return stack

    def remote(self, stack: Any, peer: Any) -> Any:
        """Give ``stack`` a vacuous record of ``peer`` (to join it)."""
        remote = self.impl.RemoteEstate(stack=stack, ha=peer.ha)
        stack.addRemote(remote)
        return remote

    def pair(self) -> tuple[Any, Any, int, int]:
        """A joined and allowed (alpha, beta, alpha's uid of beta, beta's uid of alpha)."""
        ports = free_ports(2)
        alpha = self.stack("alpha", ports[0])
        beta = self.stack("beta", ports[1], main=True)
        remote = self.remote(alpha, beta)
        alpha.join(uid=remote.uid, cascade=True)
        for _ in range(SETUP_ROUNDS):
            service_round([alpha, beta])
            if remote.allowed and not alpha.transactions and not beta.transactions:
                return alpha, beta, remote.uid, next(iter(beta.remotes.values())).uid
        raise RuntimeError(f"{self.impl.name}: setup pair did not join and allow")

    def close(self) -> None:
        for stack in self.stacks:
            stack.server.close()
        self.stacks.clear()
        self.generation += 1


def service_round(stacks: list[Any]) -> None:
    """Service each stack once, then advance its clock by STEP."""
    for stack in stacks:
        stack.serviceAll()
        stack.store.advanceStamp(STEP)


def small_messages(bench: Bench, count: int, timeout: float,
                   confirm: bool = True) -> dict[str, Any]:
    """Queue ``count`` small messages at once; time until all are delivered and, with
    ``confirm``, until the sender has every confirmation (no transaction left)."""
    alpha, beta, uid, _ = bench.pair()
    bodies = [{"subject": "bench", "seq": seq} for seq in range(count)]
    start = time.perf_counter()
    for body in bodies:
        alpha.transmit(body, uid)
    rounds = until_done(alpha, beta, count, confirm, start + timeout)
    return finish(bench, alpha, beta, count, confirm, start, rounds)


def until_done(alpha: Any, beta: Any, count: int, confirm: bool, deadline: float,
               top_up: Callable[[], None] | None = None) -> int:
    """Service rounds until beta holds ``count`` messages and, with ``confirm``, alpha
    has no transaction left (or the deadline passes); ``top_up`` runs before each round.
    Returns the rounds run."""
    rounds = 0
    while ((len(beta.rxMsgs) < count or (confirm and alpha.transactions))
           and time.perf_counter() < deadline):
        if top_up is not None:
            top_up()
        service_round([alpha, beta])
        rounds += 1
    return rounds


def finish(bench: Bench, alpha: Any, beta: Any, count: int, confirm: bool, start: float,
           rounds: int) -> dict[str, Any]:
    """The result of a small-message run that took from ``start`` until now: messages/s
    when beta holds messages 0 .. count-1 exactly once (and, with ``confirm``, alpha has
    no transaction left), else None."""
    elapsed = time.perf_counter() - start
    seqs = sorted(msg["seq"] for msg, _ in beta.rxMsgs)
    complete = seqs == list(range(count)) and not (confirm and alpha.transactions)
    bench.close()
    return {"value": count / elapsed if complete else None, "seconds": elapsed,
            "rounds": rounds, "delivered": len(seqs)}


def windowed_messages(bench: Bench, count: int, window: int,
                      timeout: float) -> dict[str, Any]:
    """Send ``count`` small messages with at most ``window`` unconfirmed at any time (the
    sender tops up before every round); messages/s until all are delivered and confirmed."""
    alpha, beta, uid, _ = bench.pair()
    sent = 0

    def top_up() -> None:
        nonlocal sent
        room = window - len(alpha.txMsgs) - len(alpha.transactions)
        for seq in range(sent, min(count, sent + room)):
            alpha.transmit({"subject": "bench", "seq": seq}, uid)
            sent += 1

    start = time.perf_counter()
    rounds = until_done(alpha, beta, count, True, start + timeout, top_up)
    return finish(bench, alpha, beta, count, True, start, rounds)


def big_message(bench: Bench, size: int, timeout: float) -> dict[str, Any]:
    """Send one message carrying ``size`` bytes of text; MB/s until delivered and confirmed."""
    alpha, beta, uid, _ = bench.pair()
    data = "".join(random.Random(size).choices(string.ascii_letters + string.digits, k=size))
    start = time.perf_counter()
    alpha.transmit({"data": data}, uid)
    rounds = until_done(alpha, beta, 1, True, start + timeout)
    elapsed = time.perf_counter() - start
    complete = (bool(beta.rxMsgs) and beta.rxMsgs[0][0]["data"] == data
                and not alpha.transactions)
    bench.close()
    return {"value": size / 1e6 / elapsed if complete else None, "seconds": elapsed,
            "rounds": rounds}


def crypto_ceiling(size: int, repeat: int, packets: int = 2000) -> dict[str, Any]:
    """The machine's crypto ceiling with libnacl alone (no protocol, no codec).

    ``value``: packets/s of sign + box + open + verify (a CEILING_PACKET-byte packet with a
    CEILING_BODY-byte body); ``big_mbps``: MB/s of what one ``size``-byte message needs:
    one box and one open of its coat, a sign and a verify of each of its segments (as the
    codec cuts them) and of its done packet. Medians of ``repeat`` runs.
    """
    import libnacl
    from raetflo.road import packeting
    verkey, sigkey = libnacl.crypto_sign_seed_keypair(libnacl.randombytes(32))
    pub_a, sec_a = libnacl.crypto_box_keypair()
    pub_b, sec_b = libnacl.crypto_box_keypair()
    ours = libnacl.crypto_box_beforenm(pub_b, sec_a)
    theirs = libnacl.crypto_box_beforenm(pub_a, sec_b)

    def boxed(body: bytes) -> None:
        nonce = libnacl.randombytes(24)
        libnacl.crypto_box_open_easy_afternm(
            libnacl.crypto_box_easy_afternm(body, nonce, ours), nonce, theirs)

    def signed(packed: bytes) -> None:
        libnacl.crypto_sign_verify_detached(libnacl.crypto_sign_detached(packed, sigkey),
                                            packed, verkey)

    small, body = libnacl.randombytes(CEILING_PACKET), libnacl.randombytes(CEILING_BODY)
    plain = libnacl.randombytes(size + len('{"data":""}'))
    head = packeting.Head(pk=0, se=2, de=3, si=4, ti=5, bk=1, ck=1, fk=1)
    parts = packeting.segment(head, bytes(len(plain) + 40))  # the coat: tag and nonce more
    segments = [libnacl.randombytes(packeting.head_length(part) + len(chunk) + 64)
                for part, chunk in parts]

    def one_packet() -> None:
        signed(small)
        boxed(body)

    def big() -> None:
        boxed(plain)
        for packed in segments + [small]:
            signed(packed)

    def timed(run: Callable[[], None], times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            run()
        return (time.perf_counter() - start) / times

    small_s = statistics.median(timed(one_packet, packets) for _ in range(repeat))
    big_s = statistics.median(timed(big, 1) for _ in range(repeat))
    return {"value": 1 / small_s, "per_message": 0.5 / small_s,
            "big_mbps": size / 1e6 / big_s, "packet_us": small_s * 1e6,
            "big_ms": big_s * 1e3, "segments": len(parts)}


def round_trips(bench: Bench, count: int, timeout: float, warmup: int = 5) -> dict[str, Any]:
    """Alpha sends, beta answers on receipt; latency of each request/response pair.

    A round is every stack's serviceAllRx, then the application (beta answers, alpha
    checks for the answer), then every stack's serviceAllTx and a clock step.
    """
    alpha, beta, uid, back = bench.pair()
    stacks = [alpha, beta]
    latencies: list[float] = []
    deadline = time.perf_counter() + timeout
    for seq in range(warmup + count):
        start = time.perf_counter()
        alpha.transmit({"subject": "ping", "seq": seq}, uid)
        answered = False
        while not answered and time.perf_counter() < deadline:
            for stack in stacks:
                stack.serviceAllRx()
            while beta.rxMsgs:
                msg, _ = beta.rxMsgs.popleft()
                beta.transmit({"subject": "pong", "seq": msg["seq"]}, back)
            while alpha.rxMsgs:
                answered = alpha.rxMsgs.popleft()[0]["seq"] == seq or answered
            for stack in stacks:
                stack.serviceAllTx()
                stack.store.advanceStamp(STEP)
        if not answered:
            bench.close()
            return {"value": None, "p99": None, "answered": max(0, seq - warmup)}
        if seq >= warmup:
            latencies.append(time.perf_counter() - start)
    bench.close()
    latencies.sort()
    p99 = latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)]
    return {"value": statistics.median(latencies) * 1e3, "p99": p99 * 1e3,
            "answered": len(latencies)}


def first_try_failed(stack: Any) -> bool:
    """Whether a joiner's cascade needed another attempt, by its stats counters.

    Both implementations count the same names: a resent join request, a failed join or
    allow transaction, or more than one completed join.
    """
    stats = stack.stats
    return (stats.get("joiner_tx_join_redo", 0) > 0
            or stats.get("joiner_transaction_failure", 0) > 0
            or stats.get("allower_transaction_failure", 0) > 0
            or stats.get("join_initiate_complete", 0) > 1)


def join_storm(bench: Bench, joiners: int, timeout: float) -> dict[str, Any]:
    """``joiners`` non-main estates join one main estate at once (cascade to allow, alive).

    A joiner whose join (or allow) ends without success is retried by the harness.
    """
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ports = free_ports(joiners + 1)
    setup = time.perf_counter()
    main = bench.stack("main", ports[0], main=True)
    pairs = [(stack, bench.remote(stack, main)) for stack in
             (bench.stack(f"joiner{i:04d}", port) for i, port in enumerate(ports[1:]))]
    stacks = [stack for stack, _ in pairs] + [main]
    setup = time.perf_counter() - setup
    retried: set[int] = set()
    allowed_at = idle_at = None
    rounds = 0
    start = time.perf_counter()
    for stack, remote in pairs:
        stack.join(uid=remote.uid, cascade=True)
    while time.perf_counter() - start < timeout:
        service_round(stacks)
        rounds += 1
        if allowed_at is None:
            pending = 0
            for index, (stack, remote) in enumerate(pairs):
                if remote.allowed:
                    continue
                pending += 1
                if stack.transactions:
                    continue
                retried.add(index)
                if remote.joined:
                    stack.allow(uid=remote.uid, cascade=True)
                else:
                    stack.join(uid=remote.uid, cascade=True)
            if not pending:
                allowed_at = time.perf_counter() - start
        elif not any(stack.transactions for stack in stacks):
            idle_at = time.perf_counter() - start
            break
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    failed = sum(1 for index, (stack, _) in enumerate(pairs)
                 if index in retried or first_try_failed(stack))
    counts = {"redos": 0, "failures": 0}
    for stack in stacks:
        for key, value in stack.stats.items():
            if "redo" in key:
                counts["redos"] += value
            elif key.endswith("_transaction_failure"):
                counts["failures"] += value
    bench.close()
    return {"value": allowed_at, "idle": idle_at, "failed_joins": failed,
            "harness_retries": len(retried), **counts, "rounds": rounds, "setup": setup,
            "rss_mb": rss / 1024, "rss_base_mb": rss_base / 1024}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median value (a failed run counts as the worst)."""
    ranked = sorted(runs, key=lambda run: -math.inf if run["value"] is None else run["value"])
    return dict(ranked[len(ranked) // 2], runs=[run["value"] for run in runs])


def worker(args: argparse.Namespace) -> None:
    """Run one scenario of one implementation and print its result as a JSON line."""
    impl = load(args.worker)
    keepdir = tempfile.mkdtemp(prefix=f"road_bench_{impl.name}_")
    try:
        bench = Bench(impl, keepdir)
        if args.scenario == "ceiling":
            result = crypto_ceiling(args.size, args.repeat)
        elif args.scenario == "msgs":
            result = median_of([small_messages(bench, args.messages, args.timeout)
                                for _ in range(args.repeat)])
        elif args.scenario == "big":
            result = median_of([big_message(bench, args.size, args.timeout)
                                for _ in range(args.repeat)])
        elif args.scenario == "window":
            result = median_of([windowed_messages(bench, args.messages, args.window,
                                                  args.timeout) for _ in range(args.repeat)])
        elif args.scenario == "rtt":
            result = round_trips(bench, args.round_trips, args.timeout)
        else:
            result = join_storm(bench, args.joiners, args.timeout)
        if any(args.scenario == scenario for _, scenario, _, _ in SHARES):
            result["ceiling"] = crypto_ceiling(args.size, args.repeat)  # the same moment
    finally:
        shutil.rmtree(keepdir, ignore_errors=True)
    print_result(result)


def print_result(result: dict[str, Any]) -> None:
    """A worker's result: a JSON line of its own, after any console output."""
    print(f"\n{RESULT_TAG}{json.dumps(result)}", flush=True)


def run_worker(impl: str, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one scenario in a subprocess (see :func:`run_command`)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl,
           "--scenario", scenario, "--messages", str(args.messages), "--size", str(args.size),
           "--round-trips", str(args.round_trips), "--joiners", str(args.joiners),
           "--window", str(args.window),
           "--repeat", str(args.repeat), "--timeout", str(args.timeout)]
    return run_command(cmd, f"{impl} {scenario}", args.show_console,
                       args.timeout * (args.repeat + 1) + 300)


def run_command(cmd: list[str], label: str, show_console: int,
                timeout: float) -> dict[str, Any]:
    """Run a worker command; its result line parsed, its console lines counted (the first
    ``show_console`` echoed to stderr, tagged ``label``); ``value`` None when it failed."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    result: dict[str, Any] | None = None
    console = 0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
        elif line.strip():
            console += 1
            if console <= show_console:
                print(f"[{label}] {line}", file=sys.stderr)
    if proc.returncode != 0 or result is None:
        print(f"[{label}] failed (exit {proc.returncode}):\n{proc.stderr}", file=sys.stderr)
        return {"value": None}
    result["console_lines"] = console
    return result


Row = tuple[str, str, Callable[[dict[str, Any]], float | None]]

ROWS: dict[str, list[Row]] = {
    "ceiling": [("crypto ceiling (packets/s)", "higher", lambda r: r["value"])],
    "msgs": [("small messages (msg/s)", "higher", lambda r: r["value"])],
    "big": [("large message (MB/s)", "higher", lambda r: r["value"])],
    "window": [("window of messages (msg/s)", "higher", lambda r: r["value"])],
    "rtt": [("round trip median (ms)", "lower", lambda r: r["value"]),
            ("round trip p99 (ms)", "lower", lambda r: r.get("p99"))],
    "storm": [("join storm: all allowed (s)", "lower", lambda r: r["value"]),
              ("join storm: all idle (s)", "lower", lambda r: r.get("idle")),
              ("join storm: failed first joins", "lower", lambda r: r.get("failed_joins")),
              ("join storm: peak RSS (MB)", "lower", lambda r: r.get("rss_mb")),
              ("join storm: stack setup (s)", "lower", lambda r: r.get("setup"))],
}

DETAILS: dict[str, tuple[str, ...]] = {
    "ceiling": ("packet_us", "big_mbps", "big_ms", "segments"),
    "msgs": ("seconds", "rounds", "delivered", "runs", "console_lines"),
    "big": ("seconds", "rounds", "runs", "console_lines"),
    "window": ("seconds", "rounds", "delivered", "runs", "console_lines"),
    "rtt": ("answered", "console_lines"),
    "storm": ("rounds", "redos", "failures", "harness_retries", "rss_base_mb", "console_lines"),
}


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) or value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def ratio(ours: float | None, ref: float | None) -> str:
    if ours is None or ref is None:
        return "n/a"
    if ref == 0:
        return "1.00" if ours == 0 else "inf"
    return f"{ours / ref:.2f}"


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"road_bench: {args.messages} small messages, {args.size:,} byte message, "
          f"window {args.window}, {args.round_trips} round trips, {args.joiners} joiners; "
          f"python {sys.version.split()[0]}")
    header = f"{'figure':34} {'raetflo':>12} {'raet 0.6.8':>12} {'raetflo/raet':>13}  better"
    print(header)
    print("-" * len(header))
    for scenario in args.scenarios:
        ours, ref = results[scenario]["raetflo"], results[scenario]["raet"]
        for label, better, get in ROWS[scenario]:
            a, b = get(ours), get(ref)
            print(f"{label:34} {fmt(a):>12} {fmt(b):>12} {ratio(a, b):>13}  {better}")
    print_details(results, args.scenarios, IMPLS, DETAILS)
    print_ceiling(results, args)


# figure, scenario, the ceiling it is held against (and its unit) for each share printed
SHARES = (("small messages", "msgs", "per_message", "msg/s at two packets per message"),
          ("large message", "big", "big_mbps", "MB/s"),
          ("window of messages", "window", "per_message", "msg/s at two packets per message"))


def print_ceiling(results: dict[str, dict[str, dict[str, Any]]],
                  args: argparse.Namespace) -> None:
    """Each message figure as a share of the crypto ceiling measured in this run: the one
    its worker measured right after it (the machine's load changes from worker to worker),
    else the ceiling scenario's."""
    ceiling = results.get("ceiling", {}).get("raetflo", {})
    if ceiling.get("value") is None:
        return
    print(f"\ncrypto ceiling (libnacl alone): {fmt(ceiling['value'])} packets/s of sign + box "
          f"+ open + verify ({CEILING_PACKET}-byte packet, {CEILING_BODY}-byte body); "
          f"{fmt(ceiling['big_mbps'])} MB/s for a {args.size:,}-byte message "
          f"({ceiling['segments']} signed segments, one box)")
    print(f"{'share of the ceiling':34} {'raetflo':>12} {'raet 0.6.8':>12}  ceilings (raetflo's, "
          f"raet's worker)")
    for label, scenario, key, unit in SHARES:
        if scenario not in results:
            continue
        runs = [results[scenario][impl] for impl in IMPLS]
        ceilings = [run.get("ceiling", ceiling)[key] for run in runs]
        shares = [share(run.get("value"), top) for run, top in zip(runs, ceilings)]
        print(f"{label:34} {shares[0]:>12} {shares[1]:>12}  "
              f"{', '.join(fmt(top) for top in ceilings)} {unit}")


def share(value: float | None, ceiling: float) -> str:
    return "n/a" if value is None else f"{100 * value / ceiling:.0f}%"


def print_details(results: dict[str, dict[str, dict[str, Any]]], scenarios: list[str],
                  impls: tuple[str, ...], details: dict[str, tuple[str, ...]]) -> None:
    """Under the table: the ``details`` keys of each scenario's result, per implementation."""
    print()
    for scenario in scenarios:
        for impl in impls:
            got = results[scenario][impl]
            extra = ", ".join(f"{key}={got[key]}" for key in details[scenario] if key in got)
            print(f"{scenario:5} {impl:8} {extra}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="small messages (1, 3)")
    parser.add_argument("--size", type=int, default=1_000_000, help="large message bytes (2)")
    parser.add_argument("--window", type=int, default=100,
                        help="most unconfirmed messages in flight (3)")
    parser.add_argument("--round-trips", type=int, default=200, help="round trips (4)")
    parser.add_argument("--joiners", type=int, default=200, help="joining estates (5)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of (0) to (3); the median is reported")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="wall seconds allowed per timed run")
    args = parse_common(parser, argv, QUICK, IMPLS, SCENARIOS)
    if "ceiling" not in args.scenarios:  # the shares of the ceiling need it in every run
        args.scenarios.insert(0, "ceiling")
    return args


def parse_common(parser: argparse.ArgumentParser, argv: list[str] | None,
                 quick: dict[str, Any], impls: tuple[str, ...],
                 scenarios: tuple[str, ...]) -> argparse.Namespace:
    """Add the flags every benchmark has (``--quick``, ``--scenarios``, ``--show-console``
    and the worker's) to ``parser`` and parse ``argv``; ``--quick`` makes ``quick`` the
    defaults (flags given explicitly still win)."""
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: " + ", ".join(f"{k}={v}" for k, v in quick.items()))
    parser.add_argument("--scenarios", nargs="+", choices=scenarios, default=list(scenarios))
    parser.add_argument("--show-console", type=int, default=5, metavar="N",
                        help="console lines of each worker echoed to stderr")
    parser.add_argument("--worker", choices=impls, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=scenarios, help=argparse.SUPPRESS)
    return parse_quick(parser, argv, quick)


def parse_quick(parser: argparse.ArgumentParser, argv: list[str] | None,
                quick: dict[str, Any]) -> argparse.Namespace:
    """Parse ``argv``; with ``--quick`` (which ``parser`` must have) ``quick`` gives the
    defaults, and flags given explicitly still win."""
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def run_main(args: argparse.Namespace, worker: Callable[[argparse.Namespace], None],
             run_worker: Callable[[str, str, argparse.Namespace], dict[str, Any]],
             report: Callable[..., None], impls: tuple[str, ...]) -> None:
    """Be the worker ``args`` name, or run every scenario of every implementation in
    workers and report."""
    if args.worker:
        worker(args)
        return
    results = {scenario: {impl: run_worker(impl, scenario, args) for impl in impls}
               for scenario in args.scenarios}
    report(results, args)


def main() -> None:
    run_main(parse_args(), worker, run_worker, report, IMPLS)


if __name__ == "__main__":
    main()
