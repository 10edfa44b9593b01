"""The Deeds of raet 0.6.8's ``raet.flo.behaving``, so its flo scripts run on raetflo.

Same class names (so the same flo phrases), Ioinits, parameters and share layout as the
reference, under the package's own name: ``raetflo.road.stack.`` and ``raetflo.lane.stack.``
(``stack``, ``txmsgs``, ``rxmsgs``, ``local``, ``status``, ``destination``; ``dest`` and
``totalRxMsg`` for lanes). raetflo's own Deeds, with checked settings, are in
:mod:`raetflo.behaving`.

Where the reference fails deep inside on a missing stack (the servicers), these stop the
run with one line (FloError) instead. Stack closers also empty the ``stack`` share.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.base.deeding import Deed
from ioflo.base.storing import Share

from .. import raeting
from ..behaving.common import Closing, DeedHelpers, StackDeed, console, queue_of
from ..lane.stacking import LaneStack
from ..lane.transport import probe
from ..lane.yarding import UXD_EXT, RemoteYard
from ..raeting import AutoMode
from ..road.estating import RemoteEstate
from ..road.keepfiles import KeepFiles
from ..road.keeping import KeepError
from ..road.stacking import RoadStack

ROAD = "raetflo.road.stack."  # inode of the Deeds that open a road stack or join
LANE = "raetflo.lane.stack."  # inode of the Deed that opens a lane stack
KEEP_DIR = "/tmp/raet/keep"  # default base directory of road keeps
SOCK_DIR = "/tmp/raet/test/lane/"  # default directory of lane sockets
LOCAL_HOSTS = ("", "0.0.0.0")  # joined at 127.0.0.1


def road_ioinits() -> odict:
    """Ioinits of the Deeds that open a road stack (their shares and defaults)."""
    return odict(inode=ROAD, stack="stack",
                 txmsgs=odict(ipath="txmsgs", ival=deque()),
                 rxmsgs=odict(ipath="rxmsgs", ival=deque()),
                 local=odict(ipath="local", ival=odict(name="master", basedirpath=KEEP_DIR,
                                                       main=False, mutable=True,
                                                       auto=AutoMode.once.value, uid=None,
                                                       host="0.0.0.0",
                                                       port=raeting.RAET_PORT,
                                                       sigkey=None, prikey=None)))


def status_ioinits() -> odict:
    """Ioinits of the Deeds that report on the first remote in share ``status``."""
    return odict(inode="." + ROAD, stack="stack",
                 status=odict(ipath="status",
                              ival=odict(joined=False, allowed=False, idle=False)))


def stack_ioinits(inode: str) -> odict:
    return odict(inode="." + inode, stack="stack")


class RaetStackDeed(StackDeed):
    """Mixin: the stack in share ``stack``, opened by the reference's phrases."""

    def present(self) -> Any:
        """The stack, or None when share ``stack`` holds none of this kind."""
        stack = self.stack.value
        return stack if isinstance(stack, self.Kind) else None


class RaetRoadDeed(RaetStackDeed):
    Kind = RoadStack
    Word = "road"
    Opener = "raet road stack setup"

    def first_remote(self) -> RemoteEstate | None:
        stack = self.present()
        return stack.remotes.values()[0] if stack is not None and stack.remotes else None


class RaetLaneDeed(RaetStackDeed):
    Kind = LaneStack
    Word = "lane"
    Opener = "raet lane stack"


# road ------------------------------------------------------------------------------------
class SaltRaetRoadCleanup(DeedHelpers, Deed):
    """``do salt raet road cleanup``, at enter: delete the keep base directory ``local``
    names (``basedirpath``), to start with no keys and no remotes. Refuses a symlink."""

    Ioinits = odict(inode=ROAD, local=odict(ipath="local", ival=odict(basedirpath=KEEP_DIR)))

    def action(self, **kwa: Any) -> None:
        basedirpath = os.path.abspath(os.path.expanduser(self.local.data.basedirpath))
        console().concise(f"Cleaning up road files in {basedirpath}\n")
        try:
            KeepFiles(basedirpath, basedirpath, os.getuid).remove_tree()
        except KeepError as ex:
            raise self.fail(str(ex)) from None


class RoadOpening(RaetRoadDeed):
    """Mixin: open the RoadStack that share ``local`` describes, with the deques of
    ``txmsgs`` and ``rxmsgs`` as its message queues."""

    local: Share
    txmsgs: Share
    rxmsgs: Share

    def open_stack(self) -> RoadStack:
        data = self.local.data
        stack = RoadStack(store=self.store, name=data.name, uid=data.uid,
                          ha=(data.host, data.port), sigkey=data.sigkey, prikey=data.prikey,
                          auto=data.auto, main=data.main, mutable=data.mutable,
                          basedirpath=os.path.abspath(os.path.expanduser(data.basedirpath)),
                          txMsgs=queue_of(self.txmsgs), rxMsgs=queue_of(self.rxmsgs),
                          console=console())
        self.stack.value = stack
        return stack


class RaetRoadStack(RoadOpening, Deed):
    """``do raet road stack``: opens the stack when the flo is built; services it each run."""

    Ioinits = road_ioinits()

    def _prepare(self, **kwa: Any) -> None:
        self.open_stack()

    def action(self, **kwa: Any) -> None:
        self.opened().serviceAll()


class RaetRoadStackSetup(RoadOpening, Deed):
    """``do raet road stack setup``, at enter: opens the stack.

    As the reference's, building it sets ``RoadStack.JoinentTimeout`` to 0.0 for every
    stack of the process: a join waits for acceptance as long as the joiner retries.
    """

    Ioinits = road_ioinits()

    def _prepare(self, **kwa: Any) -> None:
        RoadStack.JoinentTimeout = 0.0

    def action(self, **kwa: Any) -> None:
        self.open_stack()


class RaetRoadStackCloser(Closing, RaetRoadDeed, Deed):
    """``do raet road stack closer``, at exit: closes the stack's socket."""

    Ioinits = stack_ioinits(ROAD)


class RaetRoadStackRxServicer(RaetRoadDeed, Deed):
    """``do raet road stack rx servicer``: receives and handles what arrived."""

    Ioinits = stack_ioinits(ROAD)

    def action(self, **kwa: Any) -> None:
        self.opened().serviceAllRx()


class RaetRoadStackTxServicer(RaetRoadDeed, Deed):
    """``do raet road stack tx servicer``: sends what is queued."""

    Ioinits = stack_ioinits(ROAD)

    def action(self, **kwa: Any) -> None:
        self.opened().serviceAllTx()


class RaetRoadStackJoiner(RaetRoadDeed, Deed):
    """``do raet road stack joiner``, at enter: joins the first remote, made at
    ``local``'s ``masterhost``/``masterport`` when the stack has none."""

    Ioinits = odict(inode=ROAD, stack="stack",
                    local=odict(ipath="local", ival=odict(masterhost="127.0.0.1",
                                                          masterport=raeting.RAET_PORT)))

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        if stack is None:
            return
        remote = self.first_remote()
        if remote is None:
            host = self.local.data.masterhost
            ha = ("127.0.0.1" if host in LOCAL_HOSTS else host, self.local.data.masterport)
            remote = stack.addRemote(RemoteEstate(stack=stack, fuid=0, sid=0, ha=ha))
        stack.join(uid=remote.uid)


class RaetRoadStackJoined(RaetRoadDeed, Deed):
    """``do raet road stack joined``: ``status.joined`` is whether the first remote is."""

    Ioinits = status_ioinits()

    def action(self, **kwa: Any) -> None:
        remote = self.first_remote()
        self.status.update(joined=remote.joined if remote is not None else False)


class RaetRoadStackAllower(RaetRoadDeed, Deed):
    """``do raet road stack allower``, at enter: allows (handshakes with) the first remote."""

    Ioinits = stack_ioinits(ROAD)

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        if stack is not None:
            stack.allow(cascade=True)


class RaetRoadStackAllowed(RaetRoadDeed, Deed):
    """``do raet road stack allowed``: ``status.allowed`` is whether the first remote is."""

    Ioinits = status_ioinits()

    def action(self, **kwa: Any) -> None:
        remote = self.first_remote()
        self.status.update(allowed=remote.allowed if remote is not None else False)


class RaetRoadStackIdled(RaetRoadDeed, Deed):
    """``do raet road stack idled``: ``status.idled`` is whether no transaction is pending."""

    Ioinits = status_ioinits()

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        self.status.update(idled=stack is not None and not stack.transactions)


class RaetRoadStackManager(RaetRoadDeed, Deed):
    """``do raet road stack manager``: checks the presence of the remotes when due."""

    Ioinits = stack_ioinits(ROAD)
    Immediate = False  # check now rather than when the stack's period is due

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        if stack is not None:
            stack.manage(cascade=True, immediate=self.Immediate)


class RaetRoadStackManagerImmediate(RaetRoadStackManager):
    """``do raet road stack manager immediate``: checks the presence of the remotes now."""

    Immediate = True


class RaetRoadStackMessenger(RaetRoadDeed, Deed):
    """``do raet road stack messenger with FIELD VALUE ...``: sends the parameters as one
    message to the remote uid in ``destination`` (None: the first remote)."""

    Ioinits = odict(inode="." + ROAD, stack="stack", destination="destination")
    FreeParms = True  # the ``with`` fields are the message

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        if kwa and stack is not None:
            stack.transmit(msg=odict(kwa), uid=self.destination.value)


class RaetRoadStackPrinter(Deed):
    """``do raet road stack printer``: prints and empties the received messages."""

    Ioinits = odict(inode="." + ROAD, rxmsgs=odict(ipath="rxmsgs", ival=deque()))

    def action(self, **kwa: Any) -> None:
        rxmsgs = queue_of(self.rxmsgs)
        while rxmsgs:
            msg, _name = rxmsgs.popleft()
            console().terse(f"\nReceived....\n{msg}\n")


# lane ------------------------------------------------------------------------------------
class SaltRaetLaneCleanup(DeedHelpers, Deed):
    """``do salt raet lane cleanup``, at enter: removes stale ``<lane>.<yard>.uxd`` socket
    files from ``.salt.opts``'s ``sock_dir``. A socket a live process holds is kept."""

    Ioinits = {"opts": ".salt.opts"}

    def action(self, **kwa: Any) -> None:
        opts = self.opts.value
        if not isinstance(opts, Mapping) or not opts.get("sock_dir"):
            return
        sockdirpath = os.path.abspath(opts["sock_dir"])
        console().concise(f"Cleaning up uxd files in {sockdirpath}\n")
        for name in os.listdir(sockdirpath):
            path = os.path.join(sockdirpath, name)
            root, ext = os.path.splitext(name)
            if ext != UXD_EXT or not all(root.partition(".")) or os.path.isdir(path):
                continue
            if probe(path):
                console().concise(f"Kept {path}: in use\n")
                continue
            try:
                os.unlink(path)
            except OSError as ex:
                raise self.fail(f"cannot remove {path}: {ex}") from None
            console().concise(f"Removed {path}\n")


class RaetLaneStack(RaetLaneDeed, Deed):
    """``do raet lane stack``: opens the yard ``local`` describes (``name``, ``lane``,
    ``sockdirpath``) when the flo is built; services it each run."""

    Ioinits = odict(inode=LANE, stack="stack",
                    txmsgs=odict(ipath="txmsgs", ival=deque()),
                    rxmsgs=odict(ipath="rxmsgs", ival=deque()),
                    local=odict(ipath="local", ival=odict(name="minion", lane="maple",
                                                          sockdirpath=SOCK_DIR)))

    def _prepare(self, **kwa: Any) -> None:
        data = self.local.data
        self.stack.value = LaneStack(store=self.store, name=data.name,
                                     sockdirpath=data.sockdirpath, lanename=data.lane,
                                     txMsgs=queue_of(self.txmsgs),
                                     rxMsgs=queue_of(self.rxmsgs), console=console())

    def action(self, **kwa: Any) -> None:
        self.opened().serviceAll()


class RaetLaneStackCloser(Closing, RaetLaneDeed, Deed):
    """``do raet lane stack closer``, at exit: closes the yard's socket."""

    Ioinits = stack_ioinits(LANE)


class RaetLaneStackYardAdd(RaetLaneDeed, Deed):
    """``do raet lane stack yard add with lane LANE name NAME``: adds that remote yard
    (in ``local``'s ``sockdirpath``) and keeps it in ``local``'s value."""

    Ioinits = odict(inode="." + LANE, stack="stack",
                    local=odict(ipath="local", ival=odict(sockdirpath=SOCK_DIR)))

    def action(self, lane: str = "lane", name: str | None = None, **kwa: Any) -> None:
        stack = self.present()
        if stack is None:
            return
        yard = RemoteYard(stack=stack, lanename=lane, name=name or "",
                          dirpath=self.local.data.sockdirpath)
        stack.addRemote(yard)
        self.local.value = yard


class RaetLaneStackTransmit(RaetLaneDeed, Deed):
    """``do raet lane stack transmit with FIELD VALUE ...``: sends the parameters as one
    message to the yard named in ``dest`` (an unknown name: the first remote yard)."""

    Ioinits = odict(inode="." + LANE, stack="stack", dest="dest")
    FreeParms = True  # the ``with`` fields are the message

    def action(self, **kwa: Any) -> None:
        stack = self.present()
        if kwa and stack is not None:
            stack.transmit(msg=odict(kwa), uid=stack.fetchUidByName(self.dest.value))


class RaetLaneStackPrinter(RaetLaneDeed, Deed):
    """``do raet lane stack printer``: prints and empties the received messages, counting
    them in ``totalRxMsg``."""

    Ioinits = odict(inode="." + LANE, total=odict(ipath="totalRxMsg", ival=odict(value=0)),
                    stack="stack", rxmsgs=odict(ipath="rxmsgs", ival=deque()))

    def action(self, **kwa: Any) -> None:
        rxmsgs = queue_of(self.rxmsgs)
        name = self.stack.value.name if self.present() is not None else "?"
        while rxmsgs:
            msg, _source = rxmsgs.popleft()
            console().terse(f"\n{name} Received....\n{msg}\n")
            self.total.value += 1
