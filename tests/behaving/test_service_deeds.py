"""Stats, split rx/tx servicers, the keep cleaner and lost lane messages, through ioflo's
test frame, asserted on shares."""
from __future__ import annotations

import os
import socket

from ..conftest import free_port
from ..flos import command
from .conftest import PERIOD
from .test_laning import yard
from .test_roading import allowed, pair, road


def fields(frame, path: str) -> dict:
    return dict(frame.store.fetch(path).items())


def test_road_stack_stats_publishes_every_counter(frame, tmp_path):
    pair(frame, tmp_path)
    frame.add("RoadStackStats", inode=".beta.road.")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    stack = frame.value(".beta.road.stack")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        junk.sendto(b"not a packet", stack.ha)
    before = dict(stack.stats)
    assert frame.run(lambda: stack.stats != before)
    frame.run(lambda: True, limit=PERIOD)
    stats = fields(frame, ".beta.road.stats")
    assert stats == dict(stack.stats) and len(stats) > len(before)


def test_rx_and_tx_servicers_split_the_service(frame, tmp_path):
    beta = road(frame, "beta", tmp_path, main=True, auto="always")
    frame.init(".alpha.road.local", name="alpha", port=free_port(),
               keep=str(tmp_path / "keep" / "alpha"))
    frame.init(".alpha.road.remote", port=beta["port"])
    frame.add("RoadStackOpener", "enter", ".alpha.road.")
    joiner = frame.add("RoadStackJoiner", "manual", ".alpha.road.")
    rx = frame.add("RoadStackRxServicer", "manual", ".alpha.road.")
    tx = frame.add("RoadStackTxServicer", "manual", ".alpha.road.")
    frame.add("RoadStackCloser", "exit", ".alpha.road.")
    frame.enter()
    stack = frame.value(".alpha.road.stack")
    joiner()
    rx()
    assert stack.txes  # the join request waits for the tx servicer
    tx()
    assert not stack.txes
    assert frame.run(lambda: rx() or joiner() or tx() or allowed(frame))
    assert frame.value(".alpha.road.presence", "allowed") == ["beta"]


def test_road_stack_cleaner_closes_and_deletes_the_keep(frame, tmp_path):
    local = road(frame, "alpha", tmp_path)
    cleaner = frame.add("RoadStackCleaner", "manual", ".alpha.road.")
    frame.enter()
    stack = frame.value(".alpha.road.stack")
    assert os.path.isdir(local["keep"])
    cleaner()
    assert frame.value(".alpha.road.stack") is None and not stack.server.opened
    assert not os.path.exists(local["keep"])
    frame.enter()  # opened again, a new estate; then closed, then cleaned from local
    key = frame.value(".alpha.road.stack").local.signer.keyhex
    assert key != stack.local.signer.keyhex
    frame.case.frame.exit()
    assert os.path.isdir(local["keep"])
    cleaner()
    assert not os.path.exists(local["keep"])


def test_lane_stack_stats_publishes_every_counter(frame, tmp_path):
    yard(frame, "alpha", tmp_path / "lane")
    frame.add("LaneStackStats", inode=".alpha.lane.")
    frame.init(".alpha.lane.destination", value="nosuch")
    frame.add("LaneStackTransmitter", "enter", ".alpha.lane.", text="hi")
    frame.enter()
    stack = frame.value(".alpha.lane.stack")
    assert frame.run(lambda: frame.value(".alpha.lane.stats", "stale_transmit_yard") == 1)
    assert fields(frame, ".alpha.lane.stats") == dict(stack.stats)


def test_a_lane_message_to_a_missing_yard_is_an_error_the_flo_sees(frame, tmp_path, printed):
    yard(frame, "alpha", tmp_path / "lane")
    frame.init(".alpha.lane.destination", value="nosuch")
    send = frame.add("LaneStackTransmitter", "manual", ".alpha.lane.", text="hi")
    frame.enter()
    assert frame.value(".alpha.lane.status", "dropped") == 0
    send()
    assert frame.run(lambda: frame.value(".alpha.lane.status", "dropped") == 1)
    error = frame.value(".alpha.lane.status", "error")
    assert error == ("Lane stack 'alpha': 1 message(s) lost (stale_transmit_yard 1); "
                     "no yard nosuch")
    assert [line for line in printed().splitlines() if " lost " in line] == [error]
    frame.run(lambda: False, limit=4 * PERIOD)  # counted once
    assert [line for line in printed().splitlines() if " lost " in line] == [error]
    send()
    assert frame.run(lambda: frame.value(".alpha.lane.status", "dropped") == 2)


LOST_FLO = """\
house alpha

init .lane.local with name "alpha" lane "demo" sockdir "{sockdir}"
init .lane.destination with value "gamma"

framer stack be active first serve
   frame serve
      enter
         do lane stack opener
         do lane stack transmitter with greeting "anyone"
      recur
         do lane stack rx servicer
         do lane stack tx servicer
         do lane stack stats
      exit
         do lane stack closer

framer watch be active first wait
   frame wait
      go lost if dropped in .lane.status >= 1
      go failed if elapsed >= 2

   frame lost
      go stale if stale_transmit_yard in .lane.stats >= 1
      go failed if elapsed >= 1

   frame stale
      enter
         do raetflo exit with message "lane message lost"

   frame failed
      enter
         do raetflo exit with message "loss not seen"
"""


def test_a_flo_sees_a_lane_message_lost(tmp_path):
    flo = tmp_path / "lost.flo"
    flo.write_text(LOST_FLO.format(sockdir=tmp_path / "lane"))
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Lane stack 'alpha': 1 message(s) lost (stale_transmit_yard 1); no yard gamma" \
        in run.stdout
    assert run.stderr.strip().splitlines()[-1].endswith("in house 'alpha': lane message lost")
