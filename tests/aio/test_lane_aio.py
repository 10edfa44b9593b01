"""The asyncio lane: with a polled LaneStack and with another asyncio lane, a missing yard,
book expiry by its timer alone, and a clean close. Every test is bounded by LIMIT."""
from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from raetflo.aio.lane import LaneError, UnknownYard, YardUnreachable, open_lane
from raetflo.events import RemoteRemoved
from raetflo.lane import paging
from raetflo.lane.core import LaneCore
from raetflo.lane.stacking import LaneStack

LIMIT = 5.0  # seconds any one test may take
BIG = {"content": "".join(f"{n:8d}" for n in range(40_000)), "caf\u00e9": ["\u2603", None]}


def run(scenario: Coroutine) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, LIMIT))


async def until(done: Callable[[], Any]) -> None:
    """Wait for ``done()`` (test-side polling; the lanes under test never poll)."""
    while not done():
        await asyncio.sleep(0.001)


async def take(stream: AsyncIterator, count: int) -> list:
    items = []
    async for item in stream:
        items.append(item)
        if len(items) == count:
            break
    return items


async def serve(stack: LaneStack) -> None:
    """Run a polled stack as an ioflo house would, on the loop."""
    while True:
        stack.serviceAll()
        await asyncio.sleep(0.001)


@pytest.fixture
def sockdir(tmp_path) -> str:
    return str(tmp_path)


def test_an_asyncio_lane_and_a_polled_lane_stack_both_ways(sockdir):
    async def scenario() -> None:
        stack = LaneStack(name="polled", lanename="zeus", sockdirpath=sockdir)
        service = asyncio.create_task(serve(stack))
        try:
            opening = open_lane(name="aio", lanename="zeus", sockdirpath=sockdir)
            async with await opening as lane:
                assert lane.add_yard("polled") == "polled"
                await lane.send({"n": 1}, to="polled")
                await lane.send(BIG, to="polled")  # five pages
                await until(lambda: len(stack.rxMsgs) == 2)
                assert list(stack.rxMsgs) == [({"n": 1}, "aio"), (BIG, "aio")]
                back = stack.fetchUidByName("aio")  # admitted from its socket path
                stack.transmit(BIG, back)
                stack.transmit({"n": 2}, back)
                received = await take(lane.messages(), 2)
                assert received == [(BIG, "polled"), ({"n": 2}, "polled")]
                assert set(lane.stats) <= {"busy_transmit_yard"}
        finally:
            service.cancel()
            stack.server.close()
        assert set(stack.stats) <= {"busy_transmit_yard"}

    run(scenario())


def test_two_asyncio_lanes(sockdir):
    async def scenario() -> None:
        async with await open_lane(name="alpha", sockdirpath=sockdir) as alpha, \
                await open_lane(name="beta", sockdirpath=sockdir) as beta:
            assert alpha.add_yard(beta.ha) == "beta"
            sent = [{"n": n} for n in range(300)] + [BIG]
            await asyncio.gather(*(alpha.send(msg, to="beta") for msg in sent))
            received = await take(beta.messages(), len(sent))
            assert received == [(msg, "alpha") for msg in sent]
            assert alpha.stats["busy_transmit_yard"] >= 1  # beta's queue filled: retried
            await beta.send({"reply": True}, to="alpha")
            assert await take(alpha.messages(), 1) == [({"reply": True}, "beta")]

    run(scenario())


def test_sends_that_cannot_go(sockdir):
    async def scenario() -> None:
        async with await open_lane(name="alpha", sockdirpath=sockdir) as lane:
            with pytest.raises(UnknownYard, match="nobody"):
                await lane.send({"x": 1}, to="nobody")
            lane.add_yard("ghost")  # nobody is bound at its path
            with pytest.raises(YardUnreachable, match="ghost"):
                await lane.send({"x": 1}, to="ghost")
            [event] = await take(lane.events(), 1)
            assert isinstance(event, RemoteRemoved) and event.name == "ghost"
            with pytest.raises(UnknownYard):
                await lane.send({"x": 1}, to="ghost")  # reaped
            lane.add_yard("beta")
            with pytest.raises(TypeError):
                await lane.send(["not", "a", "mapping"], to="beta")
            with pytest.raises(paging.PageError):
                await lane.send({"set": {1}}, to="beta")
            assert lane.stats == {"stale_transmit_yard": 1, "packing_error": 1}

    run(scenario())


def test_a_partial_book_expires_by_its_timer_with_no_traffic(sockdir, monkeypatch):
    monkeypatch.setattr(LaneCore, "BookTimeout", 0.2)

    async def scenario() -> None:
        async with await open_lane(name="beta", lanename="zeus", sockdirpath=sockdir) as lane:
            fired: list[float] = []
            handle_timer = lane.core.handle_timer
            lane.core.handle_timer = lambda now: (fired.append(now), handle_timer(now))
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
                raw.bind(os.path.join(sockdir, "zeus.raw.uxd"))
                first = paging.paginate(b'{"x":"' + b"y" * 70000 + b'"}', "raw", "beta",
                                        "0123456789abcdef01", 1)[0]
                raw.sendto(first, lane.ha)
                await until(lambda: len(lane.core.books) == 1)
            deadline = lane.core.get_timer()
            assert deadline is not None and not fired
            await until(lambda: lane.stats.get("expired_book"))
            assert len(fired) == 1 and fired[0] >= deadline  # one wake-up, not early
            assert lane.core.get_timer() is None and len(lane.core.books) == 0
            await asyncio.sleep(0.3)
            assert len(fired) == 1  # idle: nothing ran since

    run(scenario())


def test_closing_removes_the_socket_and_ends_the_streams(sockdir):
    async def scenario() -> None:
        lane = await open_lane(name="alpha", sockdirpath=sockdir)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as deaf:
            deaf.bind(os.path.join(sockdir, "lane.deaf.uxd"))  # bound, never reads
            lane.add_yard("deaf")
            async with lane:
                assert os.path.exists(lane.ha)
                stream = asyncio.create_task(take(lane.messages(), 1))
                pending = [asyncio.create_task(lane.send({"n": n}, to="deaf"))
                           for n in range(100)]
                await until(lambda: sum(task.done() for task in pending) >= 5)
            assert not os.path.exists(lane.ha)
            assert await stream == []
            results = await asyncio.gather(*pending, return_exceptions=True)
            assert any(isinstance(result, LaneError) for result in results)
            with pytest.raises(LaneError, match="closed"):
                await lane.send({"n": 0}, to="deaf")

    run(scenario())
