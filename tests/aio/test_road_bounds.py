"""What a peer can make an asyncio road hold is bounded: untaken messages and events."""
from __future__ import annotations

from raetflo import aio, events

from .conftest import ALWAYS, add_remote, run, serving, until


def test_untaken_messages_stop_the_reading_until_half_are_taken(make_stack, road_kwa):
    joiner = make_stack("raetflo", "minion", auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as road:
            road.MaxHeldMessages = 4
            remote = add_remote("raetflo", joiner, road.stack)
            joiner.join(uid=remote.uid, cascade=True)
            async with serving(joiner):
                await until(lambda: remote.allowed)
                for n in range(12):
                    joiner.transmit({"n": n}, remote.uid)
                await until(lambda: road.stack.stats.get("aio_rx_paused"))
                assert not road.server.transport.is_reading()
                assert len(road.stack.rxMsgs) < 12
                got = []
                async for msg, _ in road.messages():
                    got.append(msg["n"])
                    if len(got) == 12:
                        break
                assert sorted(got) == list(range(12))
                assert road.server.transport.is_reading()

    run(scenario())


def test_untaken_events_past_the_bound_drop_the_oldest(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            main.MaxEvents = 2
            await minion.join(main.ha)
            await minion.allow("main")
            await until(lambda: main.stack.stats.get("aio_event_overflow"))
            held = [type(event) for event in main._events]
            assert len(held) == 2 and events.RemoteJoined not in held

    run(scenario())


def test_every_send_resolves_even_when_one_call_ends_more_than_max_events(road_kwa):
    """The stack's own event bound never drops an outcome a send waits for: the road takes
    every event after each call."""
    import asyncio

    from raetflo.coring import Core
    from raetflo.road.estating import RemoteEstate

    async def scenario():
        async with await aio.open_road(**road_kwa("minion", presence=False)) as road:
            road.stack.addRemote(RemoteEstate(stack=road.stack, name="ghost",
                                              ha=("127.0.0.1", 9)))  # nobody answers
            sends = [road.send({"i": i}, to="ghost", timeout=0.5)
                     for i in range(Core.MaxEvents + 100)]  # more than a core holds
            done, pending = await asyncio.wait(sends, timeout=3.0)
            assert not pending and not road.stack.stats.get("event_overflow")
            assert all(isinstance(send.exception(), aio.MessageDropped) for send in done)

    run(scenario())
