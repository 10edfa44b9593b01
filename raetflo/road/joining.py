"""Join transactions: exchange names, roles, uids and long-term keys (``tk`` 1).

The joiner (here) sends a request and waits for a response (or pend); the joinent
(:mod:`.joinent`) answers according to the key-acceptance policy of its keep. Both sides
complete on the joiner's final ack. Join packets are unsigned and unencrypted, with JSON
bodies and ``si`` 0. What both sides share is here: the join body, its checks, the record
updates.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..events import RemoteRejected
from ..raeting import (OPERATION_MAIN, Acceptance, BodyKind, CoatKind, FootKind, PcktKind,
                       StackError, TrnsKind)
from .addressing import show_ha
from .naming import check_name
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
