"""The road core: the local estate, the remote records and their transactions, with no I/O.

Datagrams and the time go in (``receive_datagram(data, sa, now)``, ``handle_timer(now)``,
and calls such as ``join``, ``allow``, ``alive``, ``manage``, ``send_message``); out come
the datagrams to send (``datagrams_to_send()``), events (``next_event()``), the keep
writes to make (``keep_writes()``) and the next deadline (``get_timer()``). Acceptance of
a remote's keys is judged from a :class:`RoleBook`: the decisions made here since the
last keep flush, over the role records the driver can look up.

No socket, file, DNS, clock, console or ioflo import: a driver (``RoadStack``, the
asyncio road) gives those.
"""
from __future__ import annotations

import math
import traceback
import uuid
from collections.abc import Mapping
from typing import Any

from .. import raeting
from ..coring import Core, Registry, StackError
from ..events import MessageReceived, RemoteRemoved
from ..nacling import Shared
from ..raeting import Acceptance, AutoMode, BodyKind, CoatKind, FootKind, HeadKind, PcktKind
from . import admission, offload, outbox, presence, routing
from .acceptance import RoleRecord, role_status
from .aliving import Aliver
from .allowing import Allower
from .deadlines import DeadlineHeap
from .estating import Address, EstateError, LocalEstate, RemoteEstate, literal_host
from .joining import Joiner, Joinent
from .journal import Journal
from .offload import Ahead
from .packeting import Head, Packet, PacketError, Unsigned
from .persisting import KeepWrite, RoleBook, RoleLookupError
from .transacting import codec_packet, decode_packet, pack_packet


def overrides(remote: RemoteEstate) -> bool:
    """Whether ``remote``'s class overrides raet's ``manage`` or ``process``, which raet
    calls for every record (the core otherwise visits only the records that are due)."""
    kind = type(remote)
    return kind.manage is not RemoteEstate.manage or kind.process is not RemoteEstate.process


class RoadCore(Core):
    """One local estate, the remote records and their transactions."""

    Hk = HeadKind.raet
    Bk = BodyKind.json
    Ck = CoatKind.nacl
    Fk = FootKind.nacl
    Bf = False
    BurstSize = 0
    Period = 1.0
    Offset = 0.5
    Interim = 3600  # (an int, as raet's)
    JoinerTimeout = 5.0
    JoinentTimeout = 5.0
    MsgStaleTimeout = 600.0  # kept for compatibility: delivered tids no longer expire
    MaxSavedMessages = 10000  # messages waiting per remote for an allow
    MaxResends = 3  # tries of one message after re-allows, then it is given up
    MessageTimeout: float | None = None  # seconds a message sent without a timeout of its
    # own may take before it is given up (None: none, as raet: it is tried until confirmed)
    MaxPendingRemotes = 1024  # new estates are refused while this many await acceptance
    MaxRemotes = 20000  # remote records; a join from a new estate past it is refused
    # unless a record joined this long ago in this run and never allowed gives its place
    UnprovenTimeout = 60.0
    PendingTimeout = 3600.0  # seconds a pending estate's record outlives its last join
    DeadlineSlack = 256  # stale deadline entries tolerated before the heap is rebuilt
    MaxTouched = 65536  # changed names remembered between manages (past it: a full rebuild)
    EmitMessages = True  # received messages as MessageReceived events (else to rxMsgs)
    MaxRxMsgs = 65536  # received messages waiting in rxMsgs; past it new ones are refused
    CryptoWorkers = 1  # threads signing or verifying a batch with the loop (0: all inline)
    CryptoBatchMin = 8  # fewest packets to sign or verify in one batch worth a worker's help
    MaxVerifyAhead = 256  # datagrams of one batch held parsed and checked before handling
    BodyMap: type = dict  # the mapping type received bodies decode to


    def __init__(self, local: LocalEstate | None = None, name: str = "",
                 uid: int | None = None, ha: Any = None, iha: Any = None,
                 role: str | None = None, sigkey: Any = None, prikey: Any = None,
                 main: bool | None = None, mutable: bool | None = None,
                 kind: int | None = None, auto: int = AutoMode.never.value,
                 roles: RoleBook | None = None, period: float | None = None,
                 offset: float | None = None, interim: float | None = None,
                 veritive: bool = True, version: int = 0, bk: int | None = None,
                 **kwa: Any) -> None:
        """``local`` (else one made from ``name``, ``uid``, ``ha`` ... ``prikey``; ``ha`` an
        IP address) is this estate; ``kwa`` goes to :class:`~raetflo.coring.Core`."""
        super().__init__(**kwa)
        self.main = main
        self.mutable = mutable
        self.kind = kind
        self.auto = auto
        self.roles = roles if roles is not None else RoleBook()
        self.veritive = veritive
        self.version = version
        if bk is not None:
            self.Bk = BodyKind(bk)
        self.period = self.Period if period is None else period
        self.offset = self.Offset if offset is None else offset
        self.interim = self.Interim if interim is None else interim
        self.joinees: Registry = Registry()  # (host, port) -> RemoteEstate in vacuous joins
        self.pendings: dict[int, float] = {}  # uid -> expiry of records awaiting the operator
        self.unjoined_held: dict[int, None] = {}  # uids of records of unfinished joins kept
        # uid -> when, of new estates joined in this run whose keys no allow proved yet
        self.unproven: dict[int, float] = {}
        self.alloweds: Registry = Registry()
        self.aliveds: Registry = Registry()
        self.reapeds: Registry = Registry()
        self.availables: set = set()
        self.changeds: dict = dict(plus=set(), minus=set())
        self.presence_schedule = presence.Schedule()  # when each record's presence is due
        self._held_roles: set[str] | None = None  # see held_roles
        self.touched: set[str] | None = set()  # names changed since the last manage (None:
        # more than MaxTouched, the views are rebuilt from the records)
        self.presence_version = 0  # counts link changes, additions, removals and renames
        self.incoming = 0  # unfinished incoming messages (messengents), all remotes
        self.incoming_bytes = 0  # what unfinished incoming messages hold, all remotes
        self.signing: Shared | None = None  # signatures a worker makes during a pass (offload)
        self.share_crypto = True  # whether a worker may help now (a driver may say no: it
        # knows whether its loop is short of time; see road.cryptoshare)
        self.message_ref = 0  # the last reference send_message gave out
        self._keep_writes: dict[tuple[str, str], KeepWrite] = {}
        self.journal = Journal()  # delivery journal lines to write (see keep_writes)
        self.holding: dict[int, RemoteEstate] = {}  # records with saved messages (see wake)
        self.overriding: dict[int, RemoteEstate] = {}  # records of a class overriding raet's
        # manage or process (see overrides): each is called for them as raet calls it
        self.deadline_heap = DeadlineHeap()  # when each transaction under way is next due
        if local is None:
            name = name or f"estate_{uuid.uuid1().hex}"
            if not isinstance(name, str):
                raise StackError(f"Invalid stack name {name!r}")
            try:
                local = LocalEstate(stack=self, name=name, uid=uid, ha=ha, iha=iha,
                                    role=role, sigkey=sigkey, prikey=prikey)
            except (EstateError, ValueError) as ex:
                raise StackError(f"Stack '{name}': {ex}") from ex
        else:
            local.stack = self
        self.local = local

    @property
    def uid(self) -> int:
        return self.local.uid

    # names (a driver looks them up; the core only knows addresses) ---------------------
    def resolve_host(self, name: str) -> str:
        """The address of host ``name``: a core cannot look it up (EstateError)."""
        return literal_host(name)

    def host_fqdn(self, host: str) -> str:
        """The fully qualified name of ``host`` for a record being made (core: ``host``)."""
        return host

    def known_fqdn(self, host: str) -> str:
        """The name of ``host`` if already known, with no lookup (the packet path)."""
        return host

    # the keep: writes to make, acceptance to judge -------------------------------------
    def _queue_write(self, key: tuple[str, str], write: KeepWrite) -> None:
        self._keep_writes.pop(key, None)  # the latest write of one file goes last
        self._keep_writes[key] = write

    def persist_remote(self, remote: RemoteEstate) -> None:
        """Ask for ``remote``'s record and role to be written (at the driver's next flush)."""
        if remote.verhex and remote.pubhex:  # a record without keys has no role file
            acceptance = None if remote.acceptance is None else Acceptance(remote.acceptance)
            self.roles.put(RoleRecord(remote.role, acceptance, remote.verhex, remote.pubhex))
        self._queue_write(("estate", remote.name), KeepWrite("remote", remote))

    def persist_local(self) -> None:
        """Ask for the local estate and its role to be written."""
        self._queue_write(("local", ""), KeepWrite("local", self.local))

    def forget_remote_file(self, name: str) -> None:
        """Ask for the record file of remote ``name`` to be deleted."""
        self._queue_write(("estate", name), KeepWrite("forget_remote", name))

    def forget_role_file(self, role: str) -> None:
        """Ask for the file of ``role`` to be deleted: its keys are no longer known."""
        self.roles.put(RoleRecord(role, None, None, None))
        self._queue_write(("role", role), KeepWrite("forget_role", role))

    def restore_journal(self, data: bytes) -> None:
        """At start-up: give each record what the delivery journal ``data`` remembers of
        it (see :meth:`.journal.Journal.restore`); damaged lines are counted and logged."""
        bad = self.journal.restore(data, self.nameRemotes)
        if bad:
            self.incStat("journal_bad_line", bad)
            self.console.terse(f"Stack '{self.name}': skipped {bad} damaged line(s) of the "
                               "delivery journal\n")

    def keep_writes(self) -> list[KeepWrite]:
        """Hand over the keep writes asked for since the last call, in order (the
        journal's lines last). A driver makes them before it sends what was queued
        meanwhile: the dones of the deliveries journaled among them, say."""
        writes = list(self._keep_writes.values())
        self._keep_writes.clear()
        lines = self.journal.take()
        if lines:
            writes.append(KeepWrite("journal", lines))
        return writes

    def keep_failed(self, ex: Exception, what: str) -> None:
        self.incStat("keep_error")
        self.console.terse(f"Stack '{self.name}': keep failed for {what}: {ex}\n")

    def judge(self, role: str, verhex: str, pubhex: str, keyed: Any = None) -> int | None:
        """The verdict on ``role`` with these keys under ``auto`` (a plain ``Acceptance``
        value, as the reference API shows it), persisting nothing; None when the role
        cannot be looked up (counted ``keep_error``, logged). ``keyed`` is what holds the
        keys (a join body or a record), for a driver whose keep judges by itself."""
        try:
            stored, damaged = self.roles.get(role)
            auto = AutoMode(self.auto)
        except (RoleLookupError, ValueError) as ex:
            self.keep_failed(ex, f"role '{role}'")
            return None
        if auto is AutoMode.once and damaged:  # its history is lost: ask the operator
            auto = AutoMode.never
        decision = role_status(auto, stored, verhex, pubhex, role=role)
        if decision.reason:
            self.console.concise(f"Stack '{self.name}': keys of role '{role}' rejected: "
                                 f"{decision.reason}\n")
        return decision.status.value

    # remotes ------------------------------------------------------------------
    @property
    def transactions(self) -> list:
        return [t for remote in self.remotes.values() for t in remote.transactions.values()]

    def addRemote(self, remote: RemoteEstate, dump: bool = False) -> RemoteEstate:
        """Index ``remote`` by uid and name and return it; StackError on any clash.

        A record made for another stack is moved to this one (its timers run on this
        stack's store from now on)."""
        if remote.stack is not self:
            remote.rehome(self)
        if remote.uid in self.remotes or remote.uid == self.local.uid:
            raise StackError(f"Remote uid {remote.uid} already in use")
        if remote.name in self.nameRemotes or remote.name == self.local.name:
            raise StackError(f"Remote name '{remote.name}' already in use")
        self.remotes[remote.uid] = remote
        self.nameRemotes[remote.name] = remote
        self._held_roles = None
        self.link_changed(remote.name)
        self.presence_schedule.file(remote)
        if overrides(remote):
            self.overriding[remote.uid] = remote
        if remote.transactions or remote.messages:
            self.wake(remote)
        if dump:
            self.persist_remote(remote)
        return remote

    def moveRemote(self, remote: RemoteEstate, new: int, clear: bool = False,
                   dump: bool = False) -> None:
        """Give ``remote`` uid ``new`` in its place in ``remotes``; StackError on a clash."""
        old = remote.uid
        if new in self.remotes or new == self.local.uid:
            raise StackError(f"Cannot move remote to '{new}', already exists")
        if self.remotes.get(old) is not remote:
            raise StackError(f"Cannot move remote at '{old}', not one of this stack's")
        remote.uid = new
        moved = Registry((new if uid == old else uid, r) for uid, r in self.remotes.items())
        self.remotes.clear()
        self.remotes.update(moved)
        if old in self.pendings:
            self.pendings[new] = self.pendings.pop(old)
        if old in self.overriding:
            self.overriding[new] = self.overriding.pop(old)
        if clear:
            self.forget_remote_file(remote.name)
        if dump:
            self.persist_remote(remote)

    def createRemote(self, ha: Any) -> RemoteEstate | None:
        """A provisional record (fuid 0, sid 0) of the estate at ``ha``, added; None (counted)
        when ``ha`` is empty or the record cannot be added."""
        if not ha:
            self.console.terse(f"Invalid host address = {ha} when creating remote.\n")
            self.incStat("failed_createremote")
            return None
        try:
            return self.addRemote(self.newRemote(fuid=0, sid=0, ha=ha))
        except (StackError, EstateError) as ex:
            self.console.terse(f"{ex}\n")
            self.incStat("failed_addremote")
            return None

    def removeRemote(self, remote: RemoteEstate, clear: bool = True) -> None:
        """Forget ``remote``: unindex it, then end its transactions and drop its messages
        (a joinent's refusal still goes, by address: the others had the record to go by, as
        in raet, so they end without a word); ``clear`` deletes its file."""
        if self.remotes.get(remote.uid) is remote:
            del self.remotes[remote.uid]
            self.pendings.pop(remote.uid, None)
            self.overriding.pop(remote.uid, None)
            self.unproven.pop(remote.uid, None)
            self._held_roles = None
        named = self.nameRemotes.get(remote.name) is remote
        if named:
            del self.nameRemotes[remote.name]
        for transaction in list(remote.transactions.values()):
            transaction.nack()
        outbox.drop_saved(self, remote, "remote removed")
        if named:
            self.link_changed(remote.name)
            self.emit(RemoteRemoved(remote.name, remote.uid))
        if clear:
            self.forget_remote_file(remote.name)

    def held_roles(self) -> set[str]:
        """The roles of the records held: made when first asked for in a pass (one look
        at every record however many joins ask), anew once records come or go."""
        if self._held_roles is None:
            self._held_roles = {remote.role for remote in self.remotes.values()}
        return self._held_roles

    def removeAllRemotes(self, clear: bool = True) -> None:
        for remote in list(self.remotes.values()):
            self.removeRemote(remote, clear=clear)

    def renameRemote(self, remote: RemoteEstate, new: str, clear: bool = True,
                     dump: bool = False) -> None:
        if new == remote.name:
            return
        if new in self.nameRemotes or new == self.local.name:
            raise StackError(f"Remote name '{new}' already in use")
        old = remote.name
        if self.nameRemotes.get(old) is not remote:
            raise StackError(f"Remote '{old}' is not registered by that name")
        del self.nameRemotes[old]
        remote.name = new
        self.nameRemotes[new] = remote
        self.journal.renamed(remote)
        self.link_changed(old)
        self.link_changed(new)
        if clear:
            self.forget_remote_file(old)
        if dump:
            self.persist_remote(remote)

    def retrieveRemote(self, uid: int | None = None) -> RemoteEstate | None:
        if uid is None:
            return next(iter(dict.values(self.remotes)), None)  # no copy of the records
        return self.remotes.get(uid)

    def newRemote(self, **kwa: Any) -> RemoteEstate:
        return RemoteEstate(stack=self, **kwa)

    def rebuild_remote(self, data: Mapping[str, Any]) -> RemoteEstate:
        """Add and return the record persisted as ``data``: the estate fields of a
        ``remote`` keep write merged with its role's (``acceptance``, ``verhex``,
        ``pubhex``), as a keep loads them. EstateError, StackError, ValueError, TypeError
        or KeyError when they cannot make a record."""
        remote = self.addRemote(self.newRemote(
            uid=data["uid"], fuid=data["fuid"], ha=tuple(data["ha"]), name=data["name"],
            iha=data["iha"], natted=data["natted"], fqdn=data["fqdn"], dyned=data["dyned"],
            sid=data["sid"], main=data["main"], kind=data["kind"], joined=data["joined"],
            role=data["role"], acceptance=data["acceptance"], verkey=data["verhex"],
            pubkey=data["pubhex"]))
        if self.main and remote.acceptance == Acceptance.pending:
            admission.note_pending(self, remote)
        return remote

    def provisional(self, sa: Address) -> RemoteEstate:
        """Record for a first vacuous join request from ``sa``, indexed only by address;
        it gets a uid when the join adds it.

        No name lookup happens here (this runs on the packet path): the record's fqdn is the
        cached name of the host, else its address."""
        remote = self.newRemote(uid=0, fuid=0, sid=0, ha=sa,
                                fqdn=self.known_fqdn(sa[0]))
        self.joinees[sa] = remote
        return remote

    def forget_provisional(self, sa: Address, remote: RemoteEstate) -> None:
        """Drop the address entry of a join request that started nothing."""
        if self.joinees.get(sa) is remote and not remote.joinInProcess():
            del self.joinees[sa]

    # transactions ---------------------------------------------------------------------
    def _remote(self, uid: int | None) -> RemoteEstate | None:
        remote = self.retrieveRemote(uid)
        if remote is None:
            self.console.terse(f"Invalid remote destination estate id '{uid}'\n")
            self.incStat("invalid_remote_eid")
        return remote

    def join(self, uid: int | None = None, timeout: float | None = None,
             cascade: bool = False, renewal: bool = False) -> None:
        """Start a join with remote ``uid`` (default: the first remote)."""
        remote = self._remote(uid)
        if remote is not None:
            Joiner(self, remote, timeout=timeout, cascade=cascade, renewal=renewal).join()

    def allow(self, uid: int | None = None, timeout: float | None = None,
              cascade: bool = False) -> None:
        """Start an allow (short-term key exchange) with remote ``uid``."""
        remote = self._remote(uid)
        if remote is not None:
            Allower(self, remote, timeout=timeout, cascade=cascade).hello()

    def alive(self, uid: int | None = None, timeout: float | None = None,
              cascade: bool = False) -> None:
        """Start an alive (heartbeat) with remote ``uid``."""
        remote = self._remote(uid)
        if remote is not None:
            Aliver(self, remote, timeout=timeout, cascade=cascade).alive()

    def manage(self, cascade: bool = False, immediate: bool = False,
               now: float | None = None) -> None:
        """Presence at ``now`` (default: the time last given): start alives that are due,
        reap the long silent (main only), and bring ``alloweds``, ``aliveds``,
        ``reapeds``, ``availables`` and ``changeds`` up to date.

        Only the records whose presence is due (see ``presence.Schedule``), or that hold
        messages waiting for a session, are visited (every record with ``immediate``); the
        views change by the names whose links changed since the last manage."""
        if now is not None:
            self.now = now
        schedule = self.presence_schedule
        due = self.remotes.values() if immediate else schedule.due(self)
        visits = {id(remote): remote for remote in due}
        for remote in [*self.holding_remotes(), *self.overriding.values()]:
            visits.setdefault(id(remote), remote)
        with offload.signing(self, len(visits)):
            for remote in visits.values():
                if type(remote).manage is RemoteEstate.manage:
                    presence.manage(self, remote, cascade, immediate)
                else:  # raet code's own, called for every record at every manage, as raet
                    remote.manage(cascade=cascade, immediate=immediate)
        schedule.settle(due, self.now)
        presence.update_views(self)

    def link_changed(self, name: str) -> None:
        """The link of remote ``name`` changed, or a record by that name came or went."""
        self.presence_version += 1
        if self.touched is not None:
            self.touched.add(name)
            if len(self.touched) > self.MaxTouched:
                self.touched = None

    # messages ----------------------------------------------------------------------
    def transmit(self, msg: Mapping, uid: int | None = None, timeout: float | None = None) -> None:
        """Queue ``msg`` (a mapping) for remote ``uid`` (default: the first remote).

        Raises StackError when the message is not a mapping, cannot be encoded with the
        stack's body kind, or is larger than the protocol allows. With no remote at all it
        is dropped, counted (``invalid_destination``, ``message_dropped``) and logged.
        """
        outbox.queue(self, msg, uid, timeout, 0)

    def send_message(self, body: Mapping, uid: int | None = None,
                     timeout: float | None = None) -> int:
        """``transmit`` that returns a reference: the outcome comes as a
        ``MessageDelivered`` or ``MessageDropped`` event carrying it."""
        self.message_ref += 1
        outbox.queue(self, body, uid, timeout, self.message_ref)
        return self.message_ref

    def message(self, body: Mapping, uid: int | None = None,
                timeout: float | None = None, ref: int = 0) -> None:
        """Start sending ``body`` to remote ``uid`` now, or save it until the link is allowed."""
        outbox.post(self, body, uid, timeout, ref)

    def sendSavedMessages(self, remote: RemoteEstate) -> None:
        """Send the messages saved while ``remote`` had no session (see ``outbox``)."""
        outbox.send_saved(self, remote)

    # packets --------------------------------------------------------------------------
    def pack(self, head: Head, body: Any, remote: RemoteEstate | None) -> bytes | Unsigned:
        """Encode, encrypt for ``remote`` and sign one unsegmented packet (during a pass
        whose signatures a worker makes, an ``Unsigned`` that ``tx_to`` takes)."""
        signer = self.local.signer if head.fk == FootKind.nacl else None
        box = remote.box if remote is not None and head.ck == CoatKind.nacl else None
        return pack_packet(head, body, signer, box, self.signing)

    def unpack_body(self, packet: Packet, remote: RemoteEstate) -> Any:
        box = remote.box if packet.head.ck == CoatKind.nacl else None
        return decode_packet(packet, box, self.BodyMap)

    def abandon_messages(self, why: str) -> None:
        """Give up every message not confirmed yet (see ``outbox.abandon``)."""
        outbox.abandon(self, why)

    def inbox_full(self) -> bool:
        """Whether a new message would wait past its bound: ``MaxRxMsgs`` in ``rxMsgs``, or
        ``MaxEvents`` events (past which the oldest would be lost)."""
        if self.EmitMessages:
            return len(self.events) >= self.MaxEvents
        return len(self.rxMsgs) >= self.MaxRxMsgs

    def deliver(self, body: Any, source: str) -> None:
        """A whole message from remote ``source``: an event, or with ``EmitMessages``
        false (the polled driver) an entry ``(body, source)`` of ``rxMsgs``."""
        if self.EmitMessages:
            self.emit(MessageReceived(body, source))
        else:
            self.rxMsgs.append((body, source))

    def parse(self, data: bytes, ahead: Ahead | None = None, sa: Address | None = None
              ) -> Packet:
        """Parse and verify one datagram from ``sa`` (``ahead``: what checking its batch
        ahead found); PacketError when it must be dropped."""
        packet = offload.parsed(data, ahead, self.veritive)
        if packet.head.fk == FootKind.nacl:
            verifier = offload.signer_key(self, packet, sa)
            if verifier is None:
                raise PacketError("unknown_verifier",
                                  f"no verify key for destination {packet.head.de}")
            offload.verify(packet, verifier, ahead)
        return packet

    # raet's packet-level entry points, for packets written for raet (thin adapters) --------
    def parseInner(self, packet: Any) -> Any:
        """Decrypt and decode ``packet``'s body: the packet, or None (``parsing_inner_error``)."""
        try:
            packet.parseInner()
        except PacketError as ex:
            self.console.terse(f"{ex}\n")
            self.incStat("parsing_inner_error")
            return None
        return packet

    def correspond(self, packet: Any, remote: RemoteEstate) -> None:
        """Start the correspondent transaction ``packet`` (a first packet) asks for."""
        codec, sa = codec_packet(packet)
        routing.correspond(self, codec, sa or remote.ha, remote)

    replyAllow = replyAlive = replyMessage = correspond

    def replyJoin(self, packet: Any, remote: RemoteEstate, timeout: float | None = None) -> None:
        """Answer a join request with a joinent of ``timeout``."""
        codec, sa = codec_packet(packet)
        head = codec.head
        Joinent(self, remote, timeout=timeout, sid=head.si, tid=head.ti, rxPacket=codec,
                sa=sa or remote.ha).join()

    def stale(self, packet: Any) -> None:
        """Nack a correspondent's packet of a transaction this stack no longer has."""
        codec, sa = codec_packet(packet)
        remote = self.remotes.get(codec.head.de)
        if remote is None:
            routing.unknown_correspondent(self, codec)
            return
        routing.stale_correspondent(self, codec, sa or remote.ha, remote)

    def replyStale(self, packet: Any, remote: RemoteEstate, renew: bool = False) -> None:
        """Nack (or with ``renew`` refuse and ask to rejoin) an initiator's stale packet."""
        codec, sa = codec_packet(packet)
        if codec.head.pk not in raeting.NACK_KINDS:
            routing.reply_stale(self, codec, sa or remote.ha,
                                PcktKind.renew if renew else PcktKind.nack)

    def serviceRxes(self) -> None:
        """Handle the received datagrams in arrival order, in batches of at most
        ``MaxVerifyAhead`` whose signatures are checked first and whose answers are signed
        last, each time with a worker's help (see :mod:`.offload`)."""
        rxes = self.rxes
        self._held_roles = None  # (a record's role may have been set between passes)
        while rxes:
            batch = [rxes.popleft() for _ in range(min(len(rxes), self.MaxVerifyAhead))]
            with offload.signing(self, len(batch)):
                for (data, sa), ahead in zip(batch, offload.check_ahead(self, batch)):
                    self.handle_datagram(data, sa, ahead)

    def serviceTxMsgs(self) -> None:
        """Start every queued message, a worker signing their packets (see :mod:`.offload`)."""
        with offload.signing(self, len(self.txMsgs)):
            super().serviceTxMsgs()

    def handle_datagram(self, data: bytes, sa: Address, ahead: Ahead | None = None) -> None:
        """Parse, verify and route one datagram (``ahead``: see :meth:`parse`). Never raises."""
        try:
            packet = self.parse(data, ahead, sa)
        except PacketError as ex:
            if ex.reason == "wrong_source":  # (a signed packet replayed or forged elsewhere)
                routing.drop(self, ex.reason, str(ex).partition(": ")[2])
            else:
                self.dropped_packet(ex, sa)
            return
        try:
            routing.route(self, packet, sa)
        except Exception:  # a bug must not take the stack down; make it loud instead
            self.rx_failed(sa)

    def dropped_packet(self, ex: PacketError, sa: Address) -> None:
        self.incStat("parsing_outer_error")
        self.incStat(f"rx_{ex.reason}")
        self.console.terse(f"Stack '{self.name}': dropped packet from {sa}: {ex}\n")

    def rx_failed(self, sa: Address) -> None:
        self.incStat("rx_exception")
        self.console.terse(f"Stack '{self.name}': error handling packet from {sa}:\n"
                           f"{traceback.format_exc()}\n")

    def processRx(self, packet: Any) -> None:
        """raet's: take one received packet whose head was parsed and whose signature was
        checked (raet's ``RxPacket``, its source in ``data['sh']``/``data['sp']``, or a
        codec packet): its transaction takes it, or it starts or refuses one."""
        codec, sa = codec_packet(packet)
        if sa is None:
            remote = self.remotes.get(codec.head.de)
            if remote is None:
                self.incStat("invalid_remote_eid")
                return
            sa = remote.ha
        routing.route(self, codec, sa)

    def wake(self, remote: RemoteEstate) -> None:
        """``remote`` has a transaction or a saved message: a saved message's deadline
        needs watching (a transaction's is in the deadline heap)."""
        if remote.messages:
            self.holding[id(remote)] = remote

    def busy_remotes(self) -> list[RemoteEstate]:
        """The records of ours with timers to run: a transaction in the deadline heap or a
        saved message (found from those two, for inspection; the loop uses them directly)."""
        busy: dict[int, RemoteEstate] = {}
        for _, _, transaction in self.deadlines:
            owner: RemoteEstate = transaction.remote
            if transaction.added and self.remotes.get(owner.uid) is owner:
                busy.setdefault(id(owner), owner)
        for remote in self.holding_remotes():
            busy.setdefault(id(remote), remote)
        return list(busy.values())

    def holding_remotes(self) -> list[RemoteEstate]:
        """The records of ours holding saved messages; the others leave the index here."""
        kept = []
        for key, remote in list(self.holding.items()):
            if remote.messages and self.remotes.get(remote.uid) is remote:
                kept.append(remote)
            else:
                del self.holding[key]
        return kept

    def idle(self) -> bool:
        """Whether no transaction is under way and no message is saved."""
        return self.next_deadline() == math.inf and not self.holding_remotes()

    def process(self) -> None:
        """Run the timers of the transactions that are due and give up the saved messages
        past their deadline, then expire pending records."""
        for transaction in self.due_transactions():
            if transaction.added:  # an earlier timer this pass may have ended it
                self.run_timer(transaction)
        for remote in list(self.overriding.values()):
            if type(remote).process is not RemoteEstate.process:  # raet code's own
                remote.process()
        for remote in self.holding_remotes():
            for entry in remote.messages.expire(self.now):
                outbox.give_up(self, remote, entry, "timed out")
        admission.expire_pendings(self)
        self.bound_deadlines()

    @property
    def deadlines(self) -> list[tuple[float, int, Any]]:
        """The deadline heap's entries ``(deadline, seq, transaction)``."""
        return self.deadline_heap.entries

    def schedule(self, transaction: Any) -> None:
        """Note ``transaction``'s current deadline (its timers call this when one moves
        earlier; see :mod:`.deadlines`)."""
        self.deadline_heap.push(transaction)

    def due_transactions(self) -> list[Any]:
        """Take the transactions whose deadline has come out of the heap, each once, in
        deadline order (those of records no longer ours are dropped). Each is filed
        again where its timers are after it runs (see ``run_timer``)."""
        return self.deadline_heap.due(self.now, self.remotes)

    def transaction_ended(self) -> None:
        """A transaction left its record: its heap entries are stale from now on."""
        self.deadline_heap.ended()

    def bound_deadlines(self) -> None:
        """Keep the heap's stale entries below ``DeadlineSlack`` or so, even when nobody
        asks ``get_timer``; a storm's ended transactions go with them."""
        self.deadline_heap.bound(self.DeadlineSlack)

    def next_deadline(self) -> float:
        """The earliest deadline of a transaction under way (inf: none)."""
        return self.deadline_heap.earliest()

    def get_timer(self) -> float | None:
        """When ``handle_timer`` next has something to do: a transaction's redo or timeout,
        a saved message's deadline or a pending record's expiry (None: nothing pending).
        Presence (``manage``) runs on the caller's schedule and is not included. Deadlines
        are kept in a heap, so this costs O(log n), not a scan of the transactions."""
        soonest = self.next_deadline()
        for remote in self.holding_remotes():
            soonest = min(soonest, remote.messages.next_deadline)
        if self.pendings:
            soonest = min(soonest, next(iter(self.pendings.values())))
        return None if soonest == math.inf else soonest

    def run_timer(self, transaction: Any) -> None:
        """Run one transaction's timers; a bug there ends that transaction, loudly."""
        try:
            transaction.process()
        except Exception:  # one faulty transaction must not stop the service loop
            self.incStat("timer_exception")
            self.console.terse(f"Stack '{self.name}': error in timer of {transaction.index} "
                               f"with {transaction.remote.name}:\n{traceback.format_exc()}\n")
            transaction.remove()
        if transaction.added and transaction.deadline < math.inf:
            # filed again where its timers are now: a restart that moved a deadline later
            # filed nothing (see ``transacting.DeadlineTimer``), and one still due runs next pass
            self.schedule(transaction)

