"""asyncio drivers: a road and a lane on the running event loop.

``async with await raetflo.aio.open_road(name="alpha", ha=("127.0.0.1", 0)) as road:``
opens a RoadStack whose socket is a datagram endpoint of the loop and whose timers are
one ``call_at``; ``await road.join(ha)``, ``await road.send(msg, to=name)``,
``async for msg, source in road.messages()`` and ``async for event in road.events()``.
``async with await raetflo.aio.open_lane(name="alpha", lanename="zeus") as lane:`` does the
same for a lane yard (see :mod:`raetflo.aio.lane`).
"""
from .lane import Lane, LaneError, UnknownYard, YardUnreachable, open_lane
from .road import LinkError, LinkRejected, MessageDropped, Road, RoadClosed, RoadError, open_road

__all__ = ["open_road", "Road", "RoadError", "RoadClosed", "MessageDropped", "LinkError",
           "LinkRejected", "open_lane", "Lane", "LaneError", "UnknownYard", "YardUnreachable"]
