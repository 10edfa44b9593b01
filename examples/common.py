"""What the road examples share: command line, a service loop and the final clean-up."""
from __future__ import annotations

import argparse
import time

import raetflo  # noqa: F401  (makes ioflo importable on 3.11)
from raetflo.road.stacking import RoadStack


def parse_args(doc: str, nports: int) -> argparse.Namespace:
    """``--host``, ``--ports`` (``nports`` of them, from 7531) and ``--basedirpath``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--ports", type=int, nargs=nports,
                        default=tuple(range(7531, 7531 + nports)))
    parser.add_argument("--basedirpath", default=None)
    return parser.parse_args()


def service_until_idle(stacks: list[RoadStack], period: float = 0.1, limit: float = 10.0) -> None:
    """Service the stacks, each advancing its own clock, until no transaction is left."""
    for _ in range(int(limit / period)):
        for stack in stacks:
            stack.serviceAll()
            stack.store.advanceStamp(period)
        if not any(stack.transactions for stack in stacks):
            return
        time.sleep(period)


def finish(stacks: list[RoadStack]) -> None:
    """Close the sockets, remove the keeps and say so."""
    for stack in stacks:
        stack.server.close()
        stack.keep.clearAllDir()
    print("Finished\n")
