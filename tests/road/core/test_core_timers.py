"""``get_timer()`` says when a core next needs ``handle_timer``, and at that time the core
makes progress: a lost datagram is sent again at its redo deadline."""
from __future__ import annotations

import pytest

from raetflo.events import MessageDelivered, MessageDropped, MessageReceived
from raetflo.road.joining import Joiner
from raetflo.road.messaging import Messenger

from .conftest import Net, join


def test_no_timer_when_idle(net: Net, pair) -> None:
    main, other = pair
    assert main.get_timer() is None and other.get_timer() is None
    join(net, main, other)
    assert main.get_timer() is None and other.get_timer() is None


def test_timer_is_the_earliest_deadline(net: Net, pair) -> None:
    main, other = pair
    remote = net.provisional(other, main)
    other.join(uid=remote.uid)
    ref = other.send_message({"soon": "gone"}, uid=remote.uid, timeout=0.1)
    other.datagrams_to_send()  # the join request is lost
    assert other.get_timer() == pytest.approx(0.1)  # the message's timeout, before the redo
    other.handle_timer(0.1)
    assert other.next_event() == MessageDropped(ref, remote.name, "timed out")
    assert other.get_timer() == pytest.approx(Joiner.RedoTimeoutMin)


def test_a_lost_segment_is_redone_at_the_redo_deadline(net: Net, pair) -> None:
    main, other = pair
    join(net, main, other)
    start = net.now
    ref = other.send_message({"lost": "once"})
    assert len(other.datagrams_to_send()) == 1  # lost on the wire
    due = other.get_timer()
    assert due == pytest.approx(start + Messenger.RedoTimeoutMin)
    other.handle_timer(due - 0.01)
    assert other.datagrams_to_send() == []  # not yet
    other.handle_timer(due)
    redone = other.datagrams_to_send()
    assert len(redone) == 1
    assert other.get_timer() > due  # the next redo, backed off
    for data, _ in redone:
        main.receive_datagram(data, net.addr(other), due)
    assert main.next_event() == MessageReceived({"lost": "once"}, "other")
    for data, _ in main.datagrams_to_send():
        other.receive_datagram(data, net.addr(main), due)
    assert other.next_event() == MessageDelivered(ref, "main")
    assert other.get_timer() is None


def test_net_run_wakes_only_at_deadlines(net: Net, pair) -> None:
    """Driven by get_timer alone a join ends in a few passes, not one per time step."""
    main, other = pair
    net.Step = 1000.0
    passes = 0

    def done() -> bool:
        nonlocal passes
        passes += 1
        return net.remote(other, main).allowed and net.idle()

    net.provisional(other, main)
    other.join(cascade=True)
    assert net.run(10.0, until=done)
    assert passes <= 3
