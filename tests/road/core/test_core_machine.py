"""A Hypothesis state machine over two or three road cores (one main) on a faulty network.

Rules send messages (small or segmented, each with a timeout), make the wire drop,
duplicate, reorder or delay datagrams, let time run or jump, heal the wire and restart a
core from what it persisted. Invariants: no exception escapes a core (nor is one swallowed
and counted), no message is delivered twice (across restarts of the receiver too, once the
sender had it confirmed), every outcome reported is true, and transactions, records, saved
messages and datagrams in flight stay within explicit bounds. At teardown the wire heals and
time runs: every message is then confirmed or reported dropped, unless the crash of its
sender took it, and fresh messages go through on every link.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from raetflo.events import MessageDelivered, MessageDropped, MessageReceived
from raetflo.road.core import RoadCore

from .conftest import Address, Faults, Net, join

MAX_MESSAGES = 12  # messages one run sends before teardown
MAX_TRANSACTIONS = 2 * MAX_MESSAGES + 8  # per remote: messages both ways, join, allow, alives
MAX_FLIGHT = 4000  # datagrams in flight at any time
SIZES = (40, 3000, 20_000)  # body padding: one datagram, a few segments, many
TIMEOUTS = (1.0, 5.0, 20.0)
RATES = (0.0, 0.1, 0.3, 0.7, 1.0)
SETTLE = 60.0  # healed virtual seconds at teardown beyond the last message timeout
SWALLOWED = ("rx_exception", "timer_exception")  # bugs a core counts instead of raising


@dataclass
class Message:
    """One message sent by the machine and what became of it."""

    source: Address
    dest: Address
    size: int
    receipts: list[int] = field(default_factory=list)  # receiver incarnations delivering it
    outcome: MessageDelivered | MessageDropped | None = None
    sealed: bool = False  # confirmed before its receiver restarted: never to come again
    crashed: bool = False  # its sender restarted before an outcome: lost with the crash


class RoadMachine(RuleBasedStateMachine):
    """Two or three cores, the first a main the others joined."""

    def __init__(self) -> None:
        super().__init__()
        self.net = Net(seed=0, manage_period=1.0)
        self.net.MaxFlight = MAX_FLIGHT
        self.addrs: list[Address] = []
        self.incarnation: dict[Address, int] = {}
        self.cursor: dict[Address, int] = {}
        self.messages: dict[str, Message] = {}
        self.refs: dict[tuple[Address, int, int], str] = {}  # (sender, incarnation, ref) -> id

    # setup and bookkeeping ----------------------------------------------------------
    @initialize(count=st.sampled_from((2, 3)))
    def start(self, count: int) -> None:
        net = self.net
        main = net.add("main", 7530, main=True, interim=60.0)
        for index in range(1, count):
            join(net, main, net.add(f"other{index}", 7530 + index))
        self.addrs = list(net.cores)
        self.incarnation = {addr: 0 for addr in self.addrs}
        self.cursor = {addr: 0 for addr in self.addrs}
        self.absorb()

    def core(self, addr: Address) -> RoadCore:
        return self.net.cores[addr]

    def links(self) -> list[tuple[Address, Address]]:
        """(sender, receiver) pairs: the main and each other core, both ways."""
        main = self.addrs[0]
        return [pair for other in self.addrs[1:] for pair in ((main, other), (other, main))]

    def absorb(self) -> None:
        """Check the events reported since the last call against what was sent: receipts
        first, as a receiver reports one before its peer can hear of it."""
        news = {addr: self.net.events[addr][self.cursor[addr]:] for addr in self.addrs}
        for addr, events in news.items():  # taken even if a check fails: reported once
            self.cursor[addr] += len(events)
        for addr, events in news.items():
            for event in events:
                if isinstance(event, MessageReceived):
                    self.received(addr, event)
        for addr, events in news.items():
            for event in events:
                if isinstance(event, (MessageDelivered, MessageDropped)):
                    self.resolved(addr, event)

    def received(self, addr: Address, event: MessageReceived) -> None:
        message = self.messages[event.body["id"]]
        assert message.dest == addr and len(event.body["pad"]) == message.size
        incarnation = self.incarnation[addr]
        assert incarnation not in message.receipts, f"delivered twice: {event.body['id']}"
        assert not message.sealed, f"delivered again after confirmed: {event.body['id']}"
        assert not (isinstance(message.outcome, MessageDropped)
                    and not message.outcome.unconfirmed), "delivered after a sure drop"
        message.receipts.append(incarnation)

    def resolved(self, addr: Address, event: MessageDelivered | MessageDropped) -> None:
        ident = self.refs[(addr, self.incarnation[addr], event.ref)]
        message = self.messages[ident]
        assert message.outcome is None, f"two outcomes of {ident}: {message.outcome}, {event}"
        if isinstance(event, MessageDelivered):
            assert message.receipts, f"confirmed but never received: {ident}"
        else:
            assert event.unconfirmed or not message.receipts, f"received yet dropped: {event}"
        message.outcome = event

    def send(self, source: Address, dest: Address, size: int, timeout: float) -> str:
        ident = f"m{len(self.messages)}"
        sender = self.core(source)
        uid = self.net.remote(sender, self.core(dest)).uid
        self.messages[ident] = Message(source, dest, size)
        ref = sender.send_message({"id": ident, "pad": "x" * size}, uid=uid, timeout=timeout)
        self.refs[(source, self.incarnation[source], ref)] = ident
        return ident

    def settled(self, idents: list[str]) -> bool:
        """Whether every message of ``idents`` has an outcome (events absorbed first)."""
        self.absorb()
        return all(self.messages[ident].outcome is not None for ident in idents)

    # rules -------------------------------------------------------------------------
    @precondition(lambda self: len(self.messages) < MAX_MESSAGES)
    @rule(data=st.data(), size=st.sampled_from(SIZES), timeout=st.sampled_from(TIMEOUTS))
    def send_message(self, data: st.DataObject, size: int, timeout: float) -> None:
        source, dest = data.draw(st.sampled_from(self.links()), label="link")
        self.send(source, dest, size, timeout)
        self.net.tick()

    @rule(drop=st.sampled_from(RATES), duplicate=st.sampled_from(RATES[:3]),
          reorder=st.sampled_from(RATES[:3]), late=st.sampled_from(RATES[:3]),
          delay=st.sampled_from((0.1, 1.0, 5.0)))
    def faults(self, drop: float, duplicate: float, reorder: float, late: float,
               delay: float) -> None:
        self.net.faults = Faults(drop=drop, duplicate=duplicate, reorder=reorder, late=late,
                                 delay=delay)

    @rule(seconds=st.sampled_from((0.2, 1.0, 3.0, 10.0)))
    def run(self, seconds: float) -> None:
        self.net.run(seconds)

    @rule(seconds=st.sampled_from((2.0, 30.0, 120.0)))
    def jump(self, seconds: float) -> None:
        self.net.jump(seconds)

    @rule()
    def heal(self) -> None:
        self.net.heal()

    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        addr = data.draw(st.sampled_from(self.addrs), label="restart")
        self.absorb()
        for message in self.messages.values():
            if message.dest == addr and message.receipts and \
                    isinstance(message.outcome, MessageDelivered):
                message.sealed = True
            if message.source == addr and message.outcome is None:
                message.crashed = True
        self.incarnation[addr] += 1
        self.net.restart(addr)

    # invariants ---------------------------------------------------------------------
    @invariant()
    def outcomes_are_true(self) -> None:
        self.absorb()

    @invariant()
    def bounded(self) -> None:
        net = self.net
        assert len(net.flight) <= MAX_FLIGHT
        for addr in self.addrs:
            core = self.core(addr)
            assert not any(core.stats.get(key) for key in SWALLOWED), core.console.lines
            assert len(core.remotes) <= len(self.addrs) - 1 and not core.txes
            for remote in core.remotes.values():
                assert len(remote.transactions) <= MAX_TRANSACTIONS, remote.transactions
                assert len(remote.messages) + len(remote.parked) <= MAX_MESSAGES

    def teardown(self) -> None:
        if not self.addrs:
            return
        net = self.net
        net.heal()
        net.run(max(TIMEOUTS) + SETTLE)
        self.absorb()
        lost = [ident for ident, m in self.messages.items()
                if m.outcome is None and not m.crashed]
        assert not lost, f"neither confirmed nor dropped: {lost}"
        fresh = [self.send(source, dest, SIZES[-1], SETTLE) for source, dest in self.links()]
        net.run(SETTLE, until=lambda: self.settled(fresh))
        for ident in fresh:
            assert isinstance(self.messages[ident].outcome, MessageDelivered), (
                ident, self.messages[ident])


RoadMachine.TestCase.settings = settings(
    derandomize=True, max_examples=100, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestRoadMachine = RoadMachine.TestCase
