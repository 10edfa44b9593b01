"""Alive transactions: heartbeat and presence on an allowed link (``tk`` 4).

Request and ack carry empty bodies, so their coats are empty; both are always signed (a
receiver drops unsigned alive packets).
"""
from __future__ import annotations

import enum

from ..raeting import FootKind, PcktKind, TrnsKind
from .packeting import Packet
from .transacting import Transaction


class Aliver(Transaction):
    """Initiator side: one request, waiting for its ack."""

    class State(enum.StrEnum):
        started = "started"  # made, request not sent
        requested = "requested"  # request sent: waits for the ack
        done = "done"

    Transitions = {State.requested: {
        PcktKind.ack: "on_ack", PcktKind.nack: "on_nack", PcktKind.refuse: "on_refuse",
        PcktKind.reject: "on_reject", PcktKind.unjoined: "on_unjoined",
        PcktKind.unallowed: "on_unallowed"}}
    Moves = {State.started: frozenset({State.requested})}
    Awaits = {PcktKind.request: State.requested}
    kind = TrnsKind.alive
    fk = FootKind.nacl
    Timeout = 2.0
    RedoTimeoutMin = 0.25
    RedoTimeoutMax = 1.0

    def alive(self) -> None:
        stack, remote = self.stack, self.remote
        if not remote.joined:
            stack.console.terse(f"Aliver {stack.name}. Must be joined with {remote.name} first\n")
            stack.incStat("unjoined_remote")
            stack.join(uid=remote.uid, cascade=self.cascade, timeout=self.timeout)
            return
        if not remote.allowed:
            stack.console.terse(f"Aliver {stack.name}. Must be allowed with {remote.name} first\n")
            stack.incStat("unallowed_remote")
            stack.allow(uid=remote.uid, cascade=self.cascade, timeout=self.timeout)
            return
        remote.refresh(alived=None)
        self.add()
        if self.send(PcktKind.request):
            self.log("Do Alive")

    def handle(self, name: str, packet: Packet) -> None:
        """An answer whose body does not decode (an unknown coat kind, say) changes
        nothing: it is counted (``parsing_inner_error``) and the redo asks again, as raet
        does."""
        if self.decode(packet) is not None:
            super().handle(name, packet)

    def timed_out(self) -> None:
        self.remove()
        self.remote.refresh(alived=False)
        self.log("Timed out")

    def redo(self) -> None:
        self.resend()
        self.stack.incStat("redo_alive")
        self.log("Redo")

    def on_ack(self, packet: Packet) -> None:
        self.remove()
        self.remote.refresh(alived=True)
        self.log("Done")
        self.stack.incStat("alive_complete")

    def on_nack(self, packet: Packet) -> None:
        self.remove()
        self.remote.refresh(alived=None)
        self.fail("Refused by")

    on_refuse = on_nack

    def on_reject(self, packet: Packet) -> None:
        self.remove()
        self.remote.refresh(alived=False)
        self.fail("Rejected by")

    def on_unjoined(self, packet: Packet) -> None:
        self.remove()
        self.remote.refresh(alived=None)
        self.remote.moved("refused")
        self.fail("Refused unjoin by")
        self.stack.join(uid=self.remote.uid, cascade=self.cascade, timeout=self.timeout)

    def on_unallowed(self, packet: Packet) -> None:
        self.remove()
        self.remote.refresh(alived=None)
        self.remote.moved("disallowed")
        self.fail("Refused unallow by")
        self.stack.allow(uid=self.remote.uid, cascade=self.cascade, timeout=self.timeout)


class Alivent(Transaction):
    """Correspondent side: answers a request at once and ends."""

    class State(enum.StrEnum):
        started = "started"  # made by a request, not answered yet (its timeout nacks)
        done = "done"

    Transitions = {State.started: {PcktKind.request: "on_request"}}
    Awaits = {PcktKind.ack: State.done}
    kind = TrnsKind.alive
    fk = FootKind.nacl
    rmt = True
    Timeout = 10.0  # only for one made, and not answered, by hand: its ``process`` nacks

    def timed_out(self) -> None:
        self.nack()

    def on_request(self, packet: Packet) -> None:
        self.alive()

    def alive(self) -> None:
        stack, remote = self.stack, self.remote
        if not remote.joined:
            remote.refresh(alived=None)
            stack.console.terse(f"Alivent {stack.name}. Must be joined with {remote.name} first\n")
            stack.incStat("unjoined_alive_attempt")
            self.nack(PcktKind.unjoined)
            return
        if not remote.allowed:
            remote.refresh(alived=None)
            stack.console.terse(f"Alivent {stack.name}. Must be allowed with {remote.name} first\n")
            stack.incStat("unallowed_alive_attempt")
            self.nack(PcktKind.unallowed)
            return
        if self.decode(self.rxPacket) is None:
            return
        if self.send(PcktKind.ack):
            self.log("Do ack alive")
            remote.refresh(alived=True)
            self.log("Done")
            stack.incStat("alive_complete")
