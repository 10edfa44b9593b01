"""Estates: the local identity of a road stack and its records of remote peers."""
from __future__ import annotations

import functools
import ipaddress
import socket
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from ioflo.aid.timing import StoreTimer

from .. import nacling, raeting
from ..raeting import TrnsKind
from ..stacking import Registry

if TYPE_CHECKING:
    from .stacking import RoadStack

Address = tuple[str, int]


class EstateError(ValueError):
    """Bad estate configuration (address, name, keys)."""


@functools.lru_cache(maxsize=256)
def host_fqdn(host: str) -> str:
    """Fully qualified domain name of ``host``, cached (the lookup can be slow)."""
    return socket.getfqdn(host)


def normalize_ha(ha: Any, default_port: int = raeting.RAET_TEST_PORT) -> Address:
    """Validate ``ha`` as (host, port) with a dotted IPv4 host; wildcards become loopback."""
    if ha is None:
        ha = (raeting.DEFAULT_DST_HOST, default_port)
    if not isinstance(ha, (tuple, list)) or len(ha) != 2:
        raise EstateError(f"Invalid host address {ha!r}: expected (host, port)")
    host, port = ha
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise EstateError(f"Invalid port in host address {ha!r}")
    if not isinstance(host, str):
        raise EstateError(f"Invalid host in host address {ha!r}")
    host = host.strip()
    if host in ("", "0.0.0.0", "localhost"):
        host = raeting.DEFAULT_DST_HOST
    else:
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            try:
                host = socket.gethostbyname(host)
            except OSError as ex:
                raise EstateError(f"Invalid host in host address {ha!r}: {ex}") from None
    return (host, port)


class Estate:
    """What the local estate and remote records share: name, uid, address, role."""

    def __init__(self, stack: RoadStack | None, uid: int | None = None, name: str = "",
                 prefix: str = "estate", ha: Any = None, iha: Any = None,
                 natted: Any = None, fqdn: str = "", dyned: Any = None, role: str | None = None,
                 sid: int = 0, tid: int = 0, **_unused: Any) -> None:
        self.stack = stack
        if uid is None and stack is not None:
            uid = stack.nextUid()
        self.uid = uid if uid is not None else 1
        self.name = name or f"{prefix}_{uuid.uuid1().hex}"
        self.ha = ha
        self.iha = iha
        self.natted = natted
        self.fqdn = fqdn or (host_fqdn(self.ha[0]) if self.ha else "")
        self.dyned = dyned
        self.role = role if role is not None else self.name
        self.sid = sid
        self.tid = tid

    @property
    def eha(self) -> Address:
        return self.ha

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

    def __init__(self, stack: RoadStack | None = None, sigkey: Any = None, prikey: Any = None,
                 ha: Any = None, **kwa: Any) -> None:
        ha = normalize_ha(ha, raeting.RAET_PORT)
        super().__init__(stack, ha=ha, **kwa)
        self.signer = sigkey if isinstance(sigkey, nacling.Signer) else nacling.Signer(sigkey)
        self.priver = prikey if isinstance(prikey, nacling.Privateer) else nacling.Privateer(prikey)


class RemoteEstate(Estate):
    """A stack's record of one peer: ids, address, keys, status and transactions."""

    def __init__(self, stack: RoadStack, uid: int | None = None, fuid: int = 0,
                 main: bool | None = False, kind: int = 0, verkey: Any = None,
                 pubkey: Any = None, acceptance: int | None = None,
                 joined: bool | None = None, rsid: int = 0, ha: Any = None,
                 **kwa: Any) -> None:
        if stack is None:
            raise EstateError("RemoteEstate needs a stack")
        ha = normalize_ha(ha)
        super().__init__(stack, uid=uid, ha=ha, **kwa)
        self.fuid = fuid
        self.main = main
        self.kind = kind
        self.acceptance = acceptance
        self.joined = joined
        self.allowed: bool | None = None
        self.alived: bool | None = None
        self.reaped: bool | None = None
        self.rsid = rsid
        self.verfer: nacling.Verifier | None = None
        self.pubber: nacling.Publican | None = None
        self.set_keys(verkey, pubkey)
        self.privee = nacling.Privateer()  # short-term pair for this link
        self.publee: nacling.Publican | None = None  # peer's short-term key
        self._box: nacling.Box | None = None
        self.transactions: Registry = Registry()  # index -> transaction
        self.doneTransactions = DoneMemory()  # tids of finished incoming messages
        self.incoming = 0  # unfinished incoming messages (messengents)
        self.messages: deque = deque()  # bodies saved for resending after an allow
        store = stack.store
        duration = stack.period if stack.main else stack.period + stack.offset
        self.timer = StoreTimer(store, duration=duration)
        self.reapTimer = StoreTimer(store, duration=stack.interim)

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

    @property
    def juid(self) -> tuple[int, int]:
        return (self.uid, self.fuid)

    def rekey(self) -> None:
        """Fresh short-term pair for a new allow; forget the peer's short-term key."""
        self.privee = nacling.Privateer()
        self.publee = None
        self._box = None

    def set_publee(self, key: bytes) -> None:
        self.publee = nacling.Publican(key)
        self._box = None

    @property
    def box(self) -> nacling.Box | None:
        """Session box over the short-term keys, computed once per allow."""
        if self._box is None and self.publee is not None:
            self._box = nacling.Box(self.privee.keyraw, self.publee.keyraw)
        return self._box

    # sessions -------------------------------------------------------------
    def validRsid(self, rsid: int) -> bool:
        """Whether a session id from the peer is not older than the last one seen."""
        return validate_sid(rsid, self.rsid)

    # transactions ------------------------------------------------------------
    def addTransaction(self, index: tuple, transaction: Any) -> None:
        self.transactions[index] = transaction

    def removeTransaction(self, index: tuple, transaction: Any = None) -> None:
        current = self.transactions.get(index)
        if current is not None and (transaction is None or current is transaction):
            del self.transactions[index]

    def in_process(self, kind: TrnsKind) -> list:
        return [t for t in self.transactions.values() if t.kind == kind]

    def joinInProcess(self) -> list:
        return self.in_process(TrnsKind.join)

    def allowInProcess(self) -> list:
        return self.in_process(TrnsKind.allow)

    def process(self) -> None:
        """Run timers of every transaction, then expire remembered finished messages."""
        for transaction in self.transactions.values():
            self.stack.run_timer(transaction)
        self.doneTransactions.expire(self.stack.store.stamp)

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

    # presence ---------------------------------------------------------------
    def refresh(self, alived: bool | None = True) -> None:
        """Restart the presence timer; record liveness when ``alived`` is not None."""
        self.timer.restart(duration=self.stack.period)
        if alived is None:
            return
        if self.alived or alived:
            self.reapTimer.restart(duration=self.stack.interim)
            if self.reaped:
                self.unreap()
        self.alived = alived

    def manage(self, cascade: bool = False, immediate: bool = False) -> None:
        """Start an alive when presence is due; reap when silent past the interim.

        Messages waiting for an allow that is not under way start one (with its join).
        """
        if self.messages and not self.allowed and not self.transactions:
            self.stack.allow(uid=self.uid, cascade=True)
            return
        if self.reaped:
            return
        if immediate or self.timer.expired:
            self.stack.alive(uid=self.uid, cascade=cascade)
        if self.stack.interim > 0 and self.reapTimer.expired:
            self.reap()

    def reap(self) -> None:
        if self.stack.main:
            self.reaped = True
            self.stack.incStat("remote_reap")
            self.stack.console.concise(
                f"Stack {self.stack.name}: Reaping dead remote {self.name} at {self.stack.store.stamp}\n")

    def unreap(self) -> None:
        self.reapTimer.restart(duration=self.stack.interim)
        if self.stack.main:
            self.reaped = False
            self.stack.incStat("remote_unreap")
            self.stack.console.concise(
                f"Stack {self.stack.name}: Unreaping dead remote {self.name} at {self.stack.store.stamp}\n")

    def __repr__(self) -> str:
        return f"RemoteEstate(name={self.name!r}, uid={self.uid}, fuid={self.fuid}, ha={self.ha})"


class DoneMemory:
    """Transaction ids of finished incoming messages, each remembered until its expiry."""

    def __init__(self) -> None:
        self._tids: dict[int, float] = {}
        self._order: deque[tuple[float, int]] = deque()

    def add(self, tid: int, expiry: float) -> None:
        self._tids[tid] = expiry
        self._order.append((expiry, tid))

    def __contains__(self, tid: object) -> bool:
        return tid in self._tids

    def __len__(self) -> int:
        return len(self._tids)

    def expire(self, now: float) -> None:
        """Forget every id whose expiry has passed (expiries arrive in order)."""
        order, tids = self._order, self._tids
        while order and order[0][0] <= now:
            expiry, tid = order.popleft()
            if tids.get(tid) == expiry:
                del tids[tid]

    def clear(self) -> None:
        self._tids.clear()
        self._order.clear()


def validate_sid(new: int, old: int) -> bool:
    """Session id ``new`` is not older than ``old`` (modulo 2**32; 0 on either side is valid)."""
    if old == 0 or new == 0:
        return True
    return ((new - old) % raeting.SID_MODULO) < raeting.SID_DELTA
