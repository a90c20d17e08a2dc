"""Each flag's threshold at its edge (DESIGN, Rules), on the rule itself: one below the
edge raises nothing, the edge itself as the words say ("more than", "under", "above"),
one past it raises the flag with the numbers behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diemcau.reconcile import flags
from diemcau.reconcile.flags import Context, Silence
from diemcau.reconcile.model import (
    Absences,
    ByCategory,
    Headcount,
    Headcounts,
    Resolution,
    SiteRow,
)

T0 = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
NO_CONTEXT = Context({}, {})


def heads(start: int | None = None, after: int | None = None, end: int | None = None) -> Headcounts:
    def one(total: int | None, moment: str) -> Headcount | None:
        return None if total is None else Headcount(1, moment, T0, total, 0, 0)

    return Headcounts(one(start, "start"), one(after, "after_break"), one(end, "end"))


def row(
    checked_in: tuple[int, int, int] = (10, 0, 0),
    expected: tuple[int, int, int] = (10, 0, 0),
    walk_ins: int = 0,
    moved_in: int = 0,
    capacity: int | None = None,
    headcounts: Headcounts | None = None,
) -> SiteRow:
    return SiteRow(
        "S1", "Hội trường", "U1", "commune", capacity,
        ByCategory(*expected), ByCategory(*checked_in), ByCategory(0, walk_ins, 0),
        moved_in, 0, 0, 0, 0, headcounts or heads(sum(checked_in) + walk_ins), Absences(),
    )  # fmt: skip


def raised(site: SiteRow, context: Context = NO_CONTEXT) -> dict[str, Any]:
    return {f.kind: f.detail for f in flags.site_flags(site, context)}


@pytest.mark.parametrize(
    "attended,headcount,due",
    [
        (40, 43, False),  # 3 people: not more than 3
        (40, 44, True),  # 4 > max(3, 2)
        (40, 36, True),  # fewer counted than scanned, too
        (100, 105, False),  # 5 = 5% of 100: not more
        (100, 106, True),
        (100, 94, True),
        (60, 63, False),  # max(3, 3): 3 is not more
        (60, 64, True),
        (0, 3, False),
        (0, 4, True),
    ],
)
def test_headcount_mismatch_more_than_3_people_and_5_percent(
    attended: int, headcount: int, due: bool
) -> None:
    site = row(checked_in=(attended - attended // 4, 0, 0), walk_ins=attended // 4,
               headcounts=heads(headcount))  # fmt: skip
    found = raised(site).get("headcount_mismatch")
    assert (found is not None) == due
    if due:
        assert found == {
            "headcount": headcount,
            "checked_in": attended - attended // 4,
            "walk_ins": attended // 4,
            "difference": headcount - attended,
        }


def test_headcount_mismatch_needs_a_start_headcount() -> None:
    assert "headcount_mismatch" not in raised(row(headcounts=heads(None, 50, 50)))


@pytest.mark.parametrize(
    "attended,counted,capacity,due",
    [
        (100, (100, 100, 100), 100, False),  # at capacity is not above it
        (101, (100, 100, 100), 100, True),  # the scans above it
        (100, (100, 101, 100), 100, True),  # one headcount above it
        (100, (None, None, 101), 100, True),
        (500, (500, 500, 500), None, False),  # no capacity known: nothing to compare
    ],
)
def test_over_capacity_above_it(
    attended: int, counted: tuple, capacity: int | None, due: bool
) -> None:
    site = row(checked_in=(attended, 0, 0), expected=(attended, 0, 0), capacity=capacity,
               headcounts=heads(*counted))  # fmt: skip
    found = raised(site).get("over_capacity")
    assert (found is not None) == due
    if due:
        moments = dict(zip(("start", "after_break", "end"), counted, strict=True))
        assert found == {"capacity": capacity, "attended": attended, "headcounts": moments}


def test_no_checkins_walk_ins_are_not_check_ins() -> None:
    assert "no_checkins" not in raised(row(checked_in=(0, 0, 1)))
    found = raised(row(checked_in=(0, 0, 0), walk_ins=5, expected=(3, 0, 0)))["no_checkins"]
    assert found == {"expected": 3, "walk_ins": 5}


def test_no_headcount_at_any_moment() -> None:
    assert raised(row(headcounts=heads()))["no_headcount"] == {}
    for one in (heads(10), heads(None, 10), heads(None, None, 10)):
        assert "no_headcount" not in raised(row(headcounts=one))


def silence(minutes: float) -> Silence:
    return Silence(7, "Cửa chính", T0, T0 + timedelta(minutes=minutes))


@pytest.mark.parametrize("minutes,due", [(4.99, False), (5, True), (12, True)])
def test_kiosk_silent_for_5_minutes(minutes: float, due: bool) -> None:
    context = Context({}, {"S1": [silence(minutes)]})
    found = raised(row(), context).get("kiosk_silent")
    assert (found is not None) == due
    if due:
        assert found == {
            "kiosks": [
                {
                    "kiosk_id": 7,
                    "device_name": "Cửa chính",
                    "silent_from": "2026-12-15T01:00:00Z",
                    "silent_until": (T0 + timedelta(minutes=minutes)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "minutes": int(minutes),
                }
            ]
        }


@pytest.mark.parametrize(
    "start,after,end,due",
    [
        (100, 80, 80, False),  # 80% is not under 80%
        (100, 79, 100, True),
        (100, 100, 79, True),
        (100, None, None, False),
        (5, 4, 4, False),  # 4 = 80% of 5
        (5, 3, 5, True),
        (None, 10, 0, False),  # no start to compare with
        (0, 0, 0, False),
    ],
)
def test_hall_emptied_under_80_percent_of_the_start(
    start: int | None, after: int | None, end: int | None, due: bool
) -> None:
    site = row(headcounts=heads(start, after, end))
    found = raised(site).get("hall_emptied")
    assert (found is not None) == due
    if due:
        assert found == {"start": start, "after_break": after, "end": end}


@pytest.mark.parametrize(
    "checked_in,expected,due",
    [
        (49, 50, False),  # 0.98 exactly: not under it
        (48, 50, True),
        (4502, 4600, True),  # 97.87%: the seed article's members
        (4508, 4600, False),  # 98.00%
        (0, 0, False),  # nobody expected: no rate
    ],
)
def test_under_target_exactly_at_the_target(checked_in: int, expected: int, due: bool) -> None:
    context = Context({"member": 0.98}, {})
    site = row(checked_in=(checked_in, 0, 0), expected=(expected, 0, 0))
    found = raised(site, context).get("under_target")
    assert (found is not None) == due
    if due:
        assert found == {"member": {"checked_in": checked_in, "expected": expected, "target": 0.98}}


def test_under_target_per_category_with_a_target() -> None:
    context = Context({"member": 0.98, "non_member": 0.9}, {})
    site = row(checked_in=(10, 8, 0), expected=(10, 9, 5))  # non-members 8/9 = 88.9%
    assert raised(site, context)["under_target"] == {
        "non_member": {"checked_in": 8, "expected": 9, "target": 0.9}
    }


@pytest.mark.parametrize(
    "moved_in,checked_in,due",
    [(1, 10, False), (2, 10, True), (10, 100, False), (11, 100, True), (0, 0, False)],
)
def test_many_moved_over_10_percent_of_checked_in(
    moved_in: int, checked_in: int, due: bool
) -> None:
    site = row(checked_in=(checked_in, 0, 0), expected=(checked_in, 0, 0), moved_in=moved_in)
    found = raised(site).get("many_moved")
    assert (found is not None) == due
    if due:
        assert found == {"moved_in": moved_in, "checked_in": checked_in}


def test_a_site_with_nothing_wrong_raises_nothing() -> None:
    context = Context({"member": 0.98, "non_member": 0.9}, {"S1": [silence(4)]})
    site = row(checked_in=(98, 9, 1), expected=(100, 10, 1), walk_ins=2, moved_in=10,
               capacity=120, headcounts=heads(113, 91, 91))  # fmt: skip
    assert raised(site, context) == {}


def test_a_resolution_holds_while_the_numbers_stay_the_same() -> None:
    site = row(headcounts=heads(20))
    (flag,) = flags.site_flags(site, NO_CONTEXT)
    done = Resolution("accept_headcount", None, "đếm đúng", "organiser cli", T0)
    same = flags.raise_flags([site], NO_CONTEXT, {("S1", flag.kind): (flag.fingerprint, done)})
    assert [f.status for f in same] == ["resolved"]
    moved = row(headcounts=heads(21))
    again = flags.raise_flags([moved], NO_CONTEXT, {("S1", flag.kind): (flag.fingerprint, done)})
    assert [f.status for f in again] == ["open"]
