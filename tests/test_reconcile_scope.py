"""Who reads which part of a reconciliation: organisers only; a unit organiser their
subtree (of a conference of theirs, or one that takes in their sites), nothing outside
it (404, as for what does not exist)."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.factory import Factory, bearer
from tests.problems import assert_problem
from tests.reconcile_world import Hand, session

URL = "/api/v1/conferences/HN1/reconciliation"


@pytest.fixture
async def hand(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    return await session(factory, db, client)


async def test_a_unit_organiser_sees_their_subtree(hand: Hand, factory: Factory) -> None:
    lc = bearer(await factory.token("organiser", unit="LC"))
    part = await (await hand.client.get(URL, headers=lc)).json()
    assert part["scope"] == "LC"
    assert [s["site_code"] for s in part["sites"]] == ["LC-01", "LC-02", "LC-03"]
    assert {f["site_code"] for f in part["flags"]} == {"LC-01", "LC-02", "LC-03"}
    td = await (await hand.client.get(URL, params={"unit": "TD"}, headers=lc)).json()
    assert td["scope"] == "TD" and [u["unit_code"] for u in td["units"]] == ["TD"]
    assert td["totals"]["expected"] == {"member": 10, "non_member": 3, "guest": 1}
    for unit in ("HG", "VN", "NOPE"):
        resp = await hand.client.get(URL, params={"unit": unit}, headers=lc)
        await assert_problem(resp, 404, "not_found")


async def test_everyone_else_is_refused(hand: Hand, factory: Factory) -> None:
    outside = bearer(await factory.token("organiser", unit="HG"))
    whole = await (await hand.client.get(URL, headers=outside)).json()
    assert [s["site_code"] for s in whole["sites"]] == ["HG-01"]
    await assert_problem(
        await hand.client.get(URL, params={"unit": "LC"}, headers=outside), 404, "not_found"
    )
    await factory.unit("QN", parent="VN")
    nowhere = bearer(await factory.token("organiser", unit="QN"))
    await assert_problem(await hand.client.get(URL, headers=nowhere), 404, "not_found")
    tech = bearer(await factory.token("technician", unit="LC"))
    await assert_problem(await hand.client.get(URL, headers=tech), 403, "forbidden")
    kiosk = hand.kiosks["LC-01"][0]
    await assert_problem(await hand.client.get(URL, headers=kiosk), 403, "forbidden")
    await assert_problem(await hand.client.get(URL), 401, "authentication_required")


async def test_a_unit_organiser_resolves_their_sites_flags_only(
    hand: Hand, factory: Factory
) -> None:
    lc = bearer(await factory.token("organiser", unit="LC"))
    body = {"action": "accept_scans", "note": "đã kiểm tra"}
    flag = URL + "/flags/LC-03.no_headcount/resolve"
    assert (await hand.client.post(flag, json=body, headers=lc)).status == 200
    hg = bearer(await factory.token("organiser", unit="HG"))
    await assert_problem(await hand.client.post(flag, json=body, headers=hg), 404, "not_found")
    # Signing off is for who owns the conference (owned here by VN).
    resp = await hand.client.post("/api/v1/conferences/HN1/sign-off", headers=lc)
    await assert_problem(resp, 404, "not_found")
