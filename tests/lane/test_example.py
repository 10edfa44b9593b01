"""The lane tutorial example runs and prints the tutorial's lines."""
from __future__ import annotations

import os
import subprocess
import sys

from .servicing import ROOT

LINES = [
    "LaneStack 'alpha': UXD socket ha = '<dir>/zeus.alpha.uxd'",
    "LaneStack 'beta': UXD socket ha = '<dir>/zeus.beta.uxd'",
    "Beta received from alpha message = "
    "'odict([('content', 'Hello this is a message from alpha to beta')])'",
    "Beta remotes has 'alpha' at '<dir>/zeus.alpha.uxd'",
    "Alpha remotes has 'beta' at '<dir>/zeus.beta.uxd'",
    "LaneStack alpha received from beta message = 'odict([('content', 'Hi from beta')])'",
    "LaneStack alpha received from beta message = 'odict([('content', 'Hi again from beta')])'",
    "LaneStack alpha received from beta message = "
    "'odict([('content', 'Hi yet again from beta')])'",
    "LaneStack beta received from alpha message = 'odict([('content', 'Hello from alpha')])'",
    "LaneStack beta received from alpha message = "
    "'odict([('content', 'Hello again from alpha')])'",
    "LaneStack beta received from alpha message = "
    "'odict([('content', 'Hello yet again from alpha')])'",
    "Finished",
]


def test_lane_example(sockdir):
    lanedir = os.path.join(sockdir, "lane")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "lane.py"),
                           "--sockdirpath", lanedir],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines == [line.replace("<dir>", lanedir) for line in LINES]
    assert os.listdir(lanedir) == []  # both sockets removed on close
