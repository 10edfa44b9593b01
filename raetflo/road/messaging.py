"""Message transactions: signed, encrypted, segmented delivery of one body (``tk`` 0).

The messenger encrypts the body once, splits the coat into segments and sends them in
bursts; the messengent collects segments, asks for missing ones (resend) or more (ack)
and answers done once the whole message is in. Delivery is exactly once: the receiver
remembers the tids it delivered (``delivery.DeliveredMemory``) and answers a repeat with
done; the sender re-sends a message it has not seen confirmed with the same tid. A nacked
message is parked while a :class:`Prober` alive asks whether the peer still has our session.
"""
from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from itertools import islice
from typing import Any

from ..raeting import MAX_MESSAGE_SIZE, MAX_SEGMENT_COUNT, PcktKind, TrnsKind
from . import offload, outbox, packeting
from .aliving import Aliver
from .delivery import Outgoing
from .packeting import Head, Packet, PacketError
from .transacting import Transaction

MAX_MISSEDS = 64  # segment numbers per resend packet, asked for or served


class Messenger(Transaction):
    """Initiator side: sends one message and waits for done."""

    class State(enum.StrEnum):
        started = "started"  # made, nothing sent
        sending = "sending"  # segments sent: waits for ack, resend or done
        acknowledged = "acknowledged"  # the peer answered: retransmissions carry af
        done = "done"

    _answers = {PcktKind.ack: "on_ack", PcktKind.resend: "on_resend", PcktKind.done: "on_done",
                PcktKind.nack: "on_nack"}
    Transitions = {State.sending: _answers, State.acknowledged: _answers}
    Moves = {State.started: frozenset({State.sending}),
             State.sending: frozenset({State.acknowledged})}
    del _answers
    kind = TrnsKind.message
    RedoTimeoutMin = 0.2
    RedoTimeoutMax = 0.5

    def __init__(self, stack, remote, entry: Outgoing, encoded: bytes, **kwa) -> None:
        super().__init__(stack, remote, timeout=entry.remaining(stack.now),
                         tid=entry.tid, **kwa)
        self.entry = entry
        if entry.tid is None:  # a first try: its tid is one a restart must not give again
            stack.journal.reserving(remote, self.tid)
        entry.tid = self.tid
        self.segments: list[tuple[Head, bytes]] = []
        self.burst = stack.BurstSize
        self.next = 0  # next segment of the current pass
        self.last_sn = 0
        self.retransmitted = False  # a segment went twice
        self.rewound = (-1, -math.inf)  # (segment, time) of the last ack that sent us back
        self.sent = 0  # segments 0 .. sent-1 have gone at least once
        self.resent: dict[int, float] = {}  # segment -> when it last went for a request
        self.encoded = encoded

    @property
    def acked(self) -> bool:
        """Whether the peer answered (ack or resend): retransmissions then carry af."""
        return self.state is self.State.acknowledged

    @property
    def body(self) -> Any:
        return self.entry.body

    def tried(self) -> Outgoing:
        """The entry of this message, marked unconfirmed when this try may have arrived:
        every segment went at least once. A refusal leaves that open too: raet refuses a
        copy of a message it has delivered, and the network can make the copy."""
        if self.segments and self.sent >= len(self.segments):
            self.entry.unconfirmed = True
        return self.entry

    def message(self) -> None:
        """Encrypt, segment and send the first burst."""
        stack, remote = self.stack, self.remote
        try:
            coat = packeting.encrypt(self.head.ck, self.encoded, remote.box)
            self.segments = packeting.segment(self.head, coat)
        except PacketError as ex:
            stack.console.terse(f"{ex}\n")
            stack.incStat("packing_error")
            outbox.give_up(stack, remote, self.tried(), str(ex))
            return
        self.encoded = b""
        self.add()
        self.move(self.State.sending)
        self.send_burst()
        if self.logs():
            for sn in range(self.next):
                self.log(f"Do Message Segment {sn}")

    def send_segments(self, sns: Sequence[int], af: bool) -> bool:
        """Queue segments ``sns`` in order, ``wf`` on the last (the peer answers it), signed
        together (``packeting.pack_many``); False when they could not be packed (counted,
        and this try has ended)."""
        if not sns:
            return True
        parts = []
        last = len(sns) - 1
        for index, sn in enumerate(sns):
            head, chunk = self.segments[sn]
            wf = index == last
            parts.append((head.copy(wf=wf, af=af) if (wf or af) else head, chunk))
        stack = self.stack
        pool = offload.crypto_pool(stack, len(parts))
        if not self.queue_many(lambda: packeting.pack_many(parts, stack.local.signer, pool,
                                                           stack.signing)):
            return False
        self.last_sn = sns[-1]
        self.sent = max(self.sent, self.last_sn + 1)
        return True

    def send_burst(self) -> None:
        """Send segments from ``self.next``: all of them, or ``BurstSize`` at a time."""
        count = len(self.segments)
        end = count if not self.burst else min(count, self.next + self.burst)
        if self.send_segments(range(self.next, end), af=self.acked):  # (restarts the redo)
            self.stack.incStat("message_segment_tx", end - self.next)
            self.next = end

    def redo(self) -> None:
        self.retransmitted = True
        if self.acked and self.txPacket is not None:
            self.send_segments([self.last_sn], af=True)
        else:
            self.resend()
        self.redoTimer.restart()
        self.stack.incStat("redo_segment")
        self.log(f"Redo Segment {self.last_sn}")

    def on_ack(self, packet: Packet) -> None:
        self.remote.refresh(alived=True)
        self.stack.incStat("message_ack_rx")
        self.move(self.State.acknowledged)
        nxt = packet.head.sn + 1
        if nxt < len(self.segments):
            if nxt < self.next:
                if self.repeated_rewind(nxt):
                    return
                self.retransmitted = True
                self.log(f"Current {self.next} is ahead of requested {nxt}. Adjust.")
            self.next = nxt
            self.send_burst()
        elif self.next < len(self.segments):
            self.send_burst()

    def repeated_rewind(self, nxt: int) -> bool:
        """Whether an ack sending us back to segment ``nxt`` (to send it and the rest again)
        repeats one taken less than a redo interval ago that went back as far (a copy, or a
        peer making us send the message again and again): it is dropped then, counted
        ``duplicate_ack``."""
        sn, when = self.rewound
        now = self.stack.now
        if nxt <= sn and now < when + self.redoTimer.duration:
            self.stack.incStat("duplicate_ack")
            return True
        self.rewound = (nxt, now)
        return False

    def on_resend(self, packet: Packet) -> None:
        self.remote.refresh(alived=True)
        self.stack.incStat("message_resend_rx")
        self.move(self.State.acknowledged)
        body = self.decode(packet)
        misseds = body.get("misseds") if isinstance(body, dict) else None
        if not isinstance(misseds, list) or not misseds:
            self.stack.console.terse(f"Messenger {self.stack.name}. Invalid resend request "
                                     f"'{misseds}'\n")
            self.stack.incStat("invalid_resend")
            return
        count = len(self.segments)
        valid = list(islice(dict.fromkeys(sn for sn in misseds  # each listed once
                                          if isinstance(sn, int) and 0 <= sn < count),
                            MAX_MISSEDS))
        if len(valid) != len(misseds):
            self.stack.incStat("invalid_misseds")
        valid = self.not_just_resent(valid)
        if not valid:
            return
        self.retransmitted = True
        if not self.send_segments(valid, af=True):
            return
        self.stack.incStat("message_segment_tx", len(valid))
        for sn in valid:
            self.log(f"Do Resend Message Segment {sn}")
        self.redoTimer.restart()

    def not_just_resent(self, sns: list[int]) -> list[int]:
        """Of segments ``sns`` a resend request names, those not resent for a request in
        the last half of the least redo interval (an honest peer asks again only after its
        own redo; copies of one request cost their segments once), noted as resent now;
        a request naming some that were is counted ``duplicate_resend``."""
        now, resent = self.stack.now, self.resent
        since = now - self.redoTimeoutMin / 2
        fresh = [sn for sn in sns if resent.get(sn, -math.inf) <= since]
        if len(fresh) != len(sns):
            self.stack.incStat("duplicate_resend")
        for sn in fresh:
            resent[sn] = now
        return fresh

    def on_done(self, packet: Packet) -> None:
        self.remote.refresh(alived=True)
        self.stack.incStat("message_complete_rx")
        self.remove()
        self.log("Done")
        outbox.delivered(self.stack, self.remote, self.tried())

    def on_nack(self, packet: Packet) -> None:
        """Refused: the peer may have lost our session; park the message and ask."""
        self.remote.refresh(alived=True)
        self.remove()
        self.fail("Refused by")
        entry = self.tried()
        entry.nacked_sid = self.sid
        outbox.park(self.stack, self.remote, entry)

    def timed_out(self) -> None:
        self.remove()
        self.log("Timed out")
        outbox.give_up(self.stack, self.remote, self.tried(), "timed out")

    def nack(self, pk: int = PcktKind.nack) -> None:
        super().nack(pk)
        outbox.give_up(self.stack, self.remote, self.tried(), "aborted")

    def stale_initiator(self) -> None:
        """The session moved on: save the message to go again with its tid, end this try."""
        outbox.save(self.stack, self.remote, self.tried())
        self.stack.console.concise(f"Stack {self.stack.name}: Saved stale message with remote "
                                   f"{self.remote.name}\n")
        super().stale_initiator()


# what holding one received segment costs beside its bytes (its bytes object and its slot in
# the chunks dict: some 110 bytes measured), charged to the incoming budgets with its bytes
# as it arrives
SEGMENT_COST = 128
# what holding one open message costs beside its segments (its transaction, timers, heads,
# index and deadline entries: some 1.5 kB measured), charged while it is open
OPEN_COST = 2048


class Messengent(Transaction):
    """Correspondent side: collects segments and answers ack, resend or done."""

    class State(enum.StrEnum):
        started = "started"  # made by a first segment, not taken yet
        receiving = "receiving"  # collecting segments: waits for the rest
        done = "done"

    Transitions = {State.receiving: {PcktKind.message: "on_message",
                                     PcktKind.nack: "on_nack"}}
    Moves = {State.started: frozenset({State.receiving})}
    kind = TrnsKind.message
    rmt = True
    RedoTimeoutMin = 0.2
    RedoTimeoutMax = 0.5
    IdleTimeout = 60.0  # give up on a sender silent this long (the reference never does)
    MaxIncoming = 4096  # unfinished incoming messages held per remote
    MaxIncomingTotal = 65536  # and by all of a stack's remotes
    MaxIncomingBytes = 160 * 2**20  # what they hold (see ``charged``), per remote
    MaxIncomingBytesTotal = 512 * 2**20  # what those of all of a stack's remotes hold
    MaxScan = 4096  # segment numbers examined per reply past the lowest missing one
    QuietRedos = 6  # asks for the rest while no new segment comes (then the sender's redo)

    def __init__(self, stack, remote, **kwa) -> None:
        super().__init__(stack, remote, timeout=self.IdleTimeout, **kwa)
        first = self.rxPacket.head
        head = self.head  # made for this transaction alone
        head.ck, head.fk, head.wf = first.ck, first.fk, first.wf
        self.count = first.sc
        self.length = first.ml
        self.bk: int = first.bk  # this message's body kind
        self.chunks: dict[int, bytes] = {}  # sn -> coat slice, only what arrived
        self.held = 0  # bytes in chunks, never more than the announced length
        # what is charged to the incoming budgets while open: the bytes held and what
        # holding each segment costs beside them (so held memory, not only held bytes, is
        # bounded); charged as segments arrive, so an announcement alone holds nothing
        self.charged = 0
        self.highest = -1
        self.scan = 0  # lowest segment that may still be missing
        self.quiet = 0  # redos since the last new segment

    def start(self) -> None:
        """Take the packet that created this transaction, within the incoming budgets; a
        whole message in one packet is taken at once, never held as an open message."""
        stack, remote = self.stack, self.remote
        if self.count > 1 and not (0 < self.length <= MAX_MESSAGE_SIZE
                                   and self.count <= min(self.length, MAX_SEGMENT_COUNT)):
            stack.incStat("parsing_message_error")
            self.nack()
            return
        if stack.inbox_full():
            stack.incStat("message_rx_full")
            stack.console.terse(f"Messengent {stack.name}. Inbox full: refusing a message "
                                f"from {remote.name} until the received ones are taken\n")
            self.nack()
            return
        if self.count > 1:
            whole = self.length + self.count * SEGMENT_COST + OPEN_COST
            if (remote.incoming >= self.MaxIncoming or stack.incoming >= self.MaxIncomingTotal
                    or whole > min(self.MaxIncomingBytes, self.MaxIncomingBytesTotal)
                    or not self.charge(OPEN_COST)):
                self.overloaded(whole)  # too many open, too big ever to fit, or no room
                return
            self.add()
            remote.incoming += 1
            stack.incoming += 1
        elif remote.incoming >= self.MaxIncoming:
            self.overloaded(0)
            return
        self.move(self.State.receiving)
        self.on_message(self.rxPacket)

    def overloaded(self, more: int) -> None:
        """Refuse this message: taking ``more`` bytes would pass an incoming bound."""
        stack, remote = self.stack, self.remote
        stack.incStat("message_overload")
        stack.console.terse(f"Messengent {stack.name}. Overloaded by {remote.name}: "
                            f"{remote.incoming} open messages holding {remote.incoming_bytes} "
                            f"bytes ({stack.incoming_bytes} from all), {more} more refused\n")
        self.nack()

    def charge(self, cost: int) -> bool:
        """Charge ``cost`` more bytes held to the incoming budgets; False (and nothing
        charged) when that would pass the remote's or the stack's."""
        remote, stack = self.remote, self.stack
        if (remote.incoming_bytes + cost > self.MaxIncomingBytes
                or stack.incoming_bytes + cost > self.MaxIncomingBytesTotal):
            return False
        self.charged += cost
        remote.incoming_bytes += cost
        stack.incoming_bytes += cost
        return True

    def on_message(self, packet: Packet) -> None:
        head = packet.head
        self.rxPacket = None  # (an open message holds its segments' coats, not datagrams)
        self.remote.refresh(alived=True)
        if head.sc != self.count or (self.count > 1 and head.ml != self.length):
            self.stack.incStat("parsing_message_error")
            return
        if head.sn not in self.chunks:
            coat = packet.coat
            if self.count > 1 and (not coat or self.held + len(coat) > self.length):
                self.stack.incStat("parsing_message_error")
                self.stack.console.terse(f"Messengent {self.stack.name}. Segment {head.sn} "
                                         f"is empty or would exceed the announced "
                                         f"{self.length} bytes\n")
                return
            if self.count > 1 and not self.charge(len(coat) + SEGMENT_COST):
                self.overloaded(len(coat) + SEGMENT_COST)
                return
            self.chunks[head.sn] = coat
            self.held += len(coat)
            self.highest = max(self.highest, head.sn)
            self.stack.incStat("message_segment_rx")
            # while new segments come the redo waits: asking for what is on its way (the
            # rest of a burst a busy loop has not read yet) sends the sender back to send
            # it all again; and only they keep the message open (copies of one do not)
            self.timer.restart()
            self.redoTimer.restart(duration=min(self.redoTimer.duration, self.redoTimeoutMax))
            self.quiet = 0
        if len(self.chunks) == self.count:
            self.complete(head.sn)
        elif head.wf:
            self.reply()

    def missing(self) -> list[int]:
        """Up to MAX_MISSEDS missing segments below the highest one, lowest first.

        Looks at most MaxScan numbers past the lowest missing one, which is always found,
        so later replies ask for the rest once it has arrived.
        """
        chunks = self.chunks
        while self.scan < self.highest and self.scan in chunks:
            self.scan += 1
        misseds: list[int] = []
        for sn in range(self.scan, min(self.highest, self.scan + self.MaxScan)):
            if sn not in chunks:
                misseds.append(sn)
                if len(misseds) == MAX_MISSEDS:
                    break
        return misseds

    def reply(self) -> None:
        """Ask for missing segments below the highest one, or for more."""
        misseds = self.missing()
        if misseds:
            self.send(PcktKind.resend, {"misseds": misseds})
            self.stack.incStat("message_resend_tx")
            self.log(f"Do Resend Segments {misseds}")
        else:
            self.send(PcktKind.ack, sn=self.highest)
            self.stack.incStat("message_more_ack")
            self.log(f"Do Ack More from {self.highest + 1} on Segment {self.highest}")

    def redo(self) -> None:
        self.reply()

    def backoff(self) -> None:
        """Ask again later while no new segment comes, each time twice as late, and after
        ``QuietRedos`` asks not at all: the sender's own redo (a copy of its last segment,
        which we answer) drives it from there, so a peer gone silent with a message open
        costs us a few signed packets, not two a second until ``IdleTimeout``."""
        self.quiet += 1
        if self.quiet < self.QuietRedos:
            self.redoTimer.restart(duration=self.redoTimer.duration * 2.0)
        else:
            self.redoTimer.restart(duration=self.timeout)  # (the idle timer comes first)

    def complete(self, sn: int) -> None:
        stack = self.stack
        chunks = self.chunks
        coat = b"".join(chunks[sn] for sn in range(self.count)) if self.count > 1 else chunks[0]
        self.chunks = {}
        self.remove()
        if self.count > 1 and len(coat) != self.length:
            stack.incStat("parsing_message_error")
            self.send(PcktKind.nack)
            return
        try:
            body = packeting.decode_body(self.bk, packeting.decrypt(self.head.ck, coat,
                                                                    self.remote.box),
                                         stack.BodyMap)
        except PacketError as ex:
            stack.console.terse(f"{ex}\n")
            stack.incStat("parsing_message_error")
            self.send(PcktKind.nack)
            return
        self.send(PcktKind.done)
        stack.incStat("message_complete_ack")
        self.log(f"Do Ack Done Message on Segment {sn}")
        stack.journal.delivered(self.remote, self.tid)
        self.remote.delivered.add(self.tid)
        self.remote.last_done = (self.tid, stack.now)
        stack.deliver(body, self.remote.name)
        self.log("Complete")
        stack.incStat("messengent_correspond_complete")

    def remove(self) -> None:
        if self.added:
            remote, stack = self.remote, self.stack
            remote.incoming -= 1
            stack.incoming -= 1
            remote.incoming_bytes -= self.charged
            stack.incoming_bytes -= self.charged
            self.charged = 0
        super().remove()

    def timed_out(self) -> None:
        self.chunks = {}
        self.remove()
        self.fail("Timed out")

    def on_nack(self, packet: Packet) -> None:
        self.chunks = {}
        self.remove()
        self.fail("Rejected by")


class Prober(Aliver):
    """An alive asking whether the peer still has our session, for messages waiting on it.

    Holds the messages parked when the peer nacked them. Its ack (session intact) gives
    up those nacked in the session it ran in and confirms the session for re-sends; the
    others, and all of them at any other end, are saved for the next allow. The outbox
    learns the outcome once, from ``outbox.probe_settled``.
    """

    def __init__(self, stack, remote, entries: list[Outgoing], **kwa) -> None:
        super().__init__(stack, remote, **kwa)
        self.entries = entries
        self.answered = False  # acked: the peer has our session
        self.aborted = False  # ended by us (the remote goes away)

    def alive(self) -> None:
        self.remote.prober = self
        super().alive()
        if not self.added:  # not joined or allowed: a join or allow was started instead
            self.settle()

    def on_ack(self, packet: Packet) -> None:
        self.answered = True
        super().on_ack(packet)

    def nack(self, pk: int = PcktKind.nack) -> None:
        self.aborted = True
        super().nack(pk)

    def remove(self) -> None:
        super().remove()
        self.settle()

    def settle(self) -> None:
        if self.remote.prober is self:
            self.remote.prober = None
            outbox.probe_settled(self.stack, self)
