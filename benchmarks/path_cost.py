"""Where an exchange's time goes in raetflo, and what a second core can take of it.

One run, one process, raetflo only (the figures explain ``road_bench.py`` and
``scale_bench.py``; they compare nothing with the reference):

1. ``split``: the loop thread's CPU per exchange, both stacks in this process, all crypto
   inline (``RoadCore.CryptoWorkers = 0``), on the alive path (a request and its ack:
   what a main spends on presence) and the small-message path (a message and its ack).
   Then the same exchanges with libnacl's sign, verify, box and open stubbed out: what is
   left is the Python (codec, transactions, routing, records, the socket), the difference
   is the crypto. Beside them, libnacl alone making the same calls on packets of the same
   sizes (as ``road_bench.py``'s ceiling does); the crypto in the stack can cost more than
   that, as its tables evict what the Python around it had in the CPU's caches.
2. ``handoff``: one thread verifying signatures, one libnacl call each (as a worker fed a
   packet at a time would), while the loop thread parses packets: how far the GIL, which
   libnacl releases only inside each call, lets the two overlap on this machine.

    python benchmarks/path_cost.py            # some 20 seconds
    python benchmarks/path_cost.py --quick    # smoke run
    python benchmarks/path_cost.py --json     # the figures as one JSON object
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import road_bench as rb  # noqa: E402  (the stacks' pair and the implementation loader)

MAC_SIZE = 16  # bytes a box adds to what it seals
BATCH = 200  # exchanges started before each run of service rounds
ROUNDS = 50  # most service rounds a batch may take
QUICK = {"count": 200, "repeat": 1, "jobs": 100}


@contextmanager
def crypto_stubbed() -> Iterator[None]:
    """libnacl's sign, verify, box and open replaced by stand-ins that cost next to
    nothing (a zero signature that always verifies, a box that only adds its tag's room),
    restored on leaving. Both stacks must be in this process and inside it together."""
    import libnacl
    stand_ins: dict[str, Callable[..., bytes]] = {
        "crypto_sign_detached": lambda msg, key: bytes(64),
        "crypto_sign_verify_detached": lambda sig, msg, key: msg,
        "crypto_box_easy_afternm": lambda msg, nonce, key: bytes(MAC_SIZE) + msg,
        "crypto_box_open_easy_afternm": lambda cipher, nonce, key: cipher[MAC_SIZE:],
    }
    saved = {name: getattr(libnacl, name) for name in stand_ins}
    for name, stand_in in stand_ins.items():
        setattr(libnacl, name, stand_in)
    try:
        yield
    finally:
        for name, real in saved.items():
            setattr(libnacl, name, real)


def add_cpu(cpu: dict[str, float], role: str, start: float) -> None:
    """Add the thread CPU since ``start`` to ``cpu[role]``."""
    cpu[role] = cpu.get(role, 0.0) + time.thread_time() - start


def serviced(stacks: list[tuple[str, Any]], cpu: dict[str, float],
             done: Callable[[], bool]) -> None:
    """Service each (role, stack) in turn, adding its thread CPU to ``cpu[role]``, until
    ``done()`` (RuntimeError after ROUNDS rounds)."""
    for _ in range(ROUNDS):
        for role, stack in stacks:
            start = time.thread_time()
            stack.serviceAll()
            add_cpu(cpu, role, start)
        if done():
            return
    raise RuntimeError("exchanges did not complete within the service rounds allowed")


def alives(alpha: Any, beta: Any, uid: int, count: int, cpu: dict[str, float]) -> None:
    """``count`` alives from alpha to beta at once, serviced until all completed."""
    goal = alpha.stats.get("alive_complete", 0) + count
    start = time.thread_time()
    for _ in range(count):
        alpha.alive(uid=uid)  # (signs its request)
    add_cpu(cpu, "initiator", start)
    serviced([("initiator", alpha), ("correspondent", beta)], cpu,
             lambda: not alpha.transactions)
    if alpha.stats.get("alive_complete", 0) != goal:
        raise RuntimeError("an alive did not complete")


def messages(alpha: Any, beta: Any, uid: int, count: int, cpu: dict[str, float]) -> None:
    """``count`` small messages from alpha to beta at once, serviced until all are
    delivered (once each) and confirmed."""
    start = time.thread_time()
    for seq in range(count):
        alpha.transmit({"subject": "bench", "seq": seq}, uid)
    add_cpu(cpu, "sender", start)
    serviced([("sender", alpha), ("receiver", beta)], cpu,
             lambda: len(beta.rxMsgs) >= count and not alpha.transactions)
    if sorted(msg["seq"] for msg, _ in beta.rxMsgs) != list(range(count)):
        raise RuntimeError("a message was lost or delivered twice")
    beta.rxMsgs.clear()


PATHS: dict[str, Callable[[Any, Any, int, int, dict[str, float]], None]] = {
    "alive": alives, "message": messages}
# what each role signs, verifies, and boxes or opens, per exchange
NEEDS = {"initiator": (1, 1, 0.0), "correspondent": (1, 1, 0.0),
         "sender": (1, 1, 0.5), "receiver": (1, 1, 0.5)}


class Libnacl:
    """libnacl alone making an exchange's calls (as ``road_bench.py``'s ceiling does), on
    packets of the sizes the exchanges send: about 200 bytes signed, a 40-byte body."""

    def __init__(self) -> None:
        import libnacl
        verkey, sigkey = libnacl.crypto_sign_seed_keypair(libnacl.randombytes(32))
        pub_a, sec_a = libnacl.crypto_box_keypair()
        pub_b, sec_b = libnacl.crypto_box_keypair()
        ours, theirs = (libnacl.crypto_box_beforenm(pub_b, sec_a),
                        libnacl.crypto_box_beforenm(pub_a, sec_b))
        packet, body = libnacl.randombytes(200), libnacl.randombytes(40)
        signature = libnacl.crypto_sign_detached(packet, sigkey)

        def box_open() -> None:
            nonce = libnacl.randombytes(24)
            libnacl.crypto_box_open_easy_afternm(
                libnacl.crypto_box_easy_afternm(body, nonce, ours), nonce, theirs)

        self.jobs: dict[str, Callable[[], Any]] = {
            "sign": lambda: libnacl.crypto_sign_detached(packet, sigkey),
            "verify": lambda: libnacl.crypto_sign_verify_detached(signature, packet, verkey),
            "box_open": box_open}
        self.cpu = dict.fromkeys(self.jobs, 0.0)
        self.calls = 0

    def run(self, times: int) -> None:
        """Make each call ``times`` times, adding up their thread CPU."""
        for name, job in self.jobs.items():
            start = time.thread_time()
            for _ in range(times):
                job()
            self.cpu[name] += time.thread_time() - start
        self.calls += times

    def us(self, name: str) -> float:
        return self.cpu[name] / self.calls * 1e6


def split(count: int) -> dict[str, Any]:
    """Per path and role, µs of loop CPU an exchange: with crypto, with it stubbed out,
    the crypto as their difference, and libnacl alone making the same calls. The three
    are measured in turns, a batch of each at a time, on one pair of stacks a path, so a
    machine whose speed drifts during the run slows them alike."""
    from raetflo.road.core import RoadCore
    keepdir = tempfile.mkdtemp(prefix="path_cost_")
    workers, RoadCore.CryptoWorkers = RoadCore.CryptoWorkers, 0
    nacl = Libnacl()
    cpu: dict[tuple[str, bool], dict[str, float]] = {}
    bench = rb.Bench(rb.load("raetflo"), keepdir)
    try:
        for path, exchanges in PATHS.items():
            alpha, beta, uid, _ = bench.pair()
            real: dict[str, float] = {}
            stubbed: dict[str, float] = {}
            cpu[(path, False)], cpu[(path, True)] = real, stubbed
            for start in range(0, count, BATCH):
                batch = min(BATCH, count - start)
                exchanges(alpha, beta, uid, batch, real)
                with crypto_stubbed():
                    exchanges(alpha, beta, uid, batch, stubbed)
                nacl.run(batch)
            bench.close()
    finally:
        bench.close()
        RoadCore.CryptoWorkers = workers
        shutil.rmtree(keepdir, ignore_errors=True)
    rows = []
    for (path, is_stubbed), roles in cpu.items():
        if is_stubbed:
            continue
        for role, seconds in roles.items():
            total = seconds / count * 1e6
            python = cpu[(path, True)][role] / count * 1e6
            sign, verify, box = NEEDS[role]
            rows.append({"path": path, "role": role, "total_us": total, "python_us": python,
                         "crypto_us": total - python,
                         "libnacl_us": (sign * nacl.us("sign") + verify * nacl.us("verify")
                                        + box * nacl.us("box_open"))})
    return {"count": count, "rows": rows,
            "libnacl": {name: nacl.us(name) for name in nacl.jobs}}


def handoff(jobs: int, repeat: int) -> dict[str, float]:
    """A thread verifying ``jobs`` signatures one call at a time while this thread parses
    packets in pure Python: each alone, then together; and the batch shared as the stack
    shares it (``nacling.Shared``: this thread and a worker both take the next job until
    all are done). Medians of ``repeat``: the worker's µs a verification alone and
    together, the loop's parses per second alone and together, and the wall µs a
    verification of the shared batch."""
    import libnacl
    from raetflo import nacling
    from raetflo.road import offload, packeting
    verkey, sigkey = libnacl.crypto_sign_seed_keypair(libnacl.randombytes(32))
    packets = [libnacl.randombytes(200) for _ in range(jobs)]
    signatures = [libnacl.crypto_sign_detached(packet, sigkey) for packet in packets]
    head = packeting.Head(se=2, de=3, si=0x1A2B, ti=0x33, bk=1)  # an unsigned message
    datagram = packeting.pack(head, b"{}")

    def verify_all() -> None:
        for signature, packet in zip(signatures, packets):
            libnacl.crypto_sign_verify_detached(signature, packet, verkey)

    def parses_per_second(stop: Callable[[], bool], most: float) -> float:
        parse, parsed, start = packeting.parse, 0, time.perf_counter()
        while not stop() and time.perf_counter() - start < most:
            for _ in range(20):
                parse(datagram, veritive=False)
            parsed += 20
        return parsed / (time.perf_counter() - start)

    pool = offload.worker_pool(1)
    alone_us, together_us, loop_alone, loop_together, shared_us = [], [], [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        verify_all()
        alone = time.perf_counter() - start
        alone_us.append(alone / jobs * 1e6)
        loop_alone.append(parses_per_second(lambda: False, alone))
        finished: list[float] = []

        def worker() -> None:
            begun = time.perf_counter()
            verify_all()
            finished.append(time.perf_counter() - begun)

        thread = threading.Thread(target=worker, name="path-cost-verifier")
        thread.start()
        loop_together.append(parses_per_second(lambda: bool(finished), 60.0))
        thread.join()
        together_us.append(finished[0] / jobs * 1e6)
        batch = [partial(libnacl.crypto_sign_verify_detached, signature, packet, verkey)
                 for signature, packet in zip(signatures, packets)]
        start = time.perf_counter()
        nacling.Shared(batch, pool).results()
        shared_us.append((time.perf_counter() - start) / jobs * 1e6)
    return {"jobs": jobs, "worker_alone_us": statistics.median(alone_us),
            "worker_together_us": statistics.median(together_us),
            "loop_alone_per_s": statistics.median(loop_alone),
            "loop_together_per_s": statistics.median(loop_together),
            "shared_us": statistics.median(shared_us)}


def report(result: dict[str, Any]) -> None:
    print(f"path_cost: python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"{result['split']['count']} exchanges of each path with crypto inline and as "
          "many without, in turns")
    print(f"{'µs of the loop thread per exchange':36} {'total':>8} {'python':>8} "
          f"{'crypto':>8} {'libnacl alone':>14}")
    for row in result["split"]["rows"]:
        print(f"{row['path'] + ': ' + row['role']:36} {row['total_us']:8.1f} "
              f"{row['python_us']:8.1f} {row['crypto_us']:8.1f} {row['libnacl_us']:14.1f}")
    alone = result["split"]["libnacl"]
    print(f"libnacl alone: sign {alone['sign']:.1f} µs, verify {alone['verify']:.1f} µs, "
          f"box and open {alone['box_open']:.1f} µs (a 200-byte packet, a 40-byte body)")
    hand = result["handoff"]
    print(f"\nhandoff: a thread verifying {hand['jobs']} signatures, one call each, while "
          "the loop parses packets")
    print(f"  worker: {hand['worker_alone_us']:.1f} µs a verification alone, "
          f"{hand['worker_together_us']:.1f} together "
          f"({hand['worker_together_us'] / hand['worker_alone_us']:.1f}x)")
    print(f"  loop:   {hand['loop_alone_per_s']:,.0f} parses/s alone, "
          f"{hand['loop_together_per_s']:,.0f} together "
          f"({hand['loop_together_per_s'] / hand['loop_alone_per_s']:.0%})")
    print(f"  the batch shared (the loop and the worker both verifying, as the stack does): "
          f"{hand['shared_us']:.1f} µs a verification "
          f"({hand['worker_alone_us'] / hand['shared_us']:.2f}x the loop alone)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000,
                        help="exchanges of each path, with crypto and without")
    parser.add_argument("--repeat", type=int, default=3,
                        help="handoff runs; medians reported")
    parser.add_argument("--jobs", type=int, default=1000,
                        help="signatures the handoff's thread verifies")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    args = rb.parse_quick(parser, argv, QUICK)
    for name in ("count", "repeat", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = {"split": split(args.count), "handoff": handoff(args.jobs, args.repeat)}
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


if __name__ == "__main__":
    main()
