"""Service loops for lane tests: bounded in rounds or in time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]


def service(stacks: Iterable, until: Callable[[], bool], rounds: int = 200) -> int:
    """Service ``stacks`` in turn until ``until()`` holds; the rounds it took.

    Datagrams between local sockets arrive at once, so no sleeping is needed; the bound
    only stops a broken test from spinning.
    """
    stacks = list(stacks)
    for count in range(1, rounds + 1):
        for stack in stacks:
            stack.serviceAll()
        if until():
            return count
    raise AssertionError(f"not done after {rounds} rounds")


def drain(stack) -> list:
    """Pop and return everything in ``stack.rxMsgs``."""
    msgs = list(stack.rxMsgs)
    stack.rxMsgs.clear()
    return msgs


def echo_through_peer(stack, remote_cls, sockdir: str, msgs: list, impl: str = "raetflo",
                      limit: float = 15.0) -> tuple[list, dict]:
    """Send ``msgs`` from ``stack`` to an echoing yard 'beta' run by another process.

    Returns the echoes ``stack`` received, in order, and the peer's stats.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.lane.peer", sockdir, "beta", str(len(msgs)),
         "--impl", impl, "--limit", str(limit)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        remote = remote_cls(stack=stack, ha=os.path.join(sockdir, "zeus.beta.uxd"))
        stack.addRemote(remote)
        for msg in msgs:
            stack.transmit(msg, remote.uid)
        echoes: list = []
        deadline = time.monotonic() + limit
        while len(echoes) < len(msgs) and time.monotonic() < deadline:
            stack.serviceAll()
            echoes.extend(drain(stack))
            time.sleep(0.001)
        out, err = proc.communicate(timeout=limit)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return echoes, json.loads(out.splitlines()[-1])
