"""Bridge points: register, read, update, list with filters and keyset pages, and scope.

Outside the caller's subtree a site answers 404 (read and write alike: it is not
revealed); naming an out-of-scope unit as the target answers 403.
"""

from __future__ import annotations

import io
import json
import unicodedata
from typing import Any

import pytest

from tests.factory import bearer
from tests.problems import assert_problem


def site_body(code: str = "LC-TD-01", unit: str = "LC-TD", **over: Any) -> dict[str, Any]:
    body = {
        "code": code,
        "name": "Hội trường UBND huyện Tam Đường",
        "unit_code": unit,
        "level": "district",
        "address": "Thị trấn Tam Đường, Lai Châu",
        "capacity": 120,
        "technician": {"name": "Lò Văn Đức", "phone": "+84 912.345.678"},
        "endpoint": {"protocol": "SIP", "uri": "sip:td01@vtn.vn", "provider": "VNPT"},
    }
    return {**body, **over}


async def test_register_site_answers_the_contract_shape(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    resp = await client.post("/api/v1/sites", json=site_body(), headers=organiser)
    assert resp.status == 201, await resp.text()
    site = await resp.json()
    assert site["code"] == "LC-TD-01" and site["unit_code"] == "LC-TD"
    assert site["level"] == "district" and site["capacity"] == 120
    assert site["technician"] == {"name": "Lò Văn Đức", "phone": "0912345678"}
    assert site["endpoint"] == {"protocol": "sip", "uri": "sip:td01@vtn.vn", "provider": "VNPT"}
    assert site["status"] == "registered" and site["last_test"] is None
    assert await (await client.get("/api/v1/sites/LC-TD-01", headers=organiser)).json() == site
    row = await db.fetchrow("SELECT search_text FROM sites WHERE code = 'LC-TD-01'")
    assert "tam duong" in row["search_text"] and "lai chau" in row["search_text"]
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE entity = 'site'")
    assert entry["action"] == "create" and entry["after"]["code"] == "LC-TD-01"


async def test_nfd_input_is_stored_nfc(client: Any, db: Any, tree: None, organiser: dict) -> None:
    nfd = unicodedata.normalize("NFD", "Điểm cầu xã Bản Hon")
    body = site_body(name=nfd, address=unicodedata.normalize("NFD", "Bản Hon, Tam Đường"))
    assert (await client.post("/api/v1/sites", json=body, headers=organiser)).status == 201
    row = await db.fetchrow("SELECT name, address FROM sites WHERE code = 'LC-TD-01'")
    assert row["name"] == "Điểm cầu xã Bản Hon"
    assert unicodedata.is_normalized("NFC", row["address"])


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"name": None}, {"name"}),
        ({"capacity": -1}, {"capacity"}),
        ({"capacity": "many"}, {"capacity"}),
        ({"level": "continent"}, {"level"}),
        ({"code": "has space"}, {"code"}),
        ({"technician": {"name": "A", "phone": "12345"}}, {"technician.phone"}),
        ({"endpoint": {"protocol": "skype", "uri": "x"}}, {"endpoint.protocol"}),
        ({"endpoint": {"uri": "sip:x@y"}}, {"endpoint.protocol"}),
        ({"endpoint": {"protocol": "meeting_link", "uri": "zoom-123"}}, {"endpoint.uri"}),
        ({"technician": "Lò Văn Đức"}, {"technician"}),
        ({"unit_code": "NO-SUCH-UNIT"}, {"unit_code"}),
    ],
)
async def test_bad_site_fields_are_named(
    client: Any, tree: None, organiser: dict, change: dict, fields: set
) -> None:
    resp = await client.post("/api/v1/sites", json=site_body(**change), headers=organiser)
    problem = await assert_problem(resp, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == fields


async def test_missing_fields_are_each_reported(client: Any, organiser: dict) -> None:
    resp = await client.post("/api/v1/sites", json={"code": "X"}, headers=organiser)
    problem = await assert_problem(resp, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == {"name", "unit_code", "level"}


async def test_duplicate_code_is_409(client: Any, tree: None, organiser: dict) -> None:
    assert (await client.post("/api/v1/sites", json=site_body(), headers=organiser)).status == 201
    resp = await client.post("/api/v1/sites", json=site_body(), headers=organiser)
    problem = await assert_problem(resp, 409, "already_exists")
    assert problem["errors"][0]["field"] == "code"


async def test_json_body_over_one_mib_is_413(client: Any, organiser: dict) -> None:
    body = json.dumps({**site_body(), "address": "x" * (1024 * 1024 + 10)}).encode()
    headers = {**organiser, "Content-Type": "application/json"}
    resp = await client.post("/api/v1/sites", data=io.BytesIO(body), headers=headers)
    await assert_problem(resp, 413, "payload_too_large")


async def test_patch_merges_and_audits(client: Any, db: Any, tree: None, organiser: dict) -> None:
    await client.post("/api/v1/sites", json=site_body(), headers=organiser)
    patch = {"capacity": 150, "technician": {"phone": "0987 654 321"}, "address": None}
    resp = await client.patch("/api/v1/sites/LC-TD-01", json=patch, headers=organiser)
    assert resp.status == 200, await resp.text()
    site = await resp.json()
    assert site["capacity"] == 150 and site["address"] is None
    assert site["technician"] == {"name": "Lò Văn Đức", "phone": "0987654321"}
    assert site["endpoint"]["uri"] == "sip:td01@vtn.vn"
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'update'")
    assert entry["before"]["capacity"] == 120 and entry["after"]["capacity"] == 150
    for bad in ({"name": None}, {"capacity": "x"}, {"status": "ready"}):
        resp = await client.patch("/api/v1/sites/LC-TD-01", json=bad, headers=organiser)
        await assert_problem(resp, 422, "validation_failed")
    resp = await client.patch("/api/v1/sites/NOPE", json={"capacity": 1}, headers=organiser)
    await assert_problem(resp, 404, "not_found")


async def test_new_endpoint_sends_a_ready_site_back_to_registered(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    await factory.site("S1", unit="LC-TD", status="ready")
    same = await client.patch("/api/v1/sites/S1", json={"capacity": 9}, headers=organiser)
    assert (await same.json())["status"] == "ready"
    moved = {"endpoint": {"protocol": "webrtc", "uri": "https://meet.example.vn/s1"}}
    changed = await client.patch("/api/v1/sites/S1", json=moved, headers=organiser)
    assert (await changed.json())["status"] == "registered"


async def _all_pages(client: Any, headers: dict, **params: str) -> list[str]:
    codes: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get("/api/v1/sites", params=query, headers=headers)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        codes += [s["code"] for s in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return codes


async def test_pages_with_combined_filters_miss_nothing_and_repeat_nothing(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    expected = []
    for i in range(57):
        unit = ("LC-TD-BB", "LC-TD", "HG")[i % 3]
        status = "tested" if i % 2 else "registered"
        level = "commune" if unit == "LC-TD-BB" else "district"
        await factory.site(f"S{i:03d}", unit=unit, status=status, level=level)
        if unit.startswith("LC") and status == "tested":
            expected.append(f"S{i:03d}")
    codes = await _all_pages(client, organiser, unit="LC", status="tested", limit="4")
    assert codes == expected
    everything = await _all_pages(client, organiser, limit="7")
    assert everything == sorted(everything) and len(set(everything)) == 57
    commune = await _all_pages(client, organiser, unit="LC", level="commune", limit="5")
    assert commune == [f"S{i:03d}" for i in range(0, 57, 3)]


async def test_unit_filter_takes_the_whole_subtree(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    await factory.site("A", unit="LC-TD-BB")
    await factory.site("B", unit="LC-TD")
    await factory.site("C", unit="LC")
    await factory.site("D", unit="HG")
    assert await _all_pages(client, organiser, unit="LC-TD") == ["A", "B"]
    assert await _all_pages(client, organiser, unit="LC") == ["A", "B", "C"]
    assert await _all_pages(client, organiser, unit="VN") == ["A", "B", "C", "D"]
    resp = await client.get("/api/v1/sites", params={"unit": "NOPE"}, headers=organiser)
    await assert_problem(resp, 404, "not_found")


async def test_search_ignores_case_and_diacritics(client: Any, tree: None, organiser: dict) -> None:
    names = {
        "S1": "Hội trường UBND tỉnh Lai Châu",
        "S2": "Nhà văn hoá bản Đông Pao",
        "S3": "Trường THCS Hà Giang",
    }
    for code, name in names.items():
        body = site_body(code=code, name=name, address=None)
        assert (await client.post("/api/v1/sites", json=body, headers=organiser)).status == 201
    for q, found in [
        ("lai chau", ["S1"]),
        ("LAI CHÂU", ["S1"]),
        ("Châu lai", ["S1"]),
        ("dong pao", ["S2"]),
        ("đông", ["S2"]),
        ("truong", ["S1", "S3"]),
        ("s3", ["S3"]),
        ("50%_", []),
    ]:
        assert await _all_pages(client, organiser, q=q) == found, q


async def test_bad_list_queries(client: Any, organiser: dict) -> None:
    for params, status, code in [
        ({"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
        ({"cursor": "eyJ4IjogMX0"}, 400, "invalid_cursor"),  # base64 of {"x": 1}
        ({"limit": "1001"}, 422, "validation_failed"),
        ({"limit": "0"}, 422, "validation_failed"),
        ({"status": "sleeping"}, 422, "validation_failed"),
    ]:
        resp = await client.get("/api/v1/sites", params=params, headers=organiser)
        await assert_problem(resp, status, code)


async def test_technician_of_another_unit_gets_404_and_403(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    await client.post("/api/v1/sites", json=site_body(), headers=organiser)
    hg = bearer(await factory.token("technician", unit="HG"))
    await assert_problem(await client.get("/api/v1/sites/LC-TD-01", headers=hg), 404, "not_found")
    resp = await client.patch("/api/v1/sites/LC-TD-01", json={"capacity": 1}, headers=hg)
    await assert_problem(resp, 404, "not_found")
    resp = await client.post("/api/v1/sites", json=site_body(code="X1"), headers=hg)
    await assert_problem(resp, 403, "forbidden")
    listed = await (await client.get("/api/v1/sites", headers=hg)).json()
    assert listed == {"items": [], "next": None}
    lc = bearer(await factory.token("technician", unit="LC"))
    moved = await client.patch("/api/v1/sites/LC-TD-01", json={"unit_code": "HG"}, headers=lc)
    await assert_problem(moved, 403, "forbidden")
    ok = await client.patch("/api/v1/sites/LC-TD-01", json={"unit_code": "LC-TD-BB"}, headers=lc)
    assert (await ok.json())["unit_code"] == "LC-TD-BB"


@pytest.mark.parametrize("role", ["kiosk", "viewer"])
async def test_kiosk_and_viewer_tokens_are_refused(
    client: Any, factory: Any, tree: None, role: str
) -> None:
    await factory.site("S1", unit="LC-TD")
    await factory.conference("C1", sites=["S1"])
    token = bearer(
        await factory.token(role, conference="C1", site="S1" if role == "kiosk" else None)
    )
    for method, path, body in [
        ("GET", "/api/v1/sites", None),
        ("GET", "/api/v1/sites/S1", None),
        ("PATCH", "/api/v1/sites/S1", {"capacity": 1}),
        ("POST", "/api/v1/sites", site_body()),
        ("POST", "/api/v1/sites/S1/confirm", None),
        ("GET", "/api/v1/sites/S1/link-tests", None),
    ]:
        resp = await client.request(method, path, json=body, headers=token)
        await assert_problem(resp, 403, "forbidden")
