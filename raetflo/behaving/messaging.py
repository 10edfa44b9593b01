"""Repliers: Deeds that answer each received message to its source, road and lane.

They read the numbered ``inbox`` a receiver fills (see ``feeding``) with their own cursor,
so a printer, a relayer and a replier in one house each see every message.
"""
from __future__ import annotations

from collections import deque

from ioflo.aid.odicting import odict

from .feeding import Replying
from .laning import INODE as LANE_INODE
from .laning import LaneStackTransmitter
from .roading import INODE as ROAD_INODE
from .roading import RoadStackTransmitter


def replier_ioinits(inode: str) -> odict:
    """The Ioinits of a replier under ``inode``."""
    return odict(inode=inode, stack="stack", inbox=odict(ipath="inbox", ival=deque()),
                 txmsgs=odict(ipath="txmsgs", ival=deque()), destination="destination",
                 replied=odict(ipath="replied", ival=0))


class RoadStackReplier(Replying, RoadStackTransmitter):
    """``do road stack replier [with FIELD VALUE ...] [with share ".path"]``, recur: answer.

    Every message a ``road stack receiver`` took in since the last run is answered to the
    remote it came from: with the ``with`` message (the fields of the share ``share``
    names, then the other parameters), or with the message itself when there are none.

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack.
    * ``inbox`` (read, not emptied): the receiver's numbered (message, source) log.
    * ``txmsgs`` (read, emptied): answers are queued here and sent with what else waits.
    * ``destination`` (read): for queued messages that name no remote.
    * ``replied`` (write): the count of answers sent.

    A source that is no longer a remote stops the run with one line, as the transmitter.
    """

    Ioinits = replier_ioinits(ROAD_INODE)


class LaneStackReplier(Replying, LaneStackTransmitter):
    """``do lane stack replier [with FIELD VALUE ...] [with share ".path"]``, recur: answer
    each message a ``lane stack receiver`` took in to the yard it came from.

    Ioinits (inode ``lane.``) and answers as ``road stack replier``.
    """

    Ioinits = replier_ioinits(LANE_INODE)
