"""Enrollment at scale: the guard against guessed codes counts wrong codes only, the same
on every worker and host (in the database), per client address, where the address is
X-Forwarded-For's only when a trusted proxy (DIEMCAU_TRUSTED_PROXIES) sent the request.

A training room enrolls fifty phones behind one address in a minute; the eleventh wrong
code within a minute answers 429 whichever application instance takes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.app import create_app
from diemcau.config import Config
from diemcau.forwarded import client_address, parse_networks
from tests.checkin_world import World, build_world
from tests.problems import assert_problem

WRONG = {"code": "2345-6789", "device_name": "Máy đoán mò"}


@pytest.fixture
async def world(factory: Any, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


async def new_codes(client: TestClient, headers: dict[str, str], n: int) -> list[str]:
    codes = []
    for _ in range(n):
        resp = await client.post("/api/v1/conferences/HN1/sites/LC-01/kiosk-codes", headers=headers)
        assert resp.status == 201, await resp.text()
        codes.append((await resp.json())["code"])
    return codes


async def try_code(client: TestClient, body: dict[str, str], **headers: str) -> int:
    resp = await client.post("/api/v1/kiosks/enroll", json=body, headers=headers)
    return resp.status


async def test_fifty_kiosks_enroll_from_one_address_within_a_minute(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    codes = await new_codes(client, organiser, 50)
    statuses = [
        await try_code(client, {"code": c, "device_name": f"Điện thoại {i}"})
        for i, c in enumerate(codes)
    ]
    assert statuses == [201] * 50
    # Fifty successes used none of the ten wrong codes the address may send.
    assert [await try_code(client, WRONG) for _ in range(10)] == [422] * 10
    assert await try_code(client, WRONG) == 429


async def test_the_eleventh_wrong_code_is_refused_whichever_instance_answers(
    aiohttp_client: Any, client: TestClient, world: World, config: Config
) -> None:
    """Two application instances on one database, as two workers or two hosts are."""
    other = await aiohttp_client(create_app(config))
    statuses = [await try_code((client, other)[i % 2], WRONG) for i in range(10)]
    assert statuses == [422] * 10
    resp = await other.post("/api/v1/kiosks/enroll", json=WRONG)
    body = await assert_problem(resp, 429, "rate_limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60 and body["retry_after"] >= 1
    assert await try_code(client, WRONG) == 429


async def test_a_burst_of_wrong_codes_gets_ten_tries_in_all(
    aiohttp_client: Any, client: TestClient, world: World, config: Config
) -> None:
    other = await aiohttp_client(create_app(config))
    statuses = await asyncio.gather(*(try_code((client, other)[i % 2], WRONG) for i in range(30)))
    assert sorted(statuses) == [422] * 10 + [429] * 20


async def test_a_right_code_among_wrong_ones_does_not_count(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    (code,) = await new_codes(client, organiser, 1)
    assert [await try_code(client, WRONG) for _ in range(9)] == [422] * 9
    assert await try_code(client, {"code": code, "device_name": "Laptop"}) == 201
    assert await try_code(client, WRONG) == 422  # the tenth wrong one
    assert await try_code(client, WRONG) == 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    client: TestClient, world: World
) -> None:
    statuses = [
        await try_code(client, WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(11)
    ]
    assert statuses == [422] * 10 + [429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    aiohttp_client: Any, world: World, config: Config
) -> None:
    proxied = replace(config, trusted_proxies=parse_networks("127.0.0.1, 10.0.0.0/8"))
    client = await aiohttp_client(create_app(proxied))
    # The client's own header is passed over: the proxies vouch for 203.0.113.7 only.
    guesser = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.1.2.3"}
    assert [await try_code(client, WRONG, **guesser) for _ in range(11)] == [422] * 10 + [429]
    assert await try_code(client, WRONG, **{"X-Forwarded-For": "203.0.113.8"}) == 422
    assert await try_code(client, WRONG, **{"X-Forwarded-For": "198.51.100.1"}) == 422


def test_client_address_reads_the_header_from_the_right() -> None:
    trusted = parse_networks("10.0.0.0/8, 2001:db8::/32")
    assert client_address("10.0.0.5", ["203.0.113.7"], trusted) == "203.0.113.7"
    assert client_address("192.0.2.1", ["203.0.113.7"], trusted) == "192.0.2.1"
    assert client_address("10.0.0.5", ["1.1.1.1, 203.0.113.7", "10.0.0.9"], trusted) == (
        "203.0.113.7"
    )
    assert client_address("10.0.0.5", ["[2001:db9::1]:443"], trusted) == "2001:db9::1"
    assert client_address("10.0.0.5", ["203.0.113.7:5123"], trusted) == "203.0.113.7"
    assert client_address("::ffff:10.0.0.5", ["203.0.113.7"], trusted) == "203.0.113.7"
    # Junk stops the reading: the last address a trusted proxy wrote stands.
    assert client_address("10.0.0.5", ["203.0.113.7, junk, 10.0.0.6"], trusted) == "10.0.0.6"
    assert client_address("10.0.0.5", [], trusted) == "10.0.0.5"
    assert client_address(None, ["203.0.113.7"], trusted) == "unknown"


def test_trusted_proxies_setting_is_checked() -> None:
    config = Config.from_env({"DIEMCAU_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1 ,::1"})
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]
    assert Config.from_env({}).trusted_proxies == ()
    with pytest.raises(ValueError, match=r"DIEMCAU_TRUSTED_PROXIES .*'10\.0\.0\.300'"):
        Config.from_env({"DIEMCAU_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.300"})
