"""An idle asyncio road polls nothing: its one timer is armed only for real deadlines."""
from __future__ import annotations

import asyncio
import time

from raetflo import aio

from .conftest import run


def test_a_lone_road_without_presence_arms_no_timer(road_kwa):
    async def scenario():
        async with await aio.open_road(presence=False, **road_kwa("alpha")) as road:
            await asyncio.sleep(0.05)
            assert road._alarm.when is None

    run(scenario())


def test_an_idle_joined_pair_uses_well_under_five_percent_cpu(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            await minion.join(main.ha)
            await minion.allow("main")
            await asyncio.sleep(0.1)
            start = time.process_time()
            await asyncio.sleep(1.0)
            return time.process_time() - start

    assert run(scenario()) < 0.05
