"""Site import: upsert by code from CSV/XLSX, every bad row reported, all rows or none."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from openpyxl import Workbook

from diemcau.app import create_app
from tests.factory import bearer
from tests.problems import assert_problem

CSV = {"Content-Type": "text/csv"}
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
HEADER = (
    "code,name,unit_code,level,address,capacity,technician_name,technician_phone,"
    "endpoint_protocol,endpoint_uri,endpoint_provider"
)
GOOD = [
    "LC-01,Hội trường tỉnh Lai Châu,LC,province,Tân Phong,300,Lò Văn Đức,0912 345 678,sip,sip:lc01@vnpt.vn,VNPT",
    "LC-TD-01,UBND huyện Tam Đường,LC-TD,district,,120,,,H.323,10.0.0.5,",
    "LC-TD-BB,Nhà văn hoá xã Bản Bo,LC-TD-BB,xã,,80,Tòng Thị Mai,+84987654321,meeting link,https://meet.vn/bb,",
]


def csv_bytes(*rows: str, header: str = HEADER, bom: bool = False) -> bytes:
    text = "\n".join([header, *rows]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def post(client: Any, headers: dict, data: bytes, media: dict = CSV) -> Any:
    return await client.post("/api/v1/sites/import", data=data, headers={**headers, **media})


async def snapshot(db: Any) -> list[tuple]:
    rows = await db.fetch("SELECT * FROM sites ORDER BY code")
    return [tuple(r) for r in rows]


async def test_csv_import_then_reimport_updates(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    resp = await post(client, organiser, csv_bytes(*GOOD))
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 3, "updated": 0}
    rows = {r["code"]: r for r in await db.fetch("SELECT * FROM sites")}
    assert rows["LC-01"]["technician_phone"] == "0912345678"
    assert rows["LC-TD-01"]["endpoint_protocol"] == "h323"
    assert rows["LC-TD-BB"]["level"] == "commune"
    assert rows["LC-TD-BB"]["endpoint_protocol"] == "meeting_link"
    assert rows["LC-TD-BB"]["technician_phone"] == "0987654321"
    assert "lai chau" in rows["LC-01"]["search_text"]
    changed = GOOD[0].replace(",300,", ",350,")
    again = await post(client, organiser, csv_bytes(changed, "LC-02,Điểm mới,LC,province,,,,,,,"))
    assert await again.json() == {"imported": 1, "updated": 1}
    assert await db.fetchval("SELECT capacity FROM sites WHERE code = 'LC-01'") == 350
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'import' ORDER BY id DESC")
    assert entry["after"]["imported"] == 1 and entry["after"]["updated"] == 1


async def test_csv_with_bom_and_nfd_text(client: Any, db: Any, tree: None, organiser: dict) -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "LC-09,Điểm cầu Sìn Hồ,LC,province,,,,,,,")
    resp = await post(client, organiser, csv_bytes(nfd, bom=True))
    assert resp.status == 200, await resp.text()
    assert await db.fetchval("SELECT name FROM sites WHERE code = 'LC-09'") == "Điểm cầu Sìn Hồ"


async def test_xlsx_import_with_numeric_cells(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    rows = [
        HEADER.split(","),
        [
            "X-01",
            "Xã Bản Bo",
            "LC-TD-BB",
            "commune",
            None,
            80,
            "Mai",
            912345678,
            "sip",
            "sip:a@b",
            None,
        ],
        ["X-02", "Xã Bình Lư", "LC-TD", "Xã", "Bình Lư", 65.0, None, None, None, None, None],
    ]
    resp = await post(client, organiser, xlsx_bytes(rows), XLSX)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"imported": 2, "updated": 0}
    row = await db.fetchrow("SELECT capacity, technician_phone FROM sites WHERE code = 'X-01'")
    assert (row["capacity"], row["technician_phone"]) == (80, "0912345678")
    assert await db.fetchval("SELECT capacity FROM sites WHERE code = 'X-02'") == 65


async def test_every_bad_row_is_reported_and_nothing_changes(
    client: Any, db: Any, factory: Any, tree: None, organiser: dict
) -> None:
    await factory.site("KEEP", unit="LC", capacity=10)
    before = await snapshot(db)
    rows = [
        GOOD[0],  # fine, but must not be saved
        ",Không mã,LC,province,,,,,,,",  # 2: code missing
        "BAD CODE,Tên,LC,province,,,,,,,",  # 3: code format
        "LC-03,Tên,NO-UNIT,province,,,,,,,",  # 4: unknown unit
        "LC-04,Tên,LC,planet,,-5,,12345,skype,x,",  # 5: level, capacity, phone, protocol
        "LC-01,Lặp lại,LC,province,,,,,,,",  # 6: duplicate of row 1
        "LC-05,,,,,,,,,,",  # 7: name, unit_code, level missing
        "KEEP,Đổi tên,LC,province,,many,,,,,",  # 8: capacity
    ]
    resp = await post(client, organiser, csv_bytes(*rows))
    problem = await assert_problem(resp, 422, "import_failed")
    found = [(e["row"], e["field"]) for e in problem["errors"]]
    assert found == [
        (2, "code"),
        (3, "code"),
        (4, "unit_code"),
        (5, "level"),
        (5, "capacity"),
        (5, "technician_phone"),
        (5, "endpoint_protocol"),
        (6, "code"),
        (7, "name"),
        (7, "unit_code"),
        (7, "level"),
        (8, "capacity"),
    ]
    assert problem["error_count"] == len(found)
    assert all(e["message"] for e in problem["errors"])
    assert await snapshot(db) == before
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0


@pytest.mark.parametrize(
    ("data", "media", "row"),
    [
        (HEADER.encode() + b"\nLC-1,H\xe0 N\xf4i,LC,province,,,,,,,\n", CSV, 1),  # Latin-1
        (b"code;name;unit;level\nA;B;LC;province\n", CSV, 0),  # wrong header
        (b"code,name,unit_code\nA,B,LC\n", CSV, 0),  # a required column missing
        (xlsx_bytes([]), XLSX, 0),  # an empty sheet
        (HEADER.encode() + b"\n", CSV, 0),  # a header and no rows
        (b"PK\x03\x04 not really a zip", XLSX, 0),
    ],
)
async def test_unreadable_files_are_import_failed(
    client: Any, db: Any, tree: None, organiser: dict, data: bytes, media: dict, row: int
) -> None:
    problem = await assert_problem(await post(client, organiser, data, media), 422, "import_failed")
    assert problem["errors"][0]["row"] == row
    assert await db.fetchval("SELECT count(*) FROM sites") == 0


async def test_other_media_types_and_empty_bodies(client: Any, organiser: dict) -> None:
    resp = await post(client, organiser, b'{"a": 1}', {"Content-Type": "application/json"})
    await assert_problem(resp, 415, "unsupported_media_type")
    await assert_problem(await post(client, organiser, b""), 422, "validation_failed")


async def test_import_over_the_size_limit_is_413(
    aiohttp_client: Any, config: Any, db: Any, factory: Any
) -> None:
    client = await aiohttp_client(create_app(replace(config, max_import_mb=1)))
    headers = bearer(await factory.token("organiser"))
    big = csv_bytes(*(["A,B,LC,province,,,,,,," + "x" * 100] * 12_000))
    assert len(big) > 1024 * 1024
    resp = await post(client, headers, io.BytesIO(big))  # type: ignore[arg-type]
    await assert_problem(resp, 413, "payload_too_large")


async def test_technician_rows_outside_the_subtree_are_row_errors(
    client: Any, db: Any, factory: Any, tree: None
) -> None:
    await factory.site("HG-01", unit="HG")
    tech = bearer(await factory.token("technician", unit="LC-TD"))
    rows = [
        "T-1,Trong phạm vi,LC-TD-BB,commune,,,,,,,",
        "T-2,Ngoài phạm vi,HG,province,,,,,,,",
        "HG-01,Chiếm mã,LC-TD,district,,,,,,,",
    ]
    problem = await assert_problem(await post(client, tech, csv_bytes(*rows)), 422, "import_failed")
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(2, "unit_code"), (3, "code")]
    assert await db.fetchval("SELECT count(*) FROM sites") == 1
    ok = await post(client, tech, csv_bytes(rows[0]))
    assert await ok.json() == {"imported": 1, "updated": 0}


async def test_absent_columns_keep_stored_values(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    await post(client, organiser, csv_bytes(*GOOD))
    header = "code,name,unit_code,level,technician_phone"
    resp = await post(
        client, organiser, csv_bytes("LC-01,Hội trường tỉnh,LC,province,0909000111", header=header)
    )
    assert await resp.json() == {"imported": 0, "updated": 1}
    row = await db.fetchrow("SELECT * FROM sites WHERE code = 'LC-01'")
    assert row["technician_phone"] == "0909000111"
    assert row["capacity"] == 300 and row["endpoint_uri"] == "sip:lc01@vnpt.vn"
    assert row["address"] == "Tân Phong" and "tan phong" in row["search_text"]


async def test_reimport_with_a_new_endpoint_resets_tested_sites(
    client: Any, db: Any, tree: None, organiser: dict
) -> None:
    await post(client, organiser, csv_bytes(*GOOD))
    await db.execute("UPDATE sites SET status = 'tested'")
    moved = GOOD[0].replace("sip:lc01@vnpt.vn", "sip:lc01-new@vnpt.vn")
    await post(client, organiser, csv_bytes(moved, GOOD[1]))
    statuses = dict(await db.fetch("SELECT code, status FROM sites"))
    assert statuses == {"LC-01": "registered", "LC-TD-01": "tested", "LC-TD-BB": "tested"}
