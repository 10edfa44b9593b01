"""Road example 1: alpha joins beta (a main estate), then allow and alive follow.

Run ``python examples/road_join.py`` (ports 7531 and 7532 on all interfaces, keeps under
the default keep directory), or pass ``--host``, ``--ports`` and ``--basedirpath``.
"""
from __future__ import annotations

import argparse
import time

import raetflo  # noqa: F401
from ioflo.base.consoling import getConsole
from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack

console = getConsole()
console.reinit(verbosity=console.Wordage.concise)


def service_until_idle(stacks: list[RoadStack], period: float = 0.1, limit: float = 10.0) -> None:
    """Service the stacks, each advancing its own clock, until no transaction is left."""
    for _ in range(int(limit / period)):
        for stack in stacks:
            stack.serviceAll()
            stack.store.advanceStamp(period)
        if not any(stack.transactions for stack in stacks):
            return
        time.sleep(period)


def example1(host: str = "0.0.0.0", ports: tuple[int, int] = (7531, 7532),
             basedirpath: str | None = None) -> None:
    alpha = RoadStack(name="alpha", ha=(host, ports[0]), auto=AutoMode.always.value,
                      basedirpath=basedirpath)
    beta = RoadStack(name="beta", ha=(host, ports[1]), main=True,
                     auto=AutoMode.always.value, basedirpath=basedirpath)
    remote = RemoteEstate(stack=alpha, ha=beta.ha)
    alpha.addRemote(remote)
    alpha.join(uid=remote.uid, cascade=True)

    stacks = [alpha, beta]
    service_until_idle(stacks)

    for stack in stacks:
        stack.server.close()
        stack.keep.clearAllDir()
    print("Finished\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--ports", type=int, nargs=2, default=(7531, 7532))
    parser.add_argument("--basedirpath", default=None)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    example1(args.host, tuple(args.ports), args.basedirpath)
