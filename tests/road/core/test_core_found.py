"""What the state machine found, each as one focused case."""
from __future__ import annotations

from raetflo.events import MessageDropped, MessageReceived

from .conftest import Faults, Net, join


def test_a_message_delivered_whose_done_is_lost_is_dropped_as_unconfirmed(net: Net,
                                                                          pair) -> None:
    main, other = pair
    join(net, main, other)
    main_addr = net.addr(main)
    net.faults = Faults(drop=1.0, only=lambda data, source, dest: source == main_addr)
    ref = other.send_message({"done": "lost"}, timeout=0.1)  # shorter than the first redo
    net.run(1.0)
    assert net.of(main, MessageReceived) == [MessageReceived({"done": "lost"}, "other")]
    assert net.of(other, MessageDropped) == [
        MessageDropped(ref, "main", "timed out; it may have been delivered", True)]
