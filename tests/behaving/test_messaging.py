"""Messages for real flos: several consumers per house, repliers, shares sent whole,
printers that shorten; through ioflo's test frame and the real ``ioflo`` command."""
from __future__ import annotations

import pytest
from ioflo.aid.consoling import getConsole

from raetflo.behaving.feeding import Feeding

from ..conftest import free_port
from ..flos import command, printed_lines
from .conftest import fails
from .test_laning import yard
from .test_roading import allowed, pair


def lines(printed) -> list[str]:
    return [line for line in printed().splitlines() if " received from " in line]


def test_a_printer_a_relayer_and_a_replier_each_see_every_message(frame, tmp_path, printed):
    pair(frame, tmp_path, printer=True)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    frame.add("MessageRelayer", per={"source": ".beta.road.rxmsgs",
                                     "target": ".beta.relay.out", "relayed": ".beta.relayed"})
    frame.add("RoadStackReplier", inode=".beta.road.", answer="pong")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").extend([{"q": 1}, {"q": 2}])
    assert frame.run(lambda: frame.value(".alpha.road.received") == 2)
    assert lines(printed) == ['beta received from alpha: {"q": 1}',
                              'beta received from alpha: {"q": 2}',
                              'alpha received from beta: {"answer": "pong"}',
                              'alpha received from beta: {"answer": "pong"}']
    assert list(frame.value(".beta.relay.out")) == [{"q": 1}, {"q": 2}]
    assert frame.value(".beta.road.replied") == 2
    assert [n for n, _, _ in frame.value(".beta.road.inbox")] == [1, 2]


def test_a_replier_without_parameters_echoes(frame, tmp_path):
    pair(frame, tmp_path)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    frame.add("RoadStackReplier", inode=".beta.road.")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").append({"echo": [1, {"deep": True}]})
    assert frame.run(lambda: frame.value(".alpha.road.received") == 1)
    assert list(frame.value(".alpha.road.rxmsgs")) == [({"echo": [1, {"deep": True}]}, "beta")]


def test_a_replier_names_the_source_where_a_value_says_source(frame, tmp_path):
    pair(frame, tmp_path)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    frame.add("RoadStackReplier", inode=".beta.road.", answer="hello {source}", to="{source}",
              raw="{sourcery}")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").append({"q": "who am I"})
    assert frame.run(lambda: frame.value(".alpha.road.received") == 1)
    assert list(frame.value(".alpha.road.rxmsgs")) == [
        ({"answer": "hello alpha", "to": "alpha", "raw": "{sourcery}"}, "beta")]


def test_a_whole_share_is_sent_with_nested_values(frame, tmp_path):
    pair(frame, tmp_path)
    send = frame.add("RoadStackTransmitter", "manual", ".alpha.road.", share=".my.body",
                     destination="beta", label="report")
    frame.init(".my.body", items=[1, 2], meta={"by": "alpha", "tags": ["x"]})
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    send()
    frame.store.fetch(".my.body").update(items=[3])  # read when it runs, copied when sent
    send()
    assert frame.run(lambda: frame.value(".beta.road.received") == 2)
    assert [msg for msg, _ in frame.value(".beta.road.rxmsgs")] == [
        {"items": [1, 2], "meta": {"by": "alpha", "tags": ["x"]}, "label": "report"},
        {"items": [3], "meta": {"by": "alpha", "tags": ["x"]}, "label": "report"}]


@pytest.mark.parametrize("parms, phrase", [
    ({"share": ".no.such"},
     "'share' must name a share of the store (\".my.body\"), not '.no.such'"),
    ({"share": 7}, "'share' must name a share"),
    ({"destination": 3, "x": 1}, "'destination' must be a road remote name, not 3"),
])
def test_bad_share_parameters_stop_the_run(frame, tmp_path, parms, phrase):
    pair(frame, tmp_path)
    send = frame.add("RoadStackTransmitter", "manual", ".alpha.road.", **parms)
    frame.enter()
    with pytest.raises(SystemExit) as exc:
        send()
    fails(exc, phrase)


def test_printer_shortens_long_bodies(frame, tmp_path, printed):
    pair(frame, tmp_path)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    frame.add("RoadStackPrinter", inode=".beta.road.", width=20)
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").extend([{"text": "x" * 100}, {"a": 1}])
    assert frame.run(lambda: frame.value(".beta.road.received") == 2)
    assert lines(printed) == ['beta received from alpha: {"text": "xxxxxxx...',
                              'beta received from alpha: {"a": 1}']


@pytest.mark.parametrize("width, phrase", [
    ("wide", "parameter 'width' must be an integer, got 'wide'"),  # refused when made
    (2, "'width' must be an int of at least 4, not 2"),  # refused when it runs
])
def test_printer_refuses_a_bad_width(frame, width, phrase):
    with pytest.raises(SystemExit) as exc:
        printer = frame.add("RoadStackPrinter", "manual", width=width)
        frame.enter()
        printer()
    fails(exc, phrase)


def test_inbox_and_rxmsgs_are_bounded(frame, tmp_path, printed, monkeypatch):
    monkeypatch.setattr(Feeding, "InboxLimit", 3)
    monkeypatch.setattr(Feeding, "RxmsgsLimit", 2)
    console = getConsole()
    monkeypatch.setattr(console, "_verbosity", console.Wordage.concise)
    pair(frame, tmp_path)
    frame.add("RoadStackTransmitter", inode=".alpha.road.")
    printer = frame.add("RoadStackPrinter", "manual", ".beta.road.")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".alpha.road.txmsgs").extend({"n": n} for n in range(5))
    assert frame.run(lambda: frame.value(".beta.road.received") == 5)
    assert [msg["n"] for msg, _ in frame.value(".beta.road.rxmsgs")] == [3, 4]
    assert [n for n, _, _ in frame.value(".beta.road.inbox")] == [3, 4, 5]
    assert "holds 2 unread messages; dropped the" in printed()
    printer()
    assert "missed 2 message(s) that left '.beta.road.inbox'" in printed()
    assert lines(printed) == [f'beta received from alpha: {{"n": {n}}}' for n in (2, 3, 4)]


FLO = """\
house hub

init .road.local with name "hub" port {hub} main True auto "always" keep "{tmp}/hub" clean True
init .hub.answer with reply "yes" n 2

framer road be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack receiver
         do road stack printer with width 30
         do road stack replier with share ".hub.answer"
         do message relayer per source ".road.rxmsgs" target ".hub.log" relayed ".hub.count"
      exit
         do road stack closer

framer talk be active first wait
   frame wait
      go done if .hub.count >= 2
      go failed if elapsed >= 5
   frame done
      go stop if elapsed >= 0.5
   frame stop
      print hub done
      bid stop all
   frame failed
      enter
         do raetflo exit with message "hub did not finish"


house j1

init .road.local with name "j1" port {j1} keep "{tmp}/j1" clean True
init .road.remote with name "hub" port {hub}
init .my.body with text "a long question that the hub printer cuts short" n 1

framer road be active first serve
   frame serve
      enter
         do road stack opener
      recur
         do road stack servicer
         do road stack receiver
         do road stack printer
      exit
         do road stack closer

framer talk be active first join
   frame join
      do road stack joiner
      go ask if allowed in .road.status
      go failed if elapsed >= 5
   frame ask
      enter
         do road stack transmitter with share ".my.body" destination "hub"
         do road stack transmitter with short True
      go done if .road.received >= 2
      go failed if elapsed >= 5
   frame done
      print j1 done
      bid stop all
   frame failed
      enter
         do raetflo exit with message "j1 did not finish"
"""


def test_a_flo_prints_replies_and_relays_every_message(tmp_path):
    flo = tmp_path / "hub.flo"
    flo.write_text(FLO.format(hub=free_port(), j1=free_port(), tmp=tmp_path))
    run = command("ioflo", "-v", "terse", "-f", str(flo))
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(printed_lines(run.stdout)) == sorted([
        'hub received from j1: {"text": "a long question t...',
        'hub received from j1: {"short": true}',
        'j1 received from hub: {"reply": "yes", "n": 2}',
        'j1 received from hub: {"reply": "yes", "n": 2}',
        "*** j1 done ***", "*** hub done ***"])


def test_lane_replier_answers_a_whole_share_and_the_printer_shortens(frame, tmp_path,
                                                                    printed):
    for name in ("alpha", "beta"):
        yard(frame, name, tmp_path / "lane")
        frame.add("LaneStackTransmitter", inode=f".{name}.lane.")
    frame.add("LaneStackPrinter", inode=".alpha.lane.", width=12)
    frame.add("LaneStackPrinter", inode=".beta.lane.")
    frame.add("LaneStackReplier", inode=".beta.lane.", share=".beta.answer", ok=True)
    frame.init(".beta.answer", rows=[{"k": 1}, {"k": 2}])
    ask = frame.add("LaneStackTransmitter", "manual", ".alpha.lane.", destination="beta",
                    q="why")
    frame.enter()
    ask()
    assert frame.run(lambda: frame.value(".alpha.lane.received") == 1)
    assert list(frame.value(".alpha.lane.rxmsgs")) == [
        ({"rows": [{"k": 1}, {"k": 2}], "ok": True}, "beta")]
    assert lines(printed) == ['beta received from alpha: {"q": "why"}',
                              'alpha received from beta: {"rows": ...']
    assert frame.value(".beta.lane.replied") == 1


def test_a_replier_drops_an_answer_to_a_source_that_went(frame, tmp_path, printed):
    pair(frame, tmp_path)
    reply = frame.add("RoadStackReplier", "manual", ".beta.road.", answer="pong")
    frame.enter()
    assert frame.run(lambda: allowed(frame))
    frame.value(".beta.road.inbox").append((1, {"q": 1}, "ghost"))
    reply()  # the run goes on
    assert "Road stack 'beta': dropped the answer to 'ghost': no remote named 'ghost'" \
        in printed()
    assert frame.value(".beta.road.replied") == 0
