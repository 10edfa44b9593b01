"""``import raetflo`` reaches the subpackages as ``import raet`` does, with the same names."""
from __future__ import annotations

import subprocess
import sys

MODULES = ["raeting", "nacling", "stacking", "road.estating", "road.keeping",
           "road.packeting", "road.stacking", "road.transacting", "lane.yarding",
           "lane.paging", "lane.stacking"]


def test_subpackages_are_attributes_after_a_plain_import():
    code = ("import functools, raetflo\n"
            f"for path in {MODULES!r}:\n"
            "    functools.reduce(getattr, path.split('.'), raetflo)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_abiding_star_import_gives_the_python2_names():
    names: dict = {}
    exec("from raetflo.abiding import *", names)
    assert names["long"] is int and names["unicode"] is str and names["xrange"] is range
    assert names["basestring"] == (str, bytes)
    assert names["ns2b"]("é") == b"\xe9" and names["ns2u"]("x") == "x"
