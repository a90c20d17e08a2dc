"""The API answers as its OpenAPI document says (issue 20, point 12).

The schemathesis run (tests/schemathesis_run.py, in `.ci/run`) holds every answer to the
document; these are the conformance failures the probe found, each pinned here so the
suite catches them without it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.checkin_world import World, build_world
from tests.problems import assert_problem


@pytest.fixture
async def world(factory: Any, db: asyncpg.Connection) -> World:
    return await build_world(factory, db, sites=("LC-01",), kiosks_per_site=1)


async def _document(client: TestClient) -> dict[str, Any]:
    return await (await client.get("/api/openapi.json")).json()


async def test_a_control_character_in_a_path_or_query_is_a_documented_422(
    client: TestClient,
) -> None:
    doc = await _document(client)
    missing = [
        f"{method.upper()} {path}"
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if ("{" in path or any(p["in"] == "query" for p in op.get("parameters", [])))
        and "422" not in op["responses"]
    ]
    assert not missing, missing


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/units?limit=",
        "/api/v1/sites?q=&limit=&cursor=",
        "/api/v1/conferences/HN1/delegates?q=&site=&limit=",
        "/api/v1/kiosk/roster?since=",
    ],
)
async def test_an_empty_query_parameter_is_one_left_out(
    client: TestClient, world: World, organiser: dict[str, str], path: str
) -> None:
    headers = world.kiosk("LC-01") if "/kiosk/" in path else organiser
    resp = await client.get(path, headers=headers)
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/sites/import", "POST"),
        ("/api/v1/units/import", "POST"),
        ("/api/v1/conferences/HN1/delegates/import", "POST"),
        ("/api/v1/sites/LC-01", "GET, PATCH"),
    ],
)
async def test_a_405_allows_the_methods_of_the_route_it_names(
    client: TestClient, organiser: dict[str, str], path: str, allowed: str
) -> None:
    resp = await client.options(path, headers=organiser)
    await assert_problem(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == allowed


async def test_the_heartbeat_body_is_documented_as_optional(
    client: TestClient, world: World
) -> None:
    doc = await _document(client)
    assert doc["paths"]["/api/v1/kiosk/heartbeat"]["post"]["requestBody"]["required"] is False
    resp = await client.post("/api/v1/kiosk/heartbeat", headers=world.kiosk("LC-01"))
    assert resp.status == 200, await resp.text()


async def test_a_websocket_route_without_an_upgrade_answers_its_documented_400(
    client: TestClient, world: World
) -> None:
    doc = await _document(client)
    assert "400" in doc["paths"]["/ws/kiosk"]["get"]["responses"]
    resp = await client.get("/ws/kiosk", headers=world.kiosk("LC-01"))
    await assert_problem(resp, 400, "bad_request")
