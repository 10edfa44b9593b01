"""raetflo: RAET (Reliable Asynchronous Event Transport) for Python 3.11+, as ioflo behaviours.

``import raetflo`` makes the subpackages reachable as attributes, as ``import raet`` does
(``raetflo.road.stacking.RoadStack``, ``raetflo.lane.stacking.LaneStack``, ...).
"""
# ioflo 2.0.3 uses ``collections.abc`` without importing it; import it before ioflo is.
import collections.abc  # noqa: F401
import importlib

__version__ = "0.1.0"

__all__ = ["raeting", "nacling", "stacking", "road", "lane"]

for _name in __all__:
    importlib.import_module(f".{_name}", __name__)
