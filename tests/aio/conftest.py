"""asyncio road fixtures: roads on free loopback ports with keeps in the test's tmp dir,
polled peers (ours or the reference's, from ``make_stack``) serviced by bounded tasks,
and a bounded runner for coroutines."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from raetflo.raeting import AutoMode

from ..interop.conftest import add_remote, make_stack  # noqa: F401  (a helper, a fixture)

T = TypeVar("T")
LOOPBACK = ("127.0.0.1", 0)
ALWAYS = AutoMode.always.value


def run(coro: Awaitable[T], timeout: float = 5.0) -> T:
    """Run ``coro`` on a fresh loop, bounded by ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def road_kwa(tmp_path) -> Callable[..., dict[str, Any]]:
    """Keywords of ``open_road`` for a road ``name`` on a free port, keep in tmp_path."""
    def kwa(name: str, **more: Any) -> dict[str, Any]:
        more.setdefault("auto", ALWAYS)
        return dict(name=name, ha=LOOPBACK, dirpath=str(tmp_path / "aio" / name), **more)
    return kwa


async def serve(stack: Any, step: float = 0.005, rounds: int = 2000) -> None:
    """Service a polled stack (ours or the reference's) from the loop: each round advances
    its store by the real time gone by, runs ``serviceAll`` and sleeps ``step``."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    for _ in range(rounds):
        now = loop.time()
        stack.store.advanceStamp(now - last)
        last = now
        stack.serviceAll()
        await asyncio.sleep(step)


async def until(check: Callable[[], bool], step: float = 0.01) -> None:
    """Wait (in loop time) until ``check()`` holds; callers bound it with a timeout."""
    while not check():
        await asyncio.sleep(step)


@contextlib.asynccontextmanager
async def serving(*stacks: Any) -> AsyncIterator[None]:
    """Service polled ``stacks`` in tasks of their own for the body of the block."""
    tasks = [asyncio.create_task(serve(stack)) for stack in stacks]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()

