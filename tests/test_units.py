"""The unit tree: create, read, list, children, import; scope is the token's subtree.

Scope rule (units and sites alike): something outside the caller's subtree answers 404
when addressed (it is not revealed); naming an out-of-scope unit as the target of a
write (parent_code, unit_code) answers 403.
"""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import pytest
from openpyxl import Workbook

from tests.factory import bearer
from tests.problems import assert_problem

CSV = {"Content-Type": "text/csv"}


async def test_create_unit_answers_the_contract_shape(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    body = {"code": "LC-SH", "name": "Sìn Hồ", "level": "district", "parent_code": "LC"}
    resp = await client.post("/api/v1/units", json=body, headers=organiser)
    assert resp.status == 201, await resp.text()
    unit = await resp.json()
    assert {k: unit[k] for k in body} == body
    assert unit["path"] == "/VN/LC/LC-SH/"
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE entity = 'unit'")
    assert entry["action"] == "create" and entry["entity_key"] == "LC-SH"
    assert entry["before"] is None and entry["after"]["name"] == "Sìn Hồ"


async def test_unit_name_typed_as_nfd_is_stored_nfc(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    nfd = unicodedata.normalize("NFD", "Phường Đông Phong")
    assert nfd != "Phường Đông Phong"
    body = {"code": "LC-DP", "name": nfd, "level": "Phường", "parent_code": "LC-TD"}
    resp = await client.post("/api/v1/units", json=body, headers=organiser)
    assert resp.status == 201, await resp.text()
    stored = await db.fetchrow("SELECT name, level FROM units WHERE code = 'LC-DP'")
    assert stored["name"] == "Phường Đông Phong"
    assert stored["level"] == "commune"  # the Vietnamese word for the level is understood


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"code": "X1", "level": "district"}, {"name"}),
        ({"code": "X 1", "name": "A", "level": "district"}, {"code"}),
        ({"code": "X1", "name": "  ", "level": "district"}, {"name"}),
        ({"code": "X1", "name": "A", "level": "galaxy"}, {"level"}),
        ({"code": 12, "name": ["A"], "level": "district"}, {"code", "name"}),
        ({"code": "X1", "name": "A", "level": "district", "colour": "red"}, {"colour"}),
    ],
)
async def test_bad_unit_fields_are_named(
    client: Any, tree: None, organiser: dict, body: dict, fields: set
) -> None:
    resp = await client.post("/api/v1/units", json=body, headers=organiser)
    problem = await assert_problem(resp, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == fields


async def test_unknown_parent_and_duplicate_code(client: Any, tree: None, organiser: dict) -> None:
    body = {"code": "X1", "name": "A", "level": "district", "parent_code": "NOPE"}
    problem = await assert_problem(
        await client.post("/api/v1/units", json=body, headers=organiser), 422, "validation_failed"
    )
    assert problem["errors"][0]["field"] == "parent_code"
    body = {"code": "LC-TD", "name": "A", "level": "district", "parent_code": "LC"}
    problem = await assert_problem(
        await client.post("/api/v1/units", json=body, headers=organiser), 409, "already_exists"
    )
    assert problem["errors"][0]["field"] == "code"


async def test_invalid_json_is_400(client: Any, organiser: dict) -> None:
    resp = await client.post("/api/v1/units", data=b"{not json", headers=organiser)
    await assert_problem(resp, 400, "invalid_json")


async def test_scoped_organiser_writes_only_inside_its_subtree(
    client: Any, factory: Any, tree: None
) -> None:
    lc = bearer(await factory.token("organiser", unit="LC"))
    inside = {"code": "LC-X", "name": "A", "level": "district", "parent_code": "LC"}
    assert (await client.post("/api/v1/units", json=inside, headers=lc)).status == 201
    outside = {"code": "HG-X", "name": "A", "level": "district", "parent_code": "HG"}
    await assert_problem(
        await client.post("/api/v1/units", json=outside, headers=lc), 403, "forbidden"
    )
    root = {"code": "ROOT2", "name": "A", "level": "national"}
    await assert_problem(
        await client.post("/api/v1/units", json=root, headers=lc), 403, "forbidden"
    )


@pytest.mark.parametrize("role", ["technician", "kiosk", "viewer"])
async def test_only_organisers_create_units(
    client: Any, factory: Any, tree: None, role: str
) -> None:
    await factory.site("S1", unit="LC-TD-BB")
    await factory.conference("C1", sites=["S1"])
    scope = {"technician": {"unit": "LC"}, "kiosk": {"conference": "C1", "site": "S1"}}
    token = await factory.token(role, **scope.get(role, {"conference": "C1"}))
    body = {"code": "X1", "name": "A", "level": "district", "parent_code": "LC"}
    resp = await client.post("/api/v1/units", json=body, headers=bearer(token))
    await assert_problem(resp, 403, "forbidden")
    if role != "technician":
        for path in ("/api/v1/units", "/api/v1/units/LC", "/api/v1/units/LC/readiness"):
            await assert_problem(await client.get(path, headers=bearer(token)), 403, "forbidden")


async def test_read_unit_with_counts(
    client: Any, factory: Any, tree: None, organiser: dict
) -> None:
    await factory.site("S1", unit="LC-TD-BB")
    await factory.site("S2", unit="LC-TD")
    await factory.site("S3", unit="HG")
    unit = await (await client.get("/api/v1/units/LC", headers=organiser)).json()
    assert unit["code"] == "LC" and unit["parent_code"] == "VN" and unit["name"] == "Lai Châu"
    assert (unit["children"], unit["descendants"], unit["sites"]) == (1, 2, 2)
    await assert_problem(
        await client.get("/api/v1/units/NOPE", headers=organiser), 404, "not_found"
    )


async def test_technician_sees_only_its_subtree(client: Any, factory: Any, tree: None) -> None:
    tech = bearer(await factory.token("technician", unit="LC-TD"))
    assert (await client.get("/api/v1/units/LC-TD-BB", headers=tech)).status == 200
    for outside in ("HG", "LC", "VN"):
        resp = await client.get(f"/api/v1/units/{outside}", headers=tech)
        await assert_problem(resp, 404, "not_found")
    listed = await (await client.get("/api/v1/units", headers=tech)).json()
    assert [u["code"] for u in listed["items"]] == ["LC-TD", "LC-TD-BB"]


async def test_list_units_pages_and_filters(client: Any, factory: Any, organiser: dict) -> None:
    await factory.unit("P", level="province")
    for i in range(25):
        await factory.unit(f"P-D{i:02d}", parent="P", level="district")
    await factory.unit("P-D00-C1", parent="P-D00", level="commune")
    seen, cursor = [], None
    while True:
        params = {"parent": "P", "limit": "10", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/v1/units", params=params, headers=organiser)).json()
        seen += [u["code"] for u in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"P-D{i:02d}" for i in range(25)]
    children = await (await client.get("/api/v1/units/P/children", headers=organiser)).json()
    assert len(children["items"]) == 25 and children["next"] is None
    communes = await client.get(
        "/api/v1/units", params={"under": "P", "level": "commune"}, headers=organiser
    )
    assert [u["code"] for u in (await communes.json())["items"]] == ["P-D00-C1"]
    bad = await client.get("/api/v1/units", params={"cursor": "garbage!"}, headers=organiser)
    await assert_problem(bad, 400, "invalid_cursor")
    too_many = await client.get("/api/v1/units", params={"limit": "5000"}, headers=organiser)
    await assert_problem(too_many, 422, "validation_failed")


async def test_import_units_with_parents_earlier_in_the_file(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    csv = (
        "code,name,level,parent_code\n"
        "LC-SH,Huyện Sìn Hồ,huyện,LC\n"
        "LC-SH-01,Xã Pa Tần,xã,LC-SH\n"
        "LC-TD,Huyện Tam Đường (mới),district,LC\n"
    )
    resp = await client.post(
        "/api/v1/units/import", data=csv.encode(), headers={**organiser, **CSV}
    )
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 2, "updated": 1}
    rows = await db.fetch(
        "SELECT code, level, path, name FROM units WHERE code LIKE 'LC-%' ORDER BY code"
    )
    by_code = {r["code"]: r for r in rows}
    assert by_code["LC-SH-01"]["path"] == "/VN/LC/LC-SH/LC-SH-01/"
    assert by_code["LC-SH-01"]["level"] == "commune"
    assert by_code["LC-TD"]["name"] == "Huyện Tam Đường (mới)"


async def test_import_units_all_or_nothing_with_every_bad_row(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    before = await db.fetchval("SELECT count(*) FROM units")
    csv = (
        "code,name,level,parent_code\n"
        "N1,Một,district,LC\n"  # fine, but must not be saved
        "N2,Hai,district,N3\n"  # parent appears later
        "N3,Ba,district,LC\n"
        "N1,Lặp,district,LC\n"  # duplicate code
        "N4,Bốn,planet,LC\n"  # bad level
        "LC-TD,Tam Đường,district,HG\n"  # moving a unit
    )
    resp = await client.post(
        "/api/v1/units/import", data=csv.encode(), headers={**organiser, **CSV}
    )
    problem = await assert_problem(resp, 422, "import_failed")
    found = {(e["row"], e["field"]) for e in problem["errors"]}
    assert found == {(2, "parent_code"), (4, "code"), (5, "level"), (6, "parent_code")}
    assert await db.fetchval("SELECT count(*) FROM units") == before


async def test_scoped_organiser_imports_only_inside(client: Any, factory: Any, tree: None) -> None:
    lc = bearer(await factory.token("organiser", unit="LC"))
    csv = "code,name,level,parent_code\nA1,A,district,LC\nB1,B,district,HG\nC1,C,national,\n"
    resp = await client.post("/api/v1/units/import", data=csv.encode(), headers={**lc, **CSV})
    problem = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (2, "parent_code"),
        (3, "parent_code"),
    ]


async def test_import_units_from_xlsx(client: Any, db: Any, tree: None, organiser: dict) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["STT", "code", "name", "level", "parent_code"])
    sheet.append([1, "LC-MT", "Huyện Mường Tè", "district", "LC"])
    sheet.append([2, "LC-MT-01", "Xã Ka Lăng", "commune", "LC-MT"])
    out = io.BytesIO()
    book.save(out)
    xlsx = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    resp = await client.post(
        "/api/v1/units/import", data=out.getvalue(), headers={**organiser, **xlsx}
    )
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 2, "updated": 0}
    assert (
        await db.fetchval("SELECT path FROM units WHERE code = 'LC-MT-01'")
        == "/VN/LC/LC-MT/LC-MT-01/"
    )
