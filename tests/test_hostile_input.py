"""Hostile text in a request: never a 500, always a problem naming the field.

PostgreSQL refuses NUL in text, a lone UTF-16 surrogate (JSON's `"\\ud800"`) cannot be
encoded at all, and control characters have no place in names or codes. They are refused
once for every route: JSON strings when the body is parsed (tab and newline only in
fields marked as free text, such as a link test's note), path segments and query
parameters by a middleware, after the route's own 401/403. Ids are ASCII digits only:
Python's int() reads '²' and Arabic-Indic digits too.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from tests.factory import bearer
from tests.problems import assert_problem


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


SITE = {"code": "S-1", "name": "Hội trường", "unit_code": "LC", "level": "commune"}


def _unit(**over: Any) -> dict[str, Any]:
    return {"code": "LC-X", "name": "Xã X", "level": "commune", "parent_code": "LC", **over}


async def test_nul_in_a_json_string_names_the_field(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    resp = await client.post("/api/v1/units", json=_unit(name="Xã\x00X"), headers=organiser)
    body = await assert_problem(resp, 422, "validation_failed")
    assert _fields(body) == ["name"]
    assert await db.fetchval("SELECT count(*) FROM units WHERE code = 'LC-X'") == 0


async def test_control_characters_in_nested_and_listed_strings(
    client: Any, tree: None, organiser: dict, factory: Any
) -> None:
    site = {**SITE, "technician": {"name": "Lò\x1bVăn Đức"}}
    resp = await client.post("/api/v1/sites", json=site, headers=organiser)
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["technician.name"]
    await factory.conference("HN")
    resp = await client.put(
        "/api/v1/conferences/HN/sites", json={"sites": ["A", "B\x00"]}, headers=organiser
    )
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["sites.1"]


async def test_a_lone_surrogate_or_c1_control_is_refused(
    client: Any, tree: None, organiser: dict
) -> None:
    for escaped in ("Xã \\ud800", "Xã \\u0085"):
        raw = json.dumps(_unit(), ensure_ascii=False).replace('"Xã X"', f'"{escaped}"').encode()
        resp = await client.post(
            "/api/v1/units", data=raw, headers={**organiser, "Content-Type": "application/json"}
        )
        assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["name"], escaped
    for raw_char in ("\x85", "\x7f"):  # unescaped in the JSON text: C1 (as UTF-8) and DEL
        raw = json.dumps(_unit(name=f"Xã{raw_char}X"), ensure_ascii=False).encode()
        assert b"\\" not in raw
        resp = await client.post(
            "/api/v1/units", data=raw, headers={**organiser, "Content-Type": "application/json"}
        )
        assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["name"]


async def test_a_control_character_in_a_key_is_named_safely(
    client: Any, tree: None, organiser: dict
) -> None:
    raw = b'{"code": "LC-X", "na\\ud800me\\u0000": "x"}'
    resp = await client.post(
        "/api/v1/units", data=raw, headers={**organiser, "Content-Type": "application/json"}
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert _fields(body) == ["na\\ud800me\\u0000"]  # shown escaped, never echoed raw


async def test_newlines_only_where_the_field_is_free_text(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    resp = await client.post("/api/v1/units", json=_unit(name="Xã\nX"), headers=organiser)
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["name"]
    await factory.site("S1", unit="LC")
    test = {"rtt_ms": 40, "jitter_ms": 3, "loss_pct": 0, "audio_ok": True, "video_ok": True}
    url = "/api/v1/sites/S1/link-tests"
    resp = await client.post(url, json={**test, "note": "dòng 1\n\tdòng 2"}, headers=organiser)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["note"] == "dòng 1\n\tdòng 2"
    resp = await client.post(url, json={**test, "note": "a\x00b"}, headers=organiser)
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["note"]
    doc = await (await client.get("/api/openapi.json")).json()
    note = doc["components"]["schemas"]["LinkTestIn"]["properties"]["note"]
    assert any(branch.get("x-free-text") for branch in note["anyOf"])  # documented


async def test_deeply_nested_json_is_refused_cleanly(
    client: Any, tree: None, organiser: dict
) -> None:
    for depth in (100, 100_000):
        raw = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
        resp = await client.post(
            "/api/v1/units", data=raw, headers={**organiser, "Content-Type": "application/json"}
        )
        assert resp.status in (400, 422), (depth, resp.status, await resp.text())
        assert resp.content_type == "application/problem+json"
    resp = await client.post(
        "/api/v1/units",
        data=b"[" * 100_000,
        headers={**organiser, "Content-Type": "application/json"},
    )
    await assert_problem(resp, 400, "invalid_json")


async def test_nan_and_infinity_are_not_json(client: Any, factory: Any, organiser: dict) -> None:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    raw = (
        b'{"rtt_ms": NaN, "jitter_ms": Infinity, "loss_pct": 0, "audio_ok": true, "video_ok": true}'
    )
    resp = await client.post(
        "/api/v1/sites/S1/link-tests",
        data=raw,
        headers={**organiser, "Content-Type": "application/json"},
    )
    await assert_problem(resp, 400, "invalid_json")


async def test_nul_in_a_query_parameter_names_it(client: Any, tree: None, organiser: dict) -> None:
    for query in ("q=a%00b", "unit=LC%00", "cursor=%00", "status=%01"):
        resp = await client.get(f"/api/v1/sites?{query}", headers=organiser)
        body = await assert_problem(resp, 422, "validation_failed")
        assert _fields(body) == [query.split("=")[0]], query


async def test_nul_in_a_path_segment_names_it(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    for path, field in (
        ("/api/v1/sites/S%001", "code"),
        ("/api/v1/units/LC%0A", "code"),
        ("/api/v1/conferences/H%00N", "code"),
        ("/api/v1/conferences/HN/sites/S%001/badges.pdf", "site"),
    ):
        resp = await client.get(path, headers=organiser)
        body = await assert_problem(resp, 422, "validation_failed")
        assert field in _fields(body), path


async def test_who_is_calling_is_still_answered_first(client: Any, factory: Any) -> None:
    await factory.unit("VN", level="national")
    resp = await client.get("/api/v1/sites/S%001")
    await assert_problem(resp, 401, "authentication_required")
    kiosk = await factory.token("viewer", conference=(await factory.conference("HN"))["code"])
    resp = await client.get("/api/v1/sites?q=%00", headers=bearer(kiosk))
    await assert_problem(resp, 403, "forbidden")


async def test_a_forged_cursor_carrying_nul_is_refused(
    client: Any, tree: None, organiser: dict
) -> None:
    for key in ("A\x00", "\ud800"):
        raw = json.dumps({"after": key}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for url in ("/api/v1/sites", "/api/v1/units"):
            resp = await client.get(url, params={"cursor": cursor}, headers=organiser)
            body = await assert_problem(resp, 400, "invalid_cursor")
            assert _fields(body) == ["cursor"]


async def test_id_cursors_in_other_digits_are_refused(
    client: Any, factory: Any, organiser: dict
) -> None:
    # Lists paged by id read their cursor's key as a number: '²' crashed int(), and 40
    # digits crashed PostgreSQL's bigint.
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    await factory.conference("HN", sites=["S1"])
    for url in (
        "/api/v1/conferences",
        "/api/v1/sites/S1/link-tests",
        "/api/v1/conferences/HN/sites/S1/checkins",
    ):
        for key in ("²", "٣", "1" * 40):
            raw = json.dumps({"after": key}, ensure_ascii=False).encode()
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            resp = await client.get(url, params={"cursor": cursor}, headers=organiser)
            await assert_problem(resp, 400, "invalid_cursor")


async def test_ids_in_other_digits_are_not_ids(client: Any, factory: Any, organiser: dict) -> None:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    conference = await factory.conference("HN", sites=["S1"])
    for _ in range(3):
        last = await factory.delegate(conference["id"], site="S1")
    assert last["id"] == 3
    url = "/api/v1/conferences/HN/delegates/"
    assert (await client.get(url + "3", headers=organiser)).status == 200
    for raw in ("²", "٣", "３", "3%0A", "-1", "9" * 30):
        resp = await client.get(url + raw, headers=organiser)
        assert resp.status in (404, 422), (raw, resp.status)
        assert resp.content_type == "application/problem+json"
    for raw in ("²", "٣", "３"):
        resp = await client.get(url + raw + "/qr.png", headers=organiser)
        await assert_problem(resp, 404, "not_found")


async def test_phone_numbers_are_ascii_digits(client: Any, tree: None, organiser: dict) -> None:
    for phone in ("0٩١٢٣٤٥٦٧٨", "0912345678\n"):
        resp = await client.post(
            "/api/v1/sites", json={**SITE, "technician": {"phone": phone}}, headers=organiser
        )
        body = await assert_problem(resp, 422, "validation_failed")
        assert _fields(body) == ["technician.phone"], phone


async def test_an_address_is_free_text_a_site_name_is_not(
    client: Any, tree: None, organiser: dict
) -> None:
    resp = await client.post(
        "/api/v1/sites", json={**SITE, "address": "Bản Bo\nTam Đường"}, headers=organiser
    )
    assert resp.status == 201, await resp.text()
    resp = await client.patch("/api/v1/sites/S-1", json={"name": "Hội\ntrường"}, headers=organiser)
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["name"]


async def test_times_beyond_any_conference_are_refused(
    client: Any, tree: None, organiser: dict, factory: Any
) -> None:
    # Python and PostgreSQL hold years 1 to 9999, but a time zone shift at either end
    # overflows: refused by name rather than answered 500.
    body = {
        "code": "HN-X",
        "title": "Hội nghị",
        "starts_at": "2030-01-10T08:00:00+07:00",
        "ends_at": "2030-01-10T11:00:00+07:00",
    }
    for field, value in (
        ("ends_at", "9999-12-31T23:59:59-14:00"),
        ("checkin_opens_at", "0001-01-01T00:00:00+14:00"),
        ("starts_at", "0001-01-01T00:00:00"),
    ):
        resp = await client.post(
            "/api/v1/conferences", json={**body, field: value}, headers=organiser
        )
        assert _fields(await assert_problem(resp, 422, "validation_failed")) == [field]
    await factory.conference("HN")
    resp = await client.patch(
        "/api/v1/conferences/HN", json={"ends_at": "9999-12-31T23:59:59"}, headers=organiser
    )
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["ends_at"]


async def _kiosk(factory: Any) -> dict[str, str]:
    await factory.site("S1", unit="LC")
    await factory.conference("HN", sites=["S1"])
    return bearer(await factory.token("kiosk", conference="HN", site="S1"))


async def _scan(client: Any, kiosk: dict[str, str], **scan: Any) -> Any:
    """POST one scan (a fresh scan_id, a fixed time unless given)."""
    body = {"scan_id": str(uuid.uuid4()), "scanned_at": "2030-01-10T08:00:00+07:00", **scan}
    return await client.post("/api/v1/checkins", json={"scans": [body]}, headers=kiosk)


async def test_a_scan_with_a_control_character_in_a_name_is_malformed(
    client: Any, factory: Any, tree: None
) -> None:
    # A walk-in's name is stored: refused like any name. A scanned code is taken exactly
    # as read: whatever it holds, it is only `invalid` (a kiosk's queue must never stick).
    kiosk = await _kiosk(factory)
    for name in ("Lò\x00Văn", "Lò\x1bVăn", "Lò\nVăn", "Lò\ud800Văn"):
        resp = await _scan(client, kiosk, full_name=name, category="member")
        body = await assert_problem(resp, 422, "validation_failed")
        assert _fields(body) == ["scans.0.full_name"], name
    for qr in ("DC1.\x00", "\ud800", "\x1d01234"):
        resp = await _scan(client, kiosk, qr=qr)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["results"][0]["result"] == "invalid"


async def test_a_scan_time_no_calendar_holds_is_malformed(
    client: Any, factory: Any, tree: None
) -> None:
    kiosk = await _kiosk(factory)
    walk_in = {"full_name": "A", "category": "member"}
    for when in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        resp = await _scan(client, kiosk, scanned_at=when, **walk_in)
        body = await assert_problem(resp, 422, "validation_failed")
        assert _fields(body) == ["scans.0.scanned_at"], when
    # A kiosk whose clock was reset to 1970 is wrong, not malformed: its scans are judged.
    resp = await _scan(client, kiosk, scanned_at="1970-01-01T00:00:00Z", **walk_in)
    assert resp.status == 200, await resp.text()
