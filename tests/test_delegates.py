"""Delegates one by one: list with filters and keyset pages, a technician's view limited to
the sites of their subtree (no personal data), edits that bump the credential version on a
move, deletes, and an audit entry for each write."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.factory import bearer
from tests.problems import assert_problem

URL = "/api/v1/conferences/HN/delegates"


async def _world(factory: Any) -> tuple[str, Any]:
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.unit("HG", parent="VN")
    await factory.site("S1", unit="LC-TD")
    await factory.site("S2", unit="HG")
    await factory.site("S3", unit="LC")
    conference = await factory.conference("HN", sites=["S1", "S2", "S3"])
    people = [
        ("M1", "Nguyễn Văn An", "member", "S1", "LC-TD"),
        ("M2", "Trần Thị Bích", "non_member", "S1", "LC-TD"),
        ("M3", "Đặng Văn Đức", "member", "S2", "HG"),
        ("M4", "Lê Thị Hồng", "guest", "S3", "LC"),
    ]
    for ext, name, cat, site, unit in people:
        await factory.delegate(
            conference["id"], site=site, unit=unit, external_id=ext, full_name=name, category=cat
        )
    return await factory.token("organiser"), conference


async def _ids(client: Any, token: str, **params: str) -> list[str]:
    resp = await client.get(URL, params=params, headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return [d["external_id"] for d in (await resp.json())["items"]]


async def test_filters(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    assert await _ids(client, token) == ["M1", "M2", "M3", "M4"]
    assert await _ids(client, token, site="S1") == ["M1", "M2"]
    assert await _ids(client, token, unit="LC") == ["M1", "M2", "M4"]  # the whole subtree
    assert await _ids(client, token, category="đảng viên") == ["M1", "M3"]
    assert await _ids(client, token, q="dang van duc") == ["M3"]  # accents optional
    assert await _ids(client, token, q="Thị") == ["M2", "M4"]
    assert await _ids(client, token, q="M4") == ["M4"]
    assert await _ids(client, token, unit="NOPE") == []
    resp = await client.get(URL, params={"category": "alien"}, headers=bearer(token))
    await assert_problem(resp, 422, "validation_failed")


async def test_keyset_pages(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    seen, cursor = [], None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = await (await client.get(URL, params=params, headers=bearer(token))).json()
        seen += [d["external_id"] for d in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["M1", "M2", "M3", "M4"]
    resp = await client.get(URL, params={"cursor": "!!"}, headers=bearer(token))
    await assert_problem(resp, 400, "invalid_cursor")


async def test_technician_sees_own_sites_without_personal_data(client: Any, factory: Any) -> None:
    await _world(factory)
    tech = await factory.token("technician", unit="LC")
    resp = await client.get(URL, headers=bearer(tech))
    items = (await resp.json())["items"]
    assert [d["external_id"] for d in items] == ["M1", "M2", "M4"]
    assert "phone" not in items[0] and "email" not in items[0]
    assert set(items[0]) == {
        "id",
        "external_id",
        "full_name",
        "category",
        "site_code",
        "unit_code",
        "credential_version",
        "revoked",
    }
    # A site outside the subtree filters everything out, as an unknown site does (no
    # 403/404 oracle on sites the technician may not see).
    for site in ("S2", "NOPE"):
        resp = await client.get(URL, params={"site": site}, headers=bearer(tech))
        assert resp.status == 200 and (await resp.json())["items"] == []
    other = next(d for d in items if d["external_id"] == "M1")["id"] + 2  # M3, at S2
    await assert_problem(await client.get(f"{URL}/{other}", headers=bearer(tech)), 404, "not_found")


async def test_organiser_sees_personal_data(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    body = {
        "external_id": "N1",
        "full_name": "  Hồ  Xuân Hương ",
        "category": "Khách mời",
        "site_code": "S3",
        "phone": "0912.345.678",
        "email": "huong@example.vn",
    }
    resp = await client.post(URL, json=body, headers=bearer(token))
    made = await resp.json()
    assert resp.status == 201, made
    assert made["full_name"] == "Hồ  Xuân Hương"
    assert (made["category"], made["phone"], made["unit_code"]) == ("guest", "0912345678", "LC")
    got = await (await client.get(f"{URL}/{made['id']}", headers=bearer(token))).json()
    assert got["email"] == "huong@example.vn"
    resp = await client.post(URL, json=body, headers=bearer(token))
    await assert_problem(resp, 409, "already_exists")


async def test_create_checks_site_and_fields(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    await factory.site("S4", unit="HG")  # exists, not taking part
    base = {"external_id": "N2", "full_name": "Tên", "category": "member"}
    resp = await client.post(URL, json=base | {"site_code": "S4"}, headers=bearer(token))
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "site_code"
    resp = await client.post(
        URL, json=base | {"site_code": "S1", "phone": "12", "email": "x"}, headers=bearer(token)
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"phone", "email"}
    resp = await client.post(
        URL, json=base | {"site_code": "S1", "unit_code": "ZZ"}, headers=bearer(token)
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "unit_code"


async def test_moving_a_delegate_bumps_credential_version(
    client: Any, factory: Any, db: Any
) -> None:
    token, _ = await _world(factory)
    delegate_id = await db.fetchval("SELECT id FROM delegates WHERE external_id = 'M1'")
    url = f"{URL}/{delegate_id}"
    resp = await client.patch(url, json={"full_name": "Nguyễn Văn Ân"}, headers=bearer(token))
    assert (await resp.json())["credential_version"] == 1
    resp = await client.patch(url, json={"site_code": "S2"}, headers=bearer(token))
    moved = await resp.json()
    assert (moved["site_code"], moved["credential_version"]) == ("S2", 2)
    assert moved["full_name"] == "Nguyễn Văn Ân"
    resp = await client.patch(url, json={"external_id": "M2"}, headers=bearer(token))
    await assert_problem(resp, 409, "already_exists")
    entries = await db.fetch(
        "SELECT before, after FROM audit_log WHERE entity = 'delegate' ORDER BY id"
    )
    assert entries[-1]["before"]["site_code"] == "S1"
    assert entries[-1]["after"]["site_code"] == "S2"


async def test_delete_and_missing(client: Any, factory: Any, db: Any) -> None:
    token, _ = await _world(factory)
    delegate_id = await db.fetchval("SELECT id FROM delegates WHERE external_id = 'M4'")
    resp = await client.delete(f"{URL}/{delegate_id}", headers=bearer(token))
    assert resp.status == 204
    await db.execute("DELETE FROM delegates WHERE external_id = 'M5'")
    await db.execute("DELETE FROM units WHERE code = 'KH'")
    assert await db.fetchval("SELECT count(*) FROM delegates") == 3
    before = await db.fetchval("SELECT before FROM audit_log WHERE action = 'delete'")
    assert before["full_name"] == "Lê Thị Hồng"
    for path in (f"{URL}/{delegate_id}", f"{URL}/abc", f"{URL}/99999999999999999999999"):
        await assert_problem(await client.get(path, headers=bearer(token)), 404, "not_found")
    resp = await client.delete(f"{URL}/{delegate_id}", headers=bearer(token))
    await assert_problem(resp, 404, "not_found")


async def test_database_keeps_site_and_unit_rules_for_direct_writes(db: Any, factory: Any) -> None:
    """0006 checks delegates' references per statement, not per row: the rules still hold."""
    _, conference = await _world(factory)
    await factory.site("S9", unit="HG")  # exists, does not take part
    insert = """INSERT INTO delegates (conference_id, external_id, full_name, category,
                                       site_id, unit_id)
                VALUES ($1, $2, 'Vũ Văn Tư', 'member', (SELECT id FROM sites WHERE code = $3), $4)"""
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await db.execute(insert, conference["id"], "X1", "S9", None)
    assert err.value.constraint_name == "delegates_site_in_conference"
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await db.execute(insert, conference["id"], "X2", "S1", 987654321)
    assert err.value.constraint_name == "delegates_unit_id_fkey"
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await db.execute(
            """UPDATE delegates SET site_id = (SELECT id FROM sites WHERE code = 'S9')
                WHERE external_id = 'M1'"""
        )
    assert err.value.constraint_name == "delegates_site_in_conference"
    # The other side: a site with delegates cannot leave the conference, nor its unit go.
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await db.execute(
            """DELETE FROM conference_sites
                WHERE site_id = (SELECT id FROM sites WHERE code = 'S2')"""
        )
    assert err.value.constraint_name == "delegates_site_in_conference"
    await factory.unit("KH", parent="VN")  # no site of its own: only a delegate holds it
    await factory.delegate(conference["id"], site="S1", unit="KH", external_id="M5")
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await db.execute("DELETE FROM units WHERE code = 'KH'")
    assert err.value.constraint_name == "delegates_unit_id_fkey"
    await db.execute("DELETE FROM delegates WHERE external_id = 'M3'")
    await db.execute(
        "DELETE FROM conference_sites WHERE site_id = (SELECT id FROM sites WHERE code = 'S2')"
    )
    await db.execute("DELETE FROM delegates WHERE external_id = 'M5'")
    await db.execute("DELETE FROM units WHERE code = 'KH'")
    assert await db.fetchval("SELECT count(*) FROM delegates") == 3
