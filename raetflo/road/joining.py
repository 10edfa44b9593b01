"""Join transactions: exchange names, roles, uids and long-term keys (``tk`` 1).

The joiner sends a request and waits for a response (or pend); the joinent answers
according to the key-acceptance policy of its keep. Both sides complete on the joiner's
final ack. Join packets are unsigned and unencrypted, with JSON bodies and ``si`` 0.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..events import RemoteRejected
from ..raeting import (OPERATION_MAIN, Acceptance, BodyKind, CoatKind, FootKind, PcktKind,
                       StackError, TrnsKind)
from . import admission, moving
from .addressing import show_ha
from .naming import check_name
from .persisting import RoleLookupError
from .transacting import Transaction

if TYPE_CHECKING:
    from .estating import RemoteEstate
    from .packeting import Packet

REFUSALS = {PcktKind.nack: "on_nack", PcktKind.refuse: "on_refuse",
            PcktKind.reject: "on_reject"}
REQUEST_FIELDS = ("name", "mode", "kind", "verhex", "pubhex", "role")
RESPONSE_FIELDS = ("name", "mode", "kind", "uid", "verhex", "pubhex", "role")


def check_label(value: Any, field: str) -> str:
    """``value`` if it can name a keep file (see ``naming.check_name``), else ValueError."""
    try:
        return check_name(value, f"remote {field}")
    except ValueError as ex:
        raise ValueError(f"{ex} in join packet") from None


class JoinBody:
    """The validated fields of a join request or response body."""

    def __init__(self, body: Any, fields: tuple[str, ...]) -> None:
        if not isinstance(body, Mapping):
            raise ValueError(f"Join packet body is a {type(body).__name__}, not a mapping")
        missing = [f for f in fields if f not in body]
        if missing:
            raise ValueError(f"Missing remote {missing[0]} in join packet")
        mode = body["mode"]
        if not isinstance(mode, int) or not 0 <= mode <= 255:
            raise ValueError(f"Invalid join mode {mode!r}")
        kind = body["kind"]
        if not isinstance(kind, int) or not 0 <= kind <= 255:
            raise ValueError(f"Invalid application kind {kind!r}")
        for field in ("name", "verhex", "pubhex", "role"):
            if not isinstance(body[field], str) or not body[field]:
                raise ValueError(f"Invalid remote {field} in join packet")
        for field in ("verhex", "pubhex"):
            value = body[field]
            if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
                raise ValueError(f"Invalid remote {field} in join packet")
        for field in ("name", "role"):
            check_label(body[field], field)
        uid = body.get("uid", 0)
        if "uid" in fields and (not isinstance(uid, int) or isinstance(uid, bool)
                                or not 0 < uid <= 0xFFFFFFFF):
            raise ValueError(f"Invalid remote uid {uid!r} in join packet")
        self.name: str = body["name"]
        self.main = bool(mode & OPERATION_MAIN)
        self.kind: int = int(kind)
        self.verhex: str = body["verhex"].lower()
        self.pubhex: str = body["pubhex"].lower()
        self.role: str = body["role"]
        self.uid: int = uid

    def same_role_keys(self, remote: RemoteEstate) -> bool:
        return (self.role == remote.role and self.verhex == remote.verhex
                and self.pubhex == remote.pubhex)


def established(remote: RemoteEstate) -> bool:
    """Whether ``remote`` is a joined link whose keys are accepted."""
    return remote.joined is True and remote.acceptance == Acceptance.accepted


class JoinBase(Transaction):
    """What joiner and joinent share: head kinds, body, acceptance and record updates."""

    kind = TrnsKind.join
    bk = BodyKind.json
    ck = CoatKind.nada
    fk = FootKind.nada
    vacuous: bool  # the joiner has no uid of its peer yet (each side sets it when made)

    def __init__(self, *args: Any, **kwa: Any) -> None:
        super().__init__(*args, **kwa)
        self.established = established(self.remote)  # before this join started

    def initial_sid(self) -> int:
        return 0

    def body(self, uid: int | None = None) -> dict:
        stack = self.stack
        body: dict[str, Any] = dict(name=stack.local.name,
                                    mode=OPERATION_MAIN if stack.main else 0,
                                    kind=stack.kind or 0)
        if uid is not None:
            body["uid"] = uid
        body.update(verhex=stack.local.signer.verhex, pubhex=stack.local.priver.pubhex,
                    role=stack.local.role)
        return body

    def parse(self, packet: Packet, fields: tuple[str, ...], stat: str) -> JoinBody | None:
        body = self.decode(packet)
        if body is None:
            return None
        try:
            return JoinBody(body, fields)
        except ValueError as ex:
            self.stack.console.terse(f"{ex}\n")
            self.stack.incStat(stat)
            return None

    def same_all(self, info: JoinBody, fuid: int) -> bool:
        remote = self.remote
        return (info.same_role_keys(remote) and info.name == remote.name
                and tuple(self.rx_sa) == tuple(remote.ha) and fuid == remote.fuid
                and info.main == bool(remote.main) and info.kind == remote.kind)

    def judge(self, keyed: JoinBody | RemoteEstate) -> int | None:
        """The verdict on a role and its keys (an ``Acceptance`` value), persisting nothing
        (the join does when it completes or pends); None when the lookup fails."""
        return self.stack.judge(keyed.role, keyed.verhex, keyed.pubhex, keyed)

    def recheck(self) -> int | None:
        """Re-read a pending remote's acceptance (on the redo timer); None on a keep error:
        the next redo tries again."""
        status = self.judge(self.remote)
        if status is not None:
            self.remote.acceptance = status
        return status

    def name_free(self, info: JoinBody) -> bool:
        """Whether ``info``'s name is this record's or no record's; else the join is
        rejected (False)."""
        other = self.stack.nameRemotes.get(info.name)
        if other is None or other is self.remote:
            return True
        self.stack.console.terse(f"{type(self).__name__} {self.stack.name}. Name "
                                 f"'{info.name}' unavailable for remote {self.remote.name}\n")
        self.nack(PcktKind.reject)
        return False

    def update_remote(self, info: JoinBody, fuid: int) -> bool:
        """Adopt name, address, ids and keys from ``info``. False when this join has ended
        instead: rejected on a name clash, or failed when the stack cannot rename."""
        stack, remote = self.stack, self.remote
        if info.name != remote.name:
            if not self.name_free(info):
                return False
            if remote.uid in stack.remotes:
                try:
                    stack.renameRemote(remote, info.name)
                except StackError as ex:
                    stack.console.terse(f"{ex}\n")
                    self.remove()
                    self.fail("Rename failed", prep="of", level="terse")
                    return False
            else:
                remote.name = info.name
        remote.ha = self.rx_sa
        remote.fuid = fuid
        remote.main = info.main
        remote.kind = info.kind
        remote.role = info.role
        remote.set_keys(info.verhex, info.pubhex)
        return True

    def mark_joined(self) -> None:
        """Mark the link joined and persist it (both sides).

        After a vacuous join the peer may be a new incarnation that counts sids and tids
        from the start again: its session id is forgotten, and the session from before the
        join (if any) must be renewed by an allow before messages are taken again (a
        replayed join cannot reopen old messages to replay). What it delivered stays
        remembered: the first packet of the next session tells a restarted peer by its
        tid (see ``RemoteEstate.peer_session_changed``), and a join is unsigned."""
        remote = self.remote
        if remote.sid == 0:
            remote.nextSid()
            remote.removeStaleInitiators()
        if self.vacuous:
            remote.rsid = 0
            if remote.allowed:
                remote.moved("rekeyed")
        remote.moved("joined")
        self.stack.pendings.pop(remote.uid, None)
        self.stack.persist_remote(remote)
        self.stack.persist_local()

    def remove(self) -> None:
        """Drop this join and its address entry, unless another join uses that address."""
        super().remove()
        joinees = self.stack.joinees
        if joinees.get(self.sa) is self.remote and not any(
                join.sa == self.sa for join in self.remote.joinInProcess()):
            del joinees[self.sa]

    def handle(self, name: str, packet: Packet) -> None:
        """Count a received packet as ``<joiner|joinent>_rx_<kind>`` and hand it to its
        handler ``name``."""
        self.stack.incStat(f"{type(self).__name__.lower()}_rx_{PcktKind(packet.head.pk).name}")
        super().handle(name, packet)

    @property
    def pended(self) -> bool:
        return self.state is self.State.pended

    # raet's names of the handlers, for the last packet received
    def pend(self) -> None:
        self.on_pend(self.rxPacket)

    def refuse(self) -> None:
        self.on_nack(self.rxPacket)

    def reject(self) -> None:
        self.on_reject(self.rxPacket)

    def on_pend(self, packet: Packet) -> None:
        if self.decode(packet) is not None:
            self.move(self.State.pended)

    def on_nack(self, packet: Packet) -> None:
        if self.decode(packet) is None:
            return
        self.remove()
        self.fail("Refused", prep="by", level="terse", who=self.peer())

    on_refuse = on_nack

    def peer(self) -> str:
        """The peer as a log line names it: its name once a link was established, else
        its address (before a join the name is a placeholder)."""
        remote = self.remote
        return remote.name if self.established else show_ha(remote.ha)

    def on_reject(self, packet: Packet) -> None:
        """Forget the rejecting peer; the keep files of a link that was established before
        this join stay (a reject is unauthenticated)."""
        stack, remote = self.stack, self.remote
        if self.decode(packet) is None:
            return
        self.remove()
        self.fail("Rejected", prep="by", level="terse", who=self.peer())
        stack.emit(RemoteRejected(remote.name, remote.uid))
        if remote.uid in stack.remotes:
            if self.established:
                stack.console.terse(f"{type(self).__name__} {stack.name}. Keeping the keep "
                                    f"files of established remote {remote.name}\n")
            stack.removeRemote(remote, clear=not self.established)


class Joiner(JoinBase):
    """Initiator side of a join."""

    class State(enum.StrEnum):
        started = "started"  # made, request not sent
        requested = "requested"  # request sent: waits for a response, pend or refusal
        pended = "pended"  # the joinent awaits its operator: waits for the response
        pending = "pending"  # pend sent, we await our operator: redos re-check acceptance
        done = "done"

    _answers = {PcktKind.response: "on_response", PcktKind.pend: "on_pend",
                PcktKind.renew: "on_renew", **REFUSALS}
    Transitions = {State.requested: _answers, State.pended: _answers,
                   State.pending: {PcktKind.response: "on_response", **REFUSALS}}
    Moves = {State.started: frozenset({State.requested, State.pending}),
             State.requested: frozenset({State.pended, State.pending}),
             State.pended: frozenset({State.pending})}
    Awaits = {PcktKind.request: State.requested, PcktKind.pend: State.pending}
    del _answers
    RedoTimeoutMin = 1.0
    RedoTimeoutMax = 4.0

    def __init__(self, stack, remote, timeout=None, cascade=False, renewal=False, **kwa) -> None:
        timeout = stack.JoinerTimeout if timeout is None else timeout
        super().__init__(stack, remote, timeout=timeout, cascade=cascade, **kwa)
        self.renewal = renewal
        self.vacuous = remote.fuid == 0

    def join(self) -> None:
        stack, remote = self.stack, self.remote
        if remote.joinInProcess():
            self.log(f"Join with {remote.name} already in process. Aborting...", prep="", who="")
            return
        remote.moved("unjoined")
        if stack.kind is None:
            stack.kind = 0
        if not 0 <= stack.kind <= 255:
            self.log(f"Invalid application kind field value {stack.kind} for {remote.name}. "
                     "Aborting...", prep="", who="")
            return
        self.add()
        if not self.send(PcktKind.request, self.body()):
            return
        if self.vacuous:
            stack.joinees[self.sa] = remote
        self.log("Do Join")

    def redo(self) -> None:
        if self.state in (self.State.requested, self.State.pended):
            self.resend()
            self.stack.incStat("joiner_tx_join_redo")
            self.log("Redo Join")
        elif self.state is self.State.pending:
            status = self.recheck()
            if status == Acceptance.accepted:
                self.completify()
            elif status == Acceptance.rejected:
                self.log("Rejected keys", prep="of")
                self.stack.removeRemote(self.remote)  # ends this join, unsent (as raet's)

    def on_response(self, packet: Packet) -> None:
        info = self.parse(packet, RESPONSE_FIELDS, "invalid_accept")
        if info is None:
            self.remove()
            return
        stack, remote = self.stack, self.remote
        if self.vacuous:
            # first contact: the response tells us who the peer is
            remote.fuid = info.uid
            if not self.renewal and not self.update_remote(info, info.uid):
                return
        same_role_keys = info.same_role_keys(remote)
        same_all = self.same_all(info, info.uid)
        if not same_all and not stack.mutable:
            stack.console.terse(f"Joiner {stack.name}. Attempt to change immutable road by "
                                f"'{remote.name}'\n")
            self.nack(PcktKind.reject)
            return
        status = self.judge(info)
        if status is None:  # the keep failed: wait for a repeated response
            return
        if status == Acceptance.rejected:
            if same_role_keys:  # the record goes, this join with it, silently (as raet's)
                stack.removeRemote(remote)
            else:
                self.nack(PcktKind.reject)
            return
        remote.acceptance = status
        if not same_all and not self.update_remote(info, info.uid):
            return
        if status == Acceptance.accepted:
            self.completify()
        else:
            self.pendify()

    # raet's names of the steps -----------------------------------------------------
    def pendify(self) -> None:
        """Keep the pending remote and tell the joinent we wait for our operator."""
        self.stack.persist_remote(self.remote)
        self.ackPend()

    def ackPend(self) -> None:
        if self.send(PcktKind.pend):
            self.log("Do Ack Pend", prep="of")

    def completify(self) -> None:
        """Accept the joinent's answer: mark the link joined and ack."""
        self.mark_joined()
        self.ackAccept()

    def ackAccept(self) -> None:
        """Send the final ack and end this join (allowing next, with ``cascade``)."""
        self.remove()
        if not self.send(PcktKind.ack):
            return
        self.log("Do Ack Accept, Done")
        self.stack.incStat("join_initiate_complete")
        if self.cascade:
            self.stack.allow(uid=self.remote.uid, cascade=True, timeout=self.timeout)

    def accept(self) -> None:
        """raet's name of the response handler."""
        self.on_response(self.rxPacket)

    def renew(self) -> None:
        self.on_renew(self.rxPacket)

    def on_renew(self, packet: Packet) -> None:
        stack, remote = self.stack, self.remote
        if not stack.mutable:
            stack.console.terse(f"Joiner {stack.name}. Renew from '{remote.name}' not allowed "
                                "on immutable road\n")
            stack.incStat("join_renew_unallowed")
            self.remove()
            self.fail("Refused", prep="by", level="terse", who=self.peer())
            return
        self.log("Renew from", level="terse")
        stack.incStat("join_renew_attempt")
        self.remove()
        remote.fuid = 0
        stack.persist_remote(remote)
        stack.join(uid=remote.uid, timeout=self.timeout, cascade=self.cascade, renewal=True)


class Joinent(JoinBase):
    """Correspondent side of a join, created by a request with no transaction."""

    class State(enum.StrEnum):
        started = "started"  # made by a request, not answered yet
        pending = "pending"  # pend sent, we await our operator: redos re-check acceptance
        responded = "responded"  # response sent: waits for the ack (or a pend)
        pended = "pended"  # the joiner awaits its operator: waits for the ack
        done = "done"

    _answers = {PcktKind.request: "on_request", PcktKind.ack: "on_ack",
                PcktKind.pend: "on_pend", **REFUSALS}
    Transitions = {State.pending: {PcktKind.request: "on_request", **REFUSALS},
                   State.responded: _answers, State.pended: _answers}
    Moves = {State.started: frozenset({State.pending, State.responded}),
             State.pending: frozenset({State.responded}),
             State.responded: frozenset({State.pended})}
    Awaits = {PcktKind.pend: State.pending, PcktKind.response: State.responded}
    del _answers
    RedoTimeoutMin = 0.1
    RedoTimeoutMax = 2.0
    rmt = True
    RefusesByAddress = True

    def __init__(self, stack, remote, timeout=None, **kwa) -> None:
        timeout = stack.JoinentTimeout if timeout is None else timeout
        super().__init__(stack, remote, timeout=timeout, **kwa)
        self.vacuous = self.rxPacket.head.de == 0
        self.fresh = False  # this join made the record of a new estate
        self.answered = False  # the joiner sent more than its request
        self.staged: tuple[JoinBody, int] | None = None  # changes due when the join completes

    def handle(self, name: str, packet: Packet) -> None:
        self.answered = self.answered or packet.head.pk != PcktKind.request
        super().handle(name, packet)

    def remove(self) -> None:
        """End this join. A record it made goes too when the joiner never answered (a join
        flood, or a joiner that is gone): it was never kept, and it is not waited for. A
        joiner that answered may think the join done (its stale nack of our repeated
        response says so); its record stays, so its next allow hears 'unjoined' and it
        joins again. Those answers are unsigned: at most ``MaxPendingRemotes`` such
        records stay, the oldest forgotten first (see :func:`.admission.hold_unjoined`)."""
        super().remove()
        if self.fresh and not self.remote.joined:
            self.fresh = False
            if self.answered:
                admission.hold_unjoined(self.stack, self.remote)
            else:
                self.stack.removeRemote(self.remote, clear=False)

    def timed_out(self) -> None:
        self.remove()
        self.send(PcktKind.nack)
        self.fail("Timed out")

    def redo(self) -> None:
        if self.state in (self.State.responded, self.State.pended):
            self.resend()
            self.stack.incStat("joinent_tx_accept_redo")
            self.log("Redo Accept")
        elif self.state is self.State.pending:
            status = self.recheck()
            if status == Acceptance.accepted:
                self.ackAccept()
            elif status == Acceptance.rejected:
                self.stack.incStat("join_rejected")
                self.stack.removeRemote(self.remote)  # nacks this joinent first

    def on_request(self, packet: Packet) -> None:
        """A repeated request for this live transaction is absorbed."""
        self.stack.incStat("duplicate_join_attempt")
        self.log("Duplicate join from", prep="", who=f"{self.remote.name}. Dropping...")

    def join(self) -> None:
        """Judge the request that created this transaction and answer it."""
        stack, packet = self.stack, self.rxPacket
        info = self.parse(packet, REQUEST_FIELDS, "invalid_join")
        if info is None:
            return
        status = self.judge(info)
        if status is None:  # the keep failed: the joiner's repeat tries again
            return
        if status != Acceptance.rejected and not stack.mutable and self.rekeys_role(info):
            return
        fuid = packet.head.se
        if not self.vacuous and not self.same_all(info, fuid) and not stack.mutable:
            self.refuse_change()  # before it may end a join of ours (anyone can send it)
            return
        if not self.resolve_races(info):
            return
        if self.crowded(info, status):
            return
        if self.vacuous:
            if not stack.main:
                stack.console.terse(f"Joinent {stack.name}. Invalid vacuous join not main\n")
                self.nack(PcktKind.reject)
                return
            known = stack.nameRemotes.get(info.name)
            if known is not None and known is not self.remote:
                self.adopt(known)
                # a record that never joined (pinned by the operator) learns the
                # joiner's ids and address here, as a provisional one does
                if not known.fuid and not self.update_remote(info, fuid):
                    return
            elif not self.established:  # a provisional record, or our own vacuous joiner's
                if self.remote.fuid and self.remote.fuid != fuid:
                    self.nack(PcktKind.reject)
                    return
                if not self.update_remote(info, fuid):
                    return
        remote = self.remote
        same_role_keys = info.same_role_keys(remote)
        same_all = self.same_all(info, fuid)
        if not same_all and not stack.mutable:
            self.refuse_change()
            return
        if status == Acceptance.rejected:
            stack.incStat("join_rejected")
            stack.console.concise(
                f"Joinent {stack.name}. Keys of role='{info.role}' rejected for remote "
                f"name='{info.name}' nuid='{remote.uid}' fuid='{fuid}' ha='{self.sa}'\n")
            if same_role_keys and remote.uid in stack.remotes:
                stack.removeRemote(remote)
            else:
                self.nack(PcktKind.reject)
            return
        remote.acceptance = status
        if not same_all:
            if self.established:  # a joined link changes once this (unsigned) join completes
                if not self.name_free(info):
                    return
                self.staged = (info, fuid)
            elif not self.update_remote(info, fuid):
                return
        if remote.uid not in stack.remotes:
            remote.uid = remote.uid or stack.nextUid()
            try:
                stack.addRemote(remote)
            except StackError as ex:  # its name or address is another record's already
                stack.console.terse(f"Joinent {stack.name}. Cannot add remote: {ex}\n")
                stack.incStat(self.failure_stat)
                self.remove()
                return
            self.fresh = True
            stack.console.concise(
                f"Joinent {stack.name}. Added new remote name='{remote.name}' nuid='{remote.uid}' "
                f"fuid='{remote.fuid}' ha='{remote.ha}' role='{remote.role}'\n")
        self.add()
        if self.vacuous:  # the ack still has de 0: it is matched by our address
            stack.joinees[self.sa] = remote
        if not self.established or status != Acceptance.accepted:
            # an unauthenticated request does not unjoin a link, unless the keep no
            # longer accepts its keys (the operator forgot or pended them)
            remote.moved("unjoined")
        if status == Acceptance.accepted:
            self.ackAccept()
        else:
            self.pendify()

    def rekeys_role(self, info: JoinBody) -> bool:
        """Whether the join would give its role other keys than the ones the road accepted
        for the estates of that role it holds (under any name): refused then, counted
        ``join_role_keys_changed``."""
        stack = self.stack
        known = stack.nameRemotes.get(info.name)
        if known is not None and known.role == info.role:
            return False  # its own keys changing: refused as any change of it is
        try:
            stored, _ = stack.roles.get(info.role)
        except RoleLookupError:
            return False  # (the judging that came first counted it)
        if (stored is None or stored.acceptance != Acceptance.accepted
                or (stored.verhex, stored.pubhex) == (info.verhex, info.pubhex)
                or info.role not in stack.held_roles()):
            return False
        stack.incStat("join_role_keys_changed")
        stack.incStat("join_rejected")
        stack.console.terse(f"Joinent {stack.name}. Attempt to change immutable road: "
                            f"'{info.name}' has other keys than the ones accepted for role "
                            f"'{info.role}' (a mutable road takes them; or forget the "
                            f"role's keys first)\n")
        self.nack(PcktKind.reject)
        return True

    def refuse_change(self) -> None:
        """Reject a join that would change the record on an immutable road (counted
        ``join_rejected``, as every join we reject)."""
        self.stack.incStat("join_rejected")
        self.stack.console.terse(f"Joinent {self.stack.name}. Attempt to change immutable "
                                 f"road by '{self.remote.name}' (its keys or address, say; a "
                                 "mutable road takes changes)\n")
        self.nack(PcktKind.reject)

    def pendify(self) -> None:
        """Keep the pending remote for the operator (until it expires) and tell the joiner."""
        self.fresh = False
        self.stack.persist_remote(self.remote)
        admission.note_pending(self.stack, self.remote)
        self.ackPend()

    def ackPend(self) -> None:
        if self.send(PcktKind.pend):
            self.redoTimer.restart(duration=0.0)  # first status re-check at once
            self.log("Do Ack Pending accept", prep="of")

    def crowded(self, info: JoinBody, status: int) -> bool:
        """Refuse a new estate the road has no room for (see ``admission.no_room``)."""
        refusal = admission.no_room(self.stack, self.remote, info.name, status)
        if refusal is None:
            return False
        stat, why = refusal
        self.stack.incStat(stat)
        self.stack.console.terse(f"Joinent {self.stack.name}. {why}: refusing new estate "
                                 f"'{info.name}'\n")
        self.nack(PcktKind.refuse)
        return True

    def adopt(self, remote: RemoteEstate) -> None:
        """Continue this vacuous join on the known record of the same name."""
        self.stack.joinees[self.sa] = remote
        self.remote = remote
        self.established = established(remote)

    def resolve_races(self, info: JoinBody) -> bool:
        """Settle other joins on this record; False when this one must yield."""
        stack = self.stack
        for other in list(self.remote.joinInProcess()):
            if other is self:
                continue
            # another joinent wins; a non-vacuous join beats a vacuous one; else the lesser
            # local name yields
            if other.rmt or (self.vacuous and not other.vacuous) or (
                    self.vacuous == other.vacuous and stack.local.name < info.name):
                stack.incStat("redundant_join_attempt")
                self.nack(PcktKind.refuse)
                return False
            other.nack(PcktKind.refuse)
        return True

    def ackAccept(self) -> None:
        """Send the response that accepts the joiner."""
        if self.send(PcktKind.response, self.body(uid=self.remote.uid)):
            self.log("Do Accept", prep="of")

    def complete(self) -> None:
        """raet's name of the final ack handler."""
        self.on_ack(self.rxPacket)

    def on_ack(self, packet: Packet) -> None:
        if self.decode(packet) is None:
            return
        former = None
        if self.staged is not None:
            info, fuid = self.staged
            self.staged = None
            former = moving.remember(self.remote, self.rx_sa)
            old_keys = (self.remote.verhex, self.remote.pubhex)
            if not self.update_remote(info, fuid):
                return
            if old_keys != (info.verhex, info.pubhex):
                self.stack.incStat("join_keys_replaced")
                self.stack.console.terse(
                    f"Joinent {self.stack.name}. Established remote '{info.name}' has new "
                    f"keys from a join at {show_ha(self.rx_sa)} (the road is mutable)\n")
        self.mark_joined()
        if former is not None:
            self.remote.former = former
        if self.fresh:
            self.stack.unproven[self.remote.uid] = self.stack.now
        self.remove()
        self.log("Done")
        self.stack.incStat("join_correspond_complete")

