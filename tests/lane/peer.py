"""An echoing yard in its own process, for multi-process lane tests.

``python -m tests.lane.peer SOCKDIR NAME COUNT [--impl raetflo|raet]`` opens a LaneStack
on lane 'zeus', prints ``ready``, sends every message it receives back to its sender as
``{"echo": msg, "by": NAME}``, and exits 0 once it has echoed COUNT messages (1 if not
within the time limit). Its stats go to stdout as the last line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("sockdir")
    parser.add_argument("name")
    parser.add_argument("count", type=int)
    parser.add_argument("--impl", choices=("raetflo", "raet"), default="raetflo")
    parser.add_argument("--limit", type=float, default=20.0, help="seconds before giving up")
    args = parser.parse_args()

    import raetflo  # noqa: F401
    if args.impl == "raet":
        from tests.interop import refshim
        refshim.install()
        from raet.lane.stacking import LaneStack
    else:
        from raetflo.lane.stacking import LaneStack

    stack = LaneStack(name=args.name, lanename="zeus", sockdirpath=args.sockdir)
    print("ready", flush=True)
    echoed = 0
    deadline = time.monotonic() + args.limit
    try:
        while time.monotonic() < deadline:
            stack.serviceAll()
            while stack.rxMsgs:
                msg, source = stack.rxMsgs.popleft()
                stack.transmit({"echo": msg, "by": args.name}, stack.fetchUidByName(source))
                echoed += 1
            if echoed >= args.count and not stack.txMsgs and not stack.txes:
                break
            time.sleep(0.001)
    finally:
        stack.server.close()
        print(json.dumps(dict(stack.stats)), flush=True)
    return 0 if echoed >= args.count and not stack.txes else 1


if __name__ == "__main__":
    sys.exit(main())
