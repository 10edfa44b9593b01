"""Two asyncio roads in one program: a main and a joiner that join, allow and talk.

    python examples/aio_road.py

Both listen on free loopback ports; their keeps live in a temporary directory that is
removed at the end. The joiner sends a few messages and awaits each confirmation; the
main answers every one; presence events are printed as they arrive.
"""
from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from ioflo.base.consoling import getConsole

from raetflo import aio, events
from raetflo.raeting import AutoMode

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free one


async def answer(main: aio.Road, count: int) -> None:
    """The main's side: answer each message with its number doubled."""
    async for msg, source in main.messages():
        print(f"main    got {dict(msg)} from {source}")
        await main.send({"double": msg["n"] * 2}, to=source)
        count -= 1
        if not count:
            return


async def watch(road: aio.Road) -> None:
    """Print the presence events of ``road`` until it closes."""
    async for event in road.events():
        if isinstance(event, events.RemoteEvent):
            print(f"{road.name:7} sees {type(event).__name__} of {event.name}")


async def main(keepdir: str, count: int = 3) -> None:
    common: dict[str, Any] = dict(ha=LOOPBACK, auto=AutoMode.always.value, basedirpath=keepdir)
    async with await aio.open_road(name="main", main=True, **common) as main_road, \
            await aio.open_road(name="minion", **common) as minion:
        watchers = [asyncio.create_task(watch(road)) for road in (main_road, minion)]
        answering = asyncio.create_task(answer(main_road, count))
        name = await minion.join(main_road.ha)
        await minion.allow(name)
        print(f"minion  joined and allowed with {name} at {main_road.ha}")
        for n in range(1, count + 1):
            await minion.send({"n": n}, to=name)  # resolves once main confirms it
            reply, source = await minion.receive()
            print(f"minion  got {dict(reply)} from {source}")
        await answering
        for task in watchers:
            task.cancel()


if __name__ == "__main__":
    getConsole().reinit(verbosity=getConsole().Wordage.terse)
    with tempfile.TemporaryDirectory(prefix="aio_road_") as keeps:
        asyncio.run(asyncio.wait_for(main(keeps), 30))
