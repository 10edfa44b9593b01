"""IPv6 and host names: stacks on ``::1`` and dual-stack ``::``, remotes given by name or
IPv6 literal, source addresses normalised to the (host, port) a record holds, and the keep."""
from __future__ import annotations

import json
import socket
from typing import Any, Callable

import pytest
from hypothesis import given, settings, strategies as st

from raetflo.events import MessageReceived
from raetflo.raeting import AutoMode
from raetflo.road import resolving, transport
from raetflo.road.estating import EstateError, RemoteEstate
from raetflo.road.stacking import RoadStack, StackError
from raetflo.road.transport import UdpServer

from .conftest import idle, only, provisional, serve, stat
from .core.conftest import Net
from .core.conftest import join as core_join

ALWAYS = AutoMode.always.value


def binds(host: str, dual: bool = False) -> bool:
    """Whether this machine lets a UDP socket bind ``host`` (dual-stack with ``dual``)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            if dual:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((host, 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not binds("::1"), reason="this machine has no IPv6 loopback")
needs_dual = pytest.mark.skipif(not binds("::", dual=True),
                                reason="this machine refuses dual-stack IPv6 sockets")


def free_port6(host: str = "::1") -> int:
    """A UDP port on ``host`` (IPv6, dual-stack for ``::``) that was free a moment ago."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture
def ha6() -> Callable[..., tuple[str, int]]:
    """Factory of free IPv6 addresses (``::1`` unless told)."""
    return lambda host="::1": (host, free_port6(host))


def link(main: RoadStack, other: RoadStack, ha: Any = None) -> RemoteEstate:
    """Join and allow ``other`` to ``main`` (at ``ha``, default its own); other's record."""
    remote = provisional(other, main) if ha is None else other.addRemote(
        RemoteEstate(stack=other, fuid=0, sid=0, ha=ha))
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=lambda: remote.allowed and idle(main, other)())
    assert remote.joined and remote.allowed
    return remote


def exchange(main: RoadStack, other: RoadStack, remote: RemoteEstate) -> None:
    """A message each way, delivered."""
    other.transmit({"to": "main", "n": 1}, remote.uid)
    main.transmit({"to": "other", "n": 2}, only(main).uid)
    serve([main, other], 3.0, until=lambda: main.rxMsgs and other.rxMsgs)
    assert [(dict(body), src) for body, src in main.rxMsgs] == [({"to": "main", "n": 1}, "other")]
    assert [(dict(body), src) for body, src in other.rxMsgs] == [({"to": "other", "n": 2}, "main")]


# the transport ------------------------------------------------------------------------
@pytest.mark.parametrize("addr, ha", [
    (("127.0.0.1", 7530), ("127.0.0.1", 7530)),
    (("::1", 7530, 0, 0), ("::1", 7530)),
    (("::ffff:10.1.2.3", 7530, 0, 0), ("10.1.2.3", 7530)),
    (("fe80::1%lo", 7530, 0, 1), ("fe80::1%lo", 7530)),
])
def test_source_addresses_become_host_and_port(addr, ha):
    assert transport.source_ha(addr) == ha


def test_destinations_take_the_socket_family():
    assert transport.destination(socket.AF_INET6, ("10.1.2.3", 7)) == ("::ffff:10.1.2.3", 7)
    assert transport.destination(socket.AF_INET6, ("::1", 7)) == ("::1", 7)
    assert transport.destination(socket.AF_INET, ("10.1.2.3", 7)) == ("10.1.2.3", 7)
    with pytest.raises(OSError) as raised:
        transport.destination(socket.AF_INET, ("::1", 7))
    assert raised.value.errno in transport.UNREACHABLE_ERRORS


@needs_ipv6
def test_server_on_ipv6_loopback_reports_host_and_port():
    server = UdpServer(("::1", 0))
    try:
        assert server.sock.family == socket.AF_INET6
        assert server.ha[0] == "::1" and len(server.ha) == 2 and server.ha[1] > 0
    finally:
        server.close()


@needs_dual
def test_server_on_the_ipv6_wildcard_is_dual_stack():
    server = UdpServer(("::", 0))
    try:
        assert server.sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.sendto(b"ping", ("127.0.0.1", server.ha[1]))
            server.sock.settimeout(2.0)
            assert server.receive() == (b"ping", peer.getsockname())
    finally:
        server.close()


# stacks ---------------------------------------------------------------------------------
@needs_ipv6
def test_join_allow_and_messages_over_ipv6_loopback(road, ha6):
    main = road("main", ha=ha6(), main=True, auto=ALWAYS)
    other = road("other", ha=ha6(), auto=ALWAYS)
    remote = link(main, other)
    assert remote.ha == main.ha and only(main).ha == other.ha
    exchange(main, other, remote)
    for stack in (main, other):
        assert stat(stack, "wrong_source") == stat(stack, "rx_exception") == 0


@needs_dual
def test_dual_stack_main_is_reached_by_an_ipv4_joiner(road, ha6):
    main = road("main", ha=ha6("::"), main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)  # 127.0.0.1
    remote = link(main, other, ha=("127.0.0.1", main.ha[1]))
    assert main.local.ha == ("::1", main.ha[1])  # the wildcard's loopback, as raet has it
    assert only(main).ha == other.ha  # the mapped source matched the record
    exchange(main, other, remote)
    assert stat(main, "wrong_source") == stat(main, "rx_exception") == 0


def test_localhost_as_a_remote_host_name(road):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = link(main, other, ha=("localhost", main.ha[1]))
    assert remote.ha == main.ha
    exchange(main, other, remote)


def test_no_name_is_looked_up_on_the_packet_path(road, monkeypatch):
    main = road("main", main=True, auto=ALWAYS)
    other = road("other", auto=ALWAYS)
    remote = other.addRemote(RemoteEstate(stack=other, fuid=0, sid=0, ha=("localhost",
                                                                            main.ha[1])))
    lookups: list[Any] = []
    for name in ("getaddrinfo", "getfqdn", "gethostbyname", "gethostbyaddr"):
        monkeypatch.setattr(socket, name, lambda *a, **k: lookups.append(a) or [])
    other.join(uid=remote.uid, cascade=True)
    serve([main, other], 3.0, until=lambda: remote.allowed and idle(main, other)())
    assert remote.allowed and lookups == []


def fake_getaddrinfo(real: Callable) -> Callable:
    """getaddrinfo that knows ``dual.test`` in both families and nothing else new."""
    answers = {socket.AF_INET: "192.0.2.7", socket.AF_INET6: "2001:db8::7"}

    def lookup(host: str, port: Any, family: int = 0, *rest: Any) -> list:
        if host != "dual.test":
            return real(host, port, family, *rest)
        addr = (answers[family], 0) if family == socket.AF_INET else (answers[family], 0, 0, 0)
        return [(family, socket.SOCK_DGRAM, 17, "", addr)]
    return lookup


@needs_ipv6
def test_names_resolve_in_the_stack_family_first(road, ha6, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo(socket.getaddrinfo))
    monkeypatch.setattr(socket, "getfqdn", lambda host="": host)
    four, six = road("four"), road("six", ha=ha6())
    assert RemoteEstate(stack=four, ha=("dual.test", 7530)).ha == ("192.0.2.7", 7530)
    assert RemoteEstate(stack=six, ha=("dual.test", 7530)).ha == ("2001:db8::7", 7530)


def test_an_unresolvable_name_is_an_error_naming_it(road):
    stack = road("alpha")
    with pytest.raises(EstateError, match="no-such-host.invalid"):
        RemoteEstate(stack=stack, ha=("no-such-host.invalid", 7530))
    # raet lets socket.gaierror through: code written for it catches that (or OSError)
    with pytest.raises(socket.gaierror, match="Cannot resolve address for host 'x.invalid'$"):
        RemoteEstate(stack=stack, ha=("x.invalid", 7530))


def test_an_unresolvable_listening_name_is_a_stack_error_naming_it(tmp_path):
    with pytest.raises(StackError, match="no-such-host.invalid"):
        RoadStack(name="alpha", ha=("no-such-host.invalid", 0), dirpath=str(tmp_path / "a"))


def test_resolving_failure_names_the_host():
    with pytest.raises(EstateError, match="'no-such-host.invalid'"):
        resolving.resolve_host("no-such-host.invalid", socket.AF_INET6)


def test_ipv6_remote_of_an_ipv4_stack_is_dropped_and_counted(road, ha6):
    stack = road("alpha", auto=ALWAYS)
    remote = stack.addRemote(RemoteEstate(stack=stack, fuid=0, sid=0, ha=("::1", 7530)))
    stack.join(uid=remote.uid)
    serve([stack], 0.5)
    assert stat(stack, "tx_unreachable") >= 1 and stat(stack, "tx_error") == 0


# the keep ---------------------------------------------------------------------------------
@needs_ipv6
def test_keep_round_trip_of_ipv6_addresses(road, ha6):
    main = road("main", ha=ha6(), main=True, auto=ALWAYS)
    other = road("other", ha=ha6(), auto=ALWAYS)
    link(main, other)
    saved = json.loads(open(main.keep.localfilepath).read())
    assert saved["ha"] == list(main.ha) and saved["aha"] == list(main.ha)
    again = road.restart(main)
    assert again.ha == main.ha and again.local.ha == main.ha
    assert again.server.sock.family == socket.AF_INET6
    assert only(again).ha == other.ha and only(again).name == "other"


# the core ---------------------------------------------------------------------------------
def test_the_core_joins_over_ipv6_literals():
    net = Net(seed=0)
    main = net.add("main", 7530, host="::1", main=True)
    other = net.add("other", 7531, host="::1")
    remote = core_join(net, main, other)
    assert remote.ha == ("::1", 7530) and only(main).ha == ("::1", 7531)
    other.transmit({"n": 1}, remote.uid)
    assert net.run(2.0, until=lambda: bool(net.of(main, MessageReceived)))
    assert net.of(main, MessageReceived) == [MessageReceived({"n": 1}, "other")]


def test_the_core_refuses_host_names():
    core = Net(seed=0).add("main", 7530)
    with pytest.raises(EstateError, match="'localhost'"):
        RemoteEstate(stack=core, ha=("localhost", 7531))
    assert core.createRemote(("localhost", 7531)) is None
    assert core.stats["failed_addremote"] == 1


def test_addresses_read_as_people_write_them():
    from raetflo.road.addressing import show_ha
    assert show_ha(("127.0.0.1", 7530)) == "127.0.0.1:7530"
    assert show_ha(("::1", 7530)) == "[::1]:7530"
    assert show_ha(["localhost", 1]) == "localhost:1"


@settings(max_examples=500, derandomize=True)
@given(st.one_of(st.text(alphabet="0123456789.a\n٣ ", max_size=16),
                 st.ip_addresses(v=4).map(str)))
def test_dotted_quads_are_told_as_ipaddress_tells_them(host):
    import ipaddress

    from raetflo.road.estating import dotted_quad
    try:
        normal = str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        normal = False
    assert dotted_quad(host) is normal
