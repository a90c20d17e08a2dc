"""Resolving flags and signing off (DESIGN, Rules): a resolution changes no scan or
headcount and holds while its numbers stay; sign-off waits for the close and for every
flag; then the conference is locked (every write 409, scans `closed`), the report's hash
is the SHA-256 of the canonical content, and the signed figures stay as signed."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.reconcile import canonical
from tests.checkin_world import scan
from tests.factory import Factory
from tests.problems import assert_problem
from tests.reconcile_world import Hand, session

NOTES = {
    "LC-01.over_capacity": ("accept_scans", None),
    "LC-01.hall_emptied": ("accept_headcount", None),
    "LC-01.under_target": ("accept_scans", None),
    "LC-02.headcount_mismatch": ("corrected", 8),
    "LC-02.kiosk_silent": ("accept_scans", None),
    "LC-02.many_moved": ("accept_scans", None),
    "LC-03.no_checkins": ("accept_scans", None),
    "LC-03.no_headcount": ("corrected", 0),
    "LC-03.under_target": ("accept_scans", None),
}


@pytest.fixture
async def hand(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    return await session(factory, db, client, late=True)


async def resolve(hand: Hand, flag_id: str, action: str, figure: int | None = None) -> Any:
    return await hand.client.post(
        f"/api/v1/conferences/HN1/reconciliation/flags/{flag_id}/resolve",
        json={"action": action, "figure": figure, "note": f"đã xem xét {flag_id}"},
        headers=hand.organiser,
    )


async def resolve_all(hand: Hand) -> None:
    for flag_id, (action, figure) in NOTES.items():
        resp = await resolve(hand, flag_id, action, figure)
        assert resp.status == 200, await resp.text()


async def sign_off(hand: Hand) -> Any:
    return await hand.client.post("/api/v1/conferences/HN1/sign-off", headers=hand.organiser)


async def test_a_resolution_changes_nothing_recorded_and_is_audited(
    hand: Hand, db: asyncpg.Connection
) -> None:
    scans = await db.fetchval("SELECT count(*) FROM checkins")
    heads = await db.fetch("SELECT * FROM headcounts ORDER BY id")
    resp = await resolve(hand, "LC-02.headcount_mismatch", "corrected", 8)
    assert resp.status == 200, await resp.text()
    flag = await resp.json()
    assert flag["status"] == "resolved"
    assert flag["resolution"]["action"] == "corrected" and flag["resolution"]["figure"] == 8
    assert flag["resolution"]["by"].startswith("organiser#")
    assert flag["resolution"]["at"].endswith("+07:00")
    assert await db.fetchval("SELECT count(*) FROM checkins") == scans
    assert await db.fetch("SELECT * FROM headcounts ORDER BY id") == heads
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'resolve'")
    assert entry["entity_key"] == "HN1/LC-02.headcount_mismatch"
    rec = await hand.reconciliation()
    statuses = {f["id"]: f["status"] for f in rec["flags"]}
    assert statuses["LC-02.headcount_mismatch"] == "resolved" and rec["open_flags"] == 8


async def test_a_resolution_holds_until_its_numbers_change(hand: Hand) -> None:
    assert (await resolve(hand, "LC-02.headcount_mismatch", "accept_headcount")).status == 200
    # A correction that leaves the numbers as they were: still resolved.
    await hand.headcount("LC-02", "start", 14, 6, 0, 36)
    statuses = {f["id"]: f["status"] for f in (await hand.reconciliation())["flags"]}
    assert statuses["LC-02.headcount_mismatch"] == "resolved"
    # One that changes them: open again, with the new numbers.
    await hand.headcount("LC-02", "start", 15, 6, 0, 37)
    flag = {f["id"]: f for f in (await hand.reconciliation())["flags"]}["LC-02.headcount_mismatch"]
    assert flag["status"] == "open" and flag["detail"]["headcount"] == 21


@pytest.mark.parametrize(
    "body,field",
    [
        ({"action": "corrected", "note": "x"}, "figure"),
        ({"action": "accept_scans", "figure": 3, "note": "x"}, "figure"),
        ({"action": "accept_scans", "note": "   "}, "note"),
        ({"action": "ignore", "note": "x"}, "action"),
        ({"action": "corrected", "figure": -1, "note": "x"}, "figure"),
        ({"action": "corrected", "figure": "3", "note": "x"}, "figure"),
        ({"action": "corrected", "figure": 3.0, "note": "x"}, "figure"),
        ({"action": "accept_scans", "note": 5}, "note"),
    ],
)
async def test_a_resolution_is_checked(hand: Hand, body: dict, field: str) -> None:
    resp = await hand.client.post(
        "/api/v1/conferences/HN1/reconciliation/flags/LC-02.many_moved/resolve",
        json=body,
        headers=hand.organiser,
    )
    problem = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == [field]


@pytest.mark.parametrize(
    "flag_id", ["HG-01.many_moved", "LC-09.no_checkins", "LC-01.nonsense", "LC-01", ".many_moved"]
)
async def test_a_flag_not_raised_cannot_be_resolved(hand: Hand, flag_id: str) -> None:
    await assert_problem(await resolve(hand, flag_id, "accept_scans"), 404, "not_found")


async def test_sign_off_waits_for_the_close_and_every_flag(hand: Hand) -> None:
    problem = await assert_problem(await sign_off(hand), 409, "invalid_transition")
    assert problem["current"] == "live"
    await hand.close()
    problem = await assert_problem(await sign_off(hand), 409, "flags_open")
    assert problem["flags"] == list(NOTES)
    await resolve_all(hand)
    resp = await sign_off(hand)
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert set(done) == {"report_sha256", "signed_off_at"}
    assert done["signed_off_at"].endswith("+07:00")
    # The hash is the SHA-256 of the stored canonical content, which reads back whole.
    row = await hand.db.fetchrow("SELECT * FROM sign_offs")
    content = gzip.decompress(row["content"])
    assert hashlib.sha256(content).hexdigest() == done["report_sha256"] == row["report_sha256"]
    signed = canonical.load(content, row["report_sha256"])
    assert canonical.content(signed, signed.signed_off_at) == content
    assert await hand.db.fetchval("SELECT signed_off_at FROM conferences") is not None
    rec = await hand.reconciliation()
    assert rec["status"] == "signed_off" and rec["report_sha256"] == done["report_sha256"]
    assert rec["open_flags"] == 0


async def signed(hand: Hand) -> dict[str, Any]:
    await hand.close()
    await resolve_all(hand)
    resp = await sign_off(hand)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_a_signed_off_conference_is_locked(hand: Hand, client: TestClient) -> None:
    await signed(hand)
    await assert_problem(await sign_off(hand), 409, "locked")
    url = "/api/v1/conferences/HN1"
    a1 = hand.delegates["A1"]["id"]
    writes = [
        ("POST", url + "/sites/LC-01/headcounts",
         {"moment": "end", "members": 1, "non_members": 0, "guests": 0}),
        ("POST", url + "/absences", {"delegate_id": hand.delegates["A6"]["id"], "reason": "other"}),
        ("DELETE", url + f"/absences/{hand.delegates['C2']['id']}", None),
        ("POST", url + "/reconciliation/flags/LC-01.hall_emptied/resolve",
         {"action": "accept_scans", "note": "x"}),
        ("PATCH", url + f"/delegates/{a1}", {"full_name": "Tên khác"}),
        ("PATCH", url, {"title": "Đổi tên"}),
        ("PUT", url + "/sites", {"sites": ["LC-01"]}),
    ]  # fmt: skip
    for method, path, body in writes:
        resp = await client.request(method, path, json=body, headers=hand.organiser)
        await assert_problem(resp, 409, "locked")
    resp = await client.post(
        url + "/absences/import",
        data="external_id,reason\nA6,ốm\n".encode(),
        headers={**hand.organiser, "Content-Type": "text/csv"},
    )
    await assert_problem(resp, 409, "locked")
    # Scans answer `closed`, even one made in the window and uploaded now.
    body = scan(await hand.qr("C2"), at=hand.at(5))
    (result,) = await hand.send("LC-03", body)
    assert result["result"] == "closed"


async def test_the_signed_figures_stay_as_signed(hand: Hand, db: asyncpg.Connection) -> None:
    done = await signed(hand)
    before = await hand.reconciliation()
    # The registry is not the conference's: a site's capacity may change afterwards.
    await db.execute("UPDATE sites SET capacity = 2, name = 'Tên mới' WHERE code = 'LC-02'")
    after = await hand.reconciliation()
    assert after["report_sha256"] == done["report_sha256"]
    assert after["sites"] == before["sites"] and after["flags"] == before["flags"]
    assert {s["site_code"]: s["capacity"] for s in after["sites"]}["LC-02"] == 100


async def test_a_unit_organiser_reads_their_part_of_a_signed_reconciliation(
    hand: Hand, factory: Factory
) -> None:
    await signed(hand)
    token = await factory.token("organiser", unit="LC")
    resp = await hand.client.get(
        "/api/v1/conferences/HN1/reconciliation",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 200, await resp.text()
    part = await resp.json()
    assert part["scope"] == "LC" and [s["site_code"] for s in part["sites"]] == [
        "LC-01",
        "LC-02",
        "LC-03",
    ]
    assert part["totals"]["expected"] == {"member": 13, "non_member": 3, "guest": 1}
    assert [u["unit_code"] for u in part["units"]] == ["LC", "TD"]
