"""Conferences: schedule in the conference's zone, status that follows the clock, explicit
transitions that move the schedule, participating sites, unit scope, and the lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factory import bearer
from tests.problems import assert_problem

URL = "/api/v1/conferences"


async def _world(factory: Any) -> str:
    """Units VN > LC > LC-TD and HG; sites S1, S2 (LC-TD), S3 (HG); an organiser token."""
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.unit("HG", parent="VN")
    for code, unit in (("S1", "LC-TD"), ("S2", "LC-TD"), ("S3", "HG")):
        await factory.site(code, unit=unit)
    return await factory.token("organiser")


def _body(**extra: Any) -> dict[str, Any]:
    body = {
        "code": "HN-2030",
        "title": "Hội nghị quán triệt Nghị quyết",
        "starts_at": "2030-05-10T08:00:00",
        "ends_at": "2030-05-10T11:30:00",
        "host_site": "S1",
        "sites": ["S2"],
        "policy": {"other_site": "reject"},
        "targets": {"member": 0.98, "non_member": 0.9},
    }
    return body | extra


async def test_create_reads_times_in_the_conference_zone(client: Any, factory: Any) -> None:
    token = await _world(factory)
    resp = await client.post(URL, json=_body(), headers=bearer(token))
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert made["starts_at"] == "2030-05-10T08:00:00+07:00"
    assert made["checkin_opens_at"] == "2030-05-10T07:00:00+07:00"  # default: an hour before
    assert made["status"] == "draft"
    assert made["policy"] == {"other_site": "reject"}
    assert made["targets"] == {"member": 0.98, "non_member": 0.9, "guest": None}
    assert made["host_site"] == "S1"
    assert made["sites_count"] == 2  # the host site joins the participating sites
    got = await (await client.get(f"{URL}/HN-2030", headers=bearer(token))).json()
    assert got["ends_at"] == "2030-05-10T11:30:00+07:00"
    assert got["delegates_count"] == 0


async def test_other_timezone_and_explicit_offsets(client: Any, factory: Any) -> None:
    token = await _world(factory)
    body = _body(timezone="UTC", starts_at="2030-05-10T08:00:00+07:00", ends_at="2030-05-10T06:00")
    made = await (await client.post(URL, json=body, headers=bearer(token))).json()
    assert made["timezone"] == "UTC"
    assert made["starts_at"] == "2030-05-10T01:00:00Z" or made["starts_at"].startswith(
        "2030-05-10T01:00:00+00:00"
    )
    assert made["ends_at"].startswith("2030-05-10T06:00:00")


async def test_a_time_zone_too_long_for_a_file_name_is_refused_naming_it(
    client: Any, factory: Any
) -> None:
    # ZoneInfo looks the name up as a file: 300 letters raise OSError (name too long),
    # which read as the database going away (503) before; an unknown zone is a 422.
    token = await _world(factory)
    for zone in ("A" * 300, "Mars/Olympus"):
        resp = await client.post(URL, json=_body(timezone=zone), headers=bearer(token))
        body = await assert_problem(resp, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["timezone"], body


async def test_schedule_order_is_checked_naming_the_field(client: Any, factory: Any) -> None:
    token = await _world(factory)
    resp = await client.post(URL, json=_body(ends_at="2030-05-10T07:00:00"), headers=bearer(token))
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "ends_at"
    resp = await client.post(
        URL, json=_body(checkin_opens_at="2030-05-10T09:00:00"), headers=bearer(token)
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "checkin_opens_at"
    resp = await client.post(URL, json=_body(targets={"member": 1.5}), headers=bearer(token))
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "targets.member"


async def test_duplicate_code_and_unknown_sites(client: Any, factory: Any, db: Any) -> None:
    token = await _world(factory)
    assert (await client.post(URL, json=_body(), headers=bearer(token))).status == 201
    resp = await client.post(URL, json=_body(), headers=bearer(token))
    await assert_problem(resp, 409, "already_exists")
    resp = await client.post(
        URL, json=_body(code="X", sites=["S2", "NOPE", "NADA"]), headers=bearer(token)
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["sites.1", "sites.2"]
    assert await db.fetchval("SELECT count(*) FROM conferences") == 1


async def test_status_follows_the_clock(client: Any, factory: Any) -> None:
    token = await _world(factory)
    now = datetime.now(UTC)
    cases = {
        "D": (now + timedelta(hours=2), "draft"),
        "O": (now + timedelta(minutes=30), "open"),
        "L": (now - timedelta(minutes=30), "live"),
        "C": (now - timedelta(hours=5), "closed"),
    }
    for code, (starts, _) in cases.items():
        body = _body(
            code=code,
            starts_at=starts.isoformat(),
            ends_at=(starts + timedelta(hours=3)).isoformat(),
        )
        assert (await client.post(URL, json=body, headers=bearer(token))).status == 201
    for code, (_, status) in cases.items():
        got = await (await client.get(f"{URL}/{code}", headers=bearer(token))).json()
        assert got["status"] == status, code


async def test_transitions_move_the_schedule(client: Any, factory: Any, db: Any) -> None:
    token = await _world(factory)
    await client.post(URL, json=_body(), headers=bearer(token))
    status_url = f"{URL}/HN-2030/status"
    resp = await client.post(status_url, json={"status": "closed"}, headers=bearer(token))
    body = await assert_problem(resp, 409, "invalid_transition")
    assert body["allowed"] == ["open", "live"]
    resp = await client.post(status_url, json={"status": "open"}, headers=bearer(token))
    opened = await resp.json()
    assert opened["status"] == "open"
    opens = datetime.fromisoformat(opened["checkin_opens_at"])
    assert abs((opens - datetime.now(UTC)).total_seconds()) < 60
    resp = await client.post(status_url, json={"status": "draft"}, headers=bearer(token))
    await assert_problem(resp, 409, "invalid_transition")
    for step in ("live", "closed"):
        resp = await client.post(status_url, json={"status": step}, headers=bearer(token))
        assert (await resp.json())["status"] == step
    resp = await client.post(status_url, json={"status": "signed_off"}, headers=bearer(token))
    body = await assert_problem(resp, 409, "invalid_transition")
    assert body["allowed"] == []
    actions = await db.fetch(
        "SELECT action, after FROM audit_log WHERE entity = 'conference' ORDER BY id"
    )
    assert [a["action"] for a in actions] == ["create", "status", "status", "status"]
    assert actions[-1]["after"] == {"status": "closed"}


async def test_patch_changes_and_audits(client: Any, factory: Any, db: Any) -> None:
    token = await _world(factory)
    await client.post(URL, json=_body(), headers=bearer(token))
    patch = {"title": "Hội nghị (sửa)", "host_site": "S3", "starts_at": "2030-05-10T09:00"}
    resp = await client.patch(f"{URL}/HN-2030", json=patch, headers=bearer(token))
    got = await resp.json()
    assert resp.status == 200, got
    assert got["title"] == "Hội nghị (sửa)"
    assert got["starts_at"] == "2030-05-10T09:00:00+07:00"
    assert got["host_site"] == "S3"
    assert got["sites_count"] == 3
    resp = await client.patch(
        f"{URL}/HN-2030", json={"ends_at": "2030-05-10T08:00"}, headers=bearer(token)
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert body["errors"][0]["field"] == "ends_at"
    entry = await db.fetchrow("SELECT before, after FROM audit_log WHERE action = 'update'")
    assert entry["before"]["title"] == "Hội nghị quán triệt Nghị quyết"
    assert entry["after"]["host_site"] == "S3"


async def test_put_sites_replaces_and_keeps_host(client: Any, factory: Any, db: Any) -> None:
    token = await _world(factory)
    await client.post(URL, json=_body(), headers=bearer(token))
    url = f"{URL}/HN-2030/sites"
    resp = await client.put(url, json={"sites": ["S3"]}, headers=bearer(token))
    got = await resp.json()
    assert [s["code"] for s in got["items"]] == ["S1", "S3"]  # S1 is the host
    listed = await (await client.get(url, headers=bearer(token))).json()
    assert [s["code"] for s in listed["items"]] == ["S1", "S3"]
    resp = await client.put(url, json={"sites": ["S2", "ZZ"]}, headers=bearer(token))
    body = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["sites.1"]


async def test_removing_a_site_with_delegates_is_refused(
    client: Any, factory: Any, db: Any
) -> None:
    token = await _world(factory)
    await client.post(URL, json=_body(), headers=bearer(token))
    conf_id = await db.fetchval("SELECT id FROM conferences WHERE code = 'HN-2030'")
    await factory.delegate(conf_id, site="S2")
    resp = await client.put(f"{URL}/HN-2030/sites", json={"sites": []}, headers=bearer(token))
    body = await assert_problem(resp, 409, "conflict")
    assert "S2" in body["detail"]
    assert body["errors"][0]["site"] == "S2"
    count = await db.fetchval(
        "SELECT count(*) FROM conference_sites WHERE conference_id = $1", conf_id
    )
    assert count == 2


async def test_signed_off_conference_is_locked(client: Any, factory: Any, db: Any) -> None:
    token = await _world(factory)
    await client.post(URL, json=_body(), headers=bearer(token))
    await db.execute("UPDATE conferences SET signed_off_at = now()")
    got = await (await client.get(f"{URL}/HN-2030", headers=bearer(token))).json()
    assert got["status"] == "signed_off"
    for method, path, body in (
        ("PATCH", "", {"title": "x"}),
        ("POST", "/status", {"status": "open"}),
        ("PUT", "/sites", {"sites": ["S2"]}),
        (
            "POST",
            "/delegates",
            {"external_id": "A1", "full_name": "A", "category": "member", "site_code": "S2"},
        ),
    ):
        resp = await client.request(
            method, f"{URL}/HN-2030{path}", json=body, headers=bearer(token)
        )
        await assert_problem(resp, 409, "locked")


async def test_scoped_organiser_sees_own_subtree(client: Any, factory: Any) -> None:
    root = await _world(factory)
    lc = await factory.token("organiser", unit="LC")
    resp = await client.post(URL, json=_body(code="LC-1"), headers=bearer(lc))
    assert (await resp.json())["unit_code"] == "LC"  # a scoped organiser's by default
    resp = await client.post(URL, json=_body(code="HG-1", unit_code="HG"), headers=bearer(lc))
    await assert_problem(resp, 403, "forbidden")
    await client.post(URL, json=_body(code="HG-1", unit_code="HG"), headers=bearer(root))
    await client.post(URL, json=_body(code="NONE-1"), headers=bearer(root))
    await assert_problem(await client.get(f"{URL}/HG-1", headers=bearer(lc)), 404, "not_found")
    await assert_problem(await client.get(f"{URL}/NONE-1", headers=bearer(lc)), 404, "not_found")
    await assert_problem(
        await client.get(f"{URL}/HG-1/delegates", headers=bearer(lc)), 404, "not_found"
    )
    mine = await (await client.get(URL, headers=bearer(lc))).json()
    assert [c["code"] for c in mine["items"]] == ["LC-1"]
    everything = await (await client.get(URL, headers=bearer(root))).json()
    assert [c["code"] for c in everything["items"]] == ["NONE-1", "HG-1", "LC-1"]


async def test_list_pages_with_a_cursor(client: Any, factory: Any) -> None:
    token = await _world(factory)
    for i in range(5):
        await client.post(URL, json=_body(code=f"C{i}", sites=[]), headers=bearer(token))
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await (await client.get(URL, params=params, headers=bearer(token))).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["C4", "C3", "C2", "C1", "C0"]
    resp = await client.get(URL, params={"cursor": "garbage"}, headers=bearer(token))
    await assert_problem(resp, 400, "invalid_cursor")


async def test_technician_and_kiosk_cannot_write(client: Any, factory: Any) -> None:
    await _world(factory)
    tech = await factory.token("technician", unit="LC")
    resp = await client.post(URL, json=_body(), headers=bearer(tech))
    await assert_problem(resp, 403, "forbidden")
    await assert_problem(await client.post(URL, json=_body()), 401, "authentication_required")


async def test_cli_creates_and_lists(config: Any, factory: Any, db: Any, capsys: Any) -> None:
    import asyncio
    import os

    from diemcau.cli import main

    await _world(factory)
    argv = [
        "conference",
        "create",
        "--code",
        "CLI-1",
        "--title",
        "Hội nghị CLI",
        "--starts-at",
        "2030-01-02T08:00",
        "--ends-at",
        "2030-01-02T10:00",
        "--host-site",
        "S1",
        "--sites",
        "S2,S3",
        "--policy",
        "reject",
        "--target",
        "member=0.95",
    ]
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = config.database_url
    try:
        code = await asyncio.to_thread(main, argv)
        listed = await asyncio.to_thread(main, ["conference", "list"])
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL")
        else:
            os.environ["DATABASE_URL"] = old
    assert code == 0 and listed == 0
    row = await db.fetchrow(
        "SELECT policy_other_site, targets, starts_at FROM conferences WHERE code = 'CLI-1'"
    )
    assert row["policy_other_site"] == "reject"
    assert row["targets"] == {"member": 0.95}
    assert row["starts_at"] == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)
    assert await db.fetchval("SELECT count(*) FROM conference_sites") == 3
    assert "CLI-1" in capsys.readouterr().out
    actor = await db.fetchval("SELECT actor FROM audit_log WHERE entity = 'conference'")
    assert actor == "organiser cli"


async def test_an_unknown_conference_suggests_the_nearest_one_an_organiser_sees(
    client: Any, factory: Any, organiser: dict[str, str]
) -> None:
    await factory.conference("HN-NQ14")
    resp = await client.get("/api/v1/conferences/hn-nq14", headers=organiser)
    body = await assert_problem(resp, 404, "not_found")
    assert body["suggestion"] == "HN-NQ14"
