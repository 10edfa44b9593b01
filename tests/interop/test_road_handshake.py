"""Join, allow and alive between raetflo and the reference raet 0.6.8 over loopback UDP."""
from __future__ import annotations

import pytest

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.stacking import service_stacks

from .conftest import add_remote

PAIRS = [("raetflo", "raet"), ("raet", "raetflo")]  # (joiner, main)


def only_remote(stack):
    remotes = list(stack.remotes.values())
    assert len(remotes) == 1, remotes
    return remotes[0]


def settled(*stacks):
    return lambda: all(not s.transactions for s in stacks)


def handshake(joiner, main, duration=3.0):
    remote = joiner.remotes.values()[0]
    joiner.join(uid=remote.uid, cascade=True)
    service_stacks([main, joiner], duration, until=settled(main, joiner))


@pytest.mark.parametrize("joiner_impl,main_impl", PAIRS)
def test_join_allow_alive(make_stack, joiner_impl, main_impl):
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.always.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    add_remote(joiner_impl, joiner, main)

    handshake(joiner, main)

    for stack, peer in ((joiner, main), (main, joiner)):
        remote = only_remote(stack)
        assert remote.name == peer.local.name
        assert remote.joined is True
        assert remote.allowed is True
        assert remote.alived is True
        assert remote.acceptance == Acceptance.accepted
    assert not main.transactions and not joiner.transactions
    ours = joiner if joiner_impl == "raetflo" else main
    assert ours.stats.get("parsing_outer_error", 0) == 0
    assert ours.stats.get("rx_exception", 0) == 0
    # session ids: join 0, allow 1, everything after 2 on a fresh pair
    assert only_remote(joiner).sid == 2


@pytest.mark.parametrize("joiner_impl,main_impl", PAIRS)
def test_auto_never_pends_until_operator_accepts(make_stack, joiner_impl, main_impl):
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.never.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    add_remote(joiner_impl, joiner, main)

    handshake(joiner, main, duration=6.0)  # both sides give up after 5 s

    pending = only_remote(main)
    assert pending.acceptance == Acceptance.pending
    assert pending.joined is None
    assert only_remote(joiner).joined is None
    # nothing gets through while pending: an allow asks for a join, which pends again
    joiner.allow(uid=only_remote(joiner).uid)
    service_stacks([main, joiner], 1.0)
    assert only_remote(joiner).allowed is not True
    assert only_remote(main).allowed is not True

    main.keep.acceptRemote(pending)
    service_stacks([main, joiner], 6.0, until=settled(main, joiner))
    handshake(joiner, main)

    for stack in (main, joiner):
        remote = only_remote(stack)
        assert remote.joined is True
        assert remote.allowed is True


@pytest.mark.parametrize("joiner_impl,main_impl", PAIRS)
def test_operator_accepts_while_pending(make_stack, joiner_impl, main_impl):
    """Accepting within the join's lifetime completes that same join."""
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.never.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    add_remote(joiner_impl, joiner, main)
    joiner.join(uid=joiner.remotes.values()[0].uid)
    service_stacks([main, joiner], 1.0)
    pending = only_remote(main)
    assert pending.acceptance == Acceptance.pending

    main.keep.acceptRemote(pending)
    service_stacks([main, joiner], 4.0, until=settled(main, joiner))

    assert only_remote(main).joined is True
    assert only_remote(joiner).joined is True


@pytest.mark.parametrize("joiner_impl,main_impl", PAIRS)
def test_restarted_joiner_rejoins_from_keep(make_stack, joiner_impl, main_impl):
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.never.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    add_remote(joiner_impl, joiner, main)
    joiner.join(uid=joiner.remotes.values()[0].uid)
    service_stacks([main, joiner], 0.5)
    main.keep.acceptRemote(only_remote(main))
    service_stacks([main, joiner], 4.0, until=settled(main, joiner))
    assert only_remote(joiner).joined is True
    before = only_remote(main)
    sid = only_remote(joiner).sid

    joiner.server.close()
    restarted = make_stack(joiner_impl, "minion", ha=joiner.ha, dirpath=joiner.keep.dirpath,
                           auto=AutoMode.always.value)
    remote = only_remote(restarted)
    assert remote.name == "main"
    assert remote.joined is True
    assert remote.sid == sid + 1  # a restart advances the session
    assert restarted.local.signer.verhex == joiner.local.signer.verhex \
        if joiner_impl == "raetflo" else True

    handshake(restarted, main)  # main is still in never mode: no operator needed now

    after = only_remote(main)
    assert after is before
    assert after.joined is True and after.allowed is True
    assert only_remote(restarted).allowed is True


@pytest.mark.parametrize("joiner_impl,main_impl", PAIRS)
def test_restarted_main_accepts_rejoin(make_stack, joiner_impl, main_impl):
    main = make_stack(main_impl, "main", main=True, auto=AutoMode.once.value)
    joiner = make_stack(joiner_impl, "minion", auto=AutoMode.always.value)
    add_remote(joiner_impl, joiner, main)
    handshake(joiner, main)
    assert only_remote(main).allowed is True

    main.server.close()
    main2 = make_stack(main_impl, "main", ha=main.ha, dirpath=main.keep.dirpath, main=True,
                       auto=AutoMode.never.value)
    restored = only_remote(main2)
    assert restored.joined is True and restored.allowed is None

    handshake(joiner, main2)

    assert len(main2.remotes) == 1
    assert only_remote(main2).joined is True and only_remote(main2).allowed is True
    assert only_remote(joiner).allowed is True
