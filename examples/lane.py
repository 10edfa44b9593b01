"""Lane example 1: yards alpha and beta on lane 'zeus' exchange messages.

Run ``python examples/lane.py`` (sockets in a fresh temporary directory, removed at the
end), or pass ``--sockdirpath`` to put the sockets in a directory of your choice.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import raetflo  # noqa: F401
from ioflo.aid.timing import StoreTimer
from ioflo.base.consoling import getConsole
from ioflo.base.storing import Store
from raetflo.lane.stacking import LaneStack
from raetflo.lane.yarding import RemoteYard

console = getConsole()
console.reinit(verbosity=console.Wordage.concise)


def serviceStacks(stacks: list[LaneStack], duration: float = 0.5, period: float = 0.1) -> None:
    """Service the stacks every ``period`` seconds for ``duration`` seconds."""
    store = Store(stamp=0.0)
    timer = StoreTimer(store=store, duration=duration)
    while not timer.expired:
        for stack in stacks:
            stack.serviceAll()
            stack.store.advanceStamp(period)
        store.advanceStamp(period)
        time.sleep(period)


def example1(sockdirpath: str | None = None) -> None:
    tempDirpath = None
    if sockdirpath is None:
        tempDirpath = tempfile.mkdtemp(prefix="raet", suffix="base", dir="/tmp")
        sockdirpath = os.path.join(tempDirpath, "lane")

    alpha = LaneStack(name="alpha", uid=1, lanename="zeus", sockdirpath=sockdirpath)
    beta = LaneStack(name="beta", uid=1, lanename="zeus", sockdirpath=sockdirpath)
    stacks = [alpha, beta]

    for stack in stacks:
        console.terse(f"LaneStack '{stack.name}': UXD socket ha = '{stack.ha}'\n")

    remote = RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(remote)

    msg = dict(content="Hello this is a message from alpha to beta")
    alpha.transmit(msg, remote.uid)
    serviceStacks(stacks)

    while beta.rxMsgs:
        rxMsg, source = beta.rxMsgs.popleft()
        console.terse(f"Beta received from {source} message = '{rxMsg}'\n")

    remote = beta.remotes.values()[0]
    console.terse(f"Beta remotes has '{remote.name}' at '{remote.ha}'\n")

    remote = alpha.remotes.values()[0]
    console.terse(f"Alpha remotes has '{remote.name}' at '{remote.ha}'\n")

    beta.transmit(dict(content="Hi from beta"))
    beta.transmit(dict(content="Hi again from beta"))
    beta.transmit(dict(content="Hi yet again from beta"))

    alpha.transmit(dict(content="Hello from alpha"))
    alpha.transmit(dict(content="Hello again from alpha"))
    alpha.transmit(dict(content="Hello yet again from alpha"))

    serviceStacks(stacks)

    for stack in stacks:
        while stack.rxMsgs:
            rxMsg, source = stack.rxMsgs.popleft()
            console.terse(f"LaneStack {stack.name} received from {source} message = "
                          f"'{rxMsg}'\n")

    for stack in stacks:
        stack.server.close()

    if tempDirpath is not None:
        shutil.rmtree(tempDirpath)

    print("Finished\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockdirpath", default=None,
                        help="directory for the yards' sockets (default: a temporary one)")
    return parser.parse_args()


if __name__ == "__main__":
    example1(parse_args().sockdirpath)
