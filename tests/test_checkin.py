"""Scans over HTTP (POST /api/v1/checkins): results, refusals, retries, the window.

Invariants: a delegate is counted once per conference, at the site of the earliest valid
entry; a scan_id answers the same whatever is sent again; every scan is stored; nothing is
answered before its commit; a malformed batch stores nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.checkin_world import World, build_world, scan
from tests.factory import Factory
from tests.problems import assert_problem

URL = "/api/v1/checkins"


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


async def post(client: TestClient, headers: dict[str, str], *scans: dict) -> list[dict]:
    resp = await client.post(URL, json={"scans": list(scans)}, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


async def count(db: asyncpg.Connection, sql: str, *args: object) -> int:
    return await db.fetchval(sql, *args)


async def test_a_badge_is_accepted_then_duplicate(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    first, again = await post(client, world.kiosk("LC-01"), scan(qr), scan(qr))
    assert first["result"] == "accepted"
    assert first["moved"] is False
    assert first["delegate"]["full_name"] == "Nguyễn Văn An"
    assert first["delegate"]["site_code"] == "LC-01"
    assert first["message"] == {"vi": "Đã điểm danh", "en": "Checked in"}
    assert again["result"] == "duplicate"
    assert again["first"]["site_code"] == "LC-01"
    assert again["delegate"]["id"] == first["delegate"]["id"]
    assert "Đã điểm danh lúc" in again["message"]["vi"]
    tally = await world.tally("LC-01")
    assert tally["checked_in_member"] == 1
    assert tally["present"] == 1
    assert tally["accepted_scans"] == 1 and tally["refused_scans"] == 1


async def test_every_scan_is_stored_refusals_included(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    await post(client, world.kiosk("LC-01"), scan(qr), scan(qr), scan("rác"), scan(""))
    stored = await world.db.fetch("SELECT result, qr FROM checkins ORDER BY id")
    assert [r["result"] for r in stored] == ["accepted", "duplicate", "invalid", "invalid"]
    assert stored[2]["qr"] == "rác" and stored[0]["qr"] is None


async def test_fifty_concurrent_scans_of_one_badge_from_five_kiosks_accept_once(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    world = await build_world(factory, db, sites=("LC-01",), kiosks_per_site=5)
    qr = await world.qr("LC-01-1")
    at = datetime.now(UTC)  # one moment: the tie goes to the first to arrive
    calls = [post(client, world.kiosk("LC-01", n % 5), scan(qr, at=at)) for n in range(50)]
    results = [r for rs in await asyncio.gather(*calls) for r in rs]
    assert [r["result"] for r in results].count("accepted") == 1
    assert {r["result"] for r in results} == {"accepted", "duplicate"}
    assert await count(db, "SELECT count(*) FROM attendances") == 1
    assert await count(db, "SELECT count(*) FROM checkins") == 50
    tally = await world.tally("LC-01")
    assert tally["checked_in_non_member"] == 1 and tally["present"] == 1


async def test_concurrent_scans_at_different_moments_count_the_earliest_once(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    world = await build_world(factory, db, sites=("LC-01", "LC-02"), kiosks_per_site=5)
    qr = await world.qr("LC-01-1")
    at = datetime.now(UTC) - timedelta(minutes=1)
    scans = [scan(qr, at=at + timedelta(milliseconds=n)) for n in range(50)]
    calls = [
        post(client, world.kiosk(("LC-01", "LC-02")[n % 2], n % 5), s)
        for n, s in enumerate(reversed(scans))  # the earliest arrives last
    ]
    await asyncio.gather(*calls)
    row = await db.fetchrow("SELECT first_scan_id, site_id FROM attendances")
    assert str(row["first_scan_id"]) == scans[0]["scan_id"]
    total = await db.fetchval("SELECT sum(checked_in_non_member) FROM site_tallies")
    assert total == 1


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "malformed"),
        ("hello", "malformed"),
        ("\x00DC1", "malformed"),
    ],
)
async def test_junk_answers_invalid(
    client: TestClient, world: World, text: str, reason: str
) -> None:
    (result,) = await post(client, world.kiosk("LC-01"), scan(text))
    assert result["result"] == "invalid"
    assert result["delegate"] is None
    assert await count(world.db, "SELECT count(*) FROM checkins WHERE result = 'invalid'") == 1


async def test_forged_truncated_lowercase_and_padded_codes_answer_invalid(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    head, payload, signature = qr.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    variants = {
        "forged": f"{head}.{payload}.{flipped}",
        "truncated": qr[:-5],
        "lower": qr.lower(),
        "trailing newline": qr + "\n",
        "space": " " + qr,
    }
    results = await post(client, world.kiosk("LC-01"), *(scan(v) for v in variants.values()))
    assert [r["result"] for r in results] == ["invalid"] * len(variants)
    assert all(r["delegate"] is None for r in results)
    assert await count(world.db, "SELECT count(*) FROM attendances") == 0


async def test_a_code_of_another_conference_answers_invalid(
    client: TestClient, world: World, factory: Factory
) -> None:
    other = await factory.conference("HN2", sites=["LC-01"], starts_in=timedelta(minutes=30))
    stranger = await factory.delegate(other["id"], site="LC-01", external_id="X-1")
    from diemcau import issuance
    from diemcau.auth import CLI
    from diemcau.keystore import Keystore
    from tests.checkin_world import SECRET

    qr = await issuance.delegate_code(world.db, Keystore(SECRET), stranger, CLI)
    (result,) = await post(client, world.kiosk("LC-01"), scan(qr))
    assert result["result"] == "invalid"
    assert result["delegate"] is None
    assert result["message"]["en"] == "a code of another conference"


async def test_a_reissued_code_answers_revoked_with_the_delegate(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    old = await world.qr("LC-01-0")
    delegate_id = world.delegates["LC-01-0"]["id"]
    resp = await client.post(
        f"/api/v1/conferences/HN1/delegates/{delegate_id}/reissue", headers=organiser
    )
    new = (await resp.json())["qr"]
    old_result, new_result = await post(client, world.kiosk("LC-01"), scan(old), scan(new))
    assert old_result["result"] == "revoked"
    assert old_result["delegate"]["id"] == delegate_id
    assert new_result["result"] == "accepted"


async def test_a_code_unknown_to_the_digest_table_is_verified_and_recorded(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    await world.db.execute("DELETE FROM issued_codes")
    (result,) = await post(client, world.kiosk("LC-01"), scan(qr))
    assert result["result"] == "accepted"
    assert await count(world.db, "SELECT count(*) FROM issued_codes") == 1


async def test_the_window_follows_scanned_at(client: TestClient, world: World) -> None:
    row = await world.db.fetchrow(
        """UPDATE conferences SET checkin_opens_at = now() - interval '6 hours',
                  starts_at = now() - interval '5 hours', ends_at = now() - interval '1 hour'
        RETURNING checkin_opens_at, ends_at"""
    )
    opens, ends = row["checkin_opens_at"], row["ends_at"]
    codes = [await world.qr(f"LC-01-{i}") for i in range(3)]
    results = await post(
        client,
        world.kiosk("LC-01"),
        scan(codes[0], at=opens - timedelta(seconds=1)),
        scan(codes[1], at=ends),
        scan(codes[2], at=ends - timedelta(microseconds=1)),
    )
    assert [r["result"] for r in results] == ["not_open", "closed", "accepted"]
    assert "Chưa đến giờ điểm danh" in results[0]["message"]["vi"]
    assert results[1]["message"]["en"] == "Check-in is closed"


async def test_a_late_upload_of_an_in_window_scan_counts_after_the_end(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    # The session ended an hour ago; the kiosk was offline and uploads now.
    await world.db.execute(
        """UPDATE conferences SET checkin_opens_at = now() - interval '6 hours',
                  starts_at = now() - interval '5 hours', ends_at = now() - interval '1 hour'"""
    )
    (result,) = await post(
        client, world.kiosk("LC-01"), scan(qr, at=datetime.now(UTC) - timedelta(hours=3))
    )
    assert result["result"] == "accepted"


async def test_a_signed_off_conference_answers_closed_to_everything(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    await world.db.execute("UPDATE conferences SET signed_off_at = now()")
    results = await post(
        client,
        world.kiosk("LC-01"),
        scan(qr),
        scan("junk"),
        scan(full_name="Khách", category="guest"),
    )
    assert [r["result"] for r in results] == ["closed"] * 3
    assert await count(world.db, "SELECT count(*) FROM attendances") == 0


async def test_a_clock_far_ahead_is_judged_at_arrival(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    ahead = datetime.now(UTC) + timedelta(days=2)  # after the end, by the kiosk's clock
    (result,) = await post(client, world.kiosk("LC-01"), scan(qr, at=ahead))
    assert result["result"] == "accepted"
    assert result["skewed"] is True
    row = await world.db.fetchrow("SELECT scanned_at, judged_at, skewed FROM checkins")
    assert row["skewed"] and row["judged_at"] < row["scanned_at"]


async def test_a_retry_answers_the_same_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    first = scan(qr)
    (a,) = await post(client, world.kiosk("LC-01"), first)
    before = await world.tally("LC-01")
    (b,) = await post(client, world.kiosk("LC-01"), first)
    assert a == b
    assert await world.tally("LC-01") == before
    assert await count(world.db, "SELECT count(*) FROM checkins") == 1


async def test_a_scan_id_reused_for_other_content_is_refused_whole(
    client: TestClient, world: World
) -> None:
    qr0, qr1 = await world.qr("LC-01-0"), await world.qr("LC-01-1")
    first = scan(qr0)
    await post(client, world.kiosk("LC-01"), first)
    clash = {**first, "qr": qr1}
    resp = await client.post(URL, json={"scans": [scan(qr1), clash]}, headers=world.kiosk("LC-01"))
    body = await assert_problem(resp, 409, "scan_conflict")
    assert body["errors"][0]["field"] == "scans.1.scan_id"
    assert await count(world.db, "SELECT count(*) FROM checkins") == 1


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"scanned_at": "2026-11-30T08:00:00+07:00", "qr": "X"}, "scans.1.scan_id"),
        ({"scan_id": str(uuid.uuid4()), "qr": "X"}, "scans.1.scanned_at"),
        ({"scan_id": str(uuid.uuid4()), "scanned_at": "2026-11-30T08:00:00+07:00"}, "scans.1"),
        (
            {"scan_id": "nope", "scanned_at": "2026-11-30T08:00:00+07:00", "qr": "X"},
            "scans.1.scan_id",
        ),
        (
            {"scan_id": str(uuid.uuid4()), "scanned_at": "2026-11-30T08:00:00", "qr": "X"},
            "scans.1.scanned_at",
        ),
        ({**scan("X"), "direction": "sideways"}, "scans.1.direction"),
        ({**scan(full_name="Khách"), "method": "walk_in"}, "scans.1"),
        ({**scan(full_name="Khách", category="guest"), "direction": "out"}, "scans.1"),
        ({**scan(method="manual")}, "scans.1"),
    ],
)
async def test_a_malformed_batch_is_refused_whole_and_stores_nothing(
    client: TestClient, world: World, bad: dict, field: str
) -> None:
    good = scan(await world.qr("LC-01-0"))
    resp = await client.post(URL, json={"scans": [good, bad]}, headers=world.kiosk("LC-01"))
    body = await assert_problem(resp, 422, "validation_failed")
    assert any(e["field"] == field for e in body["errors"]), body["errors"]
    assert await count(world.db, "SELECT count(*) FROM checkins") == 0


async def test_more_than_500_scans_is_413(client: TestClient, world: World) -> None:
    resp = await client.post(
        URL, json={"scans": [scan("X") for _ in range(501)]}, headers=world.kiosk("LC-01")
    )
    await assert_problem(resp, 413, "payload_too_large")


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"scans": {}}', b'{"scans": []}'])
async def test_a_body_that_is_not_a_batch_is_refused(
    client: TestClient, world: World, body: bytes
) -> None:
    resp = await client.post(URL, data=body, headers=world.kiosk("LC-01"))
    assert resp.status in (400, 422)
    await assert_problem(
        resp, resp.status, "invalid_json" if resp.status == 400 else "validation_failed"
    )


async def test_only_kiosks_may_post_scans(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    resp = await client.post(URL, json={"scans": [scan("X")]}, headers=organiser)
    await assert_problem(resp, 403, "forbidden")
    resp = await client.post(URL, json={"scans": [scan("X")]})
    await assert_problem(resp, 401, "authentication_required")


async def test_another_site_is_accepted_and_marked_moved(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    (result,) = await post(client, world.kiosk("LC-02"), scan(qr))
    assert result["result"] == "accepted" and result["moved"] is True
    assert "LC-01" in result["message"]["vi"]
    assert (await world.tally("LC-02"))["moved_in"] == 1
    assert (await world.tally("LC-01"))["moved_out"] == 1


async def test_another_site_is_refused_when_the_policy_says_reject(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    world = await build_world(factory, db, policy="reject")
    qr = await world.qr("LC-01-0")
    wrong, right = await post(client, world.kiosk("LC-02"), scan(qr), scan(qr))
    assert wrong["result"] == "wrong_site"
    assert wrong["delegate"]["site_code"] == "LC-01"
    assert right["result"] == "wrong_site"
    (ok,) = await post(client, world.kiosk("LC-01"), scan(qr))
    assert ok["result"] == "accepted"


async def test_exit_and_reentry(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    k = world.kiosk("LC-01")
    await post(client, k, scan(qr, at=now - timedelta(minutes=30)))
    (exit_,) = await post(client, k, scan(qr, at=now - timedelta(minutes=20), direction="out"))
    assert exit_["result"] == "accepted" and exit_["checked_in"] is True
    assert (await world.tally("LC-01"))["present"] == 0
    (back,) = await post(client, k, scan(qr, at=now - timedelta(minutes=10)))
    assert back["result"] == "accepted" and back["reentry"] is True
    tally = await world.tally("LC-01")
    assert tally["checked_in_member"] == 1  # a re-entry changes no check-in count
    assert tally["present"] == 1 and tally["exits"] == 1 and tally["reentries"] == 1
    (twice,) = await post(client, k, scan(qr, at=now - timedelta(minutes=5)))
    assert twice["result"] == "duplicate"


async def test_an_exit_with_no_entry_is_recorded_but_counts_nobody(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    (result,) = await post(client, world.kiosk("LC-01"), scan(qr, direction="out"))
    assert result["result"] == "accepted"
    assert result["checked_in"] is False
    tally = await world.tally("LC-01")
    assert tally["checked_in_member"] == 0 and tally["present"] == 0


async def test_walk_ins_are_counted_and_present(client: TestClient, world: World) -> None:
    results = await post(
        client,
        world.kiosk("LC-01"),
        scan(full_name="Hoàng Văn Khách", category="quần chúng"),
        scan(method="walk_in", full_name="Lê Thị Mời", category="guest"),
    )
    assert [r["result"] for r in results] == ["accepted", "accepted"]
    assert results[0]["walk_in"] == {"full_name": "Hoàng Văn Khách", "category": "non_member"}
    assert results[0]["delegate"] is None
    tally = await world.tally("LC-01")
    assert tally["walk_ins_non_member"] == 1 and tally["walk_ins_guest"] == 1
    assert tally["present"] == 2 and tally["checked_in_member"] == 0


async def test_manual_check_in_by_delegate_id(client: TestClient, world: World) -> None:
    delegate = world.delegates["LC-01-2"]
    (result,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=delegate["id"]))
    assert result["result"] == "accepted"
    assert result["delegate"]["id"] == delegate["id"]
    (unknown,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=10**12))
    assert unknown["result"] == "invalid"
    stored = await world.db.fetchval("SELECT method FROM checkins ORDER BY id LIMIT 1")
    assert stored == "manual"


async def test_a_revoked_kiosk_is_refused_at_its_next_batch(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    await post(client, world.kiosk("LC-01"), scan(qr))  # its token is now cached
    await world.db.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'LC-01#0'")
    resp = await client.post(URL, json={"scans": [scan(qr)]}, headers=world.kiosk("LC-01"))
    await assert_problem(resp, 401, "authentication_required")
    assert await count(world.db, "SELECT count(*) FROM checkins") == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (URL, {"scans": [scan("X")]}),
        # A kiosk's heartbeats are writes like its scans: a loop of them gets 429 too.
        ("/api/v1/kiosk/heartbeat", {"queue_length": 0}),
    ],
    ids=["checkins", "heartbeats"],
)
async def test_a_kiosk_sending_too_fast_gets_429_with_retry_after(
    client: TestClient, world: World, path: str, body: dict
) -> None:
    # The allowance is 20 a second with bursts of 40, shared by check-ins and heartbeats.
    # The requests go at once, so that a loaded machine answering each in over 50 ms
    # cannot refill the bucket between them: the 429s are answered before any database
    # work, so they come back quickly.
    async def one() -> int:
        resp = await client.post(path, json=body, headers=world.kiosk("LC-01"))
        if resp.status == 429:
            await assert_problem(resp, 429, "rate_limited")
            assert int(resp.headers["Retry-After"]) >= 1
        else:
            await resp.read()
        return resp.status

    statuses = await asyncio.gather(*(one() for _ in range(100)))
    assert set(statuses) == {200, 429}
    assert statuses.count(200) >= 40


async def test_a_scan_id_of_another_conference_is_a_conflict_not_its_answer(
    client: TestClient, world: World, factory: Factory
) -> None:
    qr = await world.qr("LC-01-0")
    first = scan(qr)
    await post(client, world.kiosk("LC-01"), first)
    await factory.conference("HN2", sites=["LC-01"], starts_in=timedelta(minutes=30))
    other = {
        "Authorization": f"Bearer {await factory.token('kiosk', conference='HN2', site='LC-01')}"
    }
    resp = await client.post(URL, json={"scans": [first]}, headers=other)
    await assert_problem(resp, 409, "scan_conflict")
