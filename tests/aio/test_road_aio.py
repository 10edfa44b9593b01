"""The asyncio road against polled road stacks (ours and raet 0.6.8's) over real UDP."""
from __future__ import annotations

import asyncio
import socket

import pytest

from raetflo import aio, events
from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.aliving import Aliver
from raetflo.road.stacking import RoadStack
from raetflo.stacking import StackError

from .conftest import ALWAYS, add_remote, run, serving, until

IMPLS = ["raetflo", "raet"]
SEGMENTED = {"blob": "s" * 10_000}  # some ten packets


def received(stack) -> list:
    return [(dict(body), source) for body, source in stack.rxMsgs]


async def take(road, count: int) -> list:
    got = []
    async for msg, source in road.messages():
        got.append((dict(msg), source))
        if len(got) == count:
            return got
    return got


async def event_of(road, kind: type, name: str | None = None) -> events.Event:
    """The first event of ``kind`` (about remote ``name``) in the road's stream."""
    async for event in road.events():
        if isinstance(event, kind) and (name is None or event.name == name):
            return event
    raise AssertionError(f"road closed before {kind.__name__}")


@pytest.mark.parametrize("impl", IMPLS)
def test_aio_joiner_with_a_polled_main(impl, make_stack, road_kwa):
    main = make_stack(impl, "main", main=True, auto=ALWAYS)

    async def scenario():
        async with serving(main), await aio.open_road(**road_kwa("minion")) as road:
            assert await road.join(main.ha) == "main"
            assert await road.allow("main") == "main"
            assert road.remote("main").joined and road.remote("main").allowed
            msgs = [{"subject": "hi", "n": 1}, SEGMENTED, {"unicode": "héllo ☃"}]
            for msg in msgs:
                await road.send(msg, to="main")
            assert received(main) == [(msg, "minion") for msg in msgs]
            back = main.remotes.values()[0].uid
            main.transmit({"reply": "ok ✓"}, back)
            main.transmit(SEGMENTED, back)
            assert await take(road, 2) == [({"reply": "ok ✓"}, "main"), (SEGMENTED, "main")]

    run(scenario())


@pytest.mark.parametrize("impl", IMPLS)
def test_polled_joiner_with_an_aio_main(impl, make_stack, road_kwa):
    joiner = make_stack(impl, "minion", auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as road:
            remote = add_remote(impl, joiner, road.stack)
            joiner.join(uid=remote.uid, cascade=True)
            async with serving(joiner):
                await event_of(road, events.RemoteAllowed, "minion")
                await until(lambda: remote.allowed)
                joiner.transmit(SEGMENTED, remote.uid)
                joiner.transmit({"subject": "second"}, remote.uid)
                assert await take(road, 2) == [(SEGMENTED, "minion"),
                                               ({"subject": "second"}, "minion")]
                await road.send({"answer": 42}, to="minion")
                await road.send(SEGMENTED, to="minion")
                assert received(joiner) == [({"answer": 42}, "main"), (SEGMENTED, "main")]

    run(scenario())


def test_two_aio_roads_join_allow_and_talk(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            await minion.join(main.ha)
            await minion.allow("main")
            assert isinstance(await event_of(main, events.RemoteJoined), events.RemoteJoined)
            sends = [minion.send({"n": n}, to="main") for n in range(20)]
            await asyncio.gather(*sends)
            assert await take(main, 20) == [({"n": n}, "minion") for n in range(20)]
            await main.send(SEGMENTED, to="minion")
            assert await take(minion, 1) == [(SEGMENTED, "main")]

    run(scenario())


def test_a_dropped_message_raises_with_its_reason(make_stack, road_kwa):
    main = make_stack("raetflo", "main", main=True, auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**road_kwa("minion")) as road:
            async with serving(main):
                await road.join(main.ha)
                await road.allow("main")
            main.server.close()  # the peer is gone: nothing confirms the message
            with pytest.raises(aio.MessageDropped) as caught:
                await road.send({"lost": True}, to="main", timeout=0.5)
            assert "timed out" in caught.value.reason
            assert caught.value.name == "main"

    run(scenario())


def test_a_join_nobody_answers_fails_by_its_timeout(road_kwa, ha):
    async def scenario():
        async with await aio.open_road(**road_kwa("minion")) as road:
            start = asyncio.get_running_loop().time()
            with pytest.raises(aio.LinkError, match="join"):
                await road.join(ha(), timeout=0.5)
            assert asyncio.get_running_loop().time() - start < 2.0

    run(scenario())


def test_close_fails_what_is_pending_and_ends_the_streams(make_stack, road_kwa):
    main = make_stack("raetflo", "main", main=True, auto=ALWAYS)

    async def scenario():
        road = await aio.open_road(**road_kwa("minion"))
        async with serving(main):
            await road.join(main.ha)
            await road.allow("main")
        pending = road.send({"never": "confirmed"}, to="main")  # main is not serviced now
        reader = asyncio.create_task(take(road, 1))
        await asyncio.sleep(0.05)
        await road.close()
        with pytest.raises(aio.RoadClosed):
            await pending
        assert await reader == []
        with pytest.raises(aio.RoadClosed):
            road.send({"too": "late"}, to="main")
        with pytest.raises(aio.RoadClosed):
            await road.join("main")
        assert road.server.transport.is_closing()

    run(scenario())


def test_port_zero_binds_a_free_port_and_close_releases_it(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("alpha")) as road:
            port = road.ha[1]
            assert port != 0 and road.stack.local.ha == ("127.0.0.1", port)
            assert isinstance(road.stack, RoadStack)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", port))

    run(scenario())


def test_an_unknown_keyword_is_a_type_error_naming_it(road_kwa):
    for bad in ("colour", "server", "store"):
        with pytest.raises(TypeError, match=repr(bad)):
            run(aio.open_road(**road_kwa("alpha"), **{bad: 1}))


def test_send_to_an_unknown_remote_is_a_lookup_error(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("alpha")) as road:
            with pytest.raises(LookupError, match="nobody"):
                road.send({"x": 1}, to="nobody")

    run(scenario())


def test_an_address_in_use_is_a_stack_error(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("alpha")) as road:
            kwa = road_kwa("beta") | {"ha": road.ha}
            with pytest.raises(StackError, match="Cannot open road"):
                await aio.open_road(**kwa)

    run(scenario())


def test_a_join_the_mains_operator_rejects_fails(make_stack, road_kwa):
    main = make_stack("raetflo", "main", main=True, auto=AutoMode.never.value)

    async def scenario():
        async with serving(main), await aio.open_road(**road_kwa("minion")) as road:
            joining = asyncio.create_task(road.join(main.ha))
            await until(lambda: len(main.remotes) == 1)
            main.keep.rejectRemote(main.remotes.values()[0])
            with pytest.raises(aio.LinkError, match="join"):
                await joining
            assert not main.remotes

    run(scenario())


def test_a_joiner_awaiting_the_operator_comes_as_a_pending_event(make_stack, road_kwa):
    joiner = make_stack("raetflo", "minion", auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True,
                                                  auto=AutoMode.never.value)) as road:
            remote = add_remote("raetflo", joiner, road.stack)
            joiner.join(uid=remote.uid)
            async with serving(joiner):
                await event_of(road, events.RemotePending, "minion")
            assert road.remote("minion").acceptance == Acceptance.pending
            assert remote.joined is None

    run(scenario())


def test_presence_rounds_report_a_silent_peer_dead(make_stack, road_kwa, monkeypatch):
    monkeypatch.setattr(Aliver, "Timeout", 0.5)
    joiner = make_stack("raetflo", "minion", auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True, period=0.2)) as road:
            remote = add_remote("raetflo", joiner, road.stack)
            joiner.join(uid=remote.uid, cascade=True)
            async with serving(joiner):
                await event_of(road, events.RemoteAlive, "minion")
            joiner.server.close()  # silent from now on; only the presence rounds notice
            await event_of(road, events.RemoteDead, "minion")
            assert road.remote("minion").alived is False

    run(scenario())


def test_a_big_message_between_roads_of_one_loop_is_not_sent_over_and_over(road_kwa):
    """A road reads what waits in its socket before it runs its timers (as a polled pass
    does), so a receiver busy with a burst does not ask again for segments it has not
    read yet, and the sender does not go back to send them all again."""
    body = {"blob": "b" * 3_000_000}

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            await minion.join(main.ha)
            await minion.allow("main")
            await asyncio.gather(minion.send(body, to="main"), take(main, 1))
            return minion.stack.stats, main.stack.stats

    sent, received = run(scenario(), timeout=60.0)
    segments = received["message_segment_rx"]  # each counted once
    assert segments > 3000 and sent["message_segment_tx"] < 1.2 * segments, dict(sent)


def test_a_failed_join_by_address_leaves_no_record_and_names_the_address(road_kwa, ha):
    async def scenario():
        async with await aio.open_road(**road_kwa("minion")) as minion:
            nobody = ha()
            with pytest.raises(aio.LinkError) as failed:
                await minion.join(nobody, timeout=0.5)
            assert f"{nobody[0]}:{nobody[1]}" in str(failed.value)
            return list(minion.stack.remotes.values())

    assert run(scenario()) == []


def test_two_roads_of_one_loop_trade_bursts_both_ways(road_kwa):
    async def burst(sender, receiver, to, count):
        await asyncio.gather(*(sender.send({"k": k}, to=to) for k in range(count)))
        return sorted([(await receiver.receive())[0]["k"] for _ in range(count)])

    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            await minion.join(main.ha)
            await minion.allow("main")
            return await asyncio.gather(burst(minion, main, "main", 300),
                                        burst(main, minion, "minion", 300))

    assert run(scenario(), timeout=30.0) == [list(range(300))] * 2
