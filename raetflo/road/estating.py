"""Estates: the local identity of a road stack and its records of remote peers."""
from __future__ import annotations

import ipaddress
import re
import uuid
from typing import TYPE_CHECKING, Any, Callable


from .. import nacling, raeting
from ..coring import Registry
from ..events import RemotePending, RemoteRejected
from ..raeting import Acceptance, TrnsKind
from ..timing import Timer
from . import presence
from .delivery import DeliveredMemory, Outgoing, SavedMessages, tid_newer
from .linking import MOVES, Link, Part, move_setting

if TYPE_CHECKING:
    from .messaging import Prober
    from .moving import Former
    from .core import RoadCore

Address = tuple[str, int]


class EstateError(raeting.EstateError, ValueError):
    """Bad estate configuration (address, name, keys)."""


Resolver = Callable[[str], str]


def literal_host(name: str) -> str:
    """The resolver of a record with no driver: host names are refused."""
    raise EstateError(f"Cannot resolve host name '{name}' without a driver: give an IP "
                      f"address, or add the remote through a RoadStack")


WILDCARD_HOSTS = {"0.0.0.0": raeting.DEFAULT_DST_HOST, "::": "::1"}  # "any" -> loopback


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def dotted_quad(host: str) -> bool:
    """Whether ``host`` is an IPv4 address in its normal form (as ``ipaddress`` writes it),
    told without the cost of ``ipaddress`` (a restart asks for every record)."""
    return _DOTTED_QUAD.fullmatch(host) is not None


def normalize_host(host: str, resolve: Resolver | None = None) -> str:
    """Dotted IP address of ``host``; ``''`` means all interfaces (``0.0.0.0``).

    A name is resolved with ``resolve`` (a driver's lookup; default: none, names are
    refused); EstateError when it cannot be.
    """
    host = host.strip() or "0.0.0.0"
    if dotted_quad(host):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (resolve or literal_host)(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def normalize_ha(ha: Any, default_port: int = raeting.RAET_TEST_PORT,
                 resolve: Resolver | None = None) -> Address:
    """Validate ``ha`` as (host, port) with a normalized host (names resolved with
    ``resolve``, see ``normalize_host``); wildcards become loopback."""
    if ha is None:
        ha = (raeting.DEFAULT_DST_HOST, default_port)
    if not isinstance(ha, (tuple, list)) or len(ha) != 2:
        raise EstateError(f"Invalid host address {ha!r}: expected (host, port)")
    host, port = ha
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise EstateError(f"Invalid port in host address {ha!r}: a port is an int in "
                          "0..65535")
    if not isinstance(host, str):
        raise EstateError(f"Invalid host in host address {ha!r}")
    try:
        host = normalize_host(host, resolve)
    except EstateError as ex:
        # (of the kind the resolver raised: its UnresolvableHost is a socket.gaierror too)
        raise type(ex)(f"Invalid host in host address {ha!r}: {ex}") from None
    return (WILDCARD_HOSTS.get(host, host), port)


class Transactions(Registry):
    """A record's transactions by index, counting them by kind as they come and go (so
    "is an allow under way?" costs no scan of a thousand messages in flight). Emptied,
    it lets its tables go (a dict keeps them after deletes), as thousands of idle records
    would otherwise hold kilobytes each."""

    __slots__ = ("_kinds",)

    def __init__(self) -> None:
        super().__init__()
        self._kinds: dict[int, int] = {}

    def of_kind(self, kind: int) -> int:
        """How many transactions of ``kind`` are held."""
        return self._kinds.get(kind, 0)

    def _count(self, transaction: Any, delta: int) -> None:
        kinds, kind = self._kinds, transaction.kind
        count = kinds.get(kind, 0) + delta
        if count:
            kinds[kind] = count
        else:
            del kinds[kind]

    def _shrink(self) -> None:
        if not self:
            self.clear()

    def __setitem__(self, index: Any, transaction: Any) -> None:
        old = dict.get(self, index)
        if old is not None:
            self._count(old, -1)
        dict.__setitem__(self, index, transaction)
        self._count(transaction, 1)

    def __delitem__(self, index: Any) -> None:
        self._count(dict.__getitem__(self, index), -1)
        dict.__delitem__(self, index)
        self._shrink()

    def pop(self, index: Any, *default: Any) -> Any:
        if index in self:
            transaction = dict.pop(self, index)
            self._count(transaction, -1)
            self._shrink()
            return transaction
        return dict.pop(self, index, *default)

    def clear(self) -> None:
        dict.clear(self)
        self._kinds.clear()

    def update(self, *args: Any, **kwa: Any) -> None:
        for index, transaction in dict(*args, **kwa).items():
            self[index] = transaction

    def setdefault(self, index: Any, default: Any = None) -> Any:
        if index not in self:
            self[index] = default
        return dict.__getitem__(self, index)

    def popitem(self) -> tuple[Any, Any]:
        index, transaction = dict.popitem(self)
        self._count(transaction, -1)
        return index, transaction


class Estate:
    """What the local estate and remote records share: name, uid, address, role. The
    fields are slots; other attributes go to a dict made when the first one is set."""

    __slots__ = ("stack", "uid", "name", "ha", "iha", "natted", "fqdn", "dyned", "role",
                 "sid", "tid", "__dict__")

    def __init__(self, stack: RoadCore | None, uid: int | None = None, name: str = "",
                 prefix: str = "estate", ha: Any = None, iha: Any = None,
                 natted: Any = None, fqdn: str = "", dyned: Any = None, role: str | None = None,
                 sid: int = 0, tid: int = 0) -> None:
        self.stack = stack
        if uid is None and stack is not None:
            uid = stack.nextUid()
        self.uid = uid if uid is not None else 1
        self.name = name or self.nameGuid(prefix)
        resolve = stack.resolve_host if stack is not None else None
        self.ha = normalize_ha(ha, resolve=resolve) if ha else ha
        self.iha = normalize_ha(iha, resolve=resolve) if iha else iha
        self.natted = natted
        if not fqdn and self.ha:
            fqdn = stack.host_fqdn(self.ha[0]) if stack is not None else self.ha[0]
        self.fqdn = fqdn or ""
        self.dyned = dyned
        self.role = role if role is not None else self.name
        self.sid = sid
        self.tid = tid

    @property
    def eha(self) -> Address:
        return self.ha

    @eha.setter
    def eha(self, value: Address) -> None:
        self.ha = value

    @staticmethod
    def normalizeHost(host: str) -> str:
        """Dotted IP address of ``host``, a name looked up as the reference does (this
        adapter is the one lookup a record offers; the core never calls it)."""
        from .resolving import resolve_host  # a driver module: only this adapter needs it
        return normalize_host(host, resolve_host)

    @staticmethod
    def nameGuid(prefix: str = "estate") -> str:
        """A fresh name: ``prefix`` and the hex of a time-based uuid."""
        return f"{prefix}_{uuid.uuid1().hex}"

    def validSid(self, sid: int) -> bool:
        """Whether session id ``sid`` is not older than this estate's own."""
        return validate_sid(sid, self.sid)

    @staticmethod
    def validateSid(new: int, old: int) -> bool:
        """Whether session id ``new`` is not older than ``old``; see ``validate_sid``."""
        return validate_sid(new, old)

    def nextSid(self) -> int:
        """Advance and return this estate's own session id (never 0)."""
        self.sid = raeting.next_id(self.sid, raeting.SID_ROLLOVER)
        return self.sid

    def nextTid(self) -> int:
        """Advance and return the transaction id counter (never 0)."""
        self.tid = raeting.next_id(self.tid, raeting.TID_ROLLOVER)
        return self.tid


class LocalEstate(Estate):
    """The stack's own estate: identity plus long-term signing and encryption keys."""

    def __init__(self, stack: RoadCore | None = None, sigkey: Any = None, prikey: Any = None,
                 ha: Any = None, **kwa: Any) -> None:
        ha = normalize_ha(ha, raeting.RAET_PORT,
                          resolve=stack.resolve_host if stack is not None else None)
        super().__init__(stack, ha=ha, **kwa)
        self.signer = sigkey if isinstance(sigkey, nacling.Signer) else nacling.Signer(sigkey)
        self.priver = prikey if isinstance(prikey, nacling.Privateer) else nacling.Privateer(prikey)


class RemoteEstate(Estate):
    """A stack's record of one peer: ids, address, keys, status and transactions."""

    __slots__ = ("fuid", "main", "kind", "_acceptance", "link", "rsid", "verfer", "pubber",
                 "_privee", "publee", "_box", "transactions", "delivered", "last_done",
                 "peer_tid", "incoming", "incoming_bytes", "messages", "parked", "prober",
                 "confirmed_sid", "presence_filed", "timer", "reapTimer", "journal_start",
                 "tid_reserved", "former")
    stack: RoadCore
    # store seconds after a delivery in which repeats of that message get no done again:
    # they are copies already in flight (the sender's redo of a lost done comes later)
    RepeatDoneQuiet = 0.2
    TidBlock = 1024  # message tids reserved at a time in the journal (see road.journal)

    def __init__(self, stack: RoadCore, uid: int | None = None, fuid: int = 0,
                 main: bool | None = False, kind: int = 0, verkey: Any = None,
                 pubkey: Any = None, acceptance: int | None = None,
                 joined: bool | None = None, rsid: int = 0, ha: Any = None,
                 **kwa: Any) -> None:
        if stack is None:
            raise EstateError("RemoteEstate needs a stack")
        ha = normalize_ha(ha, resolve=stack.resolve_host)
        super().__init__(stack, uid=uid, ha=ha, **kwa)
        self.fuid = fuid
        self.main = main
        self.kind = kind
        self._acceptance = acceptance
        self.link = Link(None if joined is None else bool(joined))
        self.rsid = rsid
        self.verfer: nacling.Verifier | None = None
        self.pubber: nacling.Publican | None = None
        self.set_keys(verkey, pubkey)
        self._privee: nacling.Privateer | None = None  # short-term pair, made when used
        self.publee: nacling.Publican | None = None  # peer's short-term key
        self._box: nacling.Box | None = None
        self.transactions = Transactions()  # index -> transaction
        self.delivered = DeliveredMemory()  # tids of messages delivered from the peer
        # (name, verifier, bytes) its delivery journal lines start with, while those hold
        self.journal_start: tuple[str, Any, bytes] | None = None
        self.tid_reserved = 0  # our message tids to the peer go up to this (road.journal)
        self.last_done: tuple[int, float] | None = None  # tid and stamp of the last delivery
        self.peer_tid = 0  # highest tid seen in the peer's initiator packets
        self.incoming = 0  # unfinished incoming messages (messengents)
        self.incoming_bytes = 0  # what those messages hold (see Messengent.charged)
        self.messages = SavedMessages()  # Outgoing entries waiting for a session
        self.parked: list[Outgoing] = []  # nacked messages waiting for the next probe
        self.prober: Prober | None = None  # the probing alive in process, if any
        self.confirmed_sid = 0  # our sid the peer acked a probe in: re-sends may go
        self.presence_filed: tuple[float, int] = presence.UNFILED  # see presence.Schedule
        self.former: Former | None = None  # before an unproven move (see road.moving)
        self.start_timers(stack)

    def start_timers(self, stack: RoadCore) -> None:
        """Presence timers on ``stack``'s clock; moving them tells its schedule."""
        duration = stack.period if stack.main else stack.period + stack.offset
        self.timer = Timer(stack, duration=duration, on_change=self.presence_moved)
        self.reapTimer = Timer(stack, duration=stack.interim, on_change=self.presence_moved)

    def presence_moved(self) -> None:
        """A presence timer moved: file this record again when that brought its deadline
        before the one it is filed at (a later move is found when the entry comes up)."""
        filed, timer, reap = self.presence_filed[0], self.timer, self.reapTimer
        if timer.start + timer.duration < filed or reap.start + reap.duration < filed:
            self.stack.presence_schedule.file(self)

    def rehome(self, stack: RoadCore) -> None:
        """Make this record one of ``stack``'s: its presence timers run on that store."""
        self.stack = stack
        self.presence_filed = presence.UNFILED
        self.start_timers(stack)

    # link state (views of ``link``; the setters are the reference API's) -------------
    def moved(self, name: str) -> None:
        """Make link move ``name`` (see ``linking.MOVES``), reporting its event and telling
        the stack when it changed the link."""
        link = self.link
        part, value, _ = MOVES[name]
        if getattr(link, part) is value:  # (the usual case: nothing changes)
            return
        event = link.move(name)
        self.stack.link_changed(self.name)
        if event is not None:
            self.stack.emit(event(self.name, self.uid))

    def _set_part(self, part: Part, value: object) -> None:
        self.moved(move_setting(part, value))

    joined = property(lambda self: self.link.join,
                      lambda self, value: self._set_part("join", value))
    allowed = property(lambda self: self.link.session,
                       lambda self, value: self._set_part("session", value))
    alived = property(lambda self: self.link.presence,
                      lambda self, value: self._set_part("presence", value))
    reaped = property(lambda self: self.link.reap,
                      lambda self, value: self._set_part("reap", value))

    @property
    def acceptance(self) -> int | None:
        """The keep's verdict on this remote's keys (an ``Acceptance`` value or None)."""
        return self._acceptance

    @acceptance.setter
    def acceptance(self, value: int | None) -> None:
        old, self._acceptance = self._acceptance, value
        if value != old:
            self.stack.link_changed(self.name)
        if value != old and value in (Acceptance.pending, Acceptance.rejected):
            event = RemotePending if value == Acceptance.pending else RemoteRejected
            self.stack.emit(event(self.name, self.uid))

    # keys ---------------------------------------------------------------
    def set_keys(self, verkey: Any, pubkey: Any) -> None:
        """Adopt the peer's long-term verify and public keys (hex, raw or None)."""
        self.verfer = nacling.Verifier(verkey) if verkey else None
        self.pubber = nacling.Publican(pubkey) if pubkey else None

    @property
    def verhex(self) -> str:
        return self.verfer.keyhex if self.verfer else ""

    @property
    def pubhex(self) -> str:
        return self.pubber.keyhex if self.pubber else ""

    @property
    def nuid(self) -> int:
        return self.uid

    @nuid.setter
    def nuid(self, value: int) -> None:
        self.uid = value

    @property
    def juid(self) -> tuple[int, int]:
        return (self.uid, self.fuid)

    @property
    def privee(self) -> nacling.Privateer:
        """Our short-term key pair for this link (made on first use: a held record that
        never allows costs no key generation)."""
        if self._privee is None:
            self._privee = nacling.Privateer()
        return self._privee

    @privee.setter
    def privee(self, value: nacling.Privateer) -> None:
        self._privee = value

    def install_session(self, privee: nacling.Privateer, short: bytes) -> None:
        """Adopt the short-term keys of a completed allow: our pair and the peer's public key."""
        self.privee = privee
        self.publee = nacling.Publican(short)
        self._box = None

    @property
    def box(self) -> nacling.Box | None:
        """Session box over the short-term keys, computed once per allow."""
        if self._box is None and self.publee is not None:
            self._box = nacling.Box(self.privee.keyraw, self.publee.keyraw)
        return self._box

    def rekey(self) -> None:
        """Drop this link's short-term keys: a new pair, and the link needs a new allow."""
        self.moved("rekeyed")
        self._privee = None
        self.publee = None
        self._box = None

    def sendSavedMessages(self) -> None:
        """Send the messages saved while this link had no session (see ``outbox``)."""
        self.stack.sendSavedMessages(self)

    # sessions -------------------------------------------------------------
    def validRsid(self, rsid: int) -> bool:
        """Whether a session id from the peer is not older than the last one seen."""
        return validate_sid(rsid, self.rsid)

    def peer_session_changed(self, ti: int) -> None:
        """The peer started a new session with a packet of tid ``ti``.

        A peer counts tids on across its sessions but from 1 again after a restart: a
        tid not older than any seen (the last one again: a redo) means the same
        incarnation, whose deliveries are still remembered, as every later tid is newer
        than theirs; otherwise the peer restarted and the memory starts anew.
        """
        if self.peer_tid and ti != self.peer_tid and not tid_newer(ti, self.peer_tid):
            self.peer_restarted()

    def repeat_in_flight(self, tid: int) -> bool:
        """Whether a repeat of delivered message ``tid`` is a copy sent before our done."""
        last = self.last_done
        return (last is not None and last[0] == tid
                and self.stack.now - last[1] < self.RepeatDoneQuiet)

    def peer_restarted(self) -> None:
        """Forget what the peer's previous incarnation sent."""
        self.delivered.clear()
        self.peer_tid = 0

    def peer_tid_seen(self, ti: int) -> None:
        """Track the highest tid of the peer's initiator packets."""
        if not self.peer_tid or tid_newer(ti, self.peer_tid):
            self.peer_tid = ti

    # transactions ------------------------------------------------------------
    def addTransaction(self, index: tuple, transaction: Any) -> None:
        self.transactions[index] = transaction
        self.stack.wake(self)

    def removeTransaction(self, index: tuple, transaction: Any = None) -> None:
        current = self.transactions.get(index)
        if current is not None and (transaction is None or current is transaction):
            del self.transactions[index]
            self.stack.transaction_ended()

    def in_process(self, kind: TrnsKind) -> list:
        if not self.transactions.of_kind(kind):  # the usual answer, without a scan
            return []
        return [t for t in self.transactions.values() if t.kind == kind]

    def joinInProcess(self) -> list:
        return self.in_process(TrnsKind.join)

    def allowInProcess(self) -> list:
        return self.in_process(TrnsKind.allow)

    def process(self) -> None:
        """Run this record's timers (see ``presence.process``; the core does this)."""
        presence.process(self.stack, self)

    def removeStaleInitiators(self) -> None:
        """Nack and drop own transactions started under an older session id."""
        for transaction in list(self.transactions.values()):
            if (not transaction.rmt and transaction.kind != TrnsKind.join
                    and not validate_sid(transaction.sid, self.sid)):
                transaction.stale_initiator()

    def removeStaleCorrespondents(self) -> None:
        """Nack and drop peer-started transactions from a session older than ``rsid``."""
        for transaction in list(self.transactions.values()):
            if (transaction.rmt and transaction.kind != TrnsKind.join
                    and not validate_sid(transaction.sid, self.rsid)):
                transaction.stale_correspondent()

    # presence: the reference API's names over ``presence`` ---------------------------
    def refresh(self, alived: bool | None = True) -> None:
        presence.refresh(self.stack, self, alived)

    def manage(self, cascade: bool = False, immediate: bool = False) -> None:
        presence.manage(self.stack, self, cascade, immediate)

    def reap(self) -> None:
        presence.reap(self.stack, self)

    def unreap(self) -> None:
        presence.unreap(self.stack, self)

    def __repr__(self) -> str:
        return f"RemoteEstate(name={self.name!r}, uid={self.uid}, fuid={self.fuid}, ha={self.ha})"


def validate_sid(new: int, old: int) -> bool:
    """Session id ``new`` is not older than ``old`` (modulo 2**32; 0 on either side is valid)."""
    if old == 0 or new == 0:
        return True
    return ((new - old) % raeting.SID_MODULO) < raeting.SID_DELTA
