"""raetflo's ioflo behaviours: importing this package registers every Deed.

The ``ioflo`` command imports it by itself when raetflo is installed (see
``raetflo_hook``); ``ioflo -b raetflo.behaving`` imports it explicitly.
"""
from .common import FloError, RaetfloExit
from .laning import (LaneStackCloser, LaneStackOpener, LaneStackPrinter, LaneStackReceiver,
                     LaneStackRxServicer, LaneStackServicer, LaneStackStats, LaneStackTransmitter,
                     LaneStackTxServicer, LaneStackYardAdder)
from .messaging import LaneStackReplier, RoadStackReplier
from .presencing import RoadStackAcceptor, RoadStackManager
from .relaying import MessageRelayer
from .roading import (JoinerInitiator, RoadStackCleaner, RoadStackCloser, RoadStackJoiner,
                      RoadStackOpener, RoadStackPrinter, RoadStackReceiver, RoadStackRxServicer,
                      RoadStackServicer, RoadStackStats, RoadStackTransmitter,
                      RoadStackTxServicer, TransmitterDeed)

__all__ = ["FloError", "RaetfloExit", "MessageRelayer", "RoadStackAcceptor", "RoadStackManager",
           "LaneStackReplier", "RoadStackReplier",
           "LaneStackCloser", "LaneStackOpener", "LaneStackPrinter", "LaneStackReceiver",
           "LaneStackRxServicer", "LaneStackServicer", "LaneStackStats", "LaneStackTransmitter",
           "LaneStackTxServicer", "LaneStackYardAdder",
           "RoadStackCleaner", "RoadStackCloser", "RoadStackJoiner", "RoadStackOpener",
           "RoadStackPrinter", "RoadStackReceiver", "RoadStackRxServicer", "RoadStackServicer",
           "RoadStackStats", "RoadStackTransmitter", "RoadStackTxServicer",
           "JoinerInitiator", "TransmitterDeed"]
