"""The asyncio road over IPv6: two roads on ``::1``, a dual-stack road on ``::`` reached by
IPv4 joiners (ours and raet 0.6.8's), and a remote given by host name."""
from __future__ import annotations

import pytest

from raetflo import aio, events
from raetflo.road.estating import EstateError

from ..road.test_ipv6_names import needs_dual, needs_ipv6
from .conftest import ALWAYS, add_remote, run, serving, until
from .test_road_aio import event_of, received, take


def at(kwa: dict, host: str) -> dict:
    """``open_road`` keywords ``kwa`` with the road at ``host``, on a free port."""
    return dict(kwa, ha=(host, 0))


@needs_ipv6
def test_two_aio_roads_over_ipv6_loopback(road_kwa):
    async def scenario():
        async with await aio.open_road(**at(road_kwa("main", main=True), "::1")) as main, \
                await aio.open_road(**at(road_kwa("minion"), "::1")) as minion:
            assert main.ha[0] == "::1" and len(main.ha) == 2
            assert await minion.join(main.ha) == "main"
            assert await minion.allow("main") == "main"
            await minion.send({"n": 1}, to="main")
            assert await take(main, 1) == [({"n": 1}, "minion")]
            await main.send({"n": 2}, to="minion")
            assert await take(minion, 1) == [({"n": 2}, "main")]
            assert main.remote("minion").ha == minion.ha

    run(scenario())


@needs_dual
@pytest.mark.parametrize("impl", ["raetflo", "raet"])
def test_dual_stack_aio_main_with_an_ipv4_polled_joiner(impl, make_stack, road_kwa):
    joiner = make_stack(impl, "minion", auto=ALWAYS)

    async def scenario():
        async with await aio.open_road(**at(road_kwa("main", main=True), "::")) as road:
            remote = add_remote(impl, joiner, road.stack)
            remote.ha = ("127.0.0.1", road.ha[1])
            joiner.join(uid=remote.uid, cascade=True)
            async with serving(joiner):
                await event_of(road, events.RemoteAllowed, "minion")
                await until(lambda: remote.allowed)
                assert road.remote("minion").ha == tuple(joiner.ha)
                joiner.transmit({"up": 1}, remote.uid)
                assert await take(road, 1) == [({"up": 1}, "minion")]
                await road.send({"down": 2}, to="minion")
                assert received(joiner) == [({"down": 2}, "main")]
        assert road.stack.stats.get("wrong_source", 0) == 0

    run(scenario())


def test_aio_join_by_host_name(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("main", main=True)) as main, \
                await aio.open_road(**road_kwa("minion")) as minion:
            assert await minion.join(("localhost", main.ha[1])) == "main"
            assert minion.remote("main").ha == main.ha

    run(scenario())


def test_aio_join_of_an_unresolvable_name_names_it(road_kwa):
    async def scenario():
        async with await aio.open_road(**road_kwa("minion")) as minion:
            with pytest.raises(EstateError, match="no-such-host.invalid"):
                await minion.join(("no-such-host.invalid", 7530))
            assert not minion.stack.remotes

    run(scenario())
