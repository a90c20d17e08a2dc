"""Absences: one by one (recorded, replaced, removed, audited), imported from CSV or XLSX
all-or-nothing with every bad row named, the make-up list as files, and who may do what."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import Workbook, load_workbook

from tests.checkin_world import World, build_world, scan
from tests.factory import Factory, bearer
from tests.problems import assert_problem

URL = "/api/v1/conferences/HN1/absences"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    world = await build_world(factory, db, per_site=4)
    await factory.unit("HG", parent="VN")
    return world


@pytest.fixture
async def organiser(factory: Factory) -> dict[str, str]:
    return bearer(await factory.token("organiser", label="BTC"))


def who(world: World, external_id: str) -> int:
    return int(world.delegates[external_id]["id"])


async def record(client: TestClient, headers: dict, delegate: int, **fields: Any) -> Any:
    body = {"delegate_id": delegate, "reason": "sick", **fields}
    return await client.post(URL, json=body, headers=headers)


async def test_an_absence_is_recorded_replaced_and_removed(
    client: TestClient, world: World, organiser: dict, db: asyncpg.Connection
) -> None:
    resp = await record(client, organiser, who(world, "LC-01-0"), note="ốm", makeup_owed=True)
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert (made["external_id"], made["site_code"], made["reason"], made["makeup_owed"]) == (
        "LC-01-0", "LC-01", "sick", True
    )  # fmt: skip
    resp = await record(client, organiser, who(world, "LC-01-0"), reason="on_duty")
    assert resp.status == 200 and (await resp.json())["reason"] == "on_duty"
    got = await client.get(URL + f"/{who(world, 'LC-01-0')}", headers=organiser)
    assert (await got.json())["makeup_owed"] is False
    resp = await client.delete(URL + f"/{who(world, 'LC-01-0')}", headers=organiser)
    assert resp.status == 204
    await assert_problem(
        await client.get(URL + f"/{who(world, 'LC-01-0')}", headers=organiser), 404, "not_found"
    )
    actions = [
        r["action"]
        for r in await db.fetch("SELECT action FROM audit_log WHERE entity = 'absence' ORDER BY id")
    ]
    assert actions == ["record", "record", "delete"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"delegate_id": "12"}, "delegate_id"), ({"delegate_id": True}, "delegate_id"),
     ({"makeup_owed": 1}, "makeup_owed"), ({"makeup_owed": "true"}, "makeup_owed"),
     ({"note": 5}, "note")],
)  # fmt: skip
async def test_an_absence_takes_its_own_types_only(
    client: TestClient, world: World, organiser: dict, fields: dict[str, Any], field: str
) -> None:
    body = {"delegate_id": who(world, "LC-01-0"), "reason": "sick", **fields}
    problem = await assert_problem(
        await client.post(URL, json=body, headers=organiser), 422, "validation_failed"
    )
    assert field in [e["field"] for e in problem["errors"]], problem


async def test_who_came_is_not_absent(client: TestClient, world: World, organiser: dict) -> None:
    qr = await world.qr("LC-01-1")
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [scan(qr)]}, headers=world.kiosk("LC-02")
    )
    assert resp.status == 200
    problem = await assert_problem(
        await record(client, organiser, who(world, "LC-01-1")), 409, "conflict"
    )
    assert problem["site"] == "LC-02"


async def test_technicians_record_their_sites_absences_only(
    client: TestClient, world: World, factory: Factory
) -> None:
    tech = bearer(await factory.token("technician", unit="LC"))
    assert (await record(client, tech, who(world, "LC-02-0"))).status == 201
    outsider = bearer(await factory.token("technician", unit="HG"))
    await assert_problem(await record(client, outsider, who(world, "LC-02-1")), 404, "not_found")
    kiosk = world.kiosk("LC-02")
    await assert_problem(await record(client, kiosk, who(world, "LC-02-1")), 403, "forbidden")
    await assert_problem(await record(client, tech, 999_999), 404, "not_found")
    listed = await (await client.get(URL, headers=tech)).json()
    assert [a["external_id"] for a in listed["items"]] == ["LC-02-0"]


CSV_OK = (
    "STT,external_id,reason,note,makeup_owed\n"
    "1,LC-01-0,ốm,nằm viện,có\n"
    "2,LC-01-1,Công tác,,không\n"
    "3,LC-02-0,đi xa,,x\n"
    "4,LC-02-1,other,họp lớp,\n"
)


async def upload(client: TestClient, headers: dict, data: bytes, media: str = "text/csv") -> Any:
    return await client.post(URL + "/import", data=data, headers={**headers, "Content-Type": media})


async def test_a_file_imports_every_row(
    client: TestClient, world: World, organiser: dict, db: asyncpg.Connection
) -> None:
    resp = await upload(client, organiser, CSV_OK.encode("utf-8-sig"))
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 4, "updated": 0}
    rows = await db.fetch(
        """SELECT d.external_id, a.reason, a.note, a.makeup_owed FROM absences a
             JOIN delegates d ON d.id = a.delegate_id ORDER BY d.external_id"""
    )
    assert [tuple(r) for r in rows] == [
        ("LC-01-0", "sick", "nằm viện", True),
        ("LC-01-1", "on_duty", None, False),
        ("LC-02-0", "travel", None, True),
        ("LC-02-1", "other", "họp lớp", False),
    ]
    again = await upload(client, organiser, CSV_OK.encode())
    assert await again.json() == {"imported": 0, "updated": 4}
    entry = await db.fetchrow("SELECT after FROM audit_log WHERE action = 'import'")
    assert entry is not None


async def test_a_bad_file_saves_nothing_and_names_every_bad_row(
    client: TestClient, world: World, organiser: dict, db: asyncpg.Connection
) -> None:
    qr = await world.qr("LC-01-2")
    await client.post("/api/v1/checkins", json={"scans": [scan(qr)]}, headers=world.kiosk("LC-01"))
    text = (
        "external_id,delegate_id,reason,makeup_owed\n"
        "LC-01-0,,ốm,có\n"  # fine
        "NOPE,,ốm,\n"  # no such delegate
        "LC-01-1,,nghỉ,\n"  # a reason nobody knows
        ",,ốm,\n"  # nobody named
        "LC-01-0,,khác,\n"  # the same delegate again
        "LC-01-2,,ốm,\n"  # checked in
        f"LC-02-0,{who(world, 'LC-02-1')},ốm,\n"  # id and external id disagree
        "LC-02-2,,ốm,maybe\n"  # make-up neither yes nor no
    )
    problem = await assert_problem(
        await upload(client, organiser, text.encode()), 422, "import_failed"
    )
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (2, "delegate_id"),
        (3, "reason"),
        (4, "delegate_id"),
        (5, "delegate_id"),
        (6, "delegate_id"),
        (7, "delegate_id"),
        (8, "makeup_owed"),
    ]
    assert "dòng 1" in problem["errors"][3]["message"]
    assert "LC-01" in problem["errors"][4]["message"]
    assert await db.fetchval("SELECT count(*) FROM absences") == 0


async def test_a_file_must_name_who(client: TestClient, world: World, organiser: dict) -> None:
    problem = await assert_problem(
        await upload(client, organiser, b"reason,note\nsick,x\n"), 422, "import_failed"
    )
    assert problem["errors"][0]["row"] == 0 and problem["errors"][0]["field"] == "delegate_id"


async def test_an_xlsx_file_imports_too(client: TestClient, world: World, organiser: dict) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["delegate_id", "reason", "makeup_owed"])
    sheet.append([who(world, "LC-01-3"), "Ốm", "TRUE"])
    out = io.BytesIO()
    book.save(out)
    resp = await upload(client, organiser, out.getvalue(), XLSX)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 1, "updated": 0}


async def test_a_technician_s_file_stays_in_their_subtree(
    client: TestClient, world: World, factory: Factory
) -> None:
    await factory.site("HG-01", unit="HG")
    await world.db.execute(
        "INSERT INTO conference_sites SELECT $1, id FROM sites WHERE code = 'HG-01'",
        world.conference["id"],
    )
    await factory.delegate(world.conference["id"], site="HG-01", external_id="HG-1")
    tech = bearer(await factory.token("technician", unit="LC"))
    resp = await upload(client, tech, b"external_id,reason\nLC-01-0,sick\nHG-1,sick\n")
    problem = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(2, "delegate_id")]


async def test_the_make_up_list_as_files(
    client: TestClient, world: World, organiser: dict, factory: Factory
) -> None:
    await upload(client, organiser, CSV_OK.encode())
    await world.db.execute(
        "UPDATE delegates SET full_name = '=HYPERLINK(\"x\")' WHERE external_id = 'LC-02-0'"
    )
    resp = await client.get(URL + "/makeup.csv", headers=organiser)
    assert resp.status == 200 and resp.content_type == "text/csv"
    text = (await resp.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["external_id"], r["reason"]) for r in rows] == [
        ("LC-01-0", "sick"),
        ("LC-02-0", "travel"),
    ]
    assert rows[1]["full_name"].startswith("'=")
    resp = await client.get(URL + "/makeup.xlsx", headers=organiser)
    assert resp.status == 200 and resp.content_type == XLSX
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert sheet.title == "Học bù" and sheet.freeze_panes == "A2"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["Mã đại biểu", "Họ và tên"]
    assert [v[0] for v in values[1:]] == ["LC-01-0", "LC-02-0"]
    assert values[1][6] == "Ốm" and values[2][6] == "Đi xa"
    tech = bearer(await factory.token("technician", unit="LC"))
    listed = await client.get(URL, params={"makeup_owed": "true", "site": "LC-02"}, headers=tech)
    assert [a["external_id"] for a in (await listed.json())["items"]] == ["LC-02-0"]
