"""Road example 1: alpha joins beta (a main estate), then allow and alive follow.

Run ``python examples/road_join.py`` (ports 7531 and 7532 on all interfaces, keeps under
the default keep directory), or pass ``--host``, ``--ports`` and ``--basedirpath``.
"""
from __future__ import annotations


from common import finish, parse_args, service_until_idle
from ioflo.base.consoling import getConsole
from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack

console = getConsole()
console.reinit(verbosity=console.Wordage.concise)


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

    finish(stacks)


if __name__ == "__main__":
    args = parse_args(__doc__, 2)
    example1(args.host, tuple(args.ports), args.basedirpath)
