"""A road main in its own process, for the probe tests: ``python -m tests.ops.mainproc
IMPL DIR AUTO SECONDS [HOST]`` opens a main of ``IMPL`` (raetflo or raet, the reference
through the test shim) on a free port of ``HOST`` (default 127.0.0.1) with its keep in ``DIR``, prints ``ready PORT``
and serves in real time for ``SECONDS`` at most, or until its stdin closes."""
from __future__ import annotations

import select
import sys
import time


def road_stack(impl: str):
    if impl == "raet":
        from tests.interop import refshim
        refshim.install()
        from raet.road.stacking import RoadStack
    else:
        from raetflo.road.stacking import RoadStack
    return RoadStack


def serve(impl: str, keepdir: str, auto: int, seconds: float, host: str = "127.0.0.1") -> None:
    stack = road_stack(impl)(name="alpha", ha=(host, 0), dirpath=keepdir, main=True, auto=auto)
    print(f"ready {stack.server.ha[1]}", flush=True)
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        stack.store.changeStamp(time.monotonic() - began)
        stack.serviceAll()
        if select.select([sys.stdin], [], [], 0.005)[0] and not sys.stdin.readline():
            break
    stack.server.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), *sys.argv[5:6])
