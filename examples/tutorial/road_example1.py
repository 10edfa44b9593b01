'''
RAET Tutorial Example
'''
import time

import raetflo
from raetflo.raeting import AutoMode

def example1():
    alpha = raetflo.road.stacking.RoadStack(name='alpha',
                                         ha=('0.0.0.0', 7531),
                                         auto=AutoMode.always.value)

    beta = raetflo.road.stacking.RoadStack(name='beta',
                                         ha=('0.0.0.0', 7532),
                                         main=True,
                                         auto=AutoMode.always.value)

    remote = raetflo.road.estating.RemoteEstate(stack=alpha,
                                             ha=beta.ha)

    alpha.addRemote(remote)

    alpha.join(uid=remote.uid, cascade=True)

    stacks = [alpha, beta]
    while True:
        for stack in stacks:
            stack.serviceAll()
            stack.store.advanceStamp(0.1)
        if all([not stack.transactions for stack in stacks]):
            break
        time.sleep(0.1)

    for stack in stacks:
        stack.server.close()  # close the UDP socket
        stack.keep.clearAllDir()  # clear persisted data

    print("Finished\n")

if __name__ == "__main__":
    example1()
