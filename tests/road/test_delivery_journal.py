"""The delivery journal: what a stack delivered is remembered across its restarts, the
journal lands before the dones it backs, stays bounded, and damage costs only itself."""
from __future__ import annotations

import os
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from raetflo.raeting import PcktKind, TrnsKind
from raetflo.road import journal, packeting
from raetflo.road.delivery import TID_MODULO, DeliveredMemory
from raetflo.road.stacking import RoadStack

from .conftest import ALWAYS, Wire, idle, only, provisional, serve, stat
from .test_exactly_once import delivered, pair, sender_restarted


def lost_dones(main, other, remote, count, start=0):
    """Send ``count`` messages the main delivers and whose dones are all lost."""
    wire = Wire(main).drop(TrnsKind.message, PcktKind.done)
    for i in range(start, start + count):
        other.transmit({"i": i}, remote.uid)
    serve([main, other], 0.2)
    wire.rules.clear()


def remembered(remote, below=1000):
    """How many of the tids under ``below`` ``remote`` remembers as delivered."""
    return sum(tid in remote.delivered for tid in range(1, below))


@settings(max_examples=200, derandomize=True)
@given(st.integers(1, TID_MODULO - 1),
       st.lists(st.integers(0, 70_000), min_size=1, max_size=60), st.integers(1, 70_000))
def test_a_memory_is_restored_from_its_snapshot_within_its_reach(base, offsets, reach):
    memory = DeliveredMemory()
    for offset in offsets:
        memory.add((base + offset) % TID_MODULO or 1)
    again = DeliveredMemory()
    again.restore(*memory.snapshot(reach))
    for back in [*range(0, 70), reach - 1, reach, DeliveredMemory.Window - 1]:
        tid = (memory.highest - back) % TID_MODULO
        if not tid:
            continue
        if back < min(reach, DeliveredMemory.Window):
            assert (tid in again) == (tid in memory) and not again.stale(tid)
        elif back < 2 ** 31:
            assert tid not in again and again.stale(tid)


def test_a_restored_memory_reaches_further_as_newer_tids_come():
    memory = DeliveredMemory()
    for tid in range(1, 5001):
        memory.add(tid)
    again = DeliveredMemory()
    again.restore(*memory.snapshot(1000))
    assert 4001 in again and again.stale(4000)
    again.add(5100)
    assert again.stale(3900) and not again.stale(4050) and 4050 in again


S = journal.line_start
WANTED = {"a": "k1", "b": "other-keys", "c": "kc", "d": "k2"}


def test_replay_follows_deliveries_restarts_keys_and_compactions():
    memory = DeliveredMemory()
    for tid in (7, 8, 9):
        memory.add(tid)
    lines = b"".join([
        journal.delivery_line(S("a", "k1"), 3, 1),
        journal.delivery_line(S("a", "k1"), 3, 2),
        journal.delivery_line(S("b", "kb"), 5, 4),
        journal.first_line(S("a", "k1"), 4, 1),  # a restarted: what it sent is forgotten
        journal.delivery_line(S("b", "other-keys"), 6, 9),  # a new estate took the name
        journal.memory_line(S("c", "kc"), 2, memory),
        journal.reserve_line(S("c", "kc"), 1025), journal.reserve_line(S("c", "kc"), 2049),
        journal.reserve_line(S("d", "k1"), 3000),
        journal.delivery_line(S("d", "k2"), 1, 3),  # keys of another estate: inherits no tids
        journal.delivery_line(S("gone", "kg"), 1, 3),  # no such record: not even kept
    ])
    found, bad = journal.replay(lines, WANTED)
    assert bad == 0 and set(found) == {"a", "b", "c", "d"}
    assert (found["a"].rsid, found["a"].memory.highest) == (4, 1) and 2 not in found["a"].memory
    assert 4 not in found["b"].memory and 9 in found["b"].memory
    assert found["c"].rsid == 2 and [t for t in range(1, 12) if t in found["c"].memory] == [7, 8, 9]
    assert found["c"].tid_floor == 2049 and found["a"].tid_floor == 0
    assert found["d"].tid_floor == 0 and 3 in found["d"].memory


def test_damaged_lines_are_skipped_and_counted():
    good = journal.delivery_line(S("a", "k1"), 1, 5)
    lines = b"\n".join([b"{", b'["a","k1"]', b'["a","k1",-1,2]', b'["a",2,1,2]',
                        b'["a","k1",1,2,[[3,1]]]', b'["a","k1",1,2,3,"xyz"]',
                        b'["a","k1",4294967296,1]', b'["a","k1",1,0]', b'[' * 10_000,
                        b'["a","k1",1,2]' * 5000,
                        good.rstrip(), good[:9]])  # the last one cut short, as by a crash
    found, bad = journal.replay(lines, WANTED)
    assert bad == 11 and 5 in found["a"].memory


def test_lines_of_names_not_asked_for_hold_no_memory(monkeypatch):
    """Only the records asked for are remembered: a journal naming many others (removed
    remotes, or made up) costs its reading, not memories."""
    memory = DeliveredMemory()
    for tid in range(1, 60_000, 2):
        memory.add(tid)
    lines = b"".join(journal.memory_line(S(f"n{index}", "k"), 1, memory)
                     for index in range(300))
    made = []
    restore = DeliveredMemory.restore
    monkeypatch.setattr(DeliveredMemory, "restore",
                        lambda self, *args: made.append(1) or restore(self, *args))
    found, bad = journal.replay(lines + journal.memory_line(S("a", "k1"), 1, memory), WANTED)
    assert bad == 0 and set(found) == {"a"} and len(made) == 1
    assert 59_999 in found["a"].memory and found["a"].memory.stale(59_999 - journal.REACH)


def test_repeats_after_a_restart_are_answered_from_the_journal(road):
    main, other, remote = pair(road)
    lost_dones(main, other, remote, 3)
    assert len(main.rxMsgs) == 3 and stat(main, "journal_bad_line") == 0
    main = road.restart(main, main=True, auto=ALWAYS)
    assert remembered(only(main)) == 3
    serve([main, other], 5.0, until=lambda: (main.manage() or True) and not other.transactions)
    assert not main.rxMsgs and stat(main, "duplicate_message") >= 3
    assert stat(other, "message_initiate_complete") == 3


def test_the_journal_is_written_before_the_dones_it_backs(road):
    main, other, remote = pair(road)
    dones_sent, lines_then = [], []
    send = main.server.send

    def watched(data, ha):
        head = packeting.parse(data).head
        if (head.tk, head.pk) == (TrnsKind.message, PcktKind.done):
            dones_sent.append(1)
            lines_then.append(main.keep.load_journal().count(b"\n"))
        return send(data, ha)

    main.server.send = watched
    for i in range(4):
        other.transmit({"i": i}, remote.uid)
    serve([main, other], 1.0, until=lambda: len(main.rxMsgs) == 4 and idle(main, other)())
    assert len(dones_sent) == 4
    assert all(lines >= sent for sent, lines in enumerate(lines_then, 1)), lines_then


def test_one_append_per_pass_and_synced_only_when_asked(road, monkeypatch):
    main, other, remote = pair(road)
    appends = []
    real = main.keep.append_journal
    monkeypatch.setattr(main.keep, "append_journal",
                        lambda lines, sync=False: (appends.append((lines.count(b"\n"), sync)),
                                                   real(lines, sync)))
    for i in range(50):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=50)
    assert sum(n for n, _ in appends) == 50 and len(appends) <= 3
    assert not any(sync for _, sync in appends)
    monkeypatch.setattr(RoadStack, "SyncDeliveries", True)
    other.transmit({"i": 50}, remote.uid)
    delivered(main, other, receiver=main, count=51)
    assert appends[-1] == (1, True)


def test_the_journal_stays_bounded_and_compacted_still_remembers(road, monkeypatch):
    monkeypatch.setattr(RoadStack, "JournalMax", 2_000)
    main, other, remote = pair(road)
    for i in range(300):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=300)
    assert stat(main, "journal_compacted") >= 1
    assert main.journal_size <= 2_000 + 200 and os.path.getsize(main.keep.journalpath) \
        == main.journal_size
    lost_dones(main, other, remote, 3, start=300)
    main = road.restart(main, main=True, auto=ALWAYS)
    assert remembered(only(main)) == 303
    serve([main, other], 5.0, until=lambda: (main.manage() or True) and not other.transactions)
    assert not main.rxMsgs and stat(other, "message_initiate_complete") == 303


def test_a_restarted_peer_s_new_messages_are_not_taken_for_old_ones(road):
    """The journal says when the peer restarted, so its new tids, counted from 1 again,
    are not mistaken for the old ones after our own restart."""
    main, other, remote = pair(road)
    for i in range(6):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=6)
    other = road.restart(other, auto=ALWAYS)
    for i in range(6, 8):
        other.transmit({"i": i}, only(other).uid)
    delivered(main, other, receiver=main, count=8, manage=True)
    main = road.restart(main, main=True, auto=ALWAYS)
    for i in range(8, 12):  # tids 3 to 6 of the peer's new incarnation
        other.transmit({"i": i}, only(other).uid)
    got = delivered(main, other, receiver=main, count=4, manage=True)
    assert sorted(m["i"] for m in got) == list(range(8, 12))


def test_a_damaged_journal_costs_only_itself(road):
    main, other, remote = pair(road)
    lost_dones(main, other, remote, 2)
    main.close()
    with open(main.keep.journalpath, "ab") as damaged:
        damaged.write(b'["other", "half a line')
    main = road.restart(main, main=True, auto=ALWAYS)
    assert stat(main, "journal_bad_line") == 1 and remembered(only(main)) == 2
    os.unlink(main.keep.journalpath)
    os.symlink("/etc/passwd", main.keep.journalpath)
    main = road.restart(main, main=True, auto=ALWAYS)
    assert not only(main).delivered.highest and stat(main, "keep_file_damaged") == 1
    assert not os.path.islink(main.keep.journalpath)


def test_forgetting_the_remotes_forgets_their_journal(road):
    main, other, remote = pair(road)
    lost_dones(main, other, remote, 1)
    assert os.path.exists(main.keep.journalpath)
    main.keep.clear_all_remotes()
    assert not os.path.exists(main.keep.journalpath)


def test_a_record_made_anew_starts_its_journal_anew(road):
    """A peer removed, restarted (tids from 1 again, same keys) and joined anew: its new
    messages are not taken, after our restart, for the old record's."""
    main, other, remote = pair(road)
    for i in range(8):
        other.transmit({"i": i}, remote.uid)
    delivered(main, other, receiver=main, count=8)
    main.removeRemote(only(main))
    other = road.restart(other, auto=ALWAYS)
    other.removeRemote(only(other))
    back = provisional(other, main)
    other.join(uid=back.uid, cascade=True)
    serve([main, other], 5.0, until=lambda: bool(main.remotes) and only(main).allowed
          and idle(main, other)())
    main.rxMsgs.clear()
    for i in range(8, 10):
        other.transmit({"i": i}, back.uid)
    delivered(main, other, receiver=main, count=2, manage=True)
    main = road.restart(main, main=True, auto=ALWAYS)
    for i in range(10, 16):
        other.transmit({"i": i}, back.uid)
    got = delivered(main, other, receiver=main, count=6, manage=True)
    assert sorted(m["i"] for m in got) == list(range(10, 16))


def test_a_sender_restarted_while_its_first_packets_were_lost_loses_nothing(road):
    """A restarted sender goes on from the tids it reserved in its journal, so messages
    of its new incarnation are never taken for the old one's, whichever of its packets
    the receiver sees first."""
    main, other, back = sender_restarted(road, 3)
    assert back.tid == back.tid_reserved > back.TidBlock  # goes on above what it reserved
    wire = Wire(other).drop(TrnsKind.allow, PcktKind.hello).drop(TrnsKind.message,
                                                                 PcktKind.message)
    for i in range(3, 9):
        other.transmit({"i": i}, back.uid)
    serve([main, other], 3.0, until=lambda: (other.manage() or main.manage() or False))
    wire.rules.clear()
    got = delivered(main, other, receiver=main, count=6, manage=True)
    assert sorted(m["i"] for m in got) == list(range(3, 9))
    assert not stat(main, "duplicate_message")


def test_restarts_do_not_let_the_journal_grow_past_its_bound(road, monkeypatch):
    monkeypatch.setattr(RoadStack, "JournalMax", 1_500)
    main, other, remote = pair(road)
    sizes = []
    for round_ in range(6):
        for i in range(20):
            other.transmit({"i": i}, remote.uid)
        delivered(main, other, receiver=main, count=20, manage=True)
        main.rxMsgs.clear()
        sizes.append(os.path.getsize(main.keep.journalpath))
        main = road.restart(main, main=True, auto=ALWAYS)
    assert max(sizes) <= 2 * 1_500 + 1_000, sizes


@pytest.mark.parametrize("name", ['a"b', "a\\b", "ünï", "tab\there", 'a","b', "plain"])
def test_any_name_reads_back_as_written(name):
    lines = journal.first_line(S(name, "k"), 1, 5) + journal.delivery_line(S(name, "k"), 1, 6)
    found, bad = journal.replay(lines, {name: "k"})
    assert bad == 0 and 5 in found[name].memory and 6 in found[name].memory


def test_a_line_with_a_raw_control_character_is_damaged():
    assert journal.replay(b'["a\x01","k",1,5]', {"a\x01": "k"}) == ({}, 1)


def test_a_renamed_record_keeps_its_memory_across_a_restart(road):
    main, other, remote = pair(road)
    lost_dones(main, other, remote, 3)
    main.renameRemote(only(main), "renamed", dump=True)
    main = road.restart(main, main=True, auto=ALWAYS)
    assert only(main).name == "renamed" and remembered(only(main)) == 3


def test_deliveries_whose_journal_append_failed_are_journaled_once_it_works(road,
                                                                              monkeypatch):
    """A failed append (a full disk, say) is counted and logged; its lines are not lost:
    the journal is written whole again as soon as the keep takes writes."""
    from raetflo.road.keeping import KeepError
    main, other, remote = pair(road)
    real, failing = main.keep.append_journal, [True]

    def append(lines, sync=False):
        if failing[0]:
            raise KeepError("no space left on device")
        real(lines, sync)

    monkeypatch.setattr(main.keep, "append_journal", append)
    lost_dones(main, other, remote, 3)
    assert len(main.rxMsgs) == 3 and stat(main, "keep_error") >= 1
    failing[0] = False
    main.store.advanceStamp(RoadStack.JournalRetry)
    main.serviceAll()  # nothing new delivered: the retry comes of itself
    main = road.restart(main, main=True, auto=ALWAYS)
    assert remembered(only(main)) == 3
    serve([main, other], 5.0, until=lambda: (main.manage() or True) and not other.transactions)
    assert not main.rxMsgs and stat(other, "message_initiate_complete") == 3


def test_a_journal_behind_is_retried_once_a_retry_period(road, monkeypatch):
    from raetflo.road.keeping import KeepError
    main, other, remote = pair(road)
    attempts = []

    def fail(*args, **kwa):
        attempts.append(main.now)
        raise KeepError("no space left on device")

    monkeypatch.setattr(main.keep, "append_journal", fail)
    monkeypatch.setattr(main.keep, "rewrite_journal", fail)
    for i in range(20):  # a delivery in (about) every pass for 2 s
        other.transmit({"i": i}, remote.uid)
        serve([main, other], 0.1)
    serve([main, other], 0.5, until=lambda: len(main.rxMsgs) == 20)
    assert len(main.rxMsgs) == 20 and main.now - attempts[0] < 3.0
    assert 2 <= len(attempts) <= 4 and stat(main, "keep_error") == len(attempts)
