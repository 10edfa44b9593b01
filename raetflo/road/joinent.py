"""The joinent: a join's answering side (usually the main's).

It checks the request's name, role and keys, judges the keys under the keep's acceptance
policy (accept, pend for the operator, or reject), adds or updates the record and
responds; the joiner's final ack completes the join. See :mod:`.joining`.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from ..raeting import Acceptance, PcktKind, StackError
from . import admission, moving
from .addressing import show_ha
from .joining import REFUSALS, REQUEST_FIELDS, JoinBase, JoinBody, established
from .persisting import RoleLookupError

if TYPE_CHECKING:
    from .core import RoadCore
    from .estating import RemoteEstate
    from .packeting import Packet


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
        records stay, the oldest forgotten first (see :func:`hold_unjoined`)."""
        super().remove()
        if self.fresh and not self.remote.joined:
            self.fresh = False
            if self.answered:
                hold_unjoined(self.stack, self.remote)
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
        """Refuse a new estate (a join flood) past ``MaxRemotes`` records, or while
        ``MaxPendingRemotes`` others await the operator if it would await him too."""
        stack = self.stack
        if self.remote.uid in stack.remotes or info.name in stack.nameRemotes:
            return False
        if len(stack.remotes) >= stack.MaxRemotes and not admission.make_room(stack):
            stat, why = "join_remote_overload", f"{len(stack.remotes)} remotes"
        elif status == Acceptance.pending and len(stack.pendings) >= stack.MaxPendingRemotes:
            stat, why = "join_pending_overload", f"{len(stack.pendings)} remotes await acceptance"
        else:
            return False
        stack.incStat(stat)
        stack.console.terse(f"Joinent {stack.name}. {why}: refusing new estate '{info.name}'\n")
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


def hold_unjoined(stack: RoadCore, remote: RemoteEstate) -> None:
    """Keep the record of a new estate whose join ended unfinished; past
    ``MaxPendingRemotes`` of them the oldest still unjoined one is forgotten."""
    held = stack.unjoined_held
    held[remote.uid] = None
    while len(held) > stack.MaxPendingRemotes:
        uid = next(iter(held))
        del held[uid]
        old = stack.remotes.get(uid)
        if old is not None and not old.joined:
            stack.removeRemote(old, clear=False)
