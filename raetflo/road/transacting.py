"""Transaction base: named states, timers, redo back-off, packet building and the log format.

A transaction is one side of one exchange with one remote. It is driven by its stack:
``receive(packet)`` for each matching packet and ``process()`` on every service pass.
It never touches sockets: outgoing packets go to ``stack.tx`` and time is the stack's
Store stamp.

Its progress is one named state (the class's ``State``: what it waits for). Three class
tables say what each state allows: ``Transitions`` the packet kinds it takes and their
handlers (any other kind is dropped, counted as ``unexpected_packet``), ``Moves`` the
states it may move to (besides ``done``, always allowed; a wrong move is a bug, counted as
``invalid_state_move``, and ends the transaction), ``Awaits`` the state that sending a
packet kind puts it in.
"""
from __future__ import annotations

import enum
import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from .. import raeting
from ..raeting import NACK_KINDS, Acceptance, BodyKind, CoatKind, FootKind, PcktKind, TrnsKind
from ..timing import Timer
from . import packeting
from ..nacling import Shared
from .packeting import Head, Packet, PacketError, Unsigned

if TYPE_CHECKING:
    from .estating import Address, RemoteEstate
    from .core import RoadCore

Index = tuple
TX_DATA_KINDS = ("hk", "bk", "ck", "fk")  # the keys of raet's ``txData`` a transaction honours


class State(enum.StrEnum):
    """The states every transaction kind has; each kind's own enum adds what it waits for."""

    started = "started"  # made, nothing sent yet
    done = "done"  # ended (completed, failed or dropped): takes no packet


Table = Mapping[Any, Mapping[Any, str]]  # state -> packet kind -> handler name


def packet_index(head: Head, source: Address, sent: bool = False) -> Index:
    """Transaction index ``(rf, le, re, si, ti, bf)`` of a received (or sent) packet."""
    if sent:
        rf, le, re = head.cf, head.se, head.de
        vacuous = (head.de == 0 and not head.cf) or (head.se == 0 and head.cf)
    else:
        rf, le, re = not head.cf, head.de, head.se
        vacuous = (head.se == 0 and head.cf) or (head.de == 0 and not head.cf)
    return (rf, le, source if vacuous else re, head.si, head.ti, head.bf)


def codec_packet(rx: Any) -> tuple[Any, Address | None]:
    """Our parsed packet for ``rx``, and its source when known.

    ``rx`` is either one (returned as is) or a packet object written for raet, whose
    ``packed`` bytes have been parsed (and verified) already and whose ``data`` may carry
    the source in ``sh``/``sp``.
    """
    if rx is None or isinstance(rx, Packet):
        return rx, None
    data = getattr(rx, "data", None) or {}
    sa = (data["sh"], data["sp"]) if data.get("sh") and data.get("sp") else None
    return packeting.parse(rx.packed, veritive=False), sa


class DeadlineTimer(Timer):
    """A transaction's timer: it tells its owner of a restart only when that brought its
    deadline forward. The core's deadline heap finds one that moved later by itself, when
    the old entry comes up (see ``RoadCore.schedule``), so the restarts of every packet
    sent or taken, which only move deadlines later, cost no heap entry."""

    __slots__ = ()
    NotifyLater = False

    def restart(self, start: float | None = None,
                duration: float | None = None) -> tuple[float, float]:
        if start is None and duration is None:  # (every packet sent or taken)
            now = self.clock.now
            if now >= self.start:  # the deadline moves later or stays: nobody to tell
                self.start = now
                return now, now + self.duration
        return super().restart(start, duration)


class Transaction:
    """One side of one exchange; subclasses set the kind, timers and packet handlers.

    Keyword arguments raet's transactions take: ``redoTimeoutMin``, ``redoTimeoutMax`` and
    ``pendRedoTimeout`` (default: the class attributes, read when the transaction is made,
    so setting ``Joiner.RedoTimeoutMin`` applies to later joins), ``bcst`` (kept)
    and ``txData`` (its head kinds ``hk``/``bk``/``ck``/``fk`` replace the stack's, except
    where the transaction kind fixes them: joins unsigned, alives and allows signed).
    """

    kind: ClassVar[TrnsKind] = TrnsKind.unknown
    Timeout: ClassVar[float] = 0.0
    RedoTimeoutMin: ClassVar[float] = 0.25
    RedoTimeoutMax: ClassVar[float] = 1.0
    PendRedoTimeout: ClassVar[float] = 60.0
    rmt: ClassVar[bool] = False  # True for the correspondent (remotely initiated) side
    # whether a refusal goes to the address the peer wrote from even once the record is
    # removed (raet's joinent's does; every other refusal goes by the record)
    RefusesByAddress: ClassVar[bool] = False
    bk: BodyKind | int | None = None  # None: the stack's default (a messengent: its message's)
    ck: ClassVar[CoatKind | None] = None
    fk: ClassVar[FootKind | None] = None
    State: ClassVar[Any] = State  # each kind's own enum (enums with members cannot extend)
    Transitions: ClassVar[Table] = {}  # state -> packet kind taken -> its handler's name
    Moves: ClassVar[Mapping[Any, frozenset]] = {}  # state -> states it may move to
    Awaits: ClassVar[Mapping[Any, Any]] = {}  # packet kind sent -> state it moves to

    def __init__(self, stack: RoadCore, remote: RemoteEstate, timeout: float | None = None,
                 sid: int | None = None, tid: int | None = None,
                 rxPacket: Any = None, sa: Address | None = None,
                 cascade: bool = False, redoTimeoutMin: float | None = None,
                 redoTimeoutMax: float | None = None, pendRedoTimeout: float | None = None,
                 bcst: bool = False, txData: Mapping[str, Any] | None = None) -> None:
        self.stack = stack
        self.remote = remote
        self.timeout = self.Timeout if timeout is None else timeout
        self.cascade = cascade
        self.bcst = bcst
        self._tx_data = txData  # raet's txData: the one given, else made when first asked for
        self.redoTimeoutMin = self.RedoTimeoutMin if redoTimeoutMin is None else redoTimeoutMin
        self.redoTimeoutMax = self.RedoTimeoutMax if redoTimeoutMax is None else redoTimeoutMax
        self.pendRedoTimeout = (self.PendRedoTimeout if pendRedoTimeout is None
                                else pendRedoTimeout)
        rxPacket, rx_sa = codec_packet(rxPacket)
        self.rxPacket = rxPacket
        self.sa = sa or rx_sa or remote.ha  # the peer's address (a correspondent answers it)
        self.rx_sa = self.sa  # source of the last packet received
        if self.rmt:
            if sid is None or tid is None or rxPacket is None:
                raise TypeError("a correspondent needs sid, tid and rxPacket")
        else:
            sid = self.initial_sid() if sid is None else sid
            tid = remote.nextTid() if tid is None else tid
        self.sid = sid
        self.tid = tid
        self.timer = DeadlineTimer(stack, duration=self.timeout, on_change=self.reschedule)
        self.redoTimer = DeadlineTimer(stack, duration=self.redoTimeoutMin,
                                       on_change=self.reschedule)
        self.txPacket: bytes | Unsigned | None = None
        self.state = self.State.started
        self.head = self.base_head()
        self.index = packet_index(self.head, self.sa, sent=True)
        if txData is not None:
            self.fill_tx_data(txData)

    # construction -------------------------------------------------------
    def initial_sid(self) -> int:
        return self.remote.sid

    def base_head(self) -> Head:
        """Head fields shared by every packet this transaction sends."""
        stack, remote, rx = self.stack, self.remote, self.rxPacket
        if self.rmt:
            se, de = rx.head.de, rx.head.se
        else:
            se, de = remote.uid, remote.fuid
        head = Head(tk=self.kind, cf=self.rmt, se=se, de=de, si=self.sid, ti=self.tid,
                    bf=stack.Bf, hk=stack.Hk, bk=stack.Bk, ck=stack.Ck, fk=stack.Fk)
        if self._tx_data:
            for key, value in self.tx_kinds().items():
                setattr(head, key, value)
        for key in TX_DATA_KINDS[1:]:  # the kinds this transaction kind fixes win
            fixed = getattr(self, key)
            if fixed is not None:
                setattr(head, key, fixed)
        return head

    @property
    def txData(self) -> Any:
        """raet's ``txData``: this transaction's head fields, as a mapping whose head kinds
        (``hk``/``bk``/``ck``/``fk``) the packets it sends from then on use. Made only when
        given or asked for, so the transactions nobody inspects pay nothing for it."""
        if self._tx_data is None:
            self._tx_data = {}
            self.fill_tx_data(self._tx_data)
        return self._tx_data

    @txData.setter
    def txData(self, value: Any) -> None:
        self._tx_data = value

    def fill_tx_data(self, data: Any) -> None:
        """Record the head fields in ``data`` (raet reads them from there)."""
        head = self.head
        data.update(dh=self.sa[0], dp=self.sa[1], se=head.se, de=head.de, tk=head.tk,
                    cf=head.cf, bf=head.bf, si=head.si, ti=head.ti,
                    **{key: getattr(head, key) for key in TX_DATA_KINDS})

    def tx_kinds(self) -> dict[str, Any]:
        """The head kinds ``txData`` holds now (none while nobody made it)."""
        data = self._tx_data
        if not data:
            return {}
        return {key: data[key] for key in TX_DATA_KINDS if key in data}

    # life cycle -----------------------------------------------------------
    def add(self, remote: RemoteEstate | None = None, index: Index | None = None) -> None:
        """Add self to its remote's transactions (raet's ``remote`` and ``index`` replace
        this transaction's own)."""
        if remote is not None:
            self.remote = remote
        if index is not None:
            self.index = index
        self.remote.addTransaction(self.index, self)
        self.stack.schedule(self)
        if self.logs("verbose"):
            self.stack.console.verbose(f"Added transaction to {self.remote.name} at "
                                       f"'{self.index}'\n")

    def reschedule(self) -> None:
        """A timer changed: tell the core the new deadline (once this is added)."""
        if self.added:
            self.stack.schedule(self)

    def remove(self) -> None:
        self.remote.removeTransaction(self.index, self)
        self.move(self.State.done)

    # state --------------------------------------------------------------------------
    def move(self, state: Any) -> bool:
        """Enter ``state`` if ``Moves`` allows it (``done`` and staying put always are).

        A wrong move is a bug: it is counted (``invalid_state_move``) and logged, and it
        ends this transaction; False then. Done, its timers stop calling it back: that
        loop would keep a finished transaction, its packets with it, for the cycle
        collector."""
        if state is self.State.done:
            self.state = state
            self.timer.on_change = self.redoTimer.on_change = None
            return True
        if state is self.state or state in self.Moves.get(self.state, ()):
            self.state = state
            return True
        self.stack.incStat("invalid_state_move")
        self.log(f"Invalid move from state {self.state} to {state}, ending", prep="with",
                 level="terse")
        self.remove()
        return False

    def sending(self, pk: int) -> bool:
        """Enter the state that sending ``pk`` puts this side in (``Awaits``); False when
        that move is wrong (and this transaction has ended)."""
        state = self.Awaits.get(pk)
        return state is None or self.move(state)

    @property
    def pended(self) -> bool:
        """Whether the peer awaits its operator, so redos wait ``pendRedoTimeout``."""
        return False

    @property
    def added(self) -> bool:
        return self.remote.transactions.get(self.index) is self

    @property
    def deadline(self) -> float:
        """When ``process`` next has something to do: the redo, or the timeout if sooner."""
        redo = self.redoTimer.stop
        return min(redo, self.timer.stop) if self.timeout > 0.0 else redo

    def process(self) -> None:
        """Check the overall timeout, then the redo timer."""
        if self.timeout > 0.0 and self.timer.expired:
            self.timed_out()
            return
        if self.redoTimer.expired:
            self.redo()
            self.backoff()

    def backoff(self) -> None:
        """Double the redo interval within its bounds (or the long interval once pended)."""
        if self.pended:
            duration = self.pendRedoTimeout
        else:
            duration = min(max(self.redoTimeoutMin, self.redoTimer.duration * 2.0),
                           self.redoTimeoutMax)
        self.redoTimer.restart(duration=duration)

    def timed_out(self) -> None:
        self.remove()
        self.log("Timed out")

    def redo(self) -> None:
        """Resend on redo expiry; subclasses override."""

    def receive(self, packet: Any, sa: Address | None = None) -> None:
        """Hand a matching packet (ours, or one written for raet) to the handler the
        ``Transitions`` of the current state name for its kind; a kind the state does not
        take is dropped (see :meth:`unexpected`) and changes nothing."""
        packet, rx_sa = codec_packet(packet)
        name = self.Transitions.get(self.state, {}).get(packet.head.pk)
        if name is None:
            self.unexpected(packet)
            return
        self.rxPacket = packet
        sa = sa or rx_sa
        if sa is not None:
            self.rx_sa = sa
        self.handle(name, packet)

    def unexpected(self, packet: Packet) -> None:
        """The one place a packet wrong for the current state is dropped: counted as
        ``unexpected_packet`` and logged."""
        pk = packet.head.pk
        kind = PcktKind(pk).name if pk in PcktKind._value2member_map_ else pk
        self.stack.incStat("unexpected_packet")
        self.log(f"Dropped {kind} packet unexpected in state {self.state} from", prep="",
                 level="terse")

    def handle(self, name: str, packet: Packet) -> None:
        """Run handler ``name`` on ``packet``."""
        getattr(self, name)(packet)

    # sending ------------------------------------------------------------------
    def send(self, pk: PcktKind, body: Any = None, **changes: Any) -> bool:
        """Build, sign and queue one packet of kind ``pk``; on a packing error drop self."""
        head = self.head.copy(pk=pk, **{**self.tx_kinds(), **changes})
        return self.sending(pk) and self.queue(lambda: self.stack.pack(head, body, self.remote))

    def queue(self, build: Callable[[], bytes | Unsigned]) -> bool:
        """Queue the packet ``build()`` makes; a packing error is counted and ends self."""
        return self.queue_many(lambda: [build()])

    def queue_many(self, build: Callable[[], list[bytes | Unsigned]]) -> bool:
        """Queue the packets ``build()`` makes, in order (the last is the one a redo
        repeats); a packing error is counted and ends self, and then none is queued."""
        try:
            packets = build()
        except PacketError as ex:
            self.packing_failed(ex)
            self.remove()
            return False
        da = self.da
        for packed in packets:
            self.stack.tx_to(packed, da)
        self.txPacket = packets[-1]
        self.redoTimer.restart()
        return True

    @property
    def da(self) -> Address:
        """Where this transaction's packets go: a correspondent's back where the peer
        wrote from, an initiator's to its record's address as it is at each send (as
        raet's: a record whose address changes mid-transaction is followed)."""
        return self.sa if self.rmt else self.remote.ha

    def resend(self) -> None:
        """Queue the last packet sent again."""
        if self.txPacket is not None:
            self.stack.tx_to(getattr(self.txPacket, "packed", self.txPacket), self.da)
            self.redoTimer.restart()

    def transmit(self, packet: Any) -> None:
        """Queue a packet written for raet (a packed ``TxPacket``) as this transaction's
        last one (the one a redo repeats)."""
        if not self.sending(packet.data["pk"]):
            return
        self.stack.tx_to(packet.packed, self.da)
        self.txPacket = packet
        self.redoTimer.restart()

    def nack(self, kind: int = PcktKind.nack) -> None:
        """Send a refusal of ``kind``, count the failure and end the transaction.

        A kind that is no refusal is sent as nothing (a peer would drop it unread).
        """
        self.remove()
        if kind not in NACK_KINDS:
            self.stack.incStat("invalid_nack_kind")
            self.fail(f"Invalid nack kind {kind}, nothing sent", prep="to", level="terse")
            return
        kind = PcktKind(kind)
        if not (self.RefusesByAddress or self.stack.remotes.get(self.remote.uid) is self.remote):
            self.refuse_unsent(kind)
            return
        self.send(kind)
        event = "Do Nack" if kind == PcktKind.nack else f"Do Nack {kind.name.capitalize()}"
        self.fail(event, prep="of", level="terse")

    def refuse_unsent(self, kind: PcktKind) -> None:
        """A refusal once the record is removed, as raet's goes: packed (a packing error
        is counted as one), then not sent, there being no record to send it by; the
        failure counted twice, for the refusal and for its send."""
        try:
            packeting.frame(self.head.copy(pk=kind, **self.tx_kinds()), b"",
                            self.stack.local.signer)
        except PacketError as ex:
            self.packing_failed(ex)
            return
        self.stack.incStat(self.failure_stat)
        self.fail("Removed with its remote, nothing sent", prep="of", level="terse")

    def packing_failed(self, ex: PacketError) -> None:
        self.stack.console.terse(f"{ex}\n")
        self.stack.incStat("packing_error")

    def fail(self, event: str, prep: str = "with", level: str = "concise",
             who: str | None = None) -> None:
        self.stack.incStat(self.failure_stat)
        self.log(event, prep=prep, level=level, who=who)

    @property
    def failure_stat(self) -> str:
        """The stat counting this kind's failed transactions (raet's ``statKey``)."""
        return f"{type(self).__name__.lower()}_transaction_failure"

    def stale_initiator(self) -> None:
        """Own transaction outlived its session: nack it and drop it."""
        self.drop_stale("initiator", "to")

    def stale_correspondent(self) -> None:
        """Peer-started transaction from an older session: nack it and drop it."""
        self.drop_stale("correspondent", "from")

    def drop_stale(self, side: str, prep: str) -> None:
        self.stack.console.terse(
            f"Stack {self.stack.name}: Stale {side} {self.index} {prep} remote "
            f"{self.remote.name} with prior rsid {self.remote.rsid} at {self.stack.now}\n")
        self.stack.incStat(f"stale_{side}")
        self.remove()
        self.send(PcktKind.nack)

    # reception helpers -------------------------------------------------------
    def decode(self, packet: Packet) -> Any:
        """Decrypt and decode a packet's body; ``None`` (counted, logged) when it fails."""
        try:
            return self.stack.unpack_body(packet, self.remote)
        except PacketError as ex:
            self.stack.console.terse(f"{ex}\n")
            self.stack.incStat("parsing_inner_error")
            return None

    # logging ----------------------------------------------------------------
    def logs(self, level: str = "concise") -> bool:
        """Whether the console prints lines of ``level``: a line it would not print is
        not built at all."""
        console = self.stack.console
        return getattr(console.Wordage, level) <= console._verbosity

    def log(self, event: str, prep: str = "with", level: str = "concise",
            who: str | None = None) -> None:
        """One console line: ``<Class> <stack>. <event> <prep> <remote> in <tid> at <t>``."""
        if not self.logs(level):
            return
        console = self.stack.console
        who = self.remote.name if who is None else who
        words = " ".join(w for w in (event, prep, who) if w)
        getattr(console, level)(f"{type(self).__name__} {self.stack.name}. {words} "
                                f"in {self.tid} at {self.stack.now}\n")


def state_tables(classes: Iterable[type[Transaction]]) -> str:
    """The states, ``Transitions``, ``Moves`` and ``Awaits`` of ``classes`` as Markdown."""
    return "\n".join(state_table(cls) for cls in classes)


def state_table(cls: type[Transaction]) -> str:
    """One class's tables as Markdown: a row per state, then what sending moves to."""
    side = "correspondent" if cls.rmt else "initiator"
    rows = [f"### {cls.__name__} ({cls.kind.name} {side})", "",
            "| state | packet kind: handler | moves to |", "|---|---|---|"]
    for state in cls.State:
        takes = ", ".join(f"{PcktKind(kind).name}: {name}"
                          for kind, name in cls.Transitions.get(state, {}).items())
        moves = ", ".join(sorted(cls.Moves.get(state, ())))
        rows.append(f"| {state} | {takes or '-'} | {moves or '-'} |")
    sends = ", ".join(f"{PcktKind(kind).name}: {state}" for kind, state in cls.Awaits.items())
    return "\n".join(rows + ["", f"Sending moves to: {sends or '-'}.", ""])


def pack_packet(head: Head, body: Any, signer: Any, box: Any,
                stream: Shared | None = None) -> bytes | Unsigned:
    """Encode body, coat and foot for ``head`` (no segmentation); ``None`` is an empty body;
    with ``stream``, the signature is made there (see ``packeting.pack``)."""
    if body is None:
        body = b"" if head.bk == BodyKind.raw else {}
    encoded = packeting.encode_body(head.bk, body)
    # a coat kind that cannot be made goes out with an empty coat, as raet sends it: the
    # peer refuses the packet when it decodes the body
    coat = (packeting.encrypt(head.ck, encoded, box)
            if head.ck in (CoatKind.nada, CoatKind.nacl) else b"")
    return packeting.pack(head, coat, signer, stream)


def decode_packet(packet: Packet, box: Any, mapping: type = dict) -> Any:
    """Decrypt and decode the body of a received (unsegmented) packet into ``mapping``."""
    head = packet.head
    return packeting.decode_body(head.bk, packeting.decrypt(head.ck, packet.coat, box),
                                 mapping)


class Staler:
    """raet's answer to a correspondent's packet of a transaction we no longer hold:
    ``nack()`` refuses it (a thin adapter over the stack's stale replies)."""

    def __init__(self, stack: RoadCore, remote: RemoteEstate, rxPacket: Any,
                 kind: int | None = None, sid: int | None = None, tid: int | None = None,
                 txData: Mapping[str, Any] | None = None, **kwa: Any) -> None:
        unknown = set(kwa) - {"timeout", "bcst", "rmt", "txPacket"}
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments "
                            f"{sorted(unknown)}")
        self.stack = stack
        self.remote = remote
        self.rxPacket, rx_sa = codec_packet(rxPacket)
        self.sa = rx_sa or remote.ha
        head = self.rxPacket.head
        self.kind = head.tk if kind is None else kind
        self.sid = head.si if sid is None else sid
        self.tid = head.ti if tid is None else tid
        self.txData = txData if txData is not None else {}

    def nack(self, kind: int = PcktKind.nack) -> None:
        """Refuse the stale packet with ``kind`` (plain nack unless it is a refusal kind)."""
        from .routing import reply_stale
        kind = PcktKind(kind) if kind in NACK_KINDS else PcktKind.nack
        self.stack.console.terse(f"{type(self).__name__} '{self.stack.name}'. Stale "
                                 f"transaction '{self.kind}' from '{self.sa}' in {self.tid} "
                                 f"nacking...\n")
        reply_stale(self.stack, self.rxPacket, self.sa, kind)


class Stalent(Staler):
    """raet's answer to an initiator's packet from a session we no longer accept."""


# raet imports every transaction class from this module; ours live one per kind
_CLASS_MODULES = {"Joiner": "joining", "Joinent": "joining", "Allower": "allowing",
                  "Allowent": "allowing", "Aliver": "aliving", "Alivent": "aliving",
                  "Messenger": "messaging", "Messengent": "messaging"}


def __dir__() -> list[str]:  # (PEP 562: the names made when first used are listed too)
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    module = _CLASS_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __package__), name)


__all__ = ["Transaction", "State", "Staler", "Stalent", "packet_index", "state_tables",
           "pack_packet", "decode_packet", "raeting", "Acceptance", "PcktKind", "TrnsKind",
           *_CLASS_MODULES]
