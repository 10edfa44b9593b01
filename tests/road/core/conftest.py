"""A virtual network of road cores: no sockets, no files, no clock.

:class:`Net` holds cores keyed by address and runs them in virtual time: it advances to the
earliest deadline (a core's ``get_timer()``, a datagram in flight, presence due) or by a
step, carries datagrams between cores through seeded fault rules, writes each core's
``keep_writes()`` into an in-memory :class:`Disk` (what a crash would leave) before that
pass's datagrams go out, as a driver does, and collects every core's events. A core can be
restarted from its disk. Every loop is bounded in steps and in virtual time.
"""
from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from raetflo.events import Event
from raetflo.raeting import AutoMode
from raetflo.road.acceptance import RoleRecord
from raetflo.road.core import RoadCore
from raetflo.road.persisting import KeepWrite, RoleBook
from raetflo.road.estating import LocalEstate, RemoteEstate
from raetflo.road.keeping import LOCAL_FIELDS, REMOTE_FIELDS, REMOTE_ROLE_FIELDS

Address = tuple[str, int]
ALWAYS = AutoMode.always.value


class Disk:
    """What the keep writes of one core left: copies of the persisted fields, by file."""

    def __init__(self) -> None:
        self.local: dict[str, Any] | None = None
        self.estates: dict[str, dict[str, Any]] = {}  # remote name -> estate fields
        self.roles: dict[str, dict[str, Any]] = {}  # role -> acceptance and keys
        self.batches: list[list[KeepWrite]] = []  # the keep writes of each pass that had any
        self.journal = b""  # the delivery journal's lines

    def apply(self, core: RoadCore, write: KeepWrite) -> None:
        """Make one keep write: copy the fields a keep file holds, as they are now."""
        kind, target = write.kind, write.target
        if kind == "local":
            self.local = {name: getattr(target, name) for name in LOCAL_FIELDS
                          if name not in ("puid", "aha")}
            self.local.update(puid=core.puid, sighex=target.signer.keyhex,
                              prihex=target.priver.keyhex)
        elif kind == "remote":
            self.estates[target.name] = {name: getattr(target, name) for name in REMOTE_FIELDS}
            if target.verhex and target.pubhex:
                self.roles[target.role] = {name: getattr(target, name)
                                           for name in REMOTE_ROLE_FIELDS}
        elif kind == "forget_remote":
            self.estates.pop(target, None)
        elif kind == "forget_role":
            self.roles.pop(target, None)
        elif kind == "journal":
            self.journal += target
        else:
            raise AssertionError(f"unknown keep write {write}")

    def role_record(self, role: str) -> tuple[RoleRecord | None, bool]:
        """The persisted record of ``role`` (a ``RoleBook`` source)."""
        data = self.roles.get(role)
        if data is None:
            return None, False
        return RoleRecord(role, data["acceptance"], data["verhex"], data["pubhex"]), False

    def remote_records(self) -> list[dict[str, Any]]:
        """Every persisted remote, its estate merged with its role (as a keep loads it)."""
        empty = dict(acceptance=None, verhex=None, pubhex=None)
        return [{**estate, **self.roles.get(estate["role"], empty)}
                for estate in self.estates.values()]


@dataclass
class Faults:
    """Rates (0 to 1) at which the wire drops, duplicates, reorders (holds back behind the
    next datagram) or delays (by up to ``delay`` seconds) a datagram."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    late: float = 0.0
    delay: float = 0.5
    only: Callable[[bytes, Address, Address], bool] | None = None  # None: every datagram


@dataclass(order=True)
class Flight:
    due: float
    seq: int
    data: bytes = field(compare=False)
    source: Address = field(compare=False)
    dest: Address = field(compare=False)


class Net:
    """Cores keyed by address, a faulty wire between them, one virtual clock."""

    Step = 1.0  # longest advance of the clock without a deadline in between
    MinStep = 0.001  # shortest advance: a deadline already due still moves time on
    MaxSteps = 20000  # passes of one ``run``
    MaxFlight = 20000  # datagrams in flight; more is a runaway (asserted)

    def __init__(self, seed: int = 0, manage_period: float | None = None) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.cores: dict[Address, RoadCore] = {}
        self.configs: dict[Address, dict[str, Any]] = {}
        self.disks: dict[Address, Disk] = {}
        self.events: dict[Address, list[Event]] = {}
        self.faults = Faults()
        self.flight: list[Flight] = []
        self.held: list[Flight] = []  # reordered: sent behind the next datagram
        self.down: set[Address] = set()  # cut off: what they send or are sent is lost
        self.seq = 0
        self.sent = 0
        self.most_flight = 0
        self.manage_period = manage_period  # presence (``manage``) every so often, or never
        self.next_manage = manage_period if manage_period is not None else None

    # cores ---------------------------------------------------------------------------
    def add(self, name: str, port: int, host: str = "127.0.0.1", **config: Any) -> RoadCore:
        """A core ``name`` at ``host``:``port`` with ``config`` (RoadCore arguments)."""
        addr = (host, port)
        config = dict(dict(name=name, ha=addr, auto=ALWAYS), **config)
        self.configs[addr] = config
        self.disks[addr] = Disk()
        self.events[addr] = []
        core = RoadCore(roles=RoleBook(self.disks[addr].role_record), now=self.now, **config)
        self.cores[addr] = core
        return core

    def restart(self, addr: Address) -> RoadCore:
        """Crash the core at ``addr`` and start it again from its disk: its local estate,
        remote records as persisted (each resuming in a new session) and delivery journal;
        the rest is lost."""
        disk, config = self.disks[addr], dict(self.configs[addr])
        puid = None
        if disk.local is not None:
            saved = disk.local
            puid = saved["puid"]
            config["local"] = LocalEstate(
                stack=None, name=saved["name"], uid=saved["uid"], ha=saved["ha"],
                iha=saved["iha"], natted=saved["natted"], fqdn=saved["fqdn"],
                dyned=saved["dyned"], role=saved["role"], sigkey=saved["sighex"],
                prikey=saved["prihex"])
        core = RoadCore(roles=RoleBook(disk.role_record), now=self.now, puid=puid, **config)
        for data in disk.remote_records():
            core.rebuild_remote(data).nextSid()
        core.restore_journal(disk.journal)
        self.cores[addr] = core
        return core

    def addr(self, core: RoadCore) -> Address:
        return next(addr for addr, each in self.cores.items() if each is core)

    def remote(self, core: RoadCore, peer: RoadCore) -> RemoteEstate:
        """``core``'s record of ``peer`` (by address)."""
        addr = self.addr(peer)
        return next(remote for remote in core.remotes.values() if remote.ha == addr)

    def provisional(self, core: RoadCore, peer: RoadCore) -> RemoteEstate:
        """Give ``core`` a record of ``peer`` by address only, as a vacuous joiner has."""
        return core.addRemote(RemoteEstate(stack=core, fuid=0, sid=0, ha=self.addr(peer)))

    def of(self, core: RoadCore, kind: type[Event] = Event) -> list[Event]:
        """The events of ``kind`` the core at ``core``'s address reported so far."""
        return [e for e in self.events[self.addr(core)] if isinstance(e, kind)]

    # the wire ------------------------------------------------------------------------
    def schedule(self, data: bytes, source: Address, dest: Address, delay: float = 0.0) -> None:
        self.seq += 1
        heapq.heappush(self.flight, Flight(self.now + delay, self.seq, data, source, dest))
        self.most_flight = max(self.most_flight, len(self.flight))
        assert len(self.flight) <= self.MaxFlight, "datagrams in flight run away"

    def post(self, data: bytes, source: Address, dest: Address) -> None:
        """Put one datagram on the wire through the fault rules."""
        self.sent += 1
        faults, roll = self.faults, self.rng.random()
        if faults.only is not None and not faults.only(data, source, dest):
            roll = 1.0
        if roll < faults.drop:
            return
        roll -= faults.drop
        if roll < faults.duplicate:
            self.schedule(data, source, dest)
        elif roll < faults.duplicate + faults.reorder:
            self.held.append(Flight(0.0, 0, data, source, dest))
            return
        elif roll < faults.duplicate + faults.reorder + faults.late:
            self.schedule(data, source, dest, self.rng.uniform(0.0, faults.delay))
            return
        self.schedule(data, source, dest)
        for late in self.held:
            self.schedule(late.data, late.source, late.dest)
        self.held.clear()

    def heal(self) -> None:
        """No more faults; what is held back goes now."""
        self.faults = Faults()
        for late in self.held:
            self.schedule(late.data, late.source, late.dest)
        self.held.clear()

    # passes --------------------------------------------------------------------------
    def pump(self) -> None:
        """Per core: write its keep, then send its datagrams, then take its events."""
        for addr, core in self.cores.items():
            disk = self.disks[addr]
            writes = core.keep_writes()
            if writes:
                disk.batches.append(writes)
            for write in writes:
                disk.apply(core, write)
            core.roles.settle()
            for data, dest in core.datagrams_to_send():
                self.post(data, addr, dest)
            events = self.events[addr]
            while (event := core.next_event()) is not None:
                events.append(event)

    def deliver(self) -> None:
        """Hand every datagram due by now to its destination (lost when there is none, or
        either end is down)."""
        while self.flight and self.flight[0].due <= self.now:
            flight = heapq.heappop(self.flight)
            core = self.cores.get(flight.dest)
            if core is not None and not {flight.source, flight.dest} & self.down:
                core.receive_datagram(flight.data, flight.source, self.now)
                self.pump()

    def tick(self) -> None:
        """One pass at ``now``: deliver what is due, run due timers and presence, send."""
        self.pump()
        self.deliver()
        if self.next_manage is not None and self.next_manage <= self.now:
            self.next_manage = self.now + self.manage_period
            for core in self.cores.values():
                self.manage(core)
        for core in self.cores.values():
            due = core.get_timer()
            if due is not None and due <= self.now:
                core.handle_timer(self.now)
        self.pump()
        self.deliver()

    def manage(self, core: RoadCore) -> None:
        """Presence now: ``manage`` reads the core's clock, which only the entry points
        that take the time set, so the core is told the time first."""
        core.handle_timer(self.now)
        core.manage()

    def next_time(self, end: float) -> float:
        """The earliest deadline after now, at most ``Step`` on and never past ``end``."""
        times = [self.now + self.Step, end]
        times.extend(t for core in self.cores.values() if (t := core.get_timer()) is not None)
        if self.flight:
            times.append(self.flight[0].due)
        if self.next_manage is not None:
            times.append(self.next_manage)
        return min(end, max(min(times), self.now + self.MinStep))

    def run(self, duration: float, until: Callable[[], bool] | None = None) -> bool:
        """Run for ``duration`` virtual seconds or until ``until()``; whether it held."""
        end = self.now + duration
        for _ in range(self.MaxSteps):
            self.tick()
            if until is not None and until():
                return True
            if self.now >= end:
                return until is None
            self.now = self.next_time(end)
        raise AssertionError(f"no end after {self.MaxSteps} passes at {self.now}")

    def jump(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` with nothing run in between, then one pass."""
        self.now += seconds
        self.tick()

    def idle(self) -> bool:
        """No transaction anywhere and nothing in flight."""
        return not self.flight and not any(core.transactions for core in self.cores.values())


def join(net: Net, main: RoadCore, other: RoadCore, duration: float = 5.0) -> RemoteEstate:
    """Join ``other`` to ``main`` with allow and alive (cascade); ``other``'s record of it."""
    remote = net.provisional(other, main)
    other.join(uid=remote.uid, cascade=True)
    assert net.run(duration, until=lambda: remote.allowed and net.idle())
    return remote


@pytest.fixture
def net() -> Net:
    return Net(seed=0)


@pytest.fixture
def pair(net: Net) -> tuple[RoadCore, RoadCore]:
    """A main and another core, not joined."""
    return (net.add("main", 7530, main=True), net.add("other", 7531))
