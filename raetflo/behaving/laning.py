"""Lane Deeds: open, service, transmit, receive, print and close a LaneStack (a yard).

Every Deed reads and writes the shares under its inode, ``lane.`` unless the flo gives
another (``do lane stack servicer via .edge.lane.``):

===============  ========================================  ===================  ================
share            fields                                    written by           read by
===============  ========================================  ===================  ================
``local``        name, lane, sockdir                       the flo (``init``)   opener, printer
``stack``        value: the LaneStack, None once closed    opener, closer       the others
``txmsgs``       value: deque of msg or (msg, yard name)   other Deeds          transmitter
``destination``  value: default yard name (None: first)    the flo (``init``)   transmitter
``rxmsgs``       value: deque of (msg, source yard name)   receiver             relayer
``inbox``        value: deque of (number, msg, source)     receiver             printer, replier
``received``     value: count of messages received         receiver             the flo
``status``       dropped (count of lost messages), error   servicer             the flo
``stats``        one field per key of ``stack.stats``      stats                the flo
===============  ========================================  ===================  ================
"""
from __future__ import annotations

from collections import deque
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.base.deeding import Deed

from ..lane.stacking import LaneStack, StackError
from ..lane.yarding import RemoteYard, YardError
from .common import Closing, StackDeed, console
from .feeding import Feeding, Printing, Sending
from .servicing import PublishingStats, Servicing

INODE = "lane."


class LaneDeed(StackDeed):
    """Mixin: the open LaneStack in share ``stack``."""

    Kind = LaneStack
    Word = "lane"


class LaneStackOpener(LaneDeed, Deed):
    """``do lane stack opener``, in an enter context: open the yard ``local`` describes.

    Ioinits (inode ``lane.``):

    * ``local`` (read): ``name`` (required; no dots); ``lane`` (default "lane"); ``sockdir``
      (the directory of the lane's sockets, default /var/cache/raet, else ~/.raet/uxd).
      The yard's socket is ``<sockdir>/<lane>.<name>.uxd``.
    * ``stack`` (write): the LaneStack.

    Does nothing when ``stack`` holds an open stack. Stops the run with one line (FloError)
    on a missing or bad field, a yard socket another process holds, or an unusable
    directory.
    """

    Ioinits = odict(inode=INODE, local="local", stack="stack")

    def action(self, **kwa: Any) -> None:
        if isinstance(self.stack.value, LaneStack):
            return
        self.only_fields(self.local, ("name", "lane", "sockdir"))
        name = self.setting(self.local, "name", str)
        lane = self.setting(self.local, "lane", str, "lane")
        sockdir = self.setting(self.local, "sockdir", str, "")
        try:
            stack = LaneStack(name=name, lanename=lane, sockdirpath=sockdir, store=self.store,
                              console=console())
        except StackError as ex:
            raise self.fail(str(ex)) from None
        except YardError as ex:
            raise self.fail(f"LaneStack '{name}': {ex}") from None
        self.stack.value = stack
        console().concise(f"Lane stack '{stack.name}' open at '{stack.ha}'\n")


class LaneStackServicer(Servicing, LaneDeed, Deed):
    """``do lane stack servicer``, in a recur context: receive and send.

    A message the stack could not deliver (no yard bound at its destination, a send
    error, a body it cannot page) is counted in ``status`` and reported in one terse
    console line, so a flo can ``go failed if dropped in .lane.status > 0``.

    Ioinits (inode ``lane.``):

    * ``stack`` (read): the open LaneStack.
    * ``status`` (write): ``dropped``, the count of messages lost so far, and ``error``,
      the line that reported the last loss (None until one is lost).
    """

    Ioinits = odict(inode=INODE, stack="stack",
                    status=odict(ipath="status", ival=odict(dropped=0, error=None)))
    LostStats = ("stale_transmit_yard", "error_transmit_yard", "invalid_destination",
                 "invalid_transmit_body", "packing_error")  # stats keys of a lost message

    def before(self, stack: LaneStack) -> None:
        self.yards = dict(stack.nameRemotes)

    def published(self, stack: LaneStack) -> None:
        lost = {key: stack.stats.get(key, 0) for key in self.LostStats}
        dropped = sum(lost.values())
        if dropped <= (self.status.fetch("dropped") or 0):
            return
        gone = [name for name in self.yards if name not in stack.nameRemotes]
        counts = ", ".join(f"{key} {count}" for key, count in lost.items() if count)
        error = (f"Lane stack '{stack.name}': {dropped} message(s) lost ({counts})"
                 + (f"; no yard {', '.join(gone)}" if gone else ""))
        console().terse(f"{error}\n")
        self.status.update(dropped=dropped, error=error)


class LaneStackRxServicer(LaneStackServicer):
    """``do lane stack rx servicer``, in a recur context: receive only.

    With ``lane stack tx servicer`` it splits ``lane stack servicer`` in two. Ioinits as
    ``lane stack servicer``.
    """

    Part = "serviceAllRx"


class LaneStackTxServicer(LaneStackServicer):
    """``do lane stack tx servicer``, in a recur context: send only.

    Ioinits as ``lane stack servicer``; it is the one that sees lost messages.
    """

    Part = "serviceAllTx"


class LaneStackStats(PublishingStats, LaneDeed, Deed):
    """``do lane stack stats``, in a recur context: publish the stack's counters.

    Ioinits (inode ``lane.``): ``stack`` (read), the open LaneStack; ``stats`` (write), one
    field per key of ``stack.stats``, as ``road stack stats`` writes.
    """

    Ioinits = odict(inode=INODE, stack="stack", stats="stats")


class LaneStackTransmitter(Sending, LaneDeed, Deed):
    """``do lane stack transmitter [with FIELD VALUE ...]``: send messages to yards.

    With ``with`` parameters it sends them as one message each time it runs (so use it in
    an enter context), with ``share`` and ``destination`` as the road transmitter; every
    run it also sends, and empties, what other Deeds queued in ``txmsgs``. A yard name
    the stack does not know yet is added as a yard of the same lane and socket directory.

    Ioinits (inode ``lane.``):

    * ``stack`` (read): the open LaneStack.
    * ``txmsgs`` (read, emptied): a deque of messages (mappings) or (message, yard name).
    * ``destination`` (read): the yard name for messages that give none; None sends to
      the first remote yard.

    Stops the run with one line (FloError) for an invalid yard name, or when there is no
    yard to send to.
    """

    Ioinits = odict(inode=INODE, stack="stack", txmsgs=odict(ipath="txmsgs", ival=deque()),
                    destination="destination")

    def action(self, **msg: Any) -> None:
        self.send_parms(msg)

    def remote_uid(self, stack: LaneStack, name: str | None) -> int | None:
        """The uid of yard ``name``, added when new (None: the first remote yard)."""
        if name is None:
            if not stack.remotes:
                raise self.fail(f"lane stack '{stack.name}' has no yard to send to: set "
                                f"'.{self.destination.name}' to a yard name")
            return None
        uid = stack.fetchUidByName(name)
        return uid if uid is not None else add_yard(self, stack, name).uid


def add_yard(deed: LaneDeed, stack: LaneStack, name: str, lane: str = "",
             sockdir: str = "") -> RemoteYard:
    """Add remote yard ``name`` of ``lane`` in ``sockdir`` (default: the stack's own) to
    ``stack``; FloError from ``deed`` when it cannot be added."""
    try:
        remote = RemoteYard(stack=stack, name=name, lanename=lane, dirpath=sockdir)
        stack.addRemote(remote)
    except (StackError, YardError) as ex:
        raise deed.fail(f"lane stack '{stack.name}': {ex}") from None
    return remote


class LaneStackYardAdder(LaneDeed, Deed):
    """``do lane stack yard adder with name NAME [lane LANE] [sockdir DIR]``, in an enter
    context: add a remote yard, of another lane or socket directory too.

    Transmitters then send to it by ``name`` (``.lane.destination`` or (message, name) in
    ``txmsgs``); ``lane`` and ``sockdir`` default to the stack's own. Its socket is
    ``<sockdir>/<lane>.<name>.uxd``; yards of other lanes that send to us are added as they
    come, without this Deed.

    Ioinits (inode ``lane.``): ``stack`` (read), the open LaneStack. Stops the run with one
    line (FloError) for a bad or missing name, or a name that is already a remote yard.
    """

    Ioinits = odict(inode=INODE, stack="stack")

    def action(self, name: str | None = None, lane: str = "", sockdir: str = "",
               **kwa: Any) -> None:
        stack = self.opened()
        if name is None:
            raise self.fail("set 'name' to the name of the yard to add")
        if name in stack.nameRemotes:
            raise self.fail(f"lane stack '{stack.name}': a yard named '{name}' is already a "
                            f"remote")
        remote = add_yard(self, stack, name, lane, sockdir)
        console().concise(f"Lane stack '{stack.name}': added yard '{name}' at '{remote.ha}'\n")


class LaneStackReceiver(Feeding, LaneDeed, Deed):
    """``do lane stack receiver``, in a recur context: move received messages to a share.

    Ioinits (inode ``lane.``):

    * ``stack`` (read): the open LaneStack; its ``rxMsgs`` are emptied.
    * ``rxmsgs`` (write): a deque of (message, source yard name), appended to (kept to
      the newest ``RxmsgsLimit`` unread).
    * ``received`` (write): the count of messages received so far.
    * ``inbox`` (write): the numbered log printers and repliers read, as the road one.
    """

    Ioinits = odict(inode=INODE, stack="stack", rxmsgs=odict(ipath="rxmsgs", ival=deque()),
                    received=odict(ipath="received", ival=0),
                    inbox=odict(ipath="inbox", ival=deque()))


class LaneStackPrinter(Printing, LaneDeed, Deed):
    """``do lane stack printer [with width N]``, in a recur context: print new messages.

    Prints ``<name> received from <source>: <message as JSON>`` at the console's terse
    level, cut to ``width`` as the road printer.

    Ioinits (inode ``lane.``): ``local`` (read: ``name``); ``inbox`` (read, not emptied).
    """

    Ioinits = odict(inode=INODE, local="local", inbox=odict(ipath="inbox", ival=deque()))


class LaneStackCloser(Closing, LaneDeed, Deed):
    """``do lane stack closer``, in an exit context: close the yard's socket.

    Ioinits (inode ``lane.``): ``stack`` (read, then written None). Does nothing when the
    stack is not open.
    """

    Ioinits = odict(inode=INODE, stack="stack")
