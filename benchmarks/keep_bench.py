"""Keep benchmark: restarting a main estate whose keep holds many remotes, and the cost of
the keep writes of a join storm.

1. ``restart``: a main keep with N remote estates (each with its own role file) is made
   once, untimed; then a ``RoadStack`` is opened on it and serviced once. Reported: the
   wall seconds from the constructor's call to the end of that first ``serviceAll()``, and
   how many keep files were written on the way (none needs to be).
2. ``storm``: a main with N records asks for each to be written, ``--batch`` per service
   pass, as a join storm does (record and role file each); reported: seconds per pass
   and per file written.

Run ``python benchmarks/keep_bench.py`` (N = 1,000 and 10,000) or ``--quick``; the keeps
live in a temporary directory that is removed afterwards. Other benchmarks can call
:func:`make_keep`, :func:`time_restart` and :func:`time_storm_writes`.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raetflo import nacling  # noqa: E402
from raetflo.raeting import Acceptance, AutoMode  # noqa: E402
from raetflo.road import keepfiles  # noqa: E402
from raetflo.road.estating import RemoteEstate  # noqa: E402
from raetflo.road.stacking import RoadStack  # noqa: E402

LOOPBACK = ("127.0.0.1", 0)


@contextlib.contextmanager
def counting(owner: Any, attr: str) -> Iterator[list[Any]]:
    """Collect what every call of ``owner.attr`` returns while the context is open."""
    calls: list[Any] = []
    real = getattr(owner, attr)

    def counted(*args: Any) -> Any:
        result = real(*args)
        calls.append(result)
        return result

    setattr(owner, attr, counted)
    try:
        yield calls
    finally:
        setattr(owner, attr, real)


def add_remotes(stack: RoadStack, count: int) -> list[RemoteEstate]:
    """Give ``stack`` ``count`` accepted, joined remote records (each its own role);
    they share one pair of keys, which is all the keep cares about."""
    verhex, pubhex = nacling.Signer().verhex, nacling.Privateer().pubhex
    remotes = []
    for index in range(count):
        remote = RemoteEstate(stack=stack, name=f"minion{index:05d}", fuid=index + 2,
                              ha=("127.0.0.1", 10000 + index % 50000), joined=True,
                              acceptance=Acceptance.accepted.value, verkey=verhex,
                              pubkey=pubhex, sid=1)
        remotes.append(stack.addRemote(remote))
    return remotes


def make_keep(dirpath: str, count: int) -> None:
    """Make a main estate's keep in ``dirpath`` holding ``count`` remote estates."""
    stack = RoadStack(name="main", main=True, ha=LOOPBACK, dirpath=dirpath,
                      auto=AutoMode.always.value)
    try:
        for remote in add_remotes(stack, count):
            stack.persist_remote(remote)
        stack.flush()
    finally:
        stack.close()


def time_restart(dirpath: str) -> tuple[float, float, int, int]:
    """Wall and CPU seconds to open a main on keep ``dirpath`` through its first
    ``serviceAll()``, the number of remotes restored and of keep files written."""
    with counting(keepfiles, "_write_temp") as written:
        start, cpu = time.perf_counter(), time.process_time()
        stack = RoadStack(ha=LOOPBACK, dirpath=dirpath)
        stack.serviceAll()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    stack.close()
    return elapsed, cpu, len(stack.remotes), len(written)


def time_storm_writes(dirpath: str, count: int,
                      batch: int) -> tuple[float, float, int, int, int]:
    """Wall and CPU seconds for a fresh main to write ``count`` new records ``batch`` per
    flush, the number of flushes, of files written and of syncs made."""
    stack = RoadStack(name="main", main=True, ha=LOOPBACK, dirpath=dirpath,
                      auto=AutoMode.always.value)
    try:
        remotes = add_remotes(stack, count)
        with counting(keepfiles, "_write_temp") as written, \
                counting(os, "fsync") as fsyncs, \
                counting(keepfiles, "sync_filesystem") as syncfs:
            start, cpu = time.perf_counter(), time.process_time()
            for first in range(0, count, batch):
                for remote in remotes[first:first + batch]:
                    stack.persist_remote(remote)
                stack.flush()
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        stack.close()
    return elapsed, cpu, -(-count // batch), len(written), len(fsyncs) + len(syncfs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000],
                        help="numbers of remotes in the keep (default 1000 10000)")
    parser.add_argument("--batch", type=int, default=100,
                        help="records written per service pass in the storm (default 100)")
    parser.add_argument("--quick", action="store_true", help="N = 200 only")
    parser.add_argument("--dir", default=None,
                        help="where the temporary keeps go (default: the system's temp dir)")
    args = parser.parse_args(argv)
    sizes = [200] if args.quick else args.sizes
    base = tempfile.mkdtemp(prefix="keep_bench_", dir=args.dir)
    try:
        for count in sizes:
            dirpath = os.path.join(base, f"restart{count}")
            start = time.perf_counter()
            make_keep(dirpath, count)
            made = time.perf_counter() - start
            elapsed, cpu, restored, written = time_restart(dirpath)
            print(f"restart N={count:>6}: {elapsed:7.3f} s ({cpu:.3f} s CPU), {restored} "
                  f"remotes restored, {written} files written (keep made in {made:.1f} s)")
            elapsed, cpu, passes, written, syncs = time_storm_writes(
                os.path.join(base, f"storm{count}"), count, args.batch)
            print(f"storm   N={count:>6}: {elapsed:7.3f} s ({cpu:.3f} s CPU) for {written} "
                  f"files in {passes} passes, {syncs / passes:.0f} syncs per pass: "
                  f"{elapsed / passes * 1e3:.2f} ms per pass, "
                  f"{elapsed / max(written, 1) * 1e6:.0f} us per file "
                  f"({cpu / max(written, 1) * 1e6:.0f} us CPU)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
