"""Road example 2: alpha joins beta, then each sends the other a message.

Run ``python examples/road_message.py`` (ports 7531 and 7532 on all interfaces, keeps
under the default keep directory), or pass ``--host``, ``--ports`` and ``--basedirpath``.
"""
from __future__ import annotations


from common import finish, parse_args, service_until_idle
from ioflo.base.consoling import getConsole
from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack

console = getConsole()
console.reinit(verbosity=console.Wordage.concise)


def example2(host: str = "0.0.0.0", ports: tuple[int, int] = (7531, 7532),
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
    print("Finished Handshake\n")

    msg = {"subject": "Example message alpha to beta",
           "content": "The dict keys in this dict are not special any dict will do."}
    alpha.transmit(msg, remote.uid)
    service_until_idle(stacks)
    print("{0}\n".format(beta.rxMsgs.popleft()))
    print("Finished Message alpha to beta\n")

    # beta's record of alpha has the same uid (2) as alpha's record of beta
    msg = {"subject": "Example message beta to alpha",
           "content": "Messages are the core of raet."}
    beta.transmit(msg, remote.uid)
    service_until_idle(stacks)
    print("{0}\n".format(alpha.rxMsgs.popleft()))
    print("Finished Message beta to alpha\n")

    finish(stacks)


if __name__ == "__main__":
    args = parse_args(__doc__, 2)
    example2(args.host, tuple(args.ports), args.basedirpath)
