"""RoadStack: a UDP estate with a keep, remote records and RAET transactions."""
from __future__ import annotations

import math
import traceback
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from ioflo.aid.odicting import odict
from ioflo.base.storing import Store

from .. import raeting
from ..events import RemoteRemoved
from ..raeting import Acceptance, BodyKind, CoatKind, FootKind, HeadKind, PcktKind
from ..stacking import Registry, Stack, StackError
from . import outbox, packeting, routing
from .aliving import Aliver
from .allowing import Allower
from .estating import Address, EstateError, LocalEstate, RemoteEstate, host_fqdn
from .joining import Joiner, Joinent
from .keeping import LOCAL_HINT, KeepError, RoadKeep
from .packeting import Head, Packet, PacketError
from .transacting import codec_packet, decode_packet, pack_packet
from .transport import BUSY_ERRORS, UNREACHABLE_ERRORS, TransportError, UdpServer


def listen_ha(ha: Any) -> Address:
    """Validate a listening address; host '' means all interfaces."""
    if ha is None:
        return ("0.0.0.0", raeting.RAET_PORT)
    if (not isinstance(ha, (tuple, list)) or len(ha) != 2 or not isinstance(ha[0], str)
            or not isinstance(ha[1], int) or isinstance(ha[1], bool)
            or not 0 <= ha[1] <= 65535):
        raise StackError(f"Invalid listening address ha={ha!r}: expected (host, port)")
    return (ha[0] or "0.0.0.0", ha[1])


class RoadStack(Stack):
    """One UDP socket, one local estate, the remote records and their transactions."""

    Hk = HeadKind.raet
    Bk = BodyKind.json
    Ck = CoatKind.nacl
    Fk = FootKind.nacl
    Bf = False
    BurstSize = 0
    Period = 1.0
    Offset = 0.5
    Interim = 3600.0
    JoinerTimeout = 5.0
    JoinentTimeout = 5.0
    MsgStaleTimeout = 600.0  # kept for compatibility: delivered tids no longer expire
    MaxSavedMessages = 10000  # messages waiting per remote for an allow
    MaxResends = 3  # tries of one message after re-allows, then it is given up
    MaxPendingRemotes = 1024  # new estates are refused while this many await acceptance
    MaxRemotes = 20000  # remote records; a join from a new estate past it is refused
    PendingTimeout = 3600.0  # store seconds a pending estate's record outlives its last join

    def __init__(self, name: str = "", uid: int | None = None, ha: Any = None,
                 eha: Any = None, iha: Any = None, role: str | None = None,
                 sigkey: Any = None, prikey: Any = None, main: bool | None = None,
                 mutable: bool | None = None, kind: int | None = None,
                 auto: int | None = None, keep: RoadKeep | None = None,
                 dirpath: str | None = None, basedirpath: str | None = None,
                 clean: bool = False, cleanlocal: bool = False, cleanremote: bool = False,
                 period: float | None = None, offset: float | None = None,
                 interim: float | None = None, veritive: bool = True, bufcnt: int = 2,
                 store: Store | None = None, puid: int | None = None,
                 local: LocalEstate | None = None, server: Any = None,
                 rxMsgs: deque | None = None, txMsgs: deque | None = None,
                 rxes: deque | None = None, txes: deque | None = None,
                 stats: odict | None = None, version: int = 0, bk: int | None = None,
                 console: Any = None) -> None:
        super().__init__(store=store, puid=puid, rxMsgs=rxMsgs, txMsgs=txMsgs, rxes=rxes,
                         txes=txes, stats=stats, console=console)
        self.main = main
        self.mutable = mutable
        self.kind = kind
        self.veritive = veritive
        self.bufcnt = bufcnt
        self.version = version
        if bk is not None:
            self.Bk = BodyKind(bk)
        self.period = self.Period if period is None else period
        self.offset = self.Offset if offset is None else offset
        self.interim = self.Interim if interim is None else interim
        self.joinees: Registry = Registry()  # (host, port) -> RemoteEstate in vacuous joins
        self.pendings: dict[int, float] = {}  # uid -> expiry of records awaiting the operator
        self.alloweds: odict = odict()
        self.aliveds: odict = odict()
        self.reapeds: odict = odict()
        self.availables: set = set()
        self.changeds: odict = odict(plus=set(), minus=set())
        self.incoming_bytes = 0  # announced sizes of unfinished incoming messages, all remotes
        self.message_ref = 0  # the last reference send_message gave out

        name = name or f"estate_{uuid.uuid1().hex}"
        if not isinstance(name, str):
            raise StackError(f"Invalid stack name {name!r}")
        listen = listen_ha(ha)
        try:
            self.keep = keep if keep is not None else RoadKeep(
                stackname=name, dirpath=dirpath, basedirpath=basedirpath, auto=auto)
            if clean or cleanlocal:
                self.keep.clear_local()
            if clean or cleanremote:
                self.keep.clear_all_remotes()
            saved = self.keep.load_local() if local is None else None
            if saved is not None:
                local, listen = self.restore_local(saved)
        except KeepError as ex:
            raise StackError(f"Stack '{name}': {ex}") from ex
        self.keep.on_damage = self.keep_damaged
        if local is None:
            try:
                local = LocalEstate(stack=self, name=name, uid=uid,
                                    ha=eha if eha is not None else listen, iha=iha,
                                    role=role, sigkey=sigkey, prikey=prikey)
            except (EstateError, ValueError) as ex:
                raise StackError(f"Stack '{name}': {ex}") from ex
        else:
            local.stack = self
        self.local = local
        if server is None:
            try:
                server = UdpServer(listen, bufsize=raeting.UDP_MAX_PACKET_SIZE * bufcnt)
            except TransportError as ex:
                raise StackError(f"Stack '{self.name}': {ex.strerror}") from ex
        self.server = server
        self.aha: Address = server.ha  # the accepting address (kept in the keep as aha)
        self.console.verbose(f"Stack '{self.name}': Opened server at '{self.ha}'\n")
        try:
            self.resume_remotes()
            self.dumpLocal()
            self.dumpRemotes()
        except KeepError as ex:
            self.server.close()
            raise StackError(f"Stack '{self.name}': {ex}") from ex

    # identity -----------------------------------------------------------------
    @property
    def ha(self) -> Address:
        """The accepting address (``aha``): where the server was opened."""
        return self.aha

    @ha.setter
    def ha(self, value: Address) -> None:
        self.aha = value

    def serverFromLocal(self) -> UdpServer:
        """A server for this stack's address ``ha``, not yet opened (``open``/``reopen``)."""
        return UdpServer(self.ha, bufsize=raeting.UDP_MAX_PACKET_SIZE * self.bufcnt,
                         opened=False)

    @property
    def uid(self) -> int:
        return self.local.uid

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
        if dump:
            self.dumpRemote(remote)
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
        if clear:
            self.kept(lambda: self.keep.clear_remote(remote.name), f"remote {remote.name}")
        if dump:
            self.dumpRemote(remote)

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
        """Forget ``remote``: nack and drop its transactions and messages, then unindex it
        (its joins take their address entries with them); ``clear`` deletes its file."""
        for transaction in list(remote.transactions.values()):
            transaction.nack()
        outbox.drop_saved(self, remote, "remote removed")
        if self.remotes.get(remote.uid) is remote:
            del self.remotes[remote.uid]
            self.pendings.pop(remote.uid, None)
        if self.nameRemotes.get(remote.name) is remote:
            del self.nameRemotes[remote.name]
            self.emit(RemoteRemoved(remote.name, remote.uid))
        if clear:
            self.kept(lambda: self.keep.clear_remote(remote.name), f"remote {remote.name}")

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
        if clear:
            self.kept(lambda: self.keep.clear_remote(old), f"remote {old}")
        if dump:
            self.dumpRemote(remote)

    def retrieveRemote(self, uid: int | None = None) -> RemoteEstate | None:
        if uid is None:
            return next(iter(self.remotes.values()), None)
        return self.remotes.get(uid)

    def newRemote(self, **kwa: Any) -> RemoteEstate:
        return RemoteEstate(stack=self, **kwa)

    def provisional(self, sa: Address) -> RemoteEstate:
        """Record for a first vacuous join request from ``sa``, indexed only by address;
        it gets a uid when the join adds it.

        No name lookup happens here (this runs on the packet path): the record's fqdn is the
        cached name of the host, else its address."""
        remote = self.newRemote(uid=0, fuid=0, sid=0, ha=sa,
                                fqdn=host_fqdn(sa[0], lookup=False))
        self.joinees[sa] = remote
        return remote

    def forget_provisional(self, sa: Address, remote: RemoteEstate) -> None:
        """Drop the address entry of a join request that started nothing."""
        if self.joinees.get(sa) is remote and not remote.joinInProcess():
            del self.joinees[sa]

    def note_pending(self, remote: RemoteEstate) -> None:
        """(Re)start the wait of a record for the operator's decision (a join attempt)."""
        self.pendings.pop(remote.uid, None)
        self.pendings[remote.uid] = self.store.stamp + self.PendingTimeout

    def expire_pendings(self) -> None:
        """Forget the records that awaited the operator ``PendingTimeout`` past their last
        join attempt, with their files; ``pendings`` is in expiry order, so this is cheap."""
        now, expired = self.store.stamp, []
        while self.pendings:
            uid, expiry = next(iter(self.pendings.items()))
            if expiry > now:
                break
            del self.pendings[uid]
            remote = self.remotes.get(uid)
            if remote is not None and self.still_pending(remote):
                self.removeRemote(remote)
                expired.append(remote)
        if not expired:
            return
        held = {remote.role for remote in self.remotes.values()}
        for remote in expired:
            self.incStat("pending_expired")
            self.console.terse(f"Stack '{self.name}': forgot remote {remote.name}, pending "
                               f"for {self.PendingTimeout} s since its last join\n")
            if remote.role not in held:
                held.add(remote.role)
                self.kept(lambda: self.keep.clear_remote_role(remote.role),
                          f"role {remote.role}")

    def still_pending(self, remote: RemoteEstate) -> bool:
        """Whether the keep still holds ``remote``'s keys pending (a keep error says yes)."""
        if remote.joined:
            return False
        try:
            return self.keep.status_remote(remote, dump=False) == Acceptance.pending
        except KeepError as ex:
            self.keep_failed(ex, f"role {remote.role}")
            return True

    # keep ---------------------------------------------------------------------------
    def kept(self, action: Callable[[], Any], what: str) -> bool:
        """Run the keep ``action``; False when the keep fails (counted, logged, not raised)."""
        try:
            action()
        except KeepError as ex:
            self.keep_failed(ex, what)
            return False
        return True

    def keep_failed(self, ex: KeepError, what: str) -> None:
        self.incStat("keep_error")
        self.console.terse(f"Stack '{self.name}': keep failed for {what}: {ex}\n")

    def persist_remote(self, remote: RemoteEstate) -> bool:
        """dumpRemote that never raises; False (counted ``keep_error``) when it fails."""
        return self.kept(lambda: self.dumpRemote(remote), f"remote {remote.name}")

    def persist_local(self) -> bool:
        """dumpLocal that never raises; False (counted ``keep_error``) when it fails."""
        return self.kept(self.dumpLocal, "the local estate")

    def dumpLocal(self) -> None:
        """Persist the local estate and its role."""
        self.keep.dumpLocal(self.local)

    def dumpLocalRole(self) -> None:
        """Persist the local role and secret keys."""
        self.keep.dumpLocalRole(self.local)

    def dumpRemote(self, remote: RemoteEstate) -> None:
        """Persist ``remote`` and its role."""
        self.keep.dumpRemote(remote)

    def dumpRemoteRole(self, remote: RemoteEstate) -> None:
        """Persist the keys and acceptance of ``remote``'s role."""
        self.keep.dumpRemoteRole(remote)

    def dumpRemotes(self, clear: bool = True) -> None:
        """Persist every record. ``clear`` is accepted as raet's: each file is replaced
        atomically, so there is nothing to delete first."""
        for remote in self.remotes.values():
            self.dumpRemote(remote)

    def restore_local(self, saved: Mapping[str, Any]) -> tuple[LocalEstate, Address]:
        """The local estate and listening address saved in the keep (see ``load_local``).

        Sets ``puid``; KeepError naming the local estate file when the values are unusable.
        """
        try:
            listen = listen_ha(tuple(saved["aha"]))
            local = LocalEstate(stack=self, name=saved["name"], uid=saved["uid"],
                                ha=tuple(saved["ha"]), iha=saved["iha"],
                                natted=saved["natted"], fqdn=saved["fqdn"],
                                dyned=saved["dyned"], role=saved["role"],
                                sigkey=saved["sighex"], prikey=saved["prihex"])
        except (StackError, EstateError, ValueError, TypeError) as ex:
            raise KeepError(f"Keep file '{self.keep.localfilepath}' is unusable: {ex}; "
                            f"{LOCAL_HINT}") from ex
        self.puid = saved["puid"]
        return local, listen

    def restoreLocal(self) -> LocalEstate | None:
        """Make the persisted local estate the stack's and return it; None when there is
        none. (The socket stays bound where it is.)"""
        saved = self.keep.load_local()
        if saved is None:
            return None
        self.local, _ = self.restore_local(saved)
        return self.local

    def restoreRemote(self, name: str) -> RemoteEstate | None:
        """Rebuild and add the persisted record ``name`` with its saved ``sid``.

        None when there is none, or when it cannot be rebuilt: its file is then set aside as
        damaged, so the peer can join afresh.
        """
        data = self.keep.load_remote(name)
        return None if data is None else self.restore_remote(name, data)

    def restore_remote(self, name: str, data: Mapping[str, Any]) -> RemoteEstate | None:
        """Rebuild and add record ``name`` from its keep ``data`` (see restoreRemote)."""
        try:
            remote = self.newRemote(
                uid=data["uid"], fuid=data["fuid"], ha=tuple(data["ha"]),
                name=data["name"], iha=data["iha"], natted=data["natted"],
                fqdn=data["fqdn"], dyned=data["dyned"], sid=data["sid"],
                main=data["main"], kind=data["kind"], joined=data["joined"],
                role=data["role"], acceptance=data["acceptance"],
                verkey=data["verhex"], pubkey=data["pubhex"])
            self.addRemote(remote)
        except (EstateError, StackError, ValueError, TypeError, KeyError) as ex:
            self.incStat("failed_restore_remote")
            self.keep.set_aside_remote(name, f"cannot restore remote {name!r}: {ex}")
            return None
        if self.main and remote.acceptance == Acceptance.pending:
            self.note_pending(remote)
        return remote

    def restoreRemotes(self) -> None:
        """Rebuild every persisted record (see :meth:`restoreRemote`)."""
        for name, data in self.keep.load_all_remotes().items():
            self.restore_remote(name, data)

    def resume_remotes(self) -> None:
        """At start-up: rebuild every persisted record, each resuming with ``sid + 1`` (a new
        session, so nothing of the last one can be replayed into it)."""
        self.restoreRemotes()
        for remote in self.remotes.values():
            remote.nextSid()

    def keep_damaged(self, report: str) -> None:
        """Count and log a damaged keep file the keep has set aside."""
        self.incStat("keep_file_damaged")
        self.console.terse(f"Stack '{self.name}': {report}\n")

    def clearAllDir(self) -> None:
        """Delete the keep directory recursively."""
        self.keep.clearAllDir()

    def clearLocalKeep(self) -> None:
        """Delete the local estate file."""
        self.keep.clearLocalData()

    def clearLocalRoleKeep(self) -> None:
        """Delete the local role file (the secret keys)."""
        self.keep.clearLocalRoleData()

    def clearRemote(self, remote: RemoteEstate) -> None:
        """Delete the estate file of ``remote``."""
        self.keep.clearRemote(remote)

    def clearRemotes(self) -> None:
        """Delete the estate files of the current records."""
        for remote in self.remotes.values():
            self.clearRemote(remote)

    def clearRemoteKeeps(self) -> None:
        """Delete every remote estate file."""
        self.keep.clearAllRemoteData()

    def clearRemoteRoleKeeps(self) -> None:
        """Delete every remote role file."""
        self.keep.clearAllRemoteRoleData()

    def clearAllKeeps(self) -> None:
        """Delete every keep file (directories stay)."""
        self.keep.clear_all()

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

    def manage(self, cascade: bool = False, immediate: bool = False) -> None:
        """Presence: start alives that are due, reap the long silent (main only), and
        recompute ``alloweds``, ``aliveds``, ``reapeds``, ``availables`` and ``changeds``."""
        for remote in list(self.remotes.values()):
            remote.manage(cascade=cascade, immediate=immediate)
        remotes = self.remotes.values()
        aliveds = odict((r.name, r) for r in remotes if r.alived)
        self.changeds = odict(plus=set(aliveds) - set(self.aliveds),
                              minus=set(self.aliveds) - set(aliveds))
        self.aliveds = aliveds
        self.alloweds = odict((r.name, r) for r in remotes if r.allowed)
        self.reapeds = odict((r.name, r) for r in remotes if r.reaped)
        self.availables = set(aliveds)

    # messages ----------------------------------------------------------------------
    def transmit(self, msg: Mapping, uid: int | None = None, timeout: float | None = None) -> None:
        """Queue ``msg`` (a mapping) for remote ``uid`` (default: the first remote).

        Raises StackError when the message is not a mapping, cannot be encoded with the
        stack's body kind, or is larger than the protocol allows. With no remote at all it
        is dropped, counted (``invalid_destination``, ``message_dropped``) and logged.
        """
        self.queue_message(msg, uid, timeout, 0)

    def send_message(self, body: Mapping, uid: int | None = None,
                     timeout: float | None = None) -> int:
        """``transmit`` that returns a reference: the outcome comes as a
        ``MessageDelivered`` or ``MessageDropped`` event carrying it."""
        self.message_ref += 1
        self.queue_message(body, uid, timeout, self.message_ref)
        return self.message_ref

    def queue_message(self, msg: Mapping, uid: int | None, timeout: float | None,
                      ref: int) -> None:
        outbox.check_body(self, msg)
        if uid is None:
            remote = self.retrieveRemote()
            if remote is None:  # as raet does: counted and logged, not raised
                self.incStat("invalid_destination")
                outbox.drop(self, None, "no remote to send to", ref=ref)
                return
            uid = remote.uid
        self.txMsgs.append((msg, uid, timeout, ref) if ref else (msg, uid, timeout))

    def message(self, body: Mapping, uid: int | None = None,
                timeout: float | None = None, ref: int = 0) -> None:
        """Start sending ``body`` to remote ``uid`` now, or save it until the link is allowed."""
        outbox.post(self, body, uid, timeout, ref)

    def sendSavedMessages(self, remote: RemoteEstate) -> None:
        """Send the messages saved while ``remote`` had no session (see ``outbox``)."""
        outbox.send_saved(self, remote)

    # packets --------------------------------------------------------------------------
    def pack(self, head: Head, body: Any, remote: RemoteEstate | None) -> bytes:
        """Encode, encrypt for ``remote`` and sign one unsegmented packet."""
        signer = self.local.signer if head.fk == FootKind.nacl else None
        box = remote.box if remote is not None and head.ck == CoatKind.nacl else None
        return pack_packet(head, body, signer, box)

    def unpack_body(self, packet: Packet, remote: RemoteEstate) -> Any:
        box = remote.box if packet.head.ck == CoatKind.nacl else None
        return decode_packet(packet, box)

    def tx(self, packed: bytes, ha: Address) -> None:
        self.txes.append((packed, ha))

    def parse(self, data: bytes) -> Packet:
        """Parse and verify one datagram; PacketError when it must be dropped."""
        packet = packeting.parse(data, veritive=self.veritive)
        if packet.head.fk == FootKind.nacl:
            remote = self.remotes.get(packet.head.de)
            if remote is None or remote.verfer is None:
                raise PacketError("unknown_verifier",
                                  f"no verify key for destination {packet.head.de}")
            packeting.verify(packet, remote.verfer)
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

    def processRx(self, data: bytes, sa: Address) -> None:
        """Parse, verify and route one datagram. Never raises."""
        try:
            packet = self.parse(data)
        except PacketError as ex:
            self.incStat("parsing_outer_error")
            self.incStat(f"rx_{ex.reason}")
            self.console.terse(f"Stack '{self.name}': dropped packet from {sa}: {ex}\n")
            return
        try:
            routing.route(self, packet, sa)
        except Exception:  # a bug must not take the stack down; make it loud instead
            self.incStat("rx_exception")
            self.console.terse(f"Stack '{self.name}': error handling packet from {sa}:\n"
                               f"{traceback.format_exc()}\n")

    def process(self) -> None:
        """Run transaction timers of every remote, then expire pending records."""
        for remote in self.remotes.values():
            remote.process()
        self.expire_pendings()

    def get_timer(self) -> float | None:
        """When ``handle_timer`` next has something to do: a transaction's redo or timeout,
        a saved message's deadline or a pending record's expiry (None: nothing pending).
        Presence (``manage``) runs on the caller's schedule and is not included."""
        soonest = min((remote.deadline for remote in self.remotes.values()), default=math.inf)
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

    def transmitted(self, data: bytes, ha: Address) -> bool:
        """Send one datagram; False when the socket is busy. A datagram for an unreachable
        destination, or one that fails otherwise, is dropped, counted and logged."""
        try:
            self.server.send(data, ha)
        except OSError as ex:
            if ex.errno in BUSY_ERRORS:
                return False
            self.incStat("tx_unreachable" if ex.errno in UNREACHABLE_ERRORS else "tx_error")
            self.console.terse(f"Stack '{self.name}': cannot send to {ha}: {ex}\n")
        return True

    def close(self) -> None:
        self.server.close()


def service_stacks(stacks: Iterable[RoadStack], duration: float = 1.0, step: float = 0.1,
                   until: Callable[[], bool] | None = None) -> int:
    """Service ``stacks`` in lockstep virtual time for at most ``duration`` seconds.

    Every store involved advances by ``step`` per round; stops early once ``until()``
    holds. Returns the number of rounds run. Meant for tests, examples and tools.
    """
    stacks = list(stacks)
    stores = list({id(s.store): s.store for s in stacks}.values())
    rounds = int(round(duration / step))
    for count in range(1, rounds + 1):
        for stack in stacks:
            stack.serviceAll()
        for store in stores:
            store.advanceStamp(step)
        if until is not None and until():
            return count
    return rounds
