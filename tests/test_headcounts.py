"""Headcounts over HTTP: who may report one at which site, the latest of each moment
counting (a correction is a new record), the history kept, an offline client's replay
adding nothing, and the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.checkin_world import World, build_world
from tests.factory import Factory, bearer
from tests.problems import assert_problem

URL = "/api/v1/conferences/HN1/sites/{site}/headcounts"


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    world = await build_world(factory, db)
    await factory.unit("HG", parent="VN")
    return world


def body(moment: str = "start", m: int = 40, n: int = 5, g: int = 1, **extra: Any) -> dict:
    return {"moment": moment, "members": m, "non_members": n, "guests": g, **extra}


async def post(client: TestClient, headers: dict, site: str = "LC-01", **fields: Any) -> Any:
    return await client.post(URL.format(site=site), json=body(**fields), headers=headers)


async def test_who_may_report_a_headcount_where(
    client: TestClient, world: World, factory: Factory
) -> None:
    organiser = bearer(await factory.token("organiser"))
    tech = bearer(await factory.token("technician", unit="LC"))
    outsider = bearer(await factory.token("technician", unit="HG"))
    viewer = bearer(await factory.token("viewer", conference="HN1"))
    for headers in (organiser, tech, world.kiosk("LC-01")):
        resp = await post(client, headers)
        assert resp.status == 201, await resp.text()
    # A kiosk reports its own site only; a technician their subtree's.
    await assert_problem(await post(client, world.kiosk("LC-02")), 404, "not_found")
    await assert_problem(await post(client, outsider), 404, "not_found")
    await assert_problem(await post(client, viewer), 403, "forbidden")
    await assert_problem(await post(client, organiser, site="NOPE"), 404, "not_found")
    await assert_problem(await post(client, {}), 401, "authentication_required")


async def test_the_latest_of_each_moment_counts_and_the_history_stays(
    client: TestClient, world: World, factory: Factory, db: asyncpg.Connection
) -> None:
    tech = bearer(await factory.token("technician", unit="LC", label="KT Tam Đường"))
    at = world.conference["starts_at"]
    first = await (await post(client, tech, m=60, counted_at=at.isoformat())).json()
    assert first["total"] == 66 and first["by"].endswith("KT Tam Đường")
    assert first["counted_at"].endswith("+07:00")
    fixed = await (await post(client, tech, m=50, counted_at=at.isoformat())).json()
    earlier = at - timedelta(minutes=5)
    await post(client, tech, m=10, counted_at=earlier.isoformat())  # counted before: not latest
    await post(client, tech, moment="end", m=30)
    resp = await client.get(URL.format(site="LC-01"), headers=tech)
    listing = await resp.json()
    assert [h["members"] for h in listing["items"]] == [30, 10, 50, 60]  # latest recorded first
    assert listing["latest"]["start"]["id"] == fixed["id"]
    assert listing["latest"]["after_break"] is None
    assert listing["latest"]["end"]["members"] == 30
    only = await (await client.get(URL.format(site="LC-01"), params={"moment": "start", "limit": 2},
                                   headers=tech)).json()  # fmt: skip
    assert [h["members"] for h in only["items"]] == [10, 50] and only["next"]
    rest = await client.get(URL.format(site="LC-01"), params={"moment": "start", "cursor": only["next"]},
                            headers=tech)  # fmt: skip
    assert [h["members"] for h in (await rest.json())["items"]] == [60]
    entries = await db.fetch("SELECT * FROM audit_log WHERE entity = 'headcount' ORDER BY id")
    assert len(entries) == 4 and entries[0]["entity_key"] == "HN1/LC-01/start"


async def test_an_offline_client_s_replay_adds_nothing(client: TestClient, world: World) -> None:
    kiosk = world.kiosk("LC-01")
    sent = body(headcount_id=str(uuid.uuid4()), counted_at="2026-12-15T08:05:00+07:00")
    first = await client.post(URL.format(site="LC-01"), json=sent, headers=kiosk)
    assert first.status == 201
    again = await client.post(URL.format(site="LC-01"), json=sent, headers=kiosk)
    assert again.status == 200 and await again.json() == await first.json()
    other = await client.post(URL.format(site="LC-01"), json={**sent, "members": 1}, headers=kiosk)
    problem = await assert_problem(other, 409, "conflict")
    assert problem["errors"][0]["field"] == "headcount_id"
    assert (
        len((await (await client.get(URL.format(site="LC-01"), headers=kiosk)).json())["items"])
        == 1
    )


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"moment": "lunch"}, "moment"),
        ({"m": -1}, "members"),
        ({"g": 1_000_001}, "guests"),
        ({"counted_at": "2026-12-15"}, "counted_at"),
        ({"note": "a\x00b"}, "note"),
        ({"headcount_id": "not-a-uuid"}, "headcount_id"),
    ],
)
async def test_a_headcount_is_checked(
    client: TestClient, world: World, factory: Factory, fields: dict, field: str
) -> None:
    organiser = bearer(await factory.token("organiser"))
    problem = await assert_problem(
        await post(client, organiser, **fields), 422, "validation_failed"
    )
    assert problem["errors"][0]["field"] == field


async def test_a_missing_count_is_refused(client: TestClient, world: World) -> None:
    resp = await client.post(
        URL.format(site="LC-01"),
        json={"moment": "start", "members": 3},
        headers=world.kiosk("LC-01"),
    )
    problem = await assert_problem(resp, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == {"non_members", "guests"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"members": "40"}, "members"),
        ({"members": 40.0}, "members"),
        ({"guests": True}, "guests"),
        ({"counted_at": 1765760400}, "counted_at"),
        ({"counted_at": "1765760400"}, "counted_at"),
        ({"headcount_id": 5}, "headcount_id"),
        ({"note": 5}, "note"),
    ],
)
async def test_a_headcount_takes_its_own_types_only(
    client: TestClient, world: World, factory: Factory, fields: dict[str, Any], field: str
) -> None:
    organiser = bearer(await factory.token("organiser"))
    problem = await assert_problem(
        await post(client, organiser, **fields), 422, "validation_failed"
    )
    assert field in [e["field"] for e in problem["errors"]], problem
    # The right types still pass, a headcount_id as its JSON text.
    resp = await post(client, organiser, headcount_id=str(uuid.uuid4()))
    assert resp.status == 201, await resp.text()
