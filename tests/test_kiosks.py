"""Kiosks: enrollment codes, enrolling, listing and revoking; what a kiosk reads (itself,
its roster snapshot with ETag, gzip and `since`, the name search); heartbeats."""

from __future__ import annotations

import gzip
import io
import json
from datetime import timedelta

import asyncpg
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient
from PIL import Image

from diemcau import kiosks
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory, bearer
from tests.problems import assert_problem

SITE = "/api/v1/conferences/HN1/sites/LC-01"


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


async def new_code(client: TestClient, headers: dict[str, str], site: str = "LC-01") -> dict:
    resp = await client.post(f"/api/v1/conferences/HN1/sites/{site}/kiosk-codes", headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def enroll(client: TestClient, code: str, name: str = "Laptop cửa chính") -> dict:
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": code, "device_name": name})
    assert resp.status == 201, await resp.text()
    return await resp.json()


def test_codes_are_eight_unambiguous_characters() -> None:
    codes = {kiosks.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and not set(c) & set("01OIL") for c in codes)
    assert kiosks.normalise_code(" 7kq4-mz2p ") == "7KQ4MZ2P"
    assert kiosks.normalise_code("7KQ4MZ2O") is None  # O is not in the alphabet
    assert kiosks.normalise_code("7KQ4") is None


async def test_a_technician_enrolls_a_kiosk_with_a_code(
    client: TestClient, world: World, factory: Factory
) -> None:
    tech = bearer(await factory.token("technician", unit="LC"))
    made = await new_code(client, tech)
    assert len(made["code"]) == 9 and made["code"][4] == "-"
    assert made["enroll_url"].endswith("/kiosk#enroll=" + made["code"].replace("-", ""))
    done = await enroll(client, made["code"].lower())
    assert done["token"].startswith("dc_")
    assert done["site"]["code"] == "LC-01" and done["conference"]["code"] == "HN1"
    assert done["conference"]["policy"] == {"other_site": "accept"}
    # The code was asked for before any badge was printed: the key set is there anyway.
    assert len(done["keys"]["keys"]) == 1
    # The new token checks in at once.
    qr = await world.qr("LC-01-0")
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [scan(qr)]}, headers=bearer(done["token"])
    )
    assert (await resp.json())["results"][0]["result"] == "accepted"
    # ... and shows in the site's list, with its scan.
    resp = await client.get(f"{SITE}/kiosks", headers=tech)
    listed = {k["device_name"]: k for k in (await resp.json())["items"]}
    assert listed["Laptop cửa chính"]["scans"] == 1
    assert listed["Laptop cửa chính"]["online"] is True


async def test_a_kiosk_left_unnamed_gets_the_site_s_next_number(
    client: TestClient, world: World, organiser: dict
) -> None:
    """The page prefills the name the preview tells ("Máy 3": the world has two kiosks
    at LC-01); a kiosk enrolled with no name, or an empty one, gets the number too."""
    code = (await new_code(client, organiser))["code"]
    resp = await client.post("/api/v1/kiosks/enroll/preview", json={"code": code})
    assert resp.status == 200, await resp.text()
    seen = await resp.json()
    assert seen["device_name"] == "Máy 3"
    assert (seen["site"]["code"], seen["site"]["name"]) == ("LC-01", "Điểm cầu LC-01")
    assert seen["conference"]["code"] == "HN1" and seen["expires_at"].endswith("+07:00")
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": code})  # not used up
    assert resp.status == 201 and (await resp.json())["kiosk"]["device_name"] == "Máy 3"
    code = (await new_code(client, organiser))["code"]
    resp = await client.post(
        "/api/v1/kiosks/enroll/preview", json={"code": code}, headers={"Accept-Language": "en"}
    )
    assert (await resp.json())["device_name"] == "Kiosk 4"
    assert (await enroll(client, code, name="  "))["kiosk"]["device_name"] == "Máy 4"
    assert kiosks.next_device_name(["Máy 9", "Laptop"], "vi") == "Máy 10"  # past a number taken
    resp = await client.post("/api/v1/kiosks/enroll/preview", json={"code": code})
    assert (await assert_problem(resp, 422, "enrollment_code_refused"))["reason"] == "used"


async def test_times_a_technician_reads_are_in_the_conference_s_zone(
    client: TestClient, world: World, organiser: dict
) -> None:
    made = await new_code(client, organiser)
    assert made["expires_at"].endswith("+07:00")
    done = await enroll(client, made["code"])
    resp = await client.get(f"{SITE}/kiosks", headers=organiser)
    for kiosk in (await resp.json())["items"]:
        assert kiosk["enrolled_at"].endswith("+07:00"), kiosk
    qr = await world.qr("LC-01-0")
    await client.post("/api/v1/checkins", json={"scans": [scan(qr)]}, headers=bearer(done["token"]))
    resp = await client.get(f"{SITE}/checkins", headers=organiser)
    [stored] = (await resp.json())["items"]
    assert stored["scanned_at"].endswith("+07:00") and stored["received_at"].endswith("+07:00")


async def test_a_code_works_once(client: TestClient, world: World, organiser: dict) -> None:
    code = (await new_code(client, organiser))["code"]
    await enroll(client, code)
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": code, "device_name": "B"})
    body = await assert_problem(resp, 422, "enrollment_code_refused")
    assert body["reason"] == "used"


async def test_expired_and_unknown_codes_are_refused(
    client: TestClient, world: World, organiser: dict
) -> None:
    code = (await new_code(client, organiser))["code"]
    await world.db.execute("UPDATE kiosk_codes SET expires_at = now() - interval '1 second'")
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": code, "device_name": "A"})
    assert (await assert_problem(resp, 422, "enrollment_code_refused"))["reason"] == "expired"
    resp = await client.post(
        "/api/v1/kiosks/enroll", json={"code": "2345-6789", "device_name": "A"}
    )
    assert (await assert_problem(resp, 422, "enrollment_code_refused"))["reason"] == "unknown"
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": "x", "device_name": "A"})
    await assert_problem(resp, 422, "enrollment_code_refused")


async def test_enrollment_attempts_are_rate_limited(client: TestClient, world: World) -> None:
    statuses = []
    for _ in range(12):
        resp = await client.post(
            "/api/v1/kiosks/enroll", json={"code": "2345-6789", "device_name": "A"}
        )
        statuses.append(resp.status)
    assert statuses[:10] == [422] * 10
    assert statuses[-1] == 429


async def test_the_enrollment_qr_leads_to_the_kiosk_page(
    client: TestClient, world: World, organiser: dict
) -> None:
    made = await new_code(client, organiser)
    resp = await client.get(made["qr_png"], headers=organiser)
    assert resp.status == 200 and resp.content_type == "image/png"
    image = Image.open(io.BytesIO(await resp.read()))
    (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    code = made["code"].replace("-", "")
    assert found.text.endswith("/K/" + code)
    path = found.text.split("/", 3)[3]
    resp = await client.get("/" + path, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"/kiosk#enroll={code}"


async def test_codes_are_for_the_site_s_technician_only(
    client: TestClient, world: World, factory: Factory
) -> None:
    await factory.unit("HG", parent="VN")
    outsider = bearer(await factory.token("technician", unit="HG"))
    resp = await client.post(f"{SITE}/kiosk-codes", headers=outsider)
    await assert_problem(resp, 404, "not_found")
    kiosk = world.kiosk("LC-01")
    resp = await client.post(f"{SITE}/kiosk-codes", headers=kiosk)
    await assert_problem(resp, 403, "forbidden")


async def test_a_revoked_kiosk_gets_401_at_once(
    client: TestClient, world: World, organiser: dict
) -> None:
    done = await enroll(client, (await new_code(client, organiser))["code"])
    token = bearer(done["token"])
    resp = await client.get("/api/v1/kiosk", headers=token)
    assert resp.status == 200
    resp = await client.post(f"{SITE}/kiosks/{done['kiosk']['id']}/revoke", headers=organiser)
    assert (await resp.json())["revoked_at"] is not None
    for method, path in (("GET", "/api/v1/kiosk"), ("GET", "/api/v1/kiosk/roster")):
        resp = await client.request(method, path, headers=token)
        await assert_problem(resp, 401, "authentication_required")
    resp = await client.post("/api/v1/checkins", json={"scans": [scan("X")]}, headers=token)
    await assert_problem(resp, 401, "authentication_required")
    resp = await client.post(f"{SITE}/kiosks/999999/revoke", headers=organiser)
    await assert_problem(resp, 404, "not_found")


async def test_a_kiosk_reads_itself_and_its_site_s_counts(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    await client.post("/api/v1/checkins", json={"scans": [scan(qr)]}, headers=world.kiosk("LC-01"))
    resp = await client.get("/api/v1/kiosk", headers=world.kiosk("LC-01"))
    body = await resp.json()
    assert body["site"]["code"] == "LC-01"
    assert body["counts"]["expected"] == {"member": 2, "non_member": 1, "guest": 0}
    assert body["counts"]["checked_in"]["member"] == 1
    assert body["counts"]["present"] == 1


async def test_the_roster_snapshot_has_an_etag_and_gzip(client: TestClient, world: World) -> None:
    kiosk = world.kiosk("LC-01")
    resp = await client.get(
        "/api/v1/kiosk/roster", headers={**kiosk, "Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(await resp.read()))
    assert body["full"] is True and body["scope"] == "site"
    assert sorted(d["external_id"] for d in body["delegates"]) == ["LC-01-0", "LC-01-1", "LC-01-2"]
    assert set(body["delegates"][0]) == {
        "id",
        "external_id",
        "full_name",
        "category",
        "unit_code",
        "unit_name",
        "site_code",
        "credential_version",
        "revoked",
    }
    tag = resp.headers["ETag"]
    resp = await client.get("/api/v1/kiosk/roster", headers={**kiosk, "If-None-Match": tag})
    assert resp.status == 304


async def test_the_door_can_name_a_delegate_s_site(client: TestClient, world: World) -> None:
    """An answer names the delegate's site by name, and a roster snapshot carries the
    names of its sites, so an offline kiosk can too."""
    kiosk = world.kiosk("LC-02")
    qr = await world.qr("LC-01-0")
    resp = await client.post("/api/v1/checkins", json={"scans": [scan(qr)]}, headers=kiosk)
    [result] = (await resp.json())["results"]
    assert result["moved"] and result["delegate"]["site_name"] == "Điểm cầu LC-01"
    resp = await client.get("/api/v1/kiosk/roster?scope=unit", headers=kiosk)
    names = (await resp.json())["site_names"]
    assert names == {"LC-01": "Điểm cầu LC-01", "LC-02": "Điểm cầu LC-02"}


async def test_since_brings_only_what_changed(
    client: TestClient, world: World, organiser: dict
) -> None:
    kiosk = world.kiosk("LC-01")
    first = await (await client.get("/api/v1/kiosk/roster", headers=kiosk)).json()
    version = first["version"]
    moved = world.delegates["LC-01-1"]["id"]
    reissued = world.delegates["LC-01-0"]["id"]
    await client.patch(
        f"/api/v1/conferences/HN1/delegates/{moved}", json={"site_code": "LC-02"}, headers=organiser
    )
    await client.post(f"/api/v1/conferences/HN1/delegates/{reissued}/reissue", headers=organiser)
    await client.patch(
        f"/api/v1/conferences/HN1/delegates/{world.delegates['LC-02-0']['id']}",
        json={"full_name": "Người khác"},
        headers=organiser,
    )  # another site: not this kiosk's business
    resp = await client.get("/api/v1/kiosk/roster", params={"since": version}, headers=kiosk)
    body = await resp.json()
    assert body["full"] is False
    assert [d["id"] for d in body["delegates"]] == [reissued]
    assert body["delegates"][0]["credential_version"] == 2
    assert body["removed"] == [moved]
    assert int(body["version"]) > int(version)
    # Up to date: nothing new.
    resp = await client.get(
        "/api/v1/kiosk/roster", params={"since": body["version"]}, headers=kiosk
    )
    again = await resp.json()
    assert again["delegates"] == [] and again["removed"] == []


async def test_unit_scope_widens_to_the_parent_unit(client: TestClient, world: World) -> None:
    resp = await client.get(
        "/api/v1/kiosk/roster", params={"scope": "unit"}, headers=world.kiosk("LC-01")
    )
    body = await resp.json()
    assert {d["site_code"] for d in body["delegates"]} == {"LC-01", "LC-02"}


async def test_a_bad_since_is_refused(client: TestClient, world: World) -> None:
    for bad in ("abc", "-1", "١٢"):
        resp = await client.get(
            "/api/v1/kiosk/roster", params={"since": bad}, headers=world.kiosk("LC-01")
        )
        await assert_problem(resp, 422, "validation_failed")


async def test_a_scope_too_large_for_an_offline_copy_is_refused(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diemcau import kiosk_roster

    monkeypatch.setattr(kiosk_roster, "MAX_ROSTER", 2)
    resp = await client.get("/api/v1/kiosk/roster", headers=world.kiosk("LC-01"))
    body = await assert_problem(resp, 422, "roster_too_large")
    assert body["size"] == 3 and body["limit"] == 2
    assert body["detail"] == "Phạm vi có 3 đại biểu, quá 2; máy này điểm danh trực tuyến"


async def test_name_search_ignores_accents_and_case(client: TestClient, world: World) -> None:
    kiosk = world.kiosk("LC-01")
    resp = await client.get("/api/v1/kiosk/delegates", params={"q": "nguyen van an"}, headers=kiosk)
    items = (await resp.json())["items"]
    assert [i["full_name"] for i in items] == ["Nguyễn Văn An"]
    assert items[0]["checked_in"] is False
    resp = await client.get("/api/v1/kiosk/delegates", params={"q": "THI BINH"}, headers=kiosk)
    assert [i["full_name"] for i in (await resp.json())["items"]] == ["Trần Thị Bình"]
    # Only this site's delegates: LC-02's "Trần Thị Bình" is not found from LC-02's list here.
    resp = await client.get("/api/v1/kiosk/delegates", params={"q": "x"}, headers=kiosk)
    await assert_problem(resp, 422, "validation_failed")


async def test_heartbeats_record_liveness_and_gaps(client: TestClient, world: World) -> None:
    kiosk = world.kiosk("LC-01")
    resp = await client.post("/api/v1/kiosk/heartbeat", json={"queue_length": 7}, headers=kiosk)
    assert resp.status == 200 and "server_time" in await resp.json()
    row = await world.db.fetchrow(
        "SELECT last_seen_at, queue_length FROM kiosks WHERE device_name = 'LC-01#0'"
    )
    assert row["last_seen_at"] is not None and row["queue_length"] == 7
    await world.db.execute(
        "UPDATE kiosks SET last_seen_at = last_seen_at - $1::interval WHERE device_name = 'LC-01#0'",
        timedelta(minutes=8),
    )
    resp = await client.post("/api/v1/kiosk/heartbeat", headers=kiosk)
    assert resp.status == 200
    assert await world.db.fetchval("SELECT count(*) FROM kiosk_silences") == 1


async def test_a_bulk_import_moves_every_site_s_version_and_loses_nothing(
    client: TestClient, world: World, organiser: dict
) -> None:
    here, there = world.kiosk("LC-01"), world.kiosk("LC-02")
    before = {}
    for name, kiosk in (("here", here), ("there", there)):
        resp = await client.get("/api/v1/kiosk/roster", headers=kiosk)
        before[name] = (resp.headers["ETag"], (await resp.json())["version"])
    rows = "".join(f"N-{i},Người thứ {i},member,LC-02,,,\n" for i in range(1200))
    resp = await client.post(
        "/api/v1/conferences/HN1/delegates/import",
        data="external_id,full_name,category,site_code,unit_code,phone,email\n" + rows,
        headers={**organiser, "Content-Type": "text/csv"},
    )
    assert resp.status == 200, await resp.text()
    # A bulk write moves the conference's version: every kiosk's ETag changes ...
    for name, kiosk in (("here", here), ("there", there)):
        resp = await client.get(
            "/api/v1/kiosk/roster", headers={**kiosk, "If-None-Match": before[name][0]}
        )
        assert resp.status == 200
    # ... and each asks only for what changed at its own site.
    resp = await client.get(
        "/api/v1/kiosk/roster", params={"since": before["here"][1]}, headers=here
    )
    assert (await resp.json())["delegates"] == []
    resp = await client.get(
        "/api/v1/kiosk/roster", params={"since": before["there"][1]}, headers=there
    )
    assert len((await resp.json())["delegates"]) == 1200
