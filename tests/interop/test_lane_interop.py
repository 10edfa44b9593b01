"""Lane interop with raet 0.6.8: messages both ways, queues, paged books, captured bytes."""
from __future__ import annotations

import os
import socket
import types

import pytest

from . import refshim

refshim.install()

from raet.lane import stacking as ref_stacking  # noqa: E402
from raet.lane import yarding as ref_yarding  # noqa: E402

from raetflo.lane import paging, stacking, yarding  # noqa: E402

from ..lane.servicing import drain, echo_through_peer, service  # noqa: E402

IMPLS = {
    "raetflo": types.SimpleNamespace(LaneStack=stacking.LaneStack, RemoteYard=yarding.RemoteYard),
    "raet": types.SimpleNamespace(LaneStack=ref_stacking.LaneStack,
                                  RemoteYard=ref_yarding.RemoteYard),
}
DIRECTIONS = [("raetflo", "raet"), ("raet", "raetflo")]


@pytest.fixture
def use_pk(monkeypatch):
    """Set the body kind of both implementations (a class attribute, as in the reference)."""
    def use(pk: int) -> None:
        for impl in IMPLS.values():
            monkeypatch.setattr(impl.LaneStack, "Pk", pk)
    return use


def pair(make_lane, sender: str, receiver: str):
    """A ``sender`` yard alpha that knows the ``receiver`` yard beta, which knows nobody."""
    alpha = make_lane(IMPLS[sender].LaneStack, "alpha")
    beta = make_lane(IMPLS[receiver].LaneStack, "beta")
    remote = IMPLS[sender].RemoteYard(stack=alpha, ha=beta.ha)
    alpha.addRemote(remote)
    return alpha, beta, remote


@pytest.mark.parametrize("sender, receiver", DIRECTIONS)
def test_small_messages_and_replies(make_lane, sender, receiver):
    alpha, beta, remote = pair(make_lane, sender, receiver)
    msgs = [{"content": "Hello this is a message from alpha to beta"}, {},
            {"content": "caf\u00e9 \u2603", "n": 1, "ok": True, "none": None, "f": 1.5,
             "l": [1, "x"], "d": {"z": 1, "a": 2}}]
    for msg in msgs:
        alpha.transmit(msg, remote.uid)
    service([alpha, beta], lambda: len(beta.rxMsgs) == len(msgs))
    received = drain(beta)
    assert received == [(msg, "alpha") for msg in msgs]
    assert [list(msg) for msg, _ in received] == [list(msg) for msg in msgs]  # key order
    back = beta.remotes.values()[0]  # the receiver added the sender from its socket path
    assert (back.name, back.ha) == ("alpha", alpha.ha)
    beta.transmit({"content": "Hi from beta"})
    service([alpha, beta], lambda: alpha.rxMsgs)
    assert drain(alpha) == [({"content": "Hi from beta"}, "beta")]
    assert not alpha.stats and not beta.stats


@pytest.mark.parametrize("sender, receiver", DIRECTIONS)
def test_three_hundred_queued_at_once(make_lane, sender, receiver):
    alpha, beta, remote = pair(make_lane, sender, receiver)
    for n in range(300):
        alpha.transmit({"n": n, "from": sender}, remote.uid)
    service([alpha, beta], lambda: len(beta.rxMsgs) == 300)
    assert drain(beta) == [({"n": n, "from": sender}, "alpha") for n in range(300)]
    assert set(alpha.stats) <= {"busy_transmit_yard"} and not beta.stats


@pytest.mark.parametrize("pk", list(paging.PackKind))
@pytest.mark.parametrize("sender, receiver", DIRECTIONS)
def test_paged_messages(make_lane, use_pk, sender, receiver, pk):
    use_pk(pk)
    alpha, beta, remote = pair(make_lane, sender, receiver)
    msgs = [{"content": "".join(f"{n:10d}" for n in range(k * 10000, k * 10000 + 40000)),
             "k": k, "caf\u00e9": ["\u2603", None, 2.5]} for k in range(3)]  # 400 KB each
    for msg in msgs:
        alpha.transmit(msg, remote.uid)
    service([alpha, beta], lambda: len(beta.rxMsgs) == len(msgs))
    assert drain(beta) == [(msg, "alpha") for msg in msgs]
    beta.transmit(msgs[1])  # and back through the auto-added remote
    service([alpha, beta], lambda: alpha.rxMsgs)
    assert drain(alpha) == [(msgs[1], "beta")]
    assert set(alpha.stats) | set(beta.stats) <= {"busy_transmit_yard"}


@pytest.mark.parametrize("pk", list(paging.PackKind))
def test_reference_pages_are_byte_identical_to_ours(make_lane, sockdir, use_pk, pk):
    """Capture what the reference sends to a raw socket; our encoder gives the same bytes."""
    use_pk(pk)
    ref = make_lane(ref_stacking.LaneStack, "alpha")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        raw.bind(os.path.join(sockdir, "zeus.beta.uxd"))
        remote = ref_yarding.RemoteYard(stack=ref, ha=raw.getsockname())
        ref.addRemote(remote)
        bodies = [{"content": "Hello this is a message from alpha to beta"}, {},
                  {"content": "caf\u00e9 \u2603", "l": [1, None, 1.5]},
                  {"content": "".join(f"{n:10d}" for n in range(10000))}]
        for body in bodies:
            ref.transmit(body, remote.uid)
            ref.serviceAll()
        captured = []
        raw.setblocking(False)
        while True:
            try:
                captured.append(raw.recv(1 << 17))
            except BlockingIOError:
                break
    ours = [page for bi, body in enumerate(bodies, start=1)
            for page in paging.paginate(paging.pack_body(body, pk), "alpha", "beta",
                                        remote.sid, bi, pk=pk)]
    assert [len(page) for page in captured][-2:] == [65533, 34639]
    assert captured == ours


def test_reference_restart_mid_book(make_lane):
    """A reference sender restarting in mid-book starts a new session: the book goes."""
    alpha, beta, remote = pair(make_lane, "raet", "raetflo")
    alpha.transmit({"x": "y" * 70000}, remote.uid)
    alpha.serviceOneAllTx()  # only page 0 leaves
    beta.serviceAll()
    assert len(beta.books) == 1
    alpha.server.close()
    alpha = make_lane(ref_stacking.LaneStack, "alpha")
    alpha.addRemote(ref_yarding.RemoteYard(stack=alpha, ha=beta.ha))
    alpha.transmit({"after": "restart"})
    service([alpha, beta], lambda: beta.rxMsgs)
    assert drain(beta) == [({"after": "restart"}, "alpha")]
    assert dict(beta.stats) == {"stale_book": 1} and len(beta.books) == 0


def test_reference_peer_in_another_process(make_lane, sockdir):
    alpha = make_lane(stacking.LaneStack, "alpha")
    msgs = [{"n": n} for n in range(100)] + [{"big": "q" * 250_000}]
    echoes, peer_stats = echo_through_peer(alpha, yarding.RemoteYard, sockdir, msgs,
                                           impl="raet")
    assert echoes == [({"echo": msg, "by": "beta"}, "beta") for msg in msgs]
    assert set(peer_stats) | set(alpha.stats) <= {"busy_transmit_yard"}


def test_socket_paths_shared_with_the_reference(make_lane):
    """We never take a live reference yard's path; if it takes ours, our close spares it."""
    ref_beta = make_lane(ref_stacking.LaneStack, "beta")
    with pytest.raises(stacking.StackError, match="live process"):
        make_lane(stacking.LaneStack, "beta")
    assert os.path.exists(ref_beta.ha)
    ours = make_lane(stacking.LaneStack, "gamma")
    ref_gamma = make_lane(ref_stacking.LaneStack, "gamma")  # the reference unlinks and binds
    ours.server.close()
    assert os.path.exists(ref_gamma.ha)
    alpha = make_lane(stacking.LaneStack, "alpha")
    alpha.addRemote(yarding.RemoteYard(stack=alpha, ha=ref_gamma.ha))
    alpha.transmit({"to": "the reference gamma"})
    service([alpha, ref_gamma], lambda: ref_gamma.rxMsgs)
    assert drain(ref_gamma) == [({"to": "the reference gamma"}, "alpha")]
