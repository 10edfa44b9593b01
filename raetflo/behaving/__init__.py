"""raetflo's ioflo behaviours: importing this package registers every Deed.

The ``ioflo`` command imports it by itself when raetflo is installed (see
``raetflo_hook``); ``ioflo -b raetflo.behaving`` imports it explicitly.
"""
from .common import FloError, RaetfloExit
from .laning import (LaneStackCloser, LaneStackOpener, LaneStackPrinter, LaneStackReceiver,
                     LaneStackServicer, LaneStackTransmitter)
from .relaying import MessageRelayer
from .roading import (JoinerInitiator, RoadStackCloser, RoadStackJoiner, RoadStackOpener,
                      RoadStackPrinter, RoadStackReceiver, RoadStackServicer,
                      RoadStackTransmitter, TransmitterDeed)

__all__ = ["FloError", "RaetfloExit", "MessageRelayer",
           "LaneStackCloser", "LaneStackOpener", "LaneStackPrinter", "LaneStackReceiver",
           "LaneStackServicer", "LaneStackTransmitter",
           "RoadStackCloser", "RoadStackJoiner", "RoadStackOpener", "RoadStackPrinter",
           "RoadStackReceiver", "RoadStackServicer", "RoadStackTransmitter",
           "JoinerInitiator", "TransmitterDeed"]
