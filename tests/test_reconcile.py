"""Reconciliation of a conference worked out by hand (tests/reconcile_world.py): every
figure of every site, unit and total, every flag and no other, the running counters in
agreement with the scans, and the figures reading the roster as it stands."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau import reconcile
from tests.factory import Factory
from tests.reconcile_world import Hand, late_upload, session


@pytest.fixture
async def hand(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    return await session(factory, db, client)


def counts(m: int, n: int, g: int) -> dict[str, int]:
    return {"member": m, "non_member": n, "guest": g}


def rates(m: float | None, n: float | None, g: float | None) -> dict[str, float | None]:
    return {"member": m, "non_member": n, "guest": g}


def totals(row: dict[str, Any]) -> dict[str, int | None]:
    return {m: (h["total"] if h else None) for m, h in row["headcounts"].items()}


FIGURES = ("expected", "checked_in", "walk_ins", "walk_ins_by_category", "moved_in",
           "moved_out", "exits", "reentries", "present", "capacity", "rates", "absences",
           "makeup_owed")  # fmt: skip

SITES = {
    "LC-01": {
        "expected": counts(6, 2, 1),
        "checked_in": counts(5, 0, 1),  # A1-A5, A9; A8 annulled, A7 counted at LC-02
        "walk_ins": 2,
        "walk_ins_by_category": counts(0, 1, 1),
        "moved_in": 0,
        "moved_out": 1,  # A7
        "exits": 2,  # A4, A5
        "reentries": 1,  # A4
        "present": 7,  # A1-A4, A9 and the two walk-ins (A5 left)
        "capacity": 7,
        "rates": rates(0.8333, 0.0, 1.0),
        "absences": {"sick": 1, "on_duty": 0, "travel": 0, "other": 0},
        "makeup_owed": 1,
    },
    "LC-02": {
        "expected": counts(4, 1, 0),
        "checked_in": counts(5, 2, 0),  # B1-B5, A7, and C1 by the late upload
        "walk_ins": 0,
        "walk_ins_by_category": counts(0, 0, 0),
        "moved_in": 2,
        "moved_out": 0,
        "exits": 0,
        "reentries": 0,
        "present": 7,
        "capacity": 100,
        "rates": rates(1.25, 2.0, None),
        "absences": {"sick": 0, "on_duty": 0, "travel": 0, "other": 0},
        "makeup_owed": 0,
    },
    "LC-03": {
        "expected": counts(3, 0, 0),
        "checked_in": counts(0, 0, 0),  # C1's scan here counts no more
        "walk_ins": 0,
        "walk_ins_by_category": counts(0, 0, 0),
        "moved_in": 0,
        "moved_out": 1,
        "exits": 0,
        "reentries": 0,
        "present": 0,
        "capacity": 50,
        "rates": rates(0.0, None, None),
        "absences": {"sick": 0, "on_duty": 1, "travel": 1, "other": 0},
        "makeup_owed": 1,
    },
    "HG-01": {
        "expected": counts(2, 0, 0),
        "checked_in": counts(2, 0, 0),
        "walk_ins": 0,
        "walk_ins_by_category": counts(0, 0, 0),
        "moved_in": 0,
        "moved_out": 0,
        "exits": 0,
        "reentries": 0,
        "present": 2,
        "capacity": None,
        "rates": rates(1.0, None, None),
        "absences": {"sick": 0, "on_duty": 0, "travel": 0, "other": 0},
        "makeup_owed": 0,
    },
}
HEADCOUNTS = {
    "LC-01": {"start": 8, "after_break": 6, "end": 7},  # the corrected start, not 12
    "LC-02": {"start": 20, "after_break": 20, "end": 20},
    "LC-03": {"start": None, "after_break": None, "end": None},
    "HG-01": {"start": 2, "after_break": 2, "end": 2},
}
FLAGS = {
    "LC-01.over_capacity": {
        "capacity": 7,
        "attended": 8,
        "headcounts": {"start": 8, "after_break": 6, "end": 7},
    },
    "LC-01.hall_emptied": {"start": 8, "after_break": 6, "end": 7},  # 6 < 80% of 8
    "LC-01.under_target": {
        "member": {"checked_in": 5, "expected": 6, "target": 0.98},
        "non_member": {"checked_in": 0, "expected": 2, "target": 0.9},
    },
    "LC-02.headcount_mismatch": {"headcount": 20, "checked_in": 7, "walk_ins": 0, "difference": 13},
    "LC-02.kiosk_silent": None,  # checked below: the times are the test's own
    "LC-02.many_moved": {"moved_in": 2, "checked_in": 7},  # 2 > 10% of 7
    "LC-03.no_checkins": {"expected": 3, "walk_ins": 0},
    "LC-03.no_headcount": {},
    "LC-03.under_target": {"member": {"checked_in": 0, "expected": 3, "target": 0.98}},
}


def unit(m: tuple[int, int, int], c: tuple[int, int, int], w: int, sites: int) -> dict:
    return {"expected": counts(*m), "checked_in": counts(*c), "walk_ins": w, "sites": sites}


UNITS = {
    "HG": unit((2, 0, 0), (2, 0, 0), 0, 1),
    "LC": unit((13, 3, 1), (10, 2, 1), 2, 3),
    "TD": unit((10, 3, 1), (10, 2, 1), 2, 2),
    "VN": unit((15, 3, 1), (12, 2, 1), 2, 4),
}


async def test_every_figure_and_every_flag_of_the_hand_computed_conference(hand: Hand) -> None:
    await hand.close()
    moved = await late_upload(hand)  # after the close: a scan made in the window counts
    assert moved["result"] == "accepted" and moved["moved"] is True
    rec = await hand.reconciliation()
    assert rec["status"] == "closed" and rec["scope"] is None
    sites = {s["site_code"]: s for s in rec["sites"]}
    assert list(sites) == ["HG-01", "LC-01", "LC-02", "LC-03"]
    for code, expected in SITES.items():
        assert {k: sites[code][k] for k in FIGURES} == expected, code
        assert totals(sites[code]) == HEADCOUNTS[code], code
    assert sites["LC-01"]["headcounts"]["start"]["members"] == 5
    flags = {f["id"]: f for f in rec["flags"]}
    assert list(flags) == list(FLAGS)
    for flag_id, detail in FLAGS.items():
        assert flags[flag_id]["status"] == "open" and flags[flag_id]["resolution"] is None
        if detail is not None:
            assert flags[flag_id]["detail"] == detail, flag_id
    (silent,) = flags["LC-02.kiosk_silent"]["detail"]["kiosks"]
    assert silent["minutes"] == 7 and silent["device_name"] == "LC-02#0"
    assert rec["open_flags"] == 9
    units = {u["unit_code"]: u for u in rec["units"]}
    for code, expected in UNITS.items():
        assert {k: units[code][k] for k in expected} == expected, code
    assert units["TD"]["parent_code"] == "LC" and units["VN"]["parent_code"] is None
    assert rec["totals"]["expected"] == counts(15, 3, 1)
    assert rec["totals"]["checked_in"] == counts(12, 2, 1)
    assert rec["totals"]["walk_ins"] == 2
    assert rec["totals"]["rates"] == rates(0.8, 0.6667, 1.0)
    assert rec["totals"]["targets"] == {"member": 0.98, "non_member": 0.9}
    # Every rate of every unit; the one level (all four sites are communes) is the whole.
    assert {code: units[code]["rates"] for code in UNITS} == {
        "HG": rates(1.0, None, None),
        "LC": rates(0.7692, 0.6667, 1.0),  # 10/13, 2/3, 1/1
        "TD": rates(1.0, 0.6667, 1.0),  # 10/10, 2/3, 1/1
        "VN": rates(0.8, 0.6667, 1.0),
    }
    assert units["LC"]["walk_ins_by_category"] == counts(0, 1, 1)
    (level,) = rec["levels"]
    assert level == {"level": "commune", **UNITS["VN"],
                     "walk_ins_by_category": counts(0, 1, 1), "rates": rates(0.8, 0.6667, 1.0)}  # fmt: skip
    assert rec["totals"]["sites"] == 4
    assert rec["totals"]["walk_ins_by_category"] == counts(0, 1, 1)


async def test_the_late_upload_moves_the_attribution(hand: Hand) -> None:
    before = {s["site_code"]: s for s in (await hand.reconciliation())["sites"]}
    assert before["LC-03"]["checked_in"] == counts(1, 0, 0)
    assert before["LC-02"]["moved_in"] == 1
    await late_upload(hand)
    after = {s["site_code"]: s for s in (await hand.reconciliation())["sites"]}
    assert after["LC-03"]["checked_in"] == counts(0, 0, 0)
    assert after["LC-02"]["checked_in"] == counts(5, 2, 0) and after["LC-02"]["moved_in"] == 2
    assert after["LC-03"]["moved_out"] == 1


async def test_the_running_counters_agree_with_the_scans(hand: Hand) -> None:
    await late_upload(hand)
    assert await reconcile.verify(hand.db, hand.conference["id"]) == []


async def test_verify_names_a_counter_that_disagrees(hand: Hand) -> None:
    await hand.db.execute(
        """UPDATE site_tallies SET exits = exits + 1
            WHERE site_id = (SELECT id FROM sites WHERE code = 'LC-01')"""
    )
    found = await reconcile.verify(hand.db, hand.conference["id"])
    assert [(d.site_code, d.field, d.stored, d.recounted) for d in found] == [
        ("LC-01", "exits", 3, 2)
    ]


async def test_a_roster_edit_after_check_in_moves_the_figures(
    hand: Hand, client: TestClient
) -> None:
    """A delegate counts in the category and site the roster holds at reconciliation time;
    the running counters keep what check-in counted (and still agree with the scans)."""
    b5 = hand.delegates["B5"]
    resp = await client.patch(
        f"/api/v1/conferences/HN1/delegates/{b5['id']}",
        json={"category": "member", "site_code": "HG-01"},
        headers=hand.organiser,
    )
    assert resp.status == 200, await resp.text()
    sites = {s["site_code"]: s for s in (await hand.reconciliation())["sites"]}
    assert sites["LC-02"]["expected"] == counts(4, 0, 0)
    assert sites["LC-02"]["checked_in"] == counts(5, 1, 0)  # B5 now a member; A7
    assert sites["LC-02"]["moved_in"] == 2  # A7 and B5, whose own site is now HG-01
    assert sites["HG-01"]["expected"] == counts(3, 0, 0)
    assert sites["HG-01"]["moved_out"] == 1
    assert await reconcile.verify(hand.db, hand.conference["id"]) == []
