"""Allow transactions: CurveCP-style hello/cookie/initiate for short-term keys (``tk`` 3).

Precondition: the link is joined. Each allow makes a fresh short-term key pair; it stays
with the transaction, and the link's session keys change only once the handshake is proven
(the allower on the final ack, the allowent on a valid initiate), so a replayed or forged
hello cannot break a working session. On success both sides mark the link allowed and advance
their session id.
"""
from __future__ import annotations

import enum
import secrets

from .. import nacling
from ..raeting import Acceptance, BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from . import outbox
from .packeting import Packet
from .transacting import Transaction

REFUSALS = {PcktKind.nack: "on_nack", PcktKind.refuse: "on_refuse",
            PcktKind.reject: "on_reject"}


class AllowBase(Transaction):
    """What allower and allowent share: raw bodies, signed, not coated."""

    kind = TrnsKind.allow
    bk = BodyKind.raw
    ck = CoatKind.nada
    fk = FootKind.nacl
    RedoTimeoutMin = 0.25
    RedoTimeoutMax = 1.0
    Timeout = 4.0

    def __init__(self, *args, **kwa) -> None:
        super().__init__(*args, **kwa)
        self.privee = nacling.Privateer()  # this handshake's short-term pair
        self.short = b""  # the peer's short-term public key, once known

    def body_bytes(self, packet: Packet) -> bytes | None:
        body = self.decode(packet)
        return body if isinstance(body, bytes) else None

    def allowed(self) -> None:
        """Install this handshake's keys as the link's, mark it allowed, start a new session."""
        remote = self.remote
        remote.former = None  # a move to where it is now is proven (see .moving)
        self.stack.unproven.pop(remote.uid, None)
        remote.install_session(self.privee, self.short)
        remote.moved("allowed")
        remote.refresh(alived=True)
        remote.nextSid()
        remote.removeStaleInitiators()
        self.stack.persist_remote(remote)

    def remove(self) -> None:
        """End; an allow that failed on a still allowed link lets waiting messages go."""
        super().remove()
        remote = self.remote
        if remote.allowed and remote.messages and not remote.allowInProcess():
            outbox.send_saved(self.stack, remote)

    def on_nack(self, packet: Packet) -> None:
        self.remove()
        self.fail("Refused by")

    on_refuse = on_nack

    def on_reject(self, packet: Packet) -> None:
        self.remove()
        self.remote.moved("disallowed")
        self.fail("Rejected by")
        outbox.drop_saved(self.stack, self.remote, "allow rejected")

    def invalid(self, stat: str, why: str) -> None:
        self.stack.console.terse(f"{type(self).__name__} {self.stack.name}. {why}\n")
        self.stack.incStat(stat)
        self.nack(PcktKind.reject)


class Allower(AllowBase):
    """Initiator side: hello, then initiate once the cookie arrives."""

    class State(enum.StrEnum):
        started = "started"  # made, hello not sent
        helloed = "helloed"  # hello sent: waits for the cookie
        initiated = "initiated"  # initiate sent: waits for the ack
        done = "done"

    Transitions = {
        State.helloed: {PcktKind.cookie: "on_cookie", PcktKind.unjoined: "on_unjoined",
                        **REFUSALS},
        State.initiated: {PcktKind.cookie: "on_repeated_cookie", PcktKind.ack: "on_ack",
                          PcktKind.unjoined: "on_unjoined", **REFUSALS}}
    Moves = {State.started: frozenset({State.helloed}),
             State.helloed: frozenset({State.initiated})}
    Awaits = {PcktKind.hello: State.helloed, PcktKind.initiate: State.initiated}

    def hello(self) -> None:
        stack, remote = self.stack, self.remote
        if remote.joinInProcess():
            self.log(f"Attempt to allow while join still in process with {remote.name}. "
                     " Aborting...", prep="", who="")
            stack.incStat("invalid_allow_attempt")
            return
        if remote.allowInProcess():
            self.log(f"Allow with {remote.name} already in process", prep="", who="")
            return
        remote.moved("rekeyed")
        if not remote.joined:
            stack.console.terse(f"Allower {stack.name}. Must be joined first\n")
            stack.incStat("unjoined_remote")
            stack.join(uid=remote.uid, cascade=self.cascade, timeout=self.timeout)
            return
        if remote.pubber is None:
            self.invalid("invalid_allow_attempt", f"No long-term key of {remote.name}")
            return
        self.add()
        if self.send(PcktKind.hello, nacling.hello_pack(self.privee, remote.pubber.keyraw)):
            self.log("Do Hello")

    def redo(self) -> None:
        if self.state is self.State.helloed:
            self.resend()
            self.stack.incStat("redo_hello")
            self.log("Redo Hello")
        elif self.state is self.State.initiated:
            self.resend()
            self.stack.incStat("redo_initiate")
            self.log("Redo Initiate")

    def on_cookie(self, packet: Packet) -> None:
        remote, stack = self.remote, self.stack
        body = self.body_bytes(packet)
        if body is None:
            return
        pubber = remote.pubber
        assert pubber is not None, "allow() sends no hello without the peer's long-term key"
        try:
            short, seid, deid, oreo = nacling.cookie_open(body, self.privee, pubber.keyraw)
        except nacling.CryptoError as ex:
            self.invalid("invalid_cookie", f"Invalid cookie: {ex}")
            return
        if seid != remote.fuid or deid != remote.uid:
            self.invalid("invalid_cookie", f"Invalid cookie ids seid {seid} deid {deid}")
            return
        self.short = short
        initiate = nacling.initiate_pack(self.privee, stack.local.priver, short,
                                         pubber.keyraw, oreo, remote.fqdn)
        if self.send(PcktKind.initiate, initiate):
            self.log("Do Initiate")

    def on_repeated_cookie(self, packet: Packet) -> None:
        """The peer has not got our initiate: send it again."""
        self.resend()

    def on_ack(self, packet: Packet) -> None:
        self.remove()
        self.send(PcktKind.ack)
        self.allowed()
        self.log("Do Ack Final, Done")
        self.stack.incStat("allow_initiate_complete")
        outbox.send_saved(self.stack, self.remote)
        if self.cascade:
            self.stack.alive(uid=self.remote.uid, cascade=True, timeout=self.timeout)

    def on_unjoined(self, packet: Packet) -> None:
        self.remove()
        self.remote.moved("refused")
        self.fail("Rejected unjoin by")
        self.stack.join(uid=self.remote.uid, cascade=self.cascade, timeout=self.timeout)


class Allowent(AllowBase):
    """Correspondent side: cookie for a hello, ack for a valid initiate."""

    rmt = True

    class State(enum.StrEnum):
        started = "started"  # made by a hello, not answered yet
        cookied = "cookied"  # cookie sent: waits for the initiate
        acked = "acked"  # initiate acked, link allowed: waits for the final ack
        done = "done"

    Transitions = {
        State.cookied: {PcktKind.hello: "on_hello", PcktKind.initiate: "on_initiate",
                        **REFUSALS},
        State.acked: {PcktKind.hello: "on_hello", PcktKind.initiate: "on_initiate",
                      PcktKind.ack: "on_ack", **REFUSALS}}
    Moves = {State.started: frozenset({State.cookied}),
             State.cookied: frozenset({State.acked})}
    Awaits = {PcktKind.cookie: State.cookied, PcktKind.ack: State.acked}

    def __init__(self, *args, **kwa) -> None:
        super().__init__(*args, **kwa)
        self.oreo = b""

    def timed_out(self) -> None:
        self.remove()
        self.send(PcktKind.refuse)
        self.fail("Timed out")

    def hello(self) -> None:
        """Answer the hello that created this transaction.

        Nothing of the link changes here: a hello may be replayed, and only a valid initiate
        proves the peer holds the short-term key it announced."""
        stack, remote = self.stack, self.remote
        if remote.joinInProcess():
            self.log(f"Attempt to allow while join still in process with {remote.name}. "
                     "Refusing...", prep="", who="")
            stack.incStat("invalid_allow_attempt")
            self.nack(PcktKind.refuse)
            return
        if not remote.joined:
            stack.console.terse(f"Allowent {stack.name}. Must be joined with {remote.name} first\n")
            stack.incStat("unjoined_allow_attempt")
            self.nack(PcktKind.unjoined)
            return
        body = self.body_bytes(self.rxPacket)
        if body is None:
            return
        try:
            self.short = nacling.hello_open(body, stack.local.priver)
        except nacling.CryptoError as ex:
            self.invalid("invalid_hello", f"Invalid hello: {ex}")
            return
        if not self.still_accepted():
            return
        for other in list(remote.allowInProcess()):
            if other.rmt or stack.local.name < remote.name:
                stack.incStat("redundant_allow_attempt")
                self.nack(PcktKind.refuse)
                return
            other.nack(PcktKind.refuse)
        self.add()
        self.oreo = secrets.token_bytes(nacling.OREO_SIZE)
        cookie = nacling.cookie_pack(stack.local.priver, self.short, self.privee.pubraw,
                                     remote.uid, remote.fuid, self.oreo)
        if self.send(PcktKind.cookie, cookie):
            self.log("Do Cookie")

    def still_accepted(self) -> bool:
        """Judge the joined remote's keys again, as the keep holds them now (an operator
        may have rejected or forgotten them since it joined). When they are no longer
        accepted, answer and return False: rejected keys are refused and the record
        dropped; keys the keep no longer holds accepted unjoin the link, so the remote
        joins again and is judged anew."""
        stack, remote = self.stack, self.remote
        status = stack.judge(remote.role, remote.verhex, remote.pubhex, remote)
        if status is None:  # the keep failed (counted): the allower's redo asks again
            self.nack(PcktKind.refuse)
            return False
        remote.acceptance = status
        if status == Acceptance.accepted:
            return True
        rejected = status == Acceptance.rejected
        stack.incStat("allow_rejected_remote" if rejected else "allow_unaccepted_remote")
        outcome = "refusing and dropping it" if rejected else "it must join again"
        stack.console.terse(f"Allowent {stack.name}. Keys of {remote.name} are "
                            f"{Acceptance(status).name} in the keep: {outcome}\n")
        if rejected:
            self.nack(PcktKind.reject)
            stack.removeRemote(remote)
        else:
            remote.moved("unjoined")
            remote.moved("rekeyed")
            self.nack(PcktKind.unjoined)
        return False

    def on_hello(self, packet: Packet) -> None:
        self.stack.incStat("duplicate_allow_attempt")

    def redo(self) -> None:
        cookied = self.state is self.State.cookied
        if cookied or self.state is self.State.acked:
            self.resend()
            self.stack.incStat("redo_cookie" if cookied else "redo_allow")
            self.log("Redo Cookie" if cookied else "Redo Ack")

    def on_initiate(self, packet: Packet) -> None:
        stack, remote = self.stack, self.remote
        body = self.body_bytes(packet)
        if body is None:
            return
        try:
            init = nacling.initiate_open(body, self.privee, stack.local.priver)
        except nacling.CryptoError as ex:
            self.invalid("invalid_initiate", f"Invalid initiate: {ex}")
            return
        if init.short_pub != self.short or init.oreo != self.oreo:
            self.invalid("invalid_initiate", "Invalid initiate: short key or cookie mismatch")
            return
        if remote.pubber is None or init.long_pub != remote.pubber.keyraw \
                or init.vouched != init.short_pub:
            self.invalid("invalid_initiate", "Invalid initiate: vouch mismatch")
            return
        if init.fqdn != stack.local.fqdn:
            stack.console.terse(f"Allowent {stack.name}. Initiator fqdn '{init.fqdn}' is not "
                                f"'{stack.local.fqdn}'\n")
        if self.send(PcktKind.ack):
            self.allowed()
            self.log("Do Ack Initiate")

    def on_ack(self, packet: Packet) -> None:
        self.remove()
        self.log("Done")
        self.stack.incStat("allow_correspond_complete")
        outbox.send_saved(self.stack, self.remote)
