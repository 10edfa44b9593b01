"""Helpers for road scenario tests: stacks on free loopback ports with private keeps, a
wire tap that logs, drops, duplicates or rewrites outgoing datagrams, virtual-time service."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import pytest

from raetflo.raeting import AutoMode, PcktKind, TrnsKind
from raetflo.road import packeting
from raetflo.road.estating import RemoteEstate
from raetflo.road.packeting import Head
from raetflo.road.stacking import RoadStack, service_stacks

ALWAYS = AutoMode.always.value
ONCE = AutoMode.once.value
NEVER = AutoMode.never.value


@pytest.fixture
def road(tmp_path, ha):
    """Factory ``road(name, **kwa)`` of stacks, each with its own keep dir; closed at the end.

    ``road.restart(stack, **kwa)`` closes ``stack`` and builds a new one from its keep, on the
    same address.
    """
    made: list[RoadStack] = []

    def make(name: str, **kwa: Any) -> RoadStack:
        kwa.setdefault("ha", ha())
        kwa.setdefault("dirpath", str(tmp_path / "keeps" / name))
        stack = RoadStack(name=name, **kwa)
        made.append(stack)
        return stack

    def restart(stack: RoadStack, **kwa: Any) -> RoadStack:
        stack.close()
        kwa.setdefault("dirpath", stack.keep.dirpath)
        kwa.setdefault("ha", stack.ha)
        again = RoadStack(**kwa)
        made.append(again)
        return again

    make.restart = restart
    yield make
    for stack in made:
        stack.close()


def provisional(stack: RoadStack, peer: RoadStack, **kwa: Any) -> RemoteEstate:
    """Give ``stack`` a record of ``peer`` as a vacuous joiner knows it: address only."""
    remote = RemoteEstate(stack=stack, fuid=0, sid=0, ha=peer.ha, **kwa)
    stack.addRemote(remote)
    return remote


def only(stack: RoadStack) -> RemoteEstate:
    """The single remote record of ``stack``."""
    remotes = list(stack.remotes.values())
    assert len(remotes) == 1, remotes
    return remotes[0]


def idle(*stacks: RoadStack) -> Callable[[], bool]:
    return lambda: not any(stack.transactions for stack in stacks)


def serve(stacks: Iterable[RoadStack], duration: float, until: Callable[[], bool] | None = None
          ) -> int:
    return service_stacks(stacks, duration, step=0.1, until=until)


def joined(main: RoadStack, other: RoadStack, cascade: bool = False) -> RemoteEstate:
    """Join ``other`` to ``main`` vacuously (then allow and alive with ``cascade``); clear
    stats. Returns ``other``'s record of ``main``."""
    remote = provisional(other, main)
    other.join(uid=remote.uid, cascade=cascade)
    serve([main, other], 3.0, until=idle(main, other))
    assert remote.joined is True and only(main).joined is True
    if cascade:
        assert remote.allowed is True and only(main).allowed is True
    main.clearStats()
    other.clearStats()
    return remote


def stat(stack: RoadStack, key: str) -> int:
    return stack.stats.get(key, 0)


def stats(stack: RoadStack) -> dict[str, int]:
    """The non-zero counters of ``stack``."""
    return {key: value for key, value in stack.stats.items() if value}


class Sent:
    """One datagram seen by a Wire."""

    def __init__(self, stamp: float, head: Head, action: str) -> None:
        self.stamp = stamp
        self.head = head
        self.tk = TrnsKind(head.tk)
        self.pk = PcktKind(head.pk)
        self.action = action  # "sent", "dropped", "duplicated" or "rewritten"

    def __repr__(self) -> str:
        return f"<{self.action} {self.tk.name}/{self.pk.name} at {self.stamp:.2f}>"


class Wire:
    """Tap on ``stack.server.send``: logs every datagram and applies the first matching rule.

    A rule matches on transaction kind, packet kind and optionally ``cf``; it fires ``count``
    times (``None``: always). Its action drops, duplicates or rewrites the datagram
    (``rewrite(packet) -> bytes``).
    """

    def __init__(self, stack: RoadStack) -> None:
        self.stack = stack
        self.send = stack.server.send
        self.rules: list[dict[str, Any]] = []
        self.log: list[Sent] = []
        stack.server.send = self

    def rule(self, action: str, tk: TrnsKind, pk: PcktKind, count: int | None = None,
             cf: bool | None = None, rewrite: Callable[[packeting.Packet], bytes] | None = None
             ) -> Wire:
        self.rules.append(dict(action=action, tk=tk, pk=pk, count=count, cf=cf, rewrite=rewrite))
        return self

    def drop(self, tk: TrnsKind, pk: PcktKind, count: int | None = None,
             cf: bool | None = None) -> Wire:
        return self.rule("dropped", tk, pk, count, cf)

    def duplicate(self, tk: TrnsKind, pk: PcktKind, count: int | None = None) -> Wire:
        return self.rule("duplicated", tk, pk, count)

    def rewrite(self, tk: TrnsKind, pk: PcktKind, rewrite: Callable[[packeting.Packet], bytes],
                count: int | None = 1) -> Wire:
        return self.rule("rewritten", tk, pk, count, rewrite=rewrite)

    def sent(self, tk: TrnsKind | None = None, pk: PcktKind | None = None) -> list[Sent]:
        """Datagrams that left (not dropped), optionally of one kind."""
        return [s for s in self.log if s.action != "dropped"
                and (tk is None or s.tk == tk) and (pk is None or s.pk == pk)]

    def __call__(self, data: bytes, ha: tuple) -> int:
        packet = packeting.parse(bytes(data), veritive=False)
        head = packet.head
        for rule in self.rules:
            if (head.tk == rule["tk"] and head.pk == rule["pk"] and rule["count"] != 0
                    and (rule["cf"] is None or bool(head.cf) == rule["cf"])):
                if rule["count"] is not None:
                    rule["count"] -= 1
                action = rule["action"]
                break
        else:
            action = "sent"
        self.log.append(Sent(self.stack.store.stamp, head, action))
        if action == "dropped":
            return len(data)
        if action == "duplicated":
            self.send(data, ha)
        if action == "rewritten":
            data = rule["rewrite"](packet)
        return self.send(data, ha)
