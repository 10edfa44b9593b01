"""Road Deeds: open, service, join, transmit, receive, print and close a RoadStack.

Every Deed reads and writes the shares under its inode, ``road.`` unless the flo gives
another (``do road stack servicer via .edge.road.``):

==============  ==========================================  =====================  =================
share           fields                                      written by             read by
==============  ==========================================  =====================  =================
``local``       name, host, port, main, auto, keep, clean   the flo (``init``)     opener, printer
``stack``       value: the RoadStack, None once closed      opener, closer         the others
``remote``      name, host, port                            the flo (``init``)     joiner
``status``      joined, allowed, pending, rejected, remote, joiner                 the flo
                attempts
``presence``    joined, allowed (lists of names), idle      servicer, transmitter  the flo
``txmsgs``      value: deque of msg or (msg, remote name)   other Deeds            transmitter
``destination`` value: default remote name (None: first)    the flo (``init``)     transmitter
``rxmsgs``      value: deque of (msg, source name)          receiver               relayer
``inbox``       value: deque of (number, msg, source name)  receiver               printer, replier
``received``    value: count of messages received           receiver               the flo
``stats``       one field per key of ``stack.stats``        stats                  the flo
==============  ==========================================  =====================  =================
"""
from __future__ import annotations

import os
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.aid.timing import StoreTimer
from ioflo.base.deeding import Deed
from ioflo.base.storing import Share

from .. import nacling
from ..events import RemoteRejected
from ..raeting import AutoMode, BodyKind
from ..road.addressing import show_ha
from ..road.estating import EstateError, RemoteEstate, normalize_ha
from ..road.keeping import KeepError, RoadKeep
from ..road.stacking import RoadStack, StackError, listen_ha
from ..road.transport import clashes
from .common import Closing, StackDeed, console, path
from .feeding import Feeding, Printing, Sending
from .servicing import PublishingStats, Servicing

INODE = "road."


class RoadDeed(StackDeed):
    """Mixin: the open RoadStack in share ``stack``."""

    Kind = RoadStack
    Word = "road"

    def remote_uid(self, stack: RoadStack, name: str | None) -> int | None:
        """The uid of remote ``name`` (None: the first remote); FloError if there is none."""
        if name is None:
            if not stack.remotes:
                raise self.fail(f"road stack '{stack.name}' has no remote to send to yet")
            return None
        uid = stack.fetchUidByName(name)
        if uid is None:
            known = ", ".join(stack.nameRemotes) or "none"
            raise self.fail(f"road stack '{stack.name}' has no remote named '{name}' "
                            f"(its remotes: {known})")
        return uid


def rejected_in(stack: RoadStack, estate: RemoteEstate) -> bool:
    """Whether the stack's untaken events tell that ``estate`` rejected our keys."""
    return any(isinstance(event, RemoteRejected) and event.uid == estate.uid
               for event in stack.events)


def publish_presence(share: Share, stack: RoadStack, seen: int) -> int:
    """Write the stack's joined and allowed remote names and idleness, when they change;
    the names are gathered again only when the stack's ``presence_version`` is not
    ``seen``. Returns the version published."""
    idle = not (stack.txMsgs or stack.txes) and stack.idle()
    if share.fetch("idle") != idle:
        share.update(idle=idle)
    if stack.presence_version != seen:
        remotes = stack.remotes.values()
        joined = [remote.name for remote in remotes if remote.joined]
        allowed = [remote.name for remote in remotes if remote.allowed]
        if (share.fetch("joined"), share.fetch("allowed")) != (joined, allowed):
            share.update(joined=joined, allowed=allowed)
    return stack.presence_version


class RoadStackOpener(RoadDeed, Deed):
    """``do road stack opener``, in an enter context: open the estate ``local`` describes.

    Ioinits (inode ``road.``):

    * ``local`` (read): ``name`` and ``port`` (required); ``host`` (default "127.0.0.1";
      "0.0.0.0" listens on every interface); ``main`` (default False; True accepts joins);
      ``auto`` ("never", "once" or "always", default "once"); ``keep`` (the estate's keep
      directory, default ``/tmp/raet/keep/<name>``, or ``<basedirpath>/<name>`` when
      ``basedirpath`` is set); ``clean`` (default False; True empties the keep first: new
      keys, no remotes, no remembered roles). Deployment settings, each left to the
      RoadStack's default when not set: ``bk`` ("json" or "msgpack", the body kind sent),
      ``period``, ``offset`` and ``interim`` (seconds, of presence), ``mutable`` (bool),
      ``uid`` (int), ``role`` (str), ``sigkey`` and ``prikey`` (64 hex digits each),
      ``burst`` (segments sent per burst; 0: all at once), ``timeout`` (seconds a message
      may take before it is given up, counted; default none: a message to an estate that
      left is tried until it is back).
    * ``stack`` (write): the RoadStack.

    A keep that already holds this estate keeps its identity, except where the flo sets
    the address (``host``/``port``), ``uid``, ``role``, ``sigkey`` or ``prikey`` to
    something else: then the flo's wins, the keep is updated and one terse line says what
    differed (keys are named, never printed). Does nothing when ``stack`` holds an open
    stack. Stops the run with one line (FloError) on a missing or bad field, a port in use
    (by another program, or by another open stack of this run) or an unusable keep.
    """

    Ioinits = odict(inode=INODE, local="local", stack="stack")
    made: weakref.WeakSet[RoadStack] = weakref.WeakSet()  # the stacks openers made

    def action(self, **kwa: Any) -> None:
        if isinstance(self.stack.value, RoadStack):
            return
        local = self.local
        self.only_fields(local, LOCAL_FIELDS)
        name = self.setting(local, "name", str)
        port = self.setting(local, "port", int)
        host = self.setting(local, "host", str, "127.0.0.1")
        main = self.setting(local, "main", bool, False)
        auto = self.auto_mode(self.setting(local, "auto", (str, int), "once"))
        clean = self.setting(local, "clean", bool, False)
        identity, timing = self.identity(), self.timing()
        burst = self.amount("burst", int)
        timeout = self.amount("timeout", (float, int))
        try:
            self.refuse_held(name, listen_ha((host, port)))
            roadkeep = local_keep(self, name, auto)
            self.refuse_shared(name, roadkeep)
            if clean:
                roadkeep.clear_all()
            else:
                self.reconcile(roadkeep, name, (host, port), identity)
            stack = RoadStack(name=name, ha=(host, port), main=main, keep=roadkeep,
                              store=self.store, console=console(), **identity, **timing)
        except KeepError as ex:
            raise self.fail(f"Stack '{name}': {ex}") from None
        except StackError as ex:
            raise self.fail(str(ex)) from None
        if burst is not None:
            stack.BurstSize = burst
        if timeout:
            stack.MessageTimeout = float(timeout)
        self.made.add(stack)
        self.stack.value = stack
        console().concise(f"Road stack '{stack.name}' open at {show_ha(stack.ha)}"
                          f" with keep '{stack.keep.dirpath}'\n")

    def refuse_held(self, name: str, ha: Any) -> None:
        """Stop the run if an open stack of this run holds ``ha`` (a RoadStack built there
        would take its socket over)."""
        for other in list(self.made):
            if other.server.opened and clashes(other.server.ha, ha):
                raise self.fail(f"Stack '{name}': port {ha[1]} at {ha[0]} is in use by road "
                                f"stack '{other.name}' of this run; give each stack a port "
                                "of its own")

    def refuse_shared(self, name: str, keep: RoadKeep) -> None:
        """Stop the run if an open stack of this run has the keep ``keep`` (one identity
        per keep: the second would take the first's, or with ``clean`` replace it)."""
        mine = os.path.realpath(keep.dirpath)
        for other in list(self.made):
            if other.server.opened and os.path.realpath(other.keep.dirpath) == mine:
                raise self.fail(f"Stack '{name}': keep '{keep.dirpath}' is in use by road "
                                f"stack '{other.name}' of this run; give each stack a keep "
                                "of its own")

    def auto_mode(self, auto: str | int) -> int:
        """The AutoMode value of ``auto``, given by name or number."""
        try:
            return (AutoMode[auto] if isinstance(auto, str) else AutoMode(auto)).value
        except (KeyError, ValueError):
            names = ", ".join(mode.name for mode in AutoMode)
            raise self.fail(f"field 'auto' of share '{path(self.local)}' must be one of "
                            f"{names}, not {auto!r}") from None

    def amount(self, field: str, kind: type | tuple[type, ...]) -> Any:
        """Optional field ``field`` of ``local``: a number of ``kind``, not negative."""
        value = self.setting(self.local, field, kind, None)
        if value is not None and value < 0:
            raise self.fail(f"field '{field}' of share '{path(self.local)}' must be >= 0, "
                            f"not {value!r}")
        return value

    def timing(self) -> dict[str, Any]:
        """The RoadStack keywords of the set body kind, presence times and ``mutable``."""
        settings = {field: self.amount(field, (float, int))
                    for field in ("period", "offset", "interim")}
        settings["mutable"] = self.setting(self.local, "mutable", bool, None)
        bk = self.setting(self.local, "bk", str, None)
        if bk not in (None, *BODY_KINDS):
            raise self.fail(f"field 'bk' of share '{path(self.local)}' must be one of "
                            f"{', '.join(BODY_KINDS)}, not {bk!r}")
        settings["bk"] = None if bk is None else BodyKind[bk].value
        return settings

    def identity(self) -> dict[str, Any]:
        """The set ``uid``, ``role``, ``sigkey`` and ``prikey`` (keys as lowercase hex)."""
        identity = {"uid": self.setting(self.local, "uid", int, None),
                    "role": self.setting(self.local, "role", str, None)}
        for field, kind in (("sigkey", nacling.Signer), ("prikey", nacling.Privateer)):
            key = self.setting(self.local, field, str, None)
            try:
                identity[field] = None if key is None else kind(key).keyhex
            except nacling.CryptoError:
                raise self.fail(f"field '{field}' of share '{path(self.local)}' must be 64 "
                                "hex digits (a 32-byte key)") from None
        return {field: value for field, value in identity.items() if value is not None}

    def reconcile(self, keep: RoadKeep, name: str, ha: tuple[str, int],
                  identity: dict[str, Any]) -> None:
        """Make the keep's saved estate take the flo's address and identity, saying so."""
        saved = keep.load_local()
        if saved is None:
            return
        ha = listen_ha(ha)
        wanted = {KEEP_FIELDS[field]: value for field, value in identity.items()}
        changed = {field: value for field, value in wanted.items() if saved[field] != value}
        if tuple(saved["aha"]) != ha:
            changed.update(ha=list(ha), aha=list(ha))
        if not changed:
            return
        verb = "differs" if len(changed.keys() - {"ha"}) == 1 else "differ"
        console().terse(f"Road stack '{name}': the flo's {differences(changed)} {verb} from "
                        f"the keep's {differences(saved, changed)} ('{keep.dirpath}'); the "
                        "flo's wins and the keep is updated (set clean True for a new estate, "
                        f"or the keep's value in '{path(self.local)}' to keep it)\n")
        saved.update(changed)
        keep.dump_local(saved)
        keep.dump_local_role(saved)


def local_keep(deed: RoadStackOpener | RoadStackCleaner, name: str, auto: int | None = None) -> RoadKeep:
    """The keep share ``local`` names: ``keep``, else ``<basedirpath>/<name>``, else the
    default."""
    return RoadKeep(stackname=name, dirpath=deed.setting(deed.local, "keep", str, None),
                    basedirpath=deed.setting(deed.local, "basedirpath", str, None), auto=auto)


BODY_KINDS = ("json", "msgpack")  # the body kinds a flo may set
LOCAL_FIELDS = ("name", "port", "host", "main", "auto", "keep", "basedirpath", "clean", "bk",
                "period", "offset", "interim", "mutable", "uid", "role", "sigkey", "prikey",
                "burst", "timeout")  # what the opener reads of ``local``
KEEP_FIELDS = {"uid": "uid", "role": "role", "sigkey": "sighex", "prikey": "prihex"}
SECRETS = {"sighex": "sigkey", "prihex": "prikey"}  # named in reports, never shown


def differences(record: Mapping[str, Any], fields: Iterable[str] | None = None) -> str:
    """The ``fields`` of a keep ``record`` (all of it when None) as a flo author reads them."""
    fields = list(record if fields is None else fields)
    parts = [f"address {show_ha(record['aha'])}"] if "aha" in fields else []
    parts += [SECRETS.get(field) or f"{field} {record[field]}" for field in fields
              if field not in ("ha", "aha")]
    return ", ".join(parts)


class RoadStackServicer(Servicing, RoadDeed, Deed):
    """``do road stack servicer``, in a recur context: receive, run timers and send.

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack.
    * ``presence`` (write): ``joined`` and ``allowed``, the names of the remotes that are,
      and ``idle``, True when nothing is queued or in progress; so a flo can
      ``go next if allowed in .road.presence``.
    """

    Ioinits = odict(inode=INODE, stack="stack",
                    presence=odict(ipath="presence",
                                   ival=odict(joined=[], allowed=[], idle=True)))

    presence_seen = -1  # the stack's presence_version last published

    def published(self, stack: RoadStack) -> None:
        self.presence_seen = publish_presence(self.presence, stack, self.presence_seen)


class RoadStackRxServicer(RoadStackServicer):
    """``do road stack rx servicer``, in a recur context: receive and run timers only.

    With ``road stack tx servicer`` it splits ``road stack servicer`` in two, for flos that
    put other Deeds between receiving and sending. Ioinits as ``road stack servicer``.
    """

    Part = "serviceAllRx"


class RoadStackTxServicer(RoadStackServicer):
    """``do road stack tx servicer``, in a recur context: send what is queued only.

    Ioinits as ``road stack servicer``.
    """

    Part = "serviceAllTx"


class RoadStackStats(PublishingStats, RoadDeed, Deed):
    """``do road stack stats``, in a recur context: publish the stack's counters.

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack.
    * ``stats`` (write): one field per key of ``stack.stats`` (the counts of what the
      stack did and dropped, by reason), so a flo can ``go next if KEY in .road.stats > 0``.
      A key appears once the stack first counts it.
    """

    Ioinits = odict(inode=INODE, stack="stack", stats="stats")


class RoadStackJoiner(RoadDeed, Deed):
    """``do road stack joiner [with retry SECONDS] [with rejoin True]``, recur: join ``remote``.

    The first run joins (then allows, then checks it is alive); later runs publish the
    outcome and, every ``retry`` seconds (default 1.0) while not allowed and nothing is in
    progress, try again. When the main estate rejects our keys the joiner says so in one
    line and stops; with ``rejoin True`` it tries again every ``retry`` seconds (a main
    that later accepts us is joined without a restart).

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack.
    * ``remote`` (read): ``port`` and ``host`` (default "127.0.0.1") of the main estate to
      join, or the ``name`` of a remote the keep already holds. When both are given the
      name is checked once joined.
    * ``status`` (write): ``joined``, ``allowed``, ``pending`` (a join waits on an
      operator's acceptance) and ``rejected`` (our keys were rejected), bools; ``remote``
      (its name once joined, else the name ``remote`` gives); ``attempts`` (joins and
      allows started).

    Stops the run with one line (FloError) when the name is unknown and no port is given,
    the joined estate has another name, or ``retry`` or ``rejoin`` is not a valid value.
    """

    Ioinits = odict(inode=INODE, stack="stack", remote="remote",
                    status=odict(ipath="status",
                                 ival=odict(joined=False, allowed=False, pending=False,
                                            rejected=False, remote=None, attempts=0)))

    def __init__(self, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.estate: RemoteEstate | None = None
        self.timer = StoreTimer(self.store)
        self.attempts = 0
        self.rejected = False

    def action(self, retry: float = 1.0, rejoin: bool = False, **kwa: Any) -> None:
        self.check(retry, rejoin)
        stack = self.opened()
        estate = self.live(stack)
        if self.estate is None:
            self.start(stack, retry, stack.join)
        elif estate is None:
            self.went(stack, self.estate, retry, rejoin)
        elif (not estate.allowed and self.timer.expired and not estate.joinInProcess()
              and not estate.allowInProcess()):
            self.start(stack, retry, stack.allow if estate.joined else stack.join)
        self.publish(stack)

    def went(self, stack: RoadStack, estate: RemoteEstate, retry: float, rejoin: bool) -> None:
        """The remote's record went: say once if it rejected our keys; join again at
        ``retry`` unless rejected without ``rejoin``."""
        if not self.rejected and rejected_in(stack, estate):
            self.rejected = True
            again = (f"trying again every {retry} s" if rejoin else
                     f"not joining again (with rejoin True tries every {retry} s)")
            console().terse(f"Road stack '{stack.name}': the estate at {show_ha(estate.ha)} "
                            f"rejected our keys; {again}\n")
        if self.timer.expired and (rejoin or not self.rejected):
            self.start(stack, retry, stack.join)

    def check(self, retry: Any, rejoin: Any) -> None:
        """FloError unless ``retry`` is a positive number and ``rejoin`` a bool."""
        if isinstance(retry, bool) or not isinstance(retry, (int, float)) or retry <= 0:
            raise self.fail(f"'retry' must be a number of seconds > 0, not {retry!r}")
        if not isinstance(rejoin, bool):
            raise self.fail(f"'rejoin' must be True or False, not {rejoin!r}")

    def start(self, stack: RoadStack, retry: float, begin: Any) -> None:
        """Start ``begin`` (join or allow) with the remote, found again when it went."""
        estate = self.live(stack)
        if estate is None:
            estate = self.locate(stack)
            self.estate = estate
        self.timer.restart(duration=retry)
        self.attempts += 1
        begin(uid=estate.uid, cascade=True)

    def live(self, stack: RoadStack) -> RemoteEstate | None:
        """The remote being joined, None before the first run or once it went (rejected
        or removed)."""
        estate = self.estate
        return estate if estate is not None and stack.remotes.get(estate.uid) is estate else None

    def publish(self, stack: RoadStack) -> None:
        """Check the joined name and write ``status`` when it changed."""
        name = self.setting(self.remote, "name", str, None)
        estate = self.live(stack)
        if estate is not None and estate.joined:
            self.rejected = False
            if name is not None and estate.name != name:
                raise self.fail(f"joined '{estate.name}' at {show_ha(estate.ha)}, "
                                f"but '{path(self.remote)}' names '{name}'")
            name = estate.name
        status = odict(joined=bool(estate and estate.joined),
                       allowed=bool(estate and estate.allowed),
                       pending=estate is not None and any(
                           str(t.state) in ("pended", "pending") for t in estate.joinInProcess()),
                       rejected=self.rejected, remote=name, attempts=self.attempts)
        if any(self.status.fetch(field) != value for field, value in status.items()):
            self.status.update(status)

    def locate(self, stack: RoadStack) -> RemoteEstate:
        """The remote to join: known by name or address, else a new one at host:port."""
        name = self.setting(self.remote, "name", str, None)
        if name is not None and name in stack.nameRemotes:
            return stack.nameRemotes[name]
        port = self.setting(self.remote, "port", int, None)
        if port is None:
            if name is None:
                raise self.fail(f"set field 'port' (and 'host') of share "
                                f"'{path(self.remote)}' to the address of the estate to join")
            known = ", ".join(stack.nameRemotes) or "none"
            raise self.fail(f"road stack '{stack.name}' has no remote named '{name}' (its "
                            f"remotes: {known}) and '{path(self.remote)}' gives no port "
                            "to join it at")
        host = self.setting(self.remote, "host", str, "127.0.0.1")
        try:
            ha = normalize_ha((host, port), resolve=stack.resolve_host)
        except EstateError as ex:
            raise self.fail(f"share '{path(self.remote)}': {ex}") from None
        for remote in stack.remotes.values():
            if remote.ha == ha:
                return remote
        remote = RemoteEstate(stack=stack, fuid=0, sid=0, ha=ha)
        stack.addRemote(remote)
        return remote


class RoadStackTransmitter(Sending, RoadDeed, Deed):
    """``do road stack transmitter [with FIELD VALUE ...] [with share ".path"]
    [with destination NAME]``: send messages.

    With ``with`` parameters it sends them as one message each time it runs (so use it in
    an enter context): the fields of the share ``share`` names as they are then (nested
    values too), then the other parameters, to remote ``destination`` when given. Every run
    it also sends, and empties, what other Deeds queued in ``txmsgs``.

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack.
    * ``txmsgs`` (read, emptied): a deque of messages (mappings) or (message, remote name).
    * ``destination`` (read): the remote name for messages that give none; None sends to
      the first remote.
    * ``presence`` (write): ``idle`` False once something is queued.

    Stops the run with one line (FloError) for a remote name the stack does not know or a
    ``share`` that names no share. A message that cannot be sent (not a mapping, too
    large) is dropped with a console line.
    """

    Ioinits = odict(inode=INODE, stack="stack", txmsgs=odict(ipath="txmsgs", ival=deque()),
                    destination="destination", presence="presence")
    Errors = (StackError,)

    def action(self, **msg: Any) -> None:
        if self.send_parms(msg):
            self.presence.update(idle=False)


class RoadStackReceiver(Feeding, RoadDeed, Deed):
    """``do road stack receiver``, in a recur context: move received messages to a share.

    Ioinits (inode ``road.``):

    * ``stack`` (read): the open RoadStack; its ``rxMsgs`` are emptied.
    * ``rxmsgs`` (write): a deque of (message, source name), appended to, for one consumer
      (a relayer or Python) to empty; it keeps the newest ``RxmsgsLimit`` unread.
    * ``received`` (write): the count of messages received so far, so a flo can
      ``go next if .road.received >= 2``.
    * ``inbox`` (write): the last ``InboxLimit`` messages as (number, message, source),
      numbered from 1, which printers and repliers each read with their own cursor.
    """

    Ioinits = odict(inode=INODE, stack="stack", rxmsgs=odict(ipath="rxmsgs", ival=deque()),
                    received=odict(ipath="received", ival=0),
                    inbox=odict(ipath="inbox", ival=deque()))


class RoadStackPrinter(Printing, RoadDeed, Deed):
    """``do road stack printer [with width N]``, in a recur context: print new messages.

    Prints ``<name> received from <source>: <message as JSON>`` at the console's terse
    level, so ``ioflo -v terse`` shows it and ``-v mute`` does not; ``width`` cuts the
    JSON to N characters, ending in "...".

    Ioinits (inode ``road.``):

    * ``local`` (read): ``name``, the estate named in each line.
    * ``inbox`` (read, not emptied): the receiver's numbered messages, read from where
      this printer left off.
    """

    Ioinits = odict(inode=INODE, local="local", inbox=odict(ipath="inbox", ival=deque()))


class RoadStackCloser(Closing, RoadDeed, Deed):
    """``do road stack closer``, in an exit context: close the stack's socket.

    Ioinits (inode ``road.``): ``stack`` (read, then written None). Does nothing when the
    stack is not open, so it may run more than once.
    """

    Ioinits = odict(inode=INODE, stack="stack")


class RoadStackCleaner(Closing, RoadDeed, Deed):
    """``do road stack cleaner``, in an exit context: close the stack, delete its keep.

    Removes the whole keep directory (keys, remotes, roles), so the next run starts as a
    new estate. When the stack is not open (say a closer ran first) the keep is the one
    ``local`` names (``name``, ``keep`` and ``basedirpath``, as the opener reads them).

    Ioinits (inode ``road.``): ``local`` (read); ``stack`` (read, then written None).
    Stops the run with one line (FloError) when the keep cannot be deleted.
    """

    Ioinits = odict(inode=INODE, local="local", stack="stack")

    def action(self, **kwa: Any) -> None:
        stack = self.stack.value
        super().action()
        try:
            keep = (stack.keep if isinstance(stack, RoadStack) else
                    local_keep(self, self.setting(self.local, "name", str)))
            keep.clear_all_dir()
        except KeepError as ex:
            raise self.fail(str(ex)) from None
        console().concise(f"Road keep '{keep.dirpath}' deleted\n")


class JoinerInitiator(RoadStackJoiner):
    """``do joiner initiator``: another name for ``do road stack joiner``."""


class TransmitterDeed(RoadStackTransmitter):
    """``do transmitter deed``: another name for ``do road stack transmitter``."""
