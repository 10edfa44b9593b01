"""RoadStack: the polled driver of a road core, with a UDP socket, a keep on disk, name
lookups, ioflo's console and Store time (the tutorial's and the reference's API).

The protocol lives in :class:`~raetflo.road.core.RoadCore`; this driver adds what touches
the outside: ``serviceAll()`` reads the socket into the core, runs its timers, makes the
keep writes the pass asked for as one batch (``flush``: every file durable when it
returns), and only then sends that pass's datagrams, so nothing acknowledged on the wire
is missing from the keep after a crash.
"""
from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from ioflo.aid.odicting import odict
from ioflo.base.storing import Store

from .. import raeting
from ..raeting import Acceptance, AutoMode
from ..raeting import BodyKind, CoatKind, FootKind, HeadKind, PcktKind, TrnsKind  # noqa: F401
# (raet code takes these kinds from this module, with a star import too)
from ..stacking import Stack, StackError
from . import keeplock, resolving, trays
from .acceptance import RoleRecord
from .core import RoadCore
from .cryptoshare import CryptoShare
from .packeting import PacketError
from .estating import Address, EstateError, LocalEstate, RemoteEstate
from .keeping import LOCAL_HINT, KeepError, RoadKeep
from .persisting import KeepWrite, RoleBook, RoleLookupError
from .transport import BUSY_ERRORS, UNREACHABLE_ERRORS, TransportError, UdpServer, family_of


def listen_ha(ha: Any) -> Address:
    """Validate a listening address; host '' means all interfaces."""
    if ha is None:
        return ("0.0.0.0", raeting.RAET_PORT)
    if (not isinstance(ha, (tuple, list)) or len(ha) != 2 or not isinstance(ha[0], str)
            or not isinstance(ha[1], int) or isinstance(ha[1], bool)):
        raise StackError(f"Invalid listening address ha={ha!r}: expected (host, port), "
                         "a host str and a port int")
    if not 0 <= ha[1] <= 65535:
        raise StackError(f"Invalid listening address ha={tuple(ha)!r}: port {ha[1]} is not "
                         "in 0..65535 (0: any free port)")
    return (ha[0] or "0.0.0.0", ha[1])


class RoadStack(Stack, RoadCore):
    """One UDP socket and one keep around a road core."""

    EmitMessages = False  # received messages go to rxMsgs, as the reference's do
    # receive-handle-send rounds one serviceAll makes while the socket keeps more than
    # RxBudget waiting (a storm of joins): bounds one call to RxPasses x RxBudget datagrams
    RxPasses = 4
    # the delivery journal (see road.journal): synced to stable storage at each append
    # (one per service pass that delivered) only with SyncDeliveries, else it survives a
    # restart of the process but not a crash of the machine; compacted once it grew by
    # JournalMax bytes (of lines read one by one at a restart) since it was last compacted
    SyncDeliveries = False
    JournalMax = 1 << 20
    # after a failed append (a full disk, say) the journal is behind what the memories
    # hold: it is written whole again, at most once per JournalRetry seconds, until it is
    JournalRetry = 1.0
    BodyMap = odict  # and their bodies are ioflo odicts, as the reference's are
    # the core's crypto is shared with a worker (RoadCore.CryptoWorkers) only while the
    # loop's thread is busy over CryptoShareAbove of the time, until it is under
    # CryptoShareBelow (see road.cryptoshare; read when the stack is made; 0: always)
    CryptoShareAbove = 0.9
    CryptoShareBelow = 0.75

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
        self.bufcnt = bufcnt
        # restored records whose new session id is not in the keep yet, by id(): one entry
        # per record, so bounded by the records (see resume_remotes)
        self.unsaved_sessions: dict[int, RemoteEstate] = {}
        # bytes of the delivery journal, and what its last compaction left (0: none yet)
        self.journal_size = self.journal_compacted = 0
        self.journal_retry: float | None = None  # when a journal behind is written again
        if not isinstance(name, str):
            raise StackError(f"Invalid stack name {name!r}")
        listen = listen_ha(ha)
        # an unnamed stack's keep is the base directory itself (as raet's): it finds its
        # name there again, or makes one
        label = name or "(unnamed)"
        try:
            self.keep = keep if keep is not None else RoadKeep(
                stackname=name, dirpath=dirpath, basedirpath=basedirpath, auto=auto)
        except KeepError as ex:
            raise StackError(f"Stack '{label}': {ex}") from ex
        self.hold_keep(label)
        try:
            if clean or cleanlocal:
                self.keep.clear_local()
            if clean or cleanremote:
                self.keep.clear_all_remotes()
            saved = self.keep.load_local() if local is None else None
            if saved is not None:
                local, listen, puid = self.restore_local(saved)
        except KeepError as ex:
            raise StackError(f"Stack '{label}': {ex}") from ex
        name = name or (local.name if local is not None else LocalEstate.nameGuid())
        self.keep.on_damage = self.keep_damaged
        self.family = family_of(listen[0])  # names resolve in the socket's family first
        super().__init__(store=store, stats=stats, console=console, local=local, name=name,
                         uid=uid, ha=eha if eha is not None else listen, iha=iha, role=role,
                         sigkey=sigkey, prikey=prikey, main=main, mutable=mutable,
                         kind=kind, auto=self.keep.auto, roles=RoleBook(self.role_record),
                         period=period, offset=offset, interim=interim, veritive=veritive,
                         version=version, bk=bk, puid=puid, rxMsgs=rxMsgs, txMsgs=txMsgs,
                         rxes=rxes, txes=txes)
        try:
            self.crypto_share = CryptoShare(self.CryptoShareAbove, self.CryptoShareBelow)
        except ValueError as ex:
            raise StackError(f"Stack '{self.name}': {ex}") from ex
        if server is None:
            try:
                server = UdpServer(listen, bufsize=raeting.UDP_MAX_PACKET_SIZE * bufcnt)
            except TransportError as ex:
                raise StackError(f"Stack '{self.name}': {ex.strerror}") from ex
        self.server = server
        self.aha: Address = server.ha  # the accepting address (kept in the keep as aha)
        self.console.verbose(f"Stack '{self.name}': Opened server at '{self.ha}'\n")
        for held in getattr(server, "took_over", ()):
            self.console.terse(f"Stack '{self.name}': took over {held} from a stack of this "
                               "process, whose socket is now closed\n")
        try:
            self.resume_remotes()
            self.dumpLocal()
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
    def auto(self) -> int:
        """The keep's auto-accept mode (``keep.auto``)."""
        return self.keep.auto

    @auto.setter
    def auto(self, value: int) -> None:
        self.keep.auto = value

    # names ------------------------------------------------------------------------
    def resolve_host(self, name: str) -> str:
        return resolving.resolve_host(name, self.family)

    def host_fqdn(self, host: str) -> str:
        return resolving.host_fqdn(host)

    def known_fqdn(self, host: str) -> str:
        return resolving.host_fqdn(host, lookup=False)

    # remotes the reference API changes: their files change at once ---------------------
    def addRemote(self, remote: RemoteEstate, dump: bool = False) -> RemoteEstate:
        RoadCore.addRemote(self, remote, dump)
        if dump:
            self.flush()
        return remote

    def moveRemote(self, remote: RemoteEstate, new: int, clear: bool = False,
                   dump: bool = False) -> None:
        RoadCore.moveRemote(self, remote, new, clear, dump)
        self.flush()

    def close(self) -> None:
        """Close the socket; the messages not confirmed yet are given up, each counted and
        logged (``message_unconfirmed`` when a copy may have arrived, else
        ``message_dropped``), with its event when it has a ref. The keep is let go."""
        self.abandon_messages("the stack closed")
        super().close()
        self.keep_held()

    def hold_keep(self, name: str) -> None:
        """Hold the keep for this stack (see ``keeplock``); StackError when another
        process holds it. It is let go at ``close()``, or when this stack is collected."""
        dirpath = self.keep.dirpath
        try:
            key = keeplock.acquire(dirpath)
        except keeplock.KeepInUse as ex:
            raise StackError(f"Stack '{name}': keep '{dirpath}' {ex.strerror}: stop that "
                             "stack first, or give this one a keep of its own") from None
        except OSError as ex:
            raise StackError(f"Stack '{name}': cannot lock keep '{dirpath}': "
                             f"{ex.strerror}") from None
        self.keep_held = weakref.finalize(self, keeplock.release, key)

    def removeRemote(self, remote: RemoteEstate, clear: bool = True) -> None:
        self.unsaved_sessions.pop(id(remote), None)
        RoadCore.removeRemote(self, remote, clear)
        self.flush()

    def persist_remote(self, remote: RemoteEstate) -> None:
        """As the core's; the record's session id is written with it."""
        self.unsaved_sessions.pop(id(remote), None)
        RoadCore.persist_remote(self, remote)

    def wake(self, remote: RemoteEstate) -> None:
        """As the core's; and a restored record whose new session id is not in the keep
        yet is written once it has a transaction of our own, whose packets carry that id
        (the write lands before they are sent)."""
        if (self.unsaved_sessions.get(id(remote)) is remote
                and any(not t.rmt for t in remote.transactions.values())):
            self.persist_remote(remote)
        RoadCore.wake(self, remote)

    def renameRemote(self, remote: RemoteEstate, new: str, clear: bool = True,
                     dump: bool = False) -> None:
        RoadCore.renameRemote(self, remote, new, clear, dump)
        self.flush()

    # service ------------------------------------------------------------------------
    def serviceRxes(self) -> None:
        if type(self).processRx is RoadCore.processRx:
            RoadCore.serviceRxes(self)
            return
        while self.rxes:  # raet code's own processRx: no batch is checked ahead
            self.handle_datagram(*self.rxes.popleft())

    def handle_datagram(self, data: bytes, sa: Address, ahead: Any = None) -> None:
        """As the core's; a subclass overriding raet's ``processRx`` gets each datagram
        as raet hands it over: an ``RxPacket`` whose head is parsed and signature
        checked, with its source in ``sh``/``sp``."""
        if type(self).processRx is RoadCore.processRx:
            RoadCore.handle_datagram(self, data, sa, ahead)
            return
        packet = trays.RxPacket(stack=self, packed=data)
        packet.data.update(sh=sa[0], sp=sa[1])
        try:
            packet.parseOuter()
        except PacketError as ex:
            self.dropped_packet(ex, sa)
            return
        try:
            self.processRx(packet)
        except Exception:  # (as for our own handling)
            self.rx_failed(sa)

    def serviceAll(self) -> None:
        """Receive and handle what is waiting, run timers, then send what is queued; again
        (up to ``RxPasses`` rounds) while the socket had more than ``RxBudget`` waiting, so
        a burst is read at the rate it comes rather than left to overflow the socket."""
        self.share_crypto = self.crypto_share.decide()
        for _ in range(self.RxPasses):
            self.serviceAllRx()
            self.serviceAllTx()
            if self.rx_drained:
                return

    # the keep -------------------------------------------------------------------------
    def flush(self) -> None:
        """Make the keep writes the core asked for, in one batch of the keep: all durable
        when this returns (see ``RoadKeep.batch``); a failure is counted and logged."""
        writes = self.keep_writes()
        if self.journal_retry is not None:  # the memories hold what its lines would say
            writes = [write for write in writes if write.kind != "journal"]
            if self.now >= self.journal_retry:
                writes.append(KeepWrite("journal", b""))
        if writes:
            self.kept(lambda: self.write_batch(writes), "keep writes")
        self.roles.settle()

    def write_batch(self, writes: list[KeepWrite]) -> None:
        """Make ``writes`` as one batch; each failed write is counted and logged, and a
        failed batch raises KeepError."""
        with self.keep.batch():
            for write in writes:
                self.kept(lambda: self.write(write), write.label)

    def write(self, write: KeepWrite) -> None:
        """Make one keep write (KeepError when the keep fails)."""
        kind, target = write.kind, write.target
        if kind == "remote":
            self.dumpRemote(target)  # (raet code may override it)
        elif kind == "local":
            self.keep.dumpLocal(target)
        elif kind == "forget_remote":
            self.keep.clear_remote(target)
        elif kind == "journal":
            self.append_journal(target)
        else:
            self.keep.clear_remote_role(target)

    def append_journal(self, lines: bytes) -> None:
        """Add ``lines`` to the delivery journal (synced with ``SyncDeliveries``); once it
        grew by ``JournalMax`` bytes since it was last compacted (or since the start), or
        when it is behind (an append failed), write it whole: a line per remote."""
        try:
            if self.journal_retry is not None:
                self.compact_journal()
                self.journal_retry = None
                return
            self.keep.append_journal(lines, self.SyncDeliveries)
        except KeepError:
            self.journal_retry = self.now + self.JournalRetry
            raise
        self.journal_size += len(lines)
        if self.journal_size > self.journal_compacted + self.JournalMax:
            self.compact_journal()

    def compact_journal(self) -> None:
        compacted = self.journal.compacted(self.remotes.values())
        self.keep.rewrite_journal(compacted)
        self.journal_size = self.journal_compacted = len(compacted)
        self.incStat("journal_compacted")

    def judge(self, role: str, verhex: str, pubhex: str, keyed: Any = None) -> int | None:
        """The core's verdict, or, when the keep is a subclass that decides acceptance
        itself (overriding raet's ``statusRole`` or ``statusRemote``), the keep's, asked
        as raet's stack asks it, persisting: a join's keys by ``statusRole``, a record's
        (a pending join checked again, say) by ``statusRemote`` of the record. A keep
        that raises, or answers no ``Acceptance`` value, is counted (``keep_error``) and
        logged, and the keys go unjudged (None) this time."""
        if not self.keep.judges_itself:
            return RoadCore.judge(self, role, verhex, pubhex, keyed)
        try:
            if isinstance(keyed, RemoteEstate):
                answer = self.keep.statusRemote(keyed, dump=True)
            else:
                answer = self.keep.statusRole(role=role, verhex=verhex, pubhex=pubhex,
                                              dump=True)
            return Acceptance(answer).value
        except Exception as ex:  # noqa: BLE001  (a subclass's policy: whatever it raises)
            self.keep_failed(ex if isinstance(ex, KeepError) else
                             KeepError(f"{type(ex).__name__}: {ex}"), f"role '{role}'")
            return None

    def role_record(self, role: str) -> tuple[RoleRecord | None, bool]:
        """The persisted record of ``role`` for the core's RoleBook (see ``RoleSource``)."""
        try:
            data = self.keep.load_remote_role(role)
            damaged = (self.keep.auto == AutoMode.once.value
                       and self.keep.role_damaged(role))
        except KeepError as ex:
            raise RoleLookupError(str(ex)) from ex
        except (TypeError, ValueError) as ex:  # a subclass's loadRemoteRoleData answer
            raise RoleLookupError(f"role '{role}': {type(ex).__name__}: {ex}") from ex
        return RoleRecord(role, data["acceptance"], data["verhex"], data["pubhex"]), damaged

    # keep ---------------------------------------------------------------------------
    def kept(self, action: Callable[[], Any], what: str) -> bool:
        """Run the keep ``action``; False when the keep fails (counted, logged, not raised)."""
        try:
            action()
        except KeepError as ex:
            self.keep_failed(ex, what)
            return False
        return True

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

    def restore_local(self, saved: Mapping[str, Any]) -> tuple[LocalEstate, Address, int]:
        """The local estate, listening address and uid counter saved in the keep (see
        ``load_local``); KeepError naming the local estate file when they are unusable."""
        try:
            listen = listen_ha(tuple(saved["aha"]))
            local = LocalEstate(stack=None, name=saved["name"], uid=saved["uid"],
                                ha=tuple(saved["ha"]), iha=saved["iha"],
                                natted=saved["natted"], fqdn=saved["fqdn"],
                                dyned=saved["dyned"], role=saved["role"],
                                sigkey=saved["sighex"], prikey=saved["prihex"])
        except (StackError, EstateError, ValueError, TypeError) as ex:
            raise KeepError(f"Keep file '{self.keep.localfilepath}' is unusable: {ex}; "
                            f"{LOCAL_HINT}") from ex
        return local, listen, saved["puid"]

    def restoreLocal(self) -> LocalEstate | None:
        """Make the persisted local estate the stack's and return it; None when there is
        none. (The socket stays bound where it is.)"""
        saved = self.keep.load_local()
        if saved is None:
            return None
        local, _, self.puid = self.restore_local(saved)
        local.stack = self
        self.local = local
        return local

    def restoreRemote(self, name: str) -> RemoteEstate | None:
        """Rebuild and add the persisted record ``name`` with its saved ``sid``.

        None when there is none, or when it cannot be rebuilt: its file is then set aside as
        damaged, so the peer can join afresh. StackError when a record of that name is held
        already, as in raet: remove it first; the file is left alone.
        """
        data = self.keep.load_remote(name)
        return None if data is None else self.restore_remote(name, data)

    def restore_remote(self, name: str, data: Mapping[str, Any]) -> RemoteEstate | None:
        """Rebuild and add record ``name`` from its keep ``data`` (see restoreRemote)."""
        held = self.nameRemotes.get(name)
        if held is not None:
            raise StackError(f"Cannot restore remote {name!r}: it is held already as uid "
                             f"{held.uid} (remove it first)")
        try:
            return self.rebuild_remote(data)
        except (EstateError, StackError, ValueError, TypeError, KeyError) as ex:
            self.incStat("failed_restore_remote")
            self.keep.set_aside_remote(name, f"cannot restore remote {name!r}: {ex}")
            return None

    def restoreRemotes(self) -> None:
        """Rebuild every persisted record (see :meth:`restoreRemote`; StackError, and
        nothing more restored, at the first one held already)."""
        for name, data in self.keep.load_all_remotes().items():
            self.restore_remote(name, data)

    def resume_remotes(self) -> None:
        """At start-up: rebuild every persisted record, each resuming with ``sid + 1`` (a new
        session, so nothing of the last one can be replayed into it).

        The new ids are written only when first used (see :meth:`wake`): a restart writes
        nothing, and a crash before then resumes with the same unused id again. Then the
        delivery journal tells each record what it delivered before (``restore_journal``).
        """
        self.restoreRemotes()
        for remote in self.remotes.values():
            remote.nextSid()
            self.unsaved_sessions[id(remote)] = remote
        data = self.keep.load_journal()
        # (what was found counts as not compacted: the first append past JournalMax
        # compacts it, so restarts cannot let the journal grow)
        self.journal_size = len(data)
        self.restore_journal(data)

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
