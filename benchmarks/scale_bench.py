"""Scale benchmark: one main estate serving N estates, raetflo and raet 0.6.8 side by side.

The main estate runs in a process of its own (raetflo's ``RoadStack`` or the reference's),
serviced in real time as an ioflo house would: ``serviceAll()`` whenever its socket is
readable or a tick (``--tick``) passes, ``manage()`` once a presence period. The N
estates are light raetflo clients, one ``RoadCore`` and one UDP socket each, split over
``--workers`` worker processes; the same clients serve both mains (the wire is the same),
so the figures are the main's. For each N the main reports:

* storm: seconds from the start of N cascading joins (join, allow, alive) until every
  client is allowed, and the failed first joins (as ``road_bench.py`` counts them);
  presence (``manage()``) starts after the storm, on both sides;
* steady: process CPU seconds per second of the main holding N allowed estates at the
  default presence timers (alive period 1 s), and the alives it completed per second;
* manage and tick: wall ms of one ``manage()`` and one ``serviceAll()`` with nothing due
  and nothing to read (the clients are paused for a moment);
* fan-out / fan-in: seconds until one small message to (from) every client is delivered;
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
import gc
import json
import os
import resource
import select
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
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """The current resident set of this process."""
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


def send_line(pipe: Any, **fields: Any) -> None:
    pipe.write(json.dumps(fields) + "\n")
    pipe.flush()


# clients -----------------------------------------------------------------------------
class Clients:
    """Light estates in one worker process: a raetflo ``RoadCore`` and a socket each,
    driven by one selector, their timers kept in one heap of ``get_timer`` deadlines."""

    def __init__(self, count: int, first: int, main_ha: tuple[str, int]) -> None:
        from raetflo.raeting import AutoMode
        from raetflo.road.core import RoadCore
        from raetflo.road.estating import RemoteEstate
        self.start = time.monotonic()
        self.selector = selectors.DefaultSelector()
        self.cores: list[Any] = []
        self.remotes: list[Any] = []
        for index in range(first, first + count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            core = RoadCore(name=f"client{index:05d}", ha=sock.getsockname(),
                            auto=AutoMode.always.value, now=self.now())
            remote = core.addRemote(RemoteEstate(stack=core, fuid=0, sid=0, ha=main_ha))
            core.sock = sock
            self.selector.register(sock, selectors.EVENT_READ, (core, index - first))
            self.cores.append(core)
            self.remotes.append(remote)
        self.dirty: set[int] = set()
        self.retried: set[int] = set()
        self.received = 0
        self.paused = False

    def now(self) -> float:
        return time.monotonic() - self.start

    def touch(self, index: int) -> None:
        self.dirty.add(index)

    def join_all(self) -> None:
        for index, (core, remote) in enumerate(zip(self.cores, self.remotes)):
            core.now = self.now()
            core.join(uid=remote.uid, cascade=True)
            self.touch(index)

    def send_all(self) -> None:
        """One small message from every client to the main."""
        for index, (core, remote) in enumerate(zip(self.cores, self.remotes)):
            core.now = self.now()
            core.transmit({"from": core.name}, remote.uid)
            self.touch(index)

    def receive(self, core: Any, index: int) -> None:
        now = self.now()
        while True:
            try:
                data, sa = core.sock.recvfrom(65536)
            except BlockingIOError:
                return
            core.receive_datagram(data, sa, now)
            self.touch(index)

    def flush(self) -> None:
        """Send what the touched clients have to send; take their events and keep writes
        (nothing goes out while paused)."""
        if self.paused:
            return
        for index in self.dirty:
            core = self.cores[index]
            for data, ha in core.datagrams_to_send():
                try:
                    core.sock.sendto(data, ha)
                except BlockingIOError:
                    pass  # counted by the main's redo figures
            core.keep_writes()
            while (event := core.next_event()) is not None:
                self.received += type(event).__name__ == "MessageReceived"
        self.dirty.clear()

    def service(self, slot: int, slots: int) -> None:
        """Run every client's timers and manage the ``slot``-th of ``slots`` slices (so
        each client runs presence once a period, as a flo's manager does, once allowed)."""
        now = self.now()
        for index in range(slot, len(self.cores), slots):
            if self.remotes[index].allowed:  # presence starts after the storm
                self.cores[index].manage(cascade=True, now=now)
                self.touch(index)
        for index, core in enumerate(self.cores):
            if (deadline := core.get_timer()) is not None and deadline <= now:
                core.handle_timer(now)
                self.touch(index)

    def retry_stalled(self) -> int:
        """Restart the joins that ended without an allow; how many are not allowed yet."""
        pending = 0
        for index, (core, remote) in enumerate(zip(self.cores, self.remotes)):
            if remote.allowed:
                continue
            pending += 1
            if not core.active:
                self.retried.add(index)
                core.now = self.now()
                (core.allow if remote.joined else core.join)(uid=remote.uid, cascade=True)
                self.touch(index)
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
    """A worker process: its clients, commanded through stdin, reporting on stdout."""
    clients = Clients(args.count, args.first, ("127.0.0.1", args.main_port))
    out = sys.stdout
    send_line(out, event="ready")
    sel = clients.selector
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    joining, slot, slots, period = False, 0, 10, 1.0
    next_service = next_check = 0.0
    while True:
        busy = clients.dirty and not clients.paused
        for key, _ in sel.select(timeout=0 if busy else period / slots / 2):
            if key.data is None:
                command = sys.stdin.readline().strip()
                if command in ("", "quit"):
                    return
                if command == "join":
                    clients.join_all()
                    joining = True
                elif command == "fanin":
                    clients.send_all()
                elif command in ("pause", "resume"):
                    clients.paused = command == "pause"
                elif command == "count":
                    send_line(out, event="count", received=clients.received)
            else:
                clients.receive(*key.data)
        now = clients.now()
        if not clients.paused and now >= next_service:
            clients.service(slot, slots)
            slot, next_service = (slot + 1) % slots, now + period / slots
        if joining and now >= next_check:
            next_check = now + 0.2
            if not clients.retry_stalled():
                joining = False
                send_line(out, event="allowed", failed=clients.failed(),
                          retried=len(clients.retried), stats=clients.stats())
        clients.flush()


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
        self.start = time.monotonic()
        self.sock = getattr(self.stack.server, "sock", None) or self.stack.server.ss
        self.presence = False  # manage() once a period (not during the storm)
        self.last_manage = -1.0
        self.manage_times: list[float] = []
        self.workers = self.spawn()

    def open(self) -> Any:
        return self.impl.RoadStack(name="main", ha=("127.0.0.1", self.port), main=True,
                                   auto=self.impl.always,
                                   dirpath=os.path.join(self.keepdir, "main"))

    def spawn(self) -> list[subprocess.Popen]:
        shares = [self.count // self.args.workers + (i < self.count % self.args.workers)
                  for i in range(self.args.workers)]
        workers, first = [], 0
        for share in shares:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--client", "--count",
                   str(share), "--first", str(first), "--main-port", str(self.port)]
            workers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            text=True, bufsize=1))
            first += share
        for worker in workers:
            self.expect(worker, "ready", 600)
        return workers

    def expect(self, worker: subprocess.Popen, event: str, timeout: float) -> dict | None:
        """Service the main until ``worker`` reports ``event`` (None: not within timeout)."""
        deadline = time.monotonic() + timeout
        fd = worker.stdout.fileno()
        while time.monotonic() < deadline:
            if self.step([fd]):
                line = json.loads(worker.stdout.readline())
                if line["event"] == event:
                    return line
        return None

    def now(self) -> float:
        return time.monotonic() - self.start

    def step(self, fds: list[int] = ()) -> bool:
        """Wait for the main's socket, ``fds`` or a tick; service the main (and manage it
        once a period). Whether one of ``fds`` is readable."""
        ready, _, _ = select.select([self.sock, *fds], [], [], self.args.tick)
        self.service()
        return any(fd in ready for fd in fds)

    def service(self) -> None:
        stack = self.stack
        stack.store.changeStamp(self.now())
        stack.serviceAll()
        if self.presence and self.now() - self.last_manage >= stack.period:
            self.last_manage = self.now()
            began = time.perf_counter()
            stack.manage(cascade=True)
            self.manage_times.append(time.perf_counter() - began)
            stack.serviceAllTx()

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()

    def tell(self, command: str) -> None:
        for worker in self.workers:
            worker.stdin.write(command + "\n")
            worker.stdin.flush()

    def gather(self, event: str, timeout: float) -> list[dict] | None:
        reports = [self.expect(worker, event, timeout) for worker in self.workers]
        return None if any(r is None for r in reports) else reports

    def storm(self) -> dict[str, Any]:
        began = time.monotonic()
        self.tell("join")
        reports = self.gather("allowed", self.args.timeout)
        if reports is None:
            return {"storm_s": None}
        storm = time.monotonic() - began
        gc.collect()
        return {"storm_s": storm, "failed_joins": sum(r["failed"] for r in reports),
                "harness_retries": sum(r["retried"] for r in reports),
                "socket_drops": socket_drops(self.port),
                "rss_per_remote_kb": (rss_bytes() - self.rss_stack) / self.count / 1024,
                "redos": sum(v for k, v in self.stack.stats.items() if "redo" in k)}

    def steady(self) -> dict[str, Any]:
        self.presence = True
        self.run_for(self.args.settle)
        alives = self.stack.stats.get("alive_complete", 0)
        cpu, began = time.process_time(), time.monotonic()
        self.run_for(self.args.steady)
        wall = time.monotonic() - began
        return {"cpu_per_s": (time.process_time() - cpu) / wall,
                "alives_per_s": (self.stack.stats.get("alive_complete", 0) - alives) / wall,
                "manage_busy_ms": statistics.median(self.manage_times[-3:]) * 1e3}

    def idle_costs(self, repeats: int = 20) -> dict[str, Any]:
        """One manage() with nothing due and one serviceAll() with nothing to read."""
        self.tell("pause")
        self.run_for(0.3)
        self.service()
        manages, ticks = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            self.stack.manage(cascade=True)
            manages.append(time.perf_counter() - began)
            began = time.perf_counter()
            self.stack.serviceAll()
            ticks.append(time.perf_counter() - began)
        self.tell("resume")
        return {"manage_ms": statistics.median(manages) * 1e3,
                "tick_ms": statistics.median(ticks) * 1e3}

    def fan_out(self) -> dict[str, Any]:
        before = self.gather_count()
        began = time.monotonic()
        for remote in list(self.stack.remotes.values()):
            self.stack.transmit({"to": remote.name}, remote.uid)
        deadline = began + self.args.timeout
        while time.monotonic() < deadline:
            self.run_for(0.05)
            if self.gather_count() - before >= self.count:
                return {"fanout_s": time.monotonic() - began}
        return {"fanout_s": None}

    def gather_count(self) -> int:
        self.tell("count")
        reports = self.gather("count", 30)
        return -1 if reports is None else sum(r["received"] for r in reports)

    def fan_in(self) -> dict[str, Any]:
        rx = self.stack.rxMsgs
        rx.clear()
        began = time.monotonic()
        self.tell("fanin")
        deadline = began + self.args.timeout
        while len(rx) < self.count and time.monotonic() < deadline:
            self.step()
        return {"fanin_s": time.monotonic() - began if len(rx) >= self.count else None}

    def restart(self) -> dict[str, Any]:
        """Seconds to reopen the main from its keep (the remotes it holds included)."""
        self.stack.server.close()
        began = time.perf_counter()
        self.stack = self.open()
        return {"restart_s": time.perf_counter() - began}

    def close(self) -> None:
        self.tell("quit")
        for worker in self.workers:
            worker.wait(30)
        self.stack.server.close()
        shutil.rmtree(self.keepdir, ignore_errors=True)


def main_worker(args: argparse.Namespace) -> None:
    """Run every phase for one implementation and one N; print the result line."""
    impl = rb.load(args.worker)
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


# report ----------------------------------------------------------------------------------
COLUMNS: list[tuple[str, str]] = [
    ("storm_s", "storm s"), ("failed_joins", "failed"), ("cpu_per_s", "CPU s/s"),
    ("alives_per_s", "alives/s"), ("manage_ms", "manage ms"), ("manage_busy_ms", "mgr due ms"),
    ("tick_ms", "tick ms"), ("fanout_s", "fan-out s"), ("fanin_s", "fan-in s"),
    ("rss_per_remote_kb", "kB/remote"), ("socket_drops", "rx drops"),
    ("restart_s", "restart s")]


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
    return f"plot written to {path}"


def run_one(impl: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--count",
           str(count), "--timeout", str(args.timeout), "--tick", str(args.tick),
           "--settle", str(args.settle), "--steady", str(args.steady),
           "--workers", str(args.workers)] + (["--restart"] if args.restart else []) \
        + (["--no-fsync"] if args.no_fsync else [])
    result = rb.run_command(cmd, f"{impl} N={count}", args.show_console,
                            args.timeout * 6 + 600)
    return {"n": count, "impl": impl, **result}


def run(args: argparse.Namespace,
        runner: Callable[[str, int, argparse.Namespace], dict[str, Any]] = run_one
        ) -> list[dict[str, Any]]:
    rows = []
    for count in args.sizes:
        for impl in rb.IMPLS:
            if impl == "raet" and count > args.ref_max:
                rows.append({"n": count, "impl": impl, "skipped": f"N > --ref-max"})
                continue
            rows.append(runner(impl, count, args))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    notes = [f"scale_bench: main in its own process, N light raetflo clients in "
             f"{args.workers} worker processes; python {sys.version.split()[0]}, "
             f"{os.cpu_count()} CPUs; tick {args.tick} s, steady window {args.steady} s",
             f"raet 0.6.8 runs up to N={args.ref_max}; each phase is bounded by "
             f"{args.timeout:.0f} s (n/a: skipped, or did not finish)",
             "restart s: only with --restart (keep writes and restart are measured "
             "with the keep work)",
             f"main keep writes fsync: {'off (--no-fsync)' if args.no_fsync else 'on'}"]
    text = "\n".join(notes) + "\n\n" + table(rows)
    text += "\n\n" + plot(rows, RESULTS / "scale.png")
    print(text)
    (RESULTS / "scale.txt").write_text(text + "\n")
    (RESULTS / "scale.json").write_text(json.dumps({"notes": notes, "rows": rows}, indent=1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: N in {QUICK_SIZES}, short windows")
    parser.add_argument("--ref-max", type=int, default=2000,
                        help="largest N the reference runs")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="wall seconds allowed per phase")
    parser.add_argument("--tick", type=float, default=0.02, help="main service tick (s)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds after the storm before the steady window")
    parser.add_argument("--steady", type=float, default=10.0, help="steady window (s)")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--restart", action="store_true", help="also time a restart")
    parser.add_argument("--no-fsync", action="store_true",
                        help="the main's keep writes skip fsync (isolates the rest of a storm)")
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
