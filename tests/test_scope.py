"""Scope on every write, and 404 outside scope everywhere.

- An organiser limited to a unit cannot put a site of another subtree into its conference
  (as a participant or as the host) nor give a delegate a unit of another subtree: 403
  naming the field, a row error in an import, and nothing changes.
- A technician sees a conference only when it includes a site of their subtree (its key
  set, its sites, its roster); others answer 404 like a conference that does not exist.
- Whatever lies outside the caller's scope answers exactly what a missing one answers:
  no 403/404 oracle.
- Reading the key set writes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from diemcau import auth
from diemcau.errors import Problem
from tests.factory import Factory, bearer
from tests.problems import assert_problem

BASE = "/api/v1/conferences"


@pytest.fixture
async def world(factory: Factory, tree: None) -> dict[str, Any]:
    """VN > LC > LC-TD, VN > HG; a site in each; HN-LC owned by LC with S-LC and S-TD."""
    await factory.site("S-LC", unit="LC")
    await factory.site("S-TD", unit="LC-TD")
    await factory.site("S-HG", unit="HG")
    conference = await factory.conference("HN-LC", sites=["S-LC", "S-TD"], unit="LC")
    delegate = await factory.delegate(conference["id"], site="S-LC", unit="LC")
    return {
        "conference": conference,
        "delegate": delegate,
        "lc": bearer(await factory.token("organiser", unit="LC")),
        "org": bearer(await factory.token("organiser")),
        "tech_lc": bearer(await factory.token("technician", unit="LC")),
        "tech_td": bearer(await factory.token("technician", unit="LC-TD")),
        "tech_hg": bearer(await factory.token("technician", unit="HG")),
    }


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two problems that say the same thing (the request id and path aside)."""
    drop = ("request_id", "instance")
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop
    }


def _conference(**over: Any) -> dict[str, Any]:
    body = {
        "code": "HN-NEW",
        "title": "Hội nghị",
        "starts_at": "2030-01-10T08:00:00",
        "ends_at": "2030-01-10T11:00:00",
    }
    return {**body, **over}


async def test_a_scoped_organiser_cannot_bring_in_sites_of_another_subtree(
    client: Any, world: dict[str, Any], db: asyncpg.Connection
) -> None:
    lc = world["lc"]
    resp = await client.post(BASE, json=_conference(sites=["S-TD", "S-HG"]), headers=lc)
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["sites.1"]
    resp = await client.post(BASE, json=_conference(host_site="S-HG"), headers=lc)
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["host_site"]
    assert await db.fetchval("SELECT count(*) FROM conferences WHERE code = 'HN-NEW'") == 0
    resp = await client.post(BASE, json=_conference(sites=["S-TD"], host_site="S-LC"), headers=lc)
    assert resp.status == 201, await resp.text()

    resp = await client.patch(f"{BASE}/HN-LC", json={"host_site": "S-HG"}, headers=lc)
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["host_site"]
    url = f"{BASE}/HN-LC/sites"
    resp = await client.put(url, json={"sites": ["S-LC", "S-HG"]}, headers=lc)
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["sites.1"]
    sites = await db.fetch(
        """SELECT s.code FROM conference_sites cs JOIN sites s ON s.id = cs.site_id
            WHERE cs.conference_id = $1 ORDER BY s.code""",
        world["conference"]["id"],
    )
    assert [r["code"] for r in sites] == ["S-LC", "S-TD"]
    # An unknown site is still a plain 422 (nothing is out of scope about it).
    resp = await client.put(url, json={"sites": ["S-LC", "NOPE"]}, headers=lc)
    assert _fields(await assert_problem(resp, 422, "validation_failed")) == ["sites.1"]


async def test_keeping_a_site_an_unscoped_organiser_added_is_not_bringing_it_in(
    client: Any, world: dict[str, Any]
) -> None:
    url = f"{BASE}/HN-LC/sites"
    resp = await client.put(url, json={"sites": ["S-LC", "S-HG"]}, headers=world["org"])
    assert resp.status == 200, await resp.text()
    resp = await client.put(url, json={"sites": ["S-LC", "S-HG"]}, headers=world["lc"])
    assert resp.status == 200, await resp.text()


async def test_a_scoped_organiser_cannot_give_a_delegate_a_unit_of_another_subtree(
    client: Any, world: dict[str, Any], db: asyncpg.Connection
) -> None:
    lc, url = world["lc"], f"{BASE}/HN-LC/delegates"
    person = {"external_id": "X1", "full_name": "Lò Văn Đức", "category": "member"}
    resp = await client.post(
        url, json={**person, "site_code": "S-LC", "unit_code": "HG"}, headers=lc
    )
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["unit_code"]
    resp = await client.post(
        url, json={**person, "site_code": "S-LC", "unit_code": "LC-TD"}, headers=lc
    )
    assert resp.status == 201, await resp.text()
    one = f"{url}/{world['delegate']['id']}"
    resp = await client.patch(one, json={"unit_code": "HG"}, headers=lc)
    assert _fields(await assert_problem(resp, 403, "forbidden")) == ["unit_code"]
    csv = (
        "external_id,full_name,category,site_code,unit_code\n"
        "X2,Nguyễn Văn An,member,S-LC,LC\n"
        "X3,Trần Thị Bích,member,S-LC,HG\n"
    )
    resp = await client.post(
        f"{url}/import", data=csv.encode(), headers={**lc, "Content-Type": "text/csv"}
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "unit_code")]
    assert await db.fetchval("SELECT count(*) FROM delegates WHERE external_id LIKE 'X_'") == 1
    # The unscoped organiser may.
    resp = await client.patch(one, json={"unit_code": "HG"}, headers=world["org"])
    assert resp.status == 200, await resp.text()


async def test_a_technician_sees_only_conferences_with_a_site_of_their_subtree(
    client: Any, world: dict[str, Any], factory: Factory
) -> None:
    await factory.conference("HN-HG", sites=["S-HG"])
    for path in ("keys", "sites", "delegates"):
        for who in ("tech_lc", "tech_td"):
            resp = await client.get(f"{BASE}/HN-LC/{path}", headers=world[who])
            assert resp.status == 200, (who, path, await resp.text())
        outside = await client.get(f"{BASE}/HN-HG/{path}", headers=world["tech_lc"])
        missing = await client.get(f"{BASE}/NOPE/{path}", headers=world["tech_lc"])
        _same(
            await assert_problem(outside, 404, "not_found"),
            await assert_problem(missing, 404, "not_found"),
        )
        resp = await client.get(f"{BASE}/HN-LC/{path}", headers=world["tech_hg"])
        await assert_problem(resp, 404, "not_found")


async def test_outside_scope_answers_like_missing(
    client: Any, world: dict[str, Any], factory: Factory
) -> None:
    await client.put(
        f"{BASE}/HN-LC/sites", json={"sites": ["S-LC", "S-TD", "S-HG"]}, headers=world["org"]
    )
    await factory.delegate(world["conference"]["id"], site="S-HG", unit="HG")
    tech = world["tech_hg"]  # sees the conference through S-HG, not S-LC or its delegate
    theirs = world["delegate"]["id"]
    for suffix in ("pass.png", ""):
        outside = await client.get(
            f"{BASE}/HN-LC/delegates/{theirs}/{suffix}".rstrip("/"), headers=tech
        )
        missing = await client.get(
            f"{BASE}/HN-LC/delegates/999999/{suffix}".rstrip("/"), headers=tech
        )
        _same(
            await assert_problem(outside, 404, "not_found"),
            await assert_problem(missing, 404, "not_found"),
        )
    outside = await client.get(f"{BASE}/HN-LC/sites/S-LC/badges.pdf", headers=tech)
    missing = await client.get(f"{BASE}/HN-LC/sites/NOPE/badges.pdf", headers=tech)
    _same(
        await assert_problem(outside, 404, "not_found"),
        await assert_problem(missing, 404, "not_found"),
    )
    for site in ("S-LC", "NOPE"):
        resp = await client.get(f"{BASE}/HN-LC/delegates", params={"site": site}, headers=tech)
        assert resp.status == 200 and (await resp.json())["items"] == [], site


async def test_reading_the_key_set_writes_nothing(
    client: Any, world: dict[str, Any], db: asyncpg.Connection
) -> None:
    resp = await client.get(f"{BASE}/HN-LC/keys", headers=world["tech_lc"])
    assert resp.status == 200 and (await resp.json()) == {"keys": []}
    assert await db.fetchval("SELECT count(*) FROM conference_keys") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0
    qr = await client.get(
        f"{BASE}/HN-LC/delegates/{world['delegate']['id']}/qr.png", headers=world["org"]
    )
    assert qr.status == 200
    keys = (await (await client.get(f"{BASE}/HN-LC/keys", headers=world["tech_lc"])).json())["keys"]
    assert len(keys) == 1 and keys[0]["signing"] is True


async def test_an_underscore_in_a_unit_code_widens_no_scope(
    client: Any, factory: Factory, tree: None
) -> None:
    # '_' is a LIKE wildcard: '/VN/L_/%' must not match '/VN/LC/...'.
    await factory.unit("L_", parent="VN")
    await factory.site("S-LC", unit="LC")
    await factory.site("S-L_", unit="L_")
    conference = await factory.conference("HN", sites=["S-LC", "S-L_"], unit="LC")
    await factory.delegate(conference["id"], site="S-LC", unit="LC", external_id="LC1")
    await factory.delegate(conference["id"], site="S-L_", unit="L_", external_id="L_1")
    organiser = bearer(await factory.token("organiser", unit="L_"))
    listing = await (await client.get(BASE, headers=organiser)).json()
    assert listing["items"] == []
    tech = bearer(await factory.token("technician", unit="L_"))
    roster = await client.get(f"{BASE}/HN/delegates", headers=tech)
    assert [d["external_id"] for d in (await roster.json())["items"]] == ["L_1"]
    org = bearer(await factory.token("organiser"))
    roster = await client.get(f"{BASE}/HN/delegates", params={"unit": "L_"}, headers=org)
    assert [d["external_id"] for d in (await roster.json())["items"]] == ["L_1"]


@pytest.mark.parametrize(
    ("role", "scope", "field"),
    [
        ("kiosk", {"conference": "HN-LC", "site": "S-HG"}, "site"),  # not in the conference
        ("kiosk", {"conference": "HN-LC", "site": "S-LC", "unit": "LC"}, "unit"),
        ("viewer", {"conference": "HN-LC", "unit": "LC"}, "unit"),
        ("viewer", {"conference": "HN-LC", "site": "S-LC"}, "site"),
        ("organiser", {"conference": "HN-LC"}, "conference"),
        ("organiser", {"unit": "LC", "site": "S-LC"}, "site"),
        ("technician", {"unit": "LC", "conference": "HN-LC"}, "conference"),
        ("technician", {"unit": "LC", "site": "S-LC"}, "site"),
    ],
)
async def test_token_scopes_that_make_no_sense_are_refused(
    world: dict[str, Any], db: asyncpg.Connection, role: str, scope: dict[str, str], field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM tokens")
    with pytest.raises(Problem) as info:
        await auth.create_token(db, role, **scope)
    assert info.value.code == "validation_failed"
    assert [e["field"] for e in info.value.errors or []] == [field]
    assert await db.fetchval("SELECT count(*) FROM tokens") == before


async def test_token_scopes_that_make_sense_are_made(world: dict[str, Any], db: Any) -> None:
    for role, scope in (
        ("kiosk", {"conference": "HN-LC", "site": "S-TD"}),
        ("viewer", {"conference": "HN-LC"}),
        ("organiser", {}),
        ("organiser", {"unit": "HG"}),
        ("technician", {"unit": "HG"}),
    ):
        secret, _ = await auth.create_token(db, role, **scope)
        assert await auth.authenticate(db, secret) is not None


async def test_the_cli_says_why_a_scope_is_refused(
    world: dict[str, Any], database_url: str, monkeypatch: Any, capsys: Any
) -> None:
    from diemcau.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    args = ["token", "create", "--role", "viewer", "--conference", "HN-LC", "--unit", "LC"]
    assert await asyncio.to_thread(main, args) == 1
    err = capsys.readouterr().err
    assert "unit" in err and "viewer" in err, err
