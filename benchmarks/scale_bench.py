"""Scale benchmark: one main estate serving N estates, raetflo and raet 0.6.8 side by side.

The main estate runs in a process of its own (raetflo's ``RoadStack`` or the reference's);
the N estates are light raetflo clients, one ``RoadCore`` and one UDP socket each, split
over ``--workers`` worker processes. The same clients serve both mains (the wire is the
same), so the figures are the main's. All run in lockstep virtual time, as
``road_bench.py`` does in one process: a round is the main's ``serviceAll()`` (and, once
a presence period, ``manage()``), then every worker's turn (read, timers, presence,
send), then every clock advances by ``STEP``; so a slow main never makes a timer fire
early, and figures are wall (or CPU) seconds of real work. For each N:

* storm: wall seconds from the start of N cascading joins (join, allow, alive) until every
  client is allowed, the failed first joins (as ``road_bench.py`` counts them) and the
  datagrams the kernel dropped at the main's socket; presence starts after the storm;
* steady: the main's CPU seconds per virtual second holding N allowed estates at the
  default presence timers (alive period 1 s, both sides managing once a period), and the
  alives it completed per virtual second; ``loop s/s`` is the part of it the service loop's
  own thread spent (the rest is the crypto worker's): below 1 the main keeps real time;
  ``crypto s/s`` is what those alives need at least: one signature made and one verified
  each, timed on this machine in the same run;
* manage and tick: wall ms of one ``manage()`` and one ``serviceAll()`` with nothing due
  and nothing to read, and of the ``manage()`` that starts a period's alives;
* fan-out / fan-in: wall seconds until one small message to (from) every client is in;
* RSS per remote: growth of the main's resident set over the storm, per remote, in kB;
* restart: seconds to reopen the main from its keep (``--restart``; the column stays
  empty otherwise: keep writes and restart are measured with the keep work).

The reference runs only up to ``--ref-max`` estates and each phase is bounded by
``--timeout`` wall seconds; a phase that does not finish is reported as n/a. Results go
to ``benchmarks/results/scale.json`` and ``scale.txt``, and a plot of cost against N to
``scale.png`` when matplotlib is installed (the script says so when it is not).
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import road_bench as rb  # noqa: E402  (implementations, ports, join accounting, table)

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (100, 1000, 2000, 5000, 10000)
QUICK_SIZES = (50, 200)
STEP = rb.STEP  # virtual seconds per round
SLOTS = 10  # a client manages once every SLOTS rounds: once a presence period
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """The current resident set of this process, after a collection and after the C
    allocator gave back what it can (so freed garbage of the storm is not counted)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def socket_drops(port: int) -> int | None:
    """Datagrams the kernel dropped at the UDP socket bound to ``port`` (its receive buffer
    was full), from /proc/net/udp; None when not found."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return None


def crypto_per_alive(repeats: int = 2000) -> float:
    """CPU seconds of the crypto one alive exchange costs the main (one signature made,
    one verified), measured here and now (libnacl, as both implementations use)."""
    import libnacl
    verkey, sigkey = libnacl.crypto_sign_keypair()
    body = bytes(120)  # about an alive packet's signed part
    began = time.process_time()
    for _ in range(repeats):
        signature = libnacl.crypto_sign_detached(body, sigkey)
        libnacl.crypto_sign_verify_detached(signature, body, verkey)
    return (time.process_time() - began) / repeats


def send_line(pipe: Any, **fields: Any) -> None:
    pipe.write(json.dumps(fields) + "\n")
    pipe.flush()


def calls_of(operation: Callable[[], Any]) -> int:
    """The Python and C function calls ``operation()`` makes in this thread (counted, so
    they compare exactly from one size to the next; the run is slower meanwhile)."""
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        operation()
    finally:
        sys.setprofile(None)
    return calls


# clients -----------------------------------------------------------------------------
class Clients:
    """Light estates in one worker process: a raetflo ``RoadCore`` and a socket each."""

    def __init__(self, count: int, first: int, main_ha: tuple[str, int]) -> None:
        from raetflo.raeting import AutoMode
        from raetflo.road.core import RoadCore
        from raetflo.road.estating import RemoteEstate
        from raetflo.road.resolving import host_fqdn
        fqdn = host_fqdn("127.0.0.1")  # as a RoadStack on this host would say
        self.now = 0.0
        self.selector = selectors.DefaultSelector()
        self.cores: list[Any] = []
        self.remotes: list[Any] = []
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            core = RoadCore(name=f"client{first + index:05d}", ha=sock.getsockname(),
                            auto=AutoMode.always.value, now=0.0)
            core.local.fqdn = fqdn
            self.remotes.append(core.addRemote(RemoteEstate(stack=core, fuid=0, sid=0,
                                                            ha=main_ha)))
            core.sock = sock
            self.selector.register(sock, selectors.EVENT_READ, index)
            self.cores.append(core)
        self.dirty: set[int] = set()
        self.retried: set[int] = set()
        self.joining = False
        self.received = 0
        self.rounds = 0

    def pairs(self) -> Any:
        return enumerate(zip(self.cores, self.remotes))

    def join_all(self) -> None:
        for index, (core, remote) in self.pairs():
            core.join(uid=remote.uid, cascade=True)
            self.dirty.add(index)
        self.joining = True

    def send_all(self) -> None:
        """One small message from every client to the main."""
        for index, (core, remote) in self.pairs():
            core.transmit({"from": core.name}, remote.uid)
            self.dirty.add(index)

    def step(self, now: float) -> dict[str, Any]:
        """One round at ``now``: read, run due timers, manage a slice, send; a report."""
        self.now, self.rounds = now, self.rounds + 1
        for core in self.cores:
            core.now = now
        for key, _ in self.selector.select(timeout=0):
            self.receive(key.data)
        slot = self.rounds % SLOTS
        for index, (core, remote) in self.pairs():
            if index % SLOTS == slot and remote.allowed:  # presence starts after the storm
                core.manage(cascade=True)
                self.dirty.add(index)
            if (deadline := core.get_timer()) is not None and deadline <= now:
                core.handle_timer(now)
                self.dirty.add(index)
        self.flush()
        report: dict[str, Any] = {"event": "done", "received": self.received}
        if self.joining and self.rounds % 5 == 0 and not self.retry_stalled():
            self.joining = False
            report.update(allowed=True, failed=self.failed(), retried=len(self.retried),
                          stats=self.stats())
        return report

    def receive(self, index: int) -> None:
        core = self.cores[index]
        while True:
            try:
                data, sa = core.sock.recvfrom(65536)
            except BlockingIOError:
                break
            core.receive_datagram(data, sa, self.now)
        self.dirty.add(index)

    def flush(self) -> None:
        """Send what the touched clients have to send; take their events and keep writes."""
        for index in self.dirty:
            core = self.cores[index]
            for data, ha in core.datagrams_to_send():
                try:
                    core.sock.sendto(data, ha)
                except BlockingIOError:
                    core.incStat("tx_busy")
            core.keep_writes()
            while (event := core.next_event()) is not None:
                self.received += type(event).__name__ == "MessageReceived"
        self.dirty.clear()

    def retry_stalled(self) -> int:
        """Restart the joins that ended without an allow; how many are not allowed yet."""
        pending = 0
        for index, (core, remote) in self.pairs():
            if remote.allowed:
                continue
            pending += 1
            if not core.busy_remotes():
                self.retried.add(index)
                (core.allow if remote.joined else core.join)(uid=remote.uid, cascade=True)
                self.dirty.add(index)
        return pending

    def stats(self) -> dict[str, int]:
        """The clients' stats counters, summed."""
        total: dict[str, int] = {}
        for core in self.cores:
            for key, value in core.stats.items():
                total[key] = total.get(key, 0) + value
        return total

    def failed(self) -> int:
        return sum(1 for index, core in enumerate(self.cores)
                   if index in self.retried or rb.first_try_failed(core))


def client_worker(args: argparse.Namespace) -> None:
    """A worker process: its clients, one command a line on stdin, a report a line out."""
    clients = Clients(args.count, args.first, ("127.0.0.1", args.main_port))
    send_line(sys.stdout, event="ready")
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "step":
            send_line(sys.stdout, **clients.step(float(rest[0])))
        elif command == "join":
            clients.join_all()
        elif command == "fanin":
            clients.send_all()
        elif command == "quit":
            return


# the main estate -----------------------------------------------------------------------
class Main:
    """The main estate of one implementation, in this process, and its workers."""

    def __init__(self, impl: rb.Impl, count: int, args: argparse.Namespace) -> None:
        self.impl, self.count, self.args = impl, count, args
        self.keepdir = tempfile.mkdtemp(prefix=f"scale_bench_{impl.name}_")
        self.port = rb.free_ports(1)[0]
        self.rss_base = rss_bytes()
        self.stack = self.open()
        self.rss_stack = rss_bytes()
        self.presence = False  # manage() once a period (not during the storm)
        self.rounds = 0
        self.manage_times: list[float] = []
        self.counting = args.check  # count the main's calls in each round (--check)
        self.calls = 0  # the main's calls counted so far
        self.workers = self.spawn()

    def open(self) -> Any:
        return self.impl.RoadStack(name="main", ha=("127.0.0.1", self.port), main=True,
                                   auto=self.impl.always,
                                   dirpath=os.path.join(self.keepdir, "main"))

    def spawn(self) -> list[subprocess.Popen]:
        workers, first = [], 0
        for index in range(self.args.workers):
            share = self.count // self.args.workers + (index < self.count % self.args.workers)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--client", "--count",
                   str(share), "--first", str(first), "--main-port", str(self.port)]
            workers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            text=True, bufsize=1))
            first += share
        for worker in workers:
            assert json.loads(worker.stdout.readline())["event"] == "ready"
        return workers

    def tell(self, command: str) -> None:
        for worker in self.workers:
            worker.stdin.write(command + "\n")
            worker.stdin.flush()

    def round(self) -> list[dict[str, Any]]:
        """The main's turn, then every worker's; then the clocks advance. Their reports."""
        stack = self.stack
        if self.counting:
            self.calls += calls_of(stack.serviceAll)
        else:
            stack.serviceAll()
        if self.presence and self.rounds % SLOTS == 0:
            began = time.perf_counter()
            stack.manage(cascade=True)
            self.manage_times.append(time.perf_counter() - began)
            stack.serviceAllTx()
        self.tell(f"step {stack.store.stamp}")
        reports = [json.loads(worker.stdout.readline()) for worker in self.workers]
        stack.store.advanceStamp(STEP)
        self.rounds += 1
        return reports

    def rounds_until(self, done: Callable[[list[dict[str, Any]]], bool]) -> float | None:
        """Wall seconds of rounds until ``done(reports)``; None past the timeout."""
        began = time.perf_counter()
        while time.perf_counter() - began < self.args.timeout:
            if done(self.round()):
                return time.perf_counter() - began
        return None

    def storm(self) -> dict[str, Any]:
        self.tell("join")
        finals: dict[int, dict[str, Any]] = {}

        def all_allowed(reports: list[dict[str, Any]]) -> bool:
            finals.update((i, r) for i, r in enumerate(reports) if r.get("allowed"))
            return len(finals) == len(self.workers)

        rounds, calls = self.rounds, self.calls
        storm = self.rounds_until(all_allowed)
        if storm is None:
            return {"storm_s": None}
        gc.collect()
        return {"storm_s": storm, "storm_rounds": self.rounds - rounds,
                **self.per_remote_calls("storm", calls),
                "failed_joins": sum(r["failed"] for r in finals.values()),
                "harness_retries": sum(r["retried"] for r in finals.values()),
                "socket_drops": socket_drops(self.port),
                "rss_per_remote_kb": (rss_bytes() - self.rss_stack) / self.count / 1024,
                "redos": sum(v for k, v in self.stack.stats.items() if "redo" in k)}

    def steady(self) -> dict[str, Any]:
        self.presence = True
        for _ in range(round(self.args.settle / STEP)):
            self.round()
        alives = self.stack.stats.get("alive_complete", 0)
        cpu, rounds = time.process_time(), round(self.args.steady / STEP)
        loop = time.thread_time()
        for _ in range(rounds):
            self.round()
        virtual = rounds * STEP
        cpu_per_s = (time.process_time() - cpu) / virtual
        loop_per_s = (time.thread_time() - loop) / virtual
        alives_per_s = (self.stack.stats.get("alive_complete", 0) - alives) / virtual
        return {"cpu_per_s": cpu_per_s, "loop_cpu_per_s": loop_per_s,
                "alives_per_s": alives_per_s,
                "crypto_per_s": alives_per_s * crypto_per_alive(),
                "manage_busy_ms": statistics.median(self.manage_times[-3:]) * 1e3}

    def idle_costs(self, repeats: int = 20) -> dict[str, Any]:
        """One manage() with nothing due and one serviceAll() with nothing to read (the
        workers wait for their next round), at a round with no transaction under way."""
        for _ in range(2 * SLOTS):
            if not self.stack.transactions:
                break
            self.round()
        self.stack.serviceAll()
        manages, ticks = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            self.stack.manage(cascade=True)
            manages.append(time.perf_counter() - began)
            began = time.perf_counter()
            self.stack.serviceAll()
            ticks.append(time.perf_counter() - began)
        costs = {"manage_ms": statistics.median(manages) * 1e3,
                 "tick_ms": statistics.median(ticks) * 1e3}
        if self.counting:
            costs["manage_calls"] = calls_of(lambda: self.stack.manage(cascade=True))
            costs["tick_calls"] = calls_of(self.stack.serviceAll)
        return costs

    def per_remote_calls(self, phase: str, before: int) -> dict[str, float]:
        """With --check, the main's calls in ``phase`` (since it had made ``before``) per
        remote."""
        if not self.counting:
            return {}
        return {f"{phase}_calls_per_remote": (self.calls - before) / self.count}

    def fan_out(self) -> dict[str, Any]:
        before = self.round()
        target = sum(r["received"] for r in before) + self.count
        calls = self.calls
        for remote in list(self.stack.remotes.values()):
            self.stack.transmit({"to": remote.name}, remote.uid)
        took = self.rounds_until(lambda reports: sum(r["received"] for r in reports) >= target)
        return {"fanout_s": took, **self.per_remote_calls("fanout", calls)}

    def fan_in(self) -> dict[str, Any]:
        rx = self.stack.rxMsgs
        rx.clear()
        calls = self.calls
        self.tell("fanin")
        took = self.rounds_until(lambda _: len(rx) >= self.count)
        return {"fanin_s": took, **self.per_remote_calls("fanin", calls)}

    def restart(self) -> dict[str, Any]:
        """Seconds to reopen the main from its keep (the remotes it holds included)."""
        self.stack.server.close()
        began = time.perf_counter()
        self.stack = self.open()
        return {"restart_s": time.perf_counter() - began}

    def close(self) -> None:
        self.tell("quit")
        for worker in self.workers:
            worker.wait(60)
        self.stack.server.close()
        shutil.rmtree(self.keepdir, ignore_errors=True)


CRYPTO_MODES = {  # how raetflo's main does its crypto: --<mode>-crypto, and what it means
    "default": "shared with a worker thread while the loop's thread is busy over "
               "RoadStack.CryptoShareAbove of the time (the default)",
    "inline": "inline, on the loop's thread (--inline-crypto)",
    "shared": "shared with a worker thread in every pass (--shared-crypto)"}


def crypto_mode(args: argparse.Namespace) -> str:
    """The key of ``CRYPTO_MODES`` the arguments ask for."""
    return "inline" if args.inline_crypto else "shared" if args.shared_crypto else "default"


def main_worker(args: argparse.Namespace) -> None:
    """Run every phase for one implementation and one N; print the result line."""
    impl = rb.load(args.worker)
    mode = crypto_mode(args)
    if (args.check or mode == "inline") and impl.name == "raetflo":
        from raetflo.road.core import RoadCore  # the loop makes every signature (with
        RoadCore.CryptoWorkers = 0  # --check: exact counts)
    elif mode == "shared" and impl.name == "raetflo":
        from raetflo.road.stacking import RoadStack
        RoadStack.CryptoShareAbove = 0  # the worker shares every batch's crypto
    if args.no_fsync:
        os.fsync = lambda fd: None  # keep writes land in the page cache only
    main = Main(impl, args.count, args)
    result: dict[str, Any] = {"n": args.count, "impl": impl.name, "restart_s": None}
    try:
        result.update(main.storm())
        if result["storm_s"] is not None:
            result.update(main.steady())
            result.update(main.idle_costs())
            result.update(main.fan_out())
            result.update(main.fan_in())
            if args.restart:
                result.update(main.restart())
    finally:
        main.close()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rb.print_result(result)


COLUMNS: list[tuple[str, str]] = [
    ("storm_s", "storm s"), ("failed_joins", "failed"), ("socket_drops", "rx drops"),
    ("cpu_per_s", "CPU s/s"), ("loop_cpu_per_s", "loop s/s"), ("crypto_per_s", "crypto s/s"),
    ("alives_per_s", "alives/s"),
    ("manage_ms", "manage ms"),
    ("manage_busy_ms", "mgr due ms"), ("tick_ms", "tick ms"), ("fanout_s", "fan-out s"),
    ("fanin_s", "fan-in s"), ("rss_per_remote_kb", "kB/remote"), ("restart_s", "restart s")]


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'impl':8} {'N':>6} " + " ".join(f"{label:>10}" for _, label in COLUMNS)
    lines = [head, "-" * len(head)]
    for row in rows:
        cells = " ".join(f"{rb.fmt(row.get(key)):>10}" for key, _ in COLUMNS)
        lines.append(f"{row['impl']:8} {row['n']:>6} {cells}")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> str:
    """Cost against N for both implementations; what was written (or why not)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot written (pip install matplotlib)"
    figures = [("storm_s", "join storm (s)"), ("cpu_per_s", "steady CPU (s per s)"),
               ("manage_ms", "manage, nothing due (ms)"), ("tick_ms", "idle tick (ms)"),
               ("fanin_s", "fan-in (s)"), ("rss_per_remote_kb", "RSS per remote (kB)")]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (key, title) in zip(axes.flat, figures):
        for impl in rb.IMPLS:
            points = [(r["n"], r[key]) for r in rows if r["impl"] == impl
                      and r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker="o", label=impl)
        ax.set(title=title, xlabel="remotes (N)", xscale="log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return f"plot written to {path.name}"


def run_one(impl: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--count",
           str(count), "--timeout", str(args.timeout),
           "--settle", str(args.settle), "--steady", str(args.steady),
           "--workers", str(args.workers)] + (["--restart"] if args.restart else []) \
        + (["--no-fsync"] if args.no_fsync else []) + (["--check"] if args.check else []) \
        + ([f"--{crypto_mode(args)}-crypto"] if crypto_mode(args) != "default" else [])
    result = rb.run_command(cmd, f"{impl} N={count}", args.show_console,
                            args.timeout * 6 + 600)
    return {"n": count, "impl": impl, **result}


def run(args: argparse.Namespace,
        runner: Callable[[str, int, argparse.Namespace], dict[str, Any]] = run_one
        ) -> list[dict[str, Any]]:
    rows = []
    for count in args.sizes:
        for impl in args.impls:
            if impl == "raet" and count > args.ref_max:
                rows.append({"n": count, "impl": impl, "skipped": "N > --ref-max"})
                continue
            rows.append(runner(impl, count, args))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
    return rows


COUNTED = ("manage_calls", "tick_calls", "storm_calls_per_remote", "fanout_calls_per_remote",
           "fanin_calls_per_remote")


def growth_failures(rows: list[dict[str, Any]]) -> list[str]:
    """What ``--check`` finds wrong: raetflo's counted costs (``COUNTED``) may grow from
    one size to the next by at most an eighth of a call per remote added (visiting every
    remote once adds at least one), and need two sizes measured."""
    ours = sorted((row for row in rows if row["impl"] == "raetflo"), key=lambda r: r["n"])
    if len(ours) < 2:
        return ["--check needs raetflo at two sizes or more (see --sizes)"]
    failures = []
    for small, large in zip(ours, ours[1:]):
        allowed = (large["n"] - small["n"]) / 8
        for key in COUNTED:
            before, after = small.get(key), large.get(key)
            if before is None or after is None:
                failures.append(f"{key}: not measured at N={small['n']} and N={large['n']}")
            elif after > before + allowed:
                failures.append(f"{key}: {before:,.0f} calls at N={small['n']}, {after:,.0f} at "
                                f"N={large['n']}: more than {allowed:,.0f} more, a cost that "
                                f"grows with N")
    return failures


def counted_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'impl':8} {'N':>6} " + " ".join(f"{key:>24}" for key in COUNTED)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(f"{row['impl']:8} {row['n']:>6} " + " ".join(
            f"{rb.fmt(row.get(key)):>24}" for key in COUNTED))
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    notes = [f"scale_bench: main in its own process, N light raetflo clients in "
             f"{args.workers} worker processes; python {sys.version.split()[0]}, "
             f"{os.cpu_count()} CPUs; lockstep rounds of {STEP} virtual s; steady window "
             f"{args.steady} virtual s",
             f"raet 0.6.8 runs up to N={args.ref_max}; each phase is bounded by "
             f"{args.timeout:.0f} s (n/a: skipped, or did not finish)",
             "restart s: only with --restart (keep writes and restart are measured "
             "with the keep work)",
             f"main keep writes fsync: {'off (--no-fsync)' if args.no_fsync else 'on'}",
             "raetflo main's crypto: " + CRYPTO_MODES[crypto_mode(args)]]
    text = "\n".join(notes) + "\n\n" + table(rows)
    if args.check:  # a smoke run: its figures include the counting, the results stay
        failures = growth_failures(rows)
        print(text + "\n\ncalls counted in the main (--check)\n" + counted_table(rows) + "\n")
        for failure in failures:
            print(f"check failed: {failure}")
        if failures:
            sys.exit(1)
        print("check passed: none of raetflo's counted costs grows with N")
        return
    text += "\n\n" + plot(rows, RESULTS / "scale.png")
    print(text)
    (RESULTS / "scale.txt").write_text(text + "\n")
    (RESULTS / "scale.json").write_text(json.dumps({"notes": notes, "rows": rows}, indent=1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--impls", nargs="+", choices=rb.IMPLS, default=list(rb.IMPLS))
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: N in {QUICK_SIZES}, short windows")
    parser.add_argument("--ref-max", type=int, default=2000,
                        help="largest N the reference runs")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="wall seconds allowed per phase")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="virtual seconds after the storm before the steady window")
    parser.add_argument("--steady", type=float, default=10.0,
                        help="steady window (virtual s)")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--restart", action="store_true", help="also time a restart")
    parser.add_argument("--no-fsync", action="store_true",
                        help="the main's keep writes skip fsync (isolates the rest of a storm)")
    crypto = parser.add_mutually_exclusive_group()
    crypto.add_argument("--inline-crypto", action="store_true",
                        help="raetflo's main signs and verifies on its loop's thread only "
                             "(RoadCore.CryptoWorkers = 0)")
    crypto.add_argument("--shared-crypto", action="store_true",
                        help="raetflo's main shares every batch's crypto with a worker thread "
                             "(RoadStack.CryptoShareAbove = 0)")
    parser.add_argument("--check", action="store_true",
                        help="count the main's calls per operation and per remote, and fail "
                             "(status 1) when raetflo's grow with N (an O(N^2) regression); "
                             "timings then include the counting")
    parser.add_argument("--show-console", type=int, default=5, metavar="N")
    parser.add_argument("--worker", choices=rb.IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--main-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.settle, args.steady = list(QUICK_SIZES), 1.0, 2.0
    return args


def main() -> None:
    args = parse_args()
    if args.client:
        sys.path.insert(0, str(rb.ROOT))
        client_worker(args)
    elif args.worker:
        main_worker(args)
    else:
        report(run(args), args)


if __name__ == "__main__":
    main()
