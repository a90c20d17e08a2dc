"""The rule for one scan, called directly (no database, no HTTP): the order of the gates,
the judged time, the timeline's answers and what a delegate counts at each site."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from diemcau.checkin import timeline
from diemcau.checkin.rules import Verdict, Window, decide, gate, judged_time
from diemcau.checkin.timeline import FIELD, Entry

NOW = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(hours=1), NOW + timedelta(hours=3), False, False)
HOME, OTHER = 1, 2


def entry(minute: int, inward: bool = True, site: int = HOME, n: int = 0) -> Entry:
    return Entry(minute * 60_000_000, inward, site, bytes([minute % 256, n]) + bytes(14))


def test_a_clock_more_than_five_minutes_ahead_is_judged_at_arrival() -> None:
    assert judged_time(NOW + timedelta(minutes=5), NOW) == (NOW + timedelta(minutes=5), False)
    assert judged_time(NOW + timedelta(minutes=5, seconds=1), NOW) == (NOW, True)
    assert judged_time(NOW - timedelta(days=1), NOW) == (NOW - timedelta(days=1), False)


def test_the_gates_refuse_in_their_order() -> None:
    revoked = Verdict("revoked", "revoked")
    signed_off = Window(WINDOW.opens_at, WINDOW.ends_at, True, False)
    assert gate(signed_off, NOW, revoked)[0].result == "closed"  # type: ignore[union-attr]
    early = WINDOW.opens_at - timedelta(seconds=1)
    assert gate(WINDOW, early, revoked)[0] is revoked
    assert gate(WINDOW, early, None, HOME, HOME)[0].result == "not_open"  # type: ignore[union-attr]
    assert gate(WINDOW, WINDOW.ends_at, None, HOME, HOME)[0].result == "closed"  # type: ignore[union-attr]
    assert gate(WINDOW, WINDOW.opens_at, None, HOME, HOME) == (None, False)


def test_another_site_is_moved_or_refused_by_policy() -> None:
    assert gate(WINDOW, NOW, None, HOME, OTHER) == (None, True)
    reject = Window(WINDOW.opens_at, WINDOW.ends_at, False, True)
    verdict, moved = gate(reject, NOW, None, HOME, OTHER)
    assert verdict is not None and verdict.result == "wrong_site" and not moved
    assert gate(reject, NOW, None, None, OTHER) == (None, False)  # a walk-in belongs anywhere


def test_first_entry_is_accepted_then_duplicates_name_it() -> None:
    entries: list[Entry] = []
    assert decide(entries, entry(10), False).result == "accepted"
    again = decide(entries, entry(12, n=1), False)
    assert again.result == "duplicate" and again.first == entries[0]


def test_an_earlier_scan_arriving_late_takes_the_count() -> None:
    entries: list[Entry] = []
    decide(entries, entry(10, site=OTHER), True)
    late = decide(entries, entry(5), False)
    assert late.result == "accepted"
    assert entries[timeline.first_in(entries) or 0].site_id == HOME


def test_a_tie_goes_to_the_first_to_arrive() -> None:
    entries: list[Entry] = []
    assert decide(entries, entry(10, site=OTHER), True).result == "accepted"
    assert decide(entries, entry(10, site=HOME, n=1), False).result == "duplicate"
    assert entries[timeline.first_in(entries) or 0].site_id == OTHER


def test_exits_and_reentries() -> None:
    entries: list[Entry] = []
    decide(entries, entry(10), False)
    out = decide(entries, entry(20, inward=False), False)
    assert (out.result, out.checked_in, out.reason) == ("accepted", True, None)
    out_again = decide(entries, entry(21, inward=False, n=1), False)
    assert out_again.result == "duplicate" and out_again.reason == "already_out"
    back = decide(entries, entry(30), False)
    assert back.result == "accepted" and back.reentry


def test_an_exit_before_any_entry_counts_nobody() -> None:
    entries: list[Entry] = []
    verdict = decide(entries, entry(10, inward=False), False)
    assert verdict.result == "accepted" and verdict.checked_in is False
    total: timeline.Tallies = {}
    timeline.contribute(total, entries, HOME, "member")
    assert total == {}


def counted(entries: list[Entry]) -> dict[int, dict[str, int]]:
    total: timeline.Tallies = {}
    timeline.contribute(total, entries, HOME, "member")
    return {
        site: {name: row[i] for name, i in FIELD.items() if row[i]} for site, row in total.items()
    }


def test_a_delegate_counts_at_the_first_entry_s_site() -> None:
    entries = [entry(5, site=OTHER), entry(10, inward=False, site=OTHER), entry(15, site=HOME)]
    assert counted(entries) == {
        OTHER: {"checked_in_member": 1, "moved_in": 1, "present": 1, "exits": 1},
        HOME: {"moved_out": 1, "reentries": 1},
    }


def test_the_counts_do_not_depend_on_arrival_order() -> None:
    rng = random.Random(3)
    scans = [
        entry(rng.randint(0, 60), rng.random() < 0.6, rng.choice((HOME, OTHER)), n)
        for n in range(12)
    ]
    results = set()
    for _ in range(20):
        order = scans[:]
        rng.shuffle(order)
        entries: list[Entry] = []
        for e in order:
            timeline.insert(entries, e)
        # ties keep arrival order, so compare only what is fixed by time alone
        results.add(repr(counted(sorted(entries, key=lambda e: (e.at, e.scan_id)))))
    assert len(results) == 1


def test_a_full_timeline_still_answers_but_keeps_nothing() -> None:
    entries = [entry(i % 60, n=i // 60) for i in range(timeline.MAX_ENTRIES)]
    entries.sort(key=lambda e: e.at)
    verdict = decide(entries, entry(0, n=99), False)
    assert verdict.result in ("accepted", "duplicate")
    assert len(entries) == timeline.MAX_ENTRIES


def test_timelines_pack_and_unpack() -> None:
    entries = [entry(1), entry(2, inward=False, site=OTHER, n=3)]
    assert timeline.unpack(timeline.pack(entries)) == entries
