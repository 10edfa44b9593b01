"""Road example 3: three main estates join each other and exchange messages.

Run ``python examples/road_three.py`` (ports 7531 to 7533 on all interfaces, keeps under
the default keep directory), or pass ``--host``, ``--ports`` and ``--basedirpath``.
"""
from __future__ import annotations

import time

from common import finish, parse_args
from ioflo.aid.timing import StoreTimer
from ioflo.base.consoling import getConsole
from ioflo.base.storing import Store
from raetflo.raeting import AutoMode
from raetflo.road.estating import RemoteEstate
from raetflo.road.stacking import RoadStack

console = getConsole()
console.reinit(verbosity=console.Wordage.concise)


def serviceStacks(stacks: list[RoadStack], duration: float = 1.0, period: float = 0.1) -> None:
    """Service the stacks until no transaction is left or ``duration`` has passed.

    ``duration`` is measured on a timer of its own Store, advanced by ``period`` per round
    while the process sleeps ``period``; each stack advances its own clock by 0.1.
    """
    store = Store(stamp=0.0)
    timer = StoreTimer(store=store, duration=duration)
    start = time.time()
    while not timer.expired:
        for stack in stacks:
            stack.serviceAll()
            stack.store.advanceStamp(0.1)
        if not any(stack.transactions for stack in stacks):
            break
        store.advanceStamp(period)
        time.sleep(period)
    print("Perceived service duration = {0} seconds".format(time.time() - start))


def join(stack: RoadStack, other: RoadStack) -> None:
    """Add a record of ``other`` to ``stack`` and start a cascading join with it."""
    remote = RemoteEstate(stack=stack, name=other.name, ha=other.ha)
    stack.addRemote(remote)
    stack.join(uid=remote.uid, cascade=True)


def example3(host: str = "0.0.0.0", ports: tuple[int, int, int] = (7531, 7532, 7533),
             basedirpath: str | None = None) -> None:
    alpha, beta, gamma = stacks = [
        RoadStack(name=name, ha=(host, port), main=True, auto=AutoMode.always.value,
                  basedirpath=basedirpath)
        for name, port in zip(("alpha", "beta", "gamma"), ports)]
    join(alpha, beta)
    join(alpha, gamma)
    join(beta, gamma)
    serviceStacks(stacks)
    print("Finished Handshakes\n")

    contents = {"alpha": "Hi", "beta": "Hello.", "gamma": "Good Day"}
    for stack in stacks:
        for remote in stack.remotes.values():
            msg = {"subject": "Example message {0} to whoever".format(stack.name),
                   "content": contents[stack.name]}
            stack.transmit(msg, remote.uid)
    serviceStacks(stacks)
    print("Finished Messages\n")

    for stack in stacks:
        print("Stack {0} received:\n".format(stack.name))
        while stack.rxMsgs:
            msg, source = stack.rxMsgs.popleft()
            print("source = '{0}'.\nmsg= {1}\n".format(source, msg))

    finish(stacks)


if __name__ == "__main__":
    args = parse_args(__doc__, 3)
    example3(args.host, tuple(args.ports), args.basedirpath)
