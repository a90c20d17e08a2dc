"""Roster import: all rows or none; every bad row reported (row, field, message); names
stored NFC from CSV and XLSX; re-import updates by external_id and a moved delegate gets
a new credential version."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from diemcau import roster
from diemcau.auth import CLI
from diemcau.errors import Problem
from diemcau.executors import ImportPool
from diemcau.roster import checking, worker
from diemcau.routing import XLSX
from diemcau.tabular import Sheet
from tests.factory import bearer
from tests.problems import assert_problem

NO_WARNINGS: dict[str, Any] = {"warnings": [], "warning_count": 0}
HEADER = "external_id,full_name,category,site_code,unit_code,phone,email\n"
URL = "/api/v1/conferences/HN/delegates"


async def _world(factory: Any) -> tuple[str, Any]:
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN")
    await factory.unit("HG", parent="VN")
    for code in ("S1", "S2"):
        await factory.site(code, unit="LC")
    await factory.site("S9", unit="HG")  # exists, but does not take part
    conference = await factory.conference("HN", sites=["S1", "S2"])
    return await factory.token("organiser"), conference


async def _post_csv(client: Any, token: str, text: str, bom: bool = False) -> Any:
    data = ("\ufeff" if bom else "") + text
    headers = bearer(token) | {"Content-Type": "text/csv; charset=utf-8"}
    return await client.post(f"{URL}/import", data=data.encode(), headers=headers)


async def test_csv_import_stores_nfc_and_normalises(client: Any, factory: Any, db: Any) -> None:
    token, _ = await _world(factory)
    nfd_name = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    text = HEADER + (
        f"A1,{nfd_name},ĐẢNG VIÊN,S1,,+84 912.345.678,an@example.vn\n"
        "A2,Trần Văn Bình,quần chúng,S2,HG,912345678,\n"
        f"A3,Lò Thị Mai,{unicodedata.normalize('NFD', 'Khách mời')},S2,LC,,\n"
    )
    resp = await _post_csv(client, token, text, bom=True)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {
        "imported": 3,
        "updated": 0,
        "unchanged": 0,
        "rows": 3,
        **NO_WARNINGS,
    }
    rows = await db.fetch(
        """SELECT d.external_id, d.full_name, d.category, d.phone, d.email, u.code AS unit
             FROM delegates d LEFT JOIN units u ON u.id = d.unit_id ORDER BY external_id"""
    )
    assert rows[0]["full_name"] == "Nguyễn Thị Ánh Tuyết"
    assert unicodedata.is_normalized("NFC", rows[0]["full_name"])
    assert [r["category"] for r in rows] == ["member", "non_member", "guest"]
    assert [r["phone"] for r in rows] == ["0912345678", "0912345678", None]
    assert rows[0]["unit"] == "LC"  # no unit_code: the site's unit
    assert rows[1]["unit"] == "HG"
    assert rows[1]["email"] is None
    audit = await db.fetchrow("SELECT action, entity, entity_key, after FROM audit_log")
    assert (audit["action"], audit["entity_key"]) == ("import", "HN")
    assert audit["after"]["imported"] == 3


async def test_every_bad_row_is_reported_and_nothing_saved(
    client: Any, factory: Any, db: Any
) -> None:
    token, conference = await _world(factory)
    await factory.delegate(conference["id"], site="S1", external_id="OLD", full_name="Cũ")
    text = HEADER + (
        "B1,Người Một,member,S1,,,\n"  # fine
        "B2,,member,S1,,,\n"  # empty name
        "B3,Người Ba,thành viên,S1,,,\n"  # bad category
        "B4,Người Bốn,member,NOPE,,,\n"  # unknown site
        "B5,Người Năm,member,S9,,,\n"  # site not in the conference
        "B6,Người Sáu,member,S1,XX,,\n"  # unknown unit
        "B7,Người Bảy,member,S1,,12345,\n"  # bad phone
        "B8,Người Tám,member,S1,,,not-an-email\n"  # bad e-mail
        "\n"  # blank line: skipped, but counted
        "B1,Người Mười,member,S2,,,\n"  # repeats row 1
        ",Không Mã,member,S1,,,\n"  # empty external_id
    )
    resp = await _post_csv(client, token, text)
    body = await assert_problem(resp, 422, "import_failed")
    found = [(e["row"], e["field"]) for e in body["errors"]]
    assert found == [
        (2, "full_name"),
        (3, "category"),
        (4, "site_code"),
        (5, "site_code"),
        (6, "unit_code"),
        (7, "phone"),
        (8, "email"),
        (10, "external_id"),
        (11, "external_id"),
    ]
    assert body["error_count"] == 9
    messages = {e["row"]: e["message"] for e in body["errors"]}
    assert "NOPE" in messages[4]
    assert "tham gia" in messages[5]
    assert "1" in messages[10]  # names the first row with that id
    assert await db.fetchval("SELECT array_agg(external_id) FROM delegates") == ["OLD"]
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_header_problems_fail_before_any_row(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    resp = await _post_csv(client, token, "external_id,full_name,colour\nA,B,C\n")
    body = await assert_problem(resp, 422, "import_failed")
    fields = {e["field"] for e in body["errors"]}
    assert {"colour", "category", "site_code"} <= fields
    resp = await _post_csv(client, token, HEADER)
    await assert_problem(resp, 422, "import_failed")


async def test_reimport_updates_and_bumps_version_on_move(
    client: Any, factory: Any, db: Any
) -> None:
    token, _ = await _world(factory)
    first = HEADER + "A1,Lê Văn Cường,member,S1,,,\nA2,Phạm Thu Hà,guest,S1,,,\n"
    assert (await _post_csv(client, token, first)).status == 200
    again = HEADER + (
        "A1,Lê Văn Cường,member,S2,,,\n"  # moved
        "A2,Phạm Thu Hà,guest,S1,,,\n"  # unchanged
        "A3,Đỗ Minh Quân,member,S1,,,\n"  # new
    )
    resp = await _post_csv(client, token, again)
    assert await resp.json() == {
        "imported": 1,
        "updated": 1,
        "unchanged": 1,
        "rows": 3,
        **NO_WARNINGS,
    }
    rows = await db.fetch(
        """SELECT external_id, s.code, credential_version FROM delegates d
             JOIN sites s ON s.id = d.site_id ORDER BY external_id"""
    )
    assert [(r["external_id"], r["code"], r["credential_version"]) for r in rows] == [
        ("A1", "S2", 2),
        ("A2", "S1", 1),
        ("A3", "S1", 1),
    ]


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["STT", "external_id", "full_name", "category", "site_code", "phone"])
    for i, row in enumerate(rows, 1):
        sheet.append([i, *row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_xlsx_round_trip_keeps_vietnamese_names(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    names = ["Nguyễn Văn Ẩn", unicodedata.normalize("NFD", "Hoàng Thị Thuỷ"), "Đặng Quốc Việt"]
    data = _xlsx(
        [
            [f"X{i}", name, ("Đảng viên", "QUẦN CHÚNG", "khách mời")[i], "S1", 912345670 + i]
            for i, name in enumerate(names)
        ]
    )
    resp = await client.post(
        f"{URL}/import", data=data, headers=bearer(token) | {"Content-Type": XLSX}
    )
    assert await resp.json() == {
        "imported": 3,
        "updated": 0,
        "unchanged": 0,
        "rows": 3,
        **NO_WARNINGS,
    }
    listed = await (await client.get(URL, headers=bearer(token))).json()
    got = [(d["full_name"], d["category"], d["phone"]) for d in listed["items"]]
    assert got == [
        ("Nguyễn Văn Ẩn", "member", "0912345670"),
        (unicodedata.normalize("NFC", "Hoàng Thị Thuỷ"), "non_member", "0912345671"),
        ("Đặng Quốc Việt", "guest", "0912345672"),
    ]
    # ... and back out to XLSX and in again: nothing changes.
    book = Workbook()
    sheet = book.active
    sheet.append(["external_id", "full_name", "category", "site_code"])
    for d in listed["items"]:
        sheet.append([d["external_id"], d["full_name"], d["category"], d["site_code"]])
    out = io.BytesIO()
    book.save(out)
    assert load_workbook(io.BytesIO(out.getvalue())).active["B2"].value == "Nguyễn Văn Ẩn"
    resp = await client.post(
        f"{URL}/import", data=out.getvalue(), headers=bearer(token) | {"Content-Type": XLSX}
    )
    # The file has no phone column now: the stored phones stay, so nothing changes.
    assert await resp.json() == {
        "imported": 0,
        "updated": 0,
        "unchanged": 3,
        "rows": 3,
        **NO_WARNINGS,
    }
    again = await (await client.get(URL, headers=bearer(token))).json()
    assert [(d["full_name"], d["category"], d["phone"]) for d in again["items"]] == got


async def test_xlsx_roster_over_many_sites(db: Any, factory: Any, tmp_path: Path) -> None:
    """The provincial shape (11,873 delegates over 145 sites) at a tenth of its size."""
    await factory.unit("VN", level="national")
    sites = [f"S{i:03d}" for i in range(145)]
    for code in sites:
        await factory.site(code, unit="VN")
    conference = await factory.conference("HN", sites=sites)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(roster.COLUMNS))
    for i in range(1187):
        sheet.append([f"D{i:05d}", f"Đại biểu Số {i}", "member", sites[i % 145], "", "", ""])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    seen: list[tuple[str, int]] = []
    result = await roster.import_roster(
        db, CLI, conference, Sheet(path, "xlsx"), lambda s, n, t: seen.append((s, n))
    )
    assert result["imported"] == 1187
    assert await db.fetchval("SELECT count(DISTINCT site_id) FROM delegates") == 145
    assert seen[-1] == ("written", 1187)
    assert ("validated", 1187) in seen


async def test_import_needs_an_organiser_and_a_real_file(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    tech = await factory.token("technician", unit="LC")
    resp = await _post_csv(client, tech, HEADER + "A,B,member,S1,,,\n")
    await assert_problem(resp, 403, "forbidden")
    resp = await client.post(
        f"{URL}/import", data=b"x", headers=bearer(token) | {"Content-Type": "image/png"}
    )
    await assert_problem(resp, 415, "unsupported_media_type")
    resp = await client.post(
        "/api/v1/conferences/NOPE/delegates/import", data=b"x", headers=bearer(token)
    )
    await assert_problem(resp, 404, "not_found")
    resp = await client.post(
        f"{URL}/import",
        data="é".encode("latin-1"),
        headers=bearer(token) | {"Content-Type": "text/csv"},
    )
    await assert_problem(resp, 422, "import_failed")


async def test_cli_import_shows_progress(
    config: Any, factory: Any, db: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    import asyncio

    from diemcau.cli import main

    await _world(factory)
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "C1,Vũ Thị Lan,member,S1,,,\nC2,Bùi Hữu Nam,guest,S2,,,\n")
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    argv = ["--lang", "en", "roster", "import"]
    code = await asyncio.to_thread(main, [*argv, str(path), "--conference", "HN"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 written" in err and "2 imported" in err
    assert await db.fetchval("SELECT count(*) FROM delegates") == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "C3,,member,S1,,,\n")
    code = await asyncio.to_thread(main, [*argv, str(bad), "--conference", "HN"])
    assert code == 1
    assert "row 1, full_name" in capsys.readouterr().err


async def test_fresh_roster_written_chunk_by_chunk_is_all_or_none(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A new roster goes into `delegates` chunk by chunk; a repeated id or a bad row in a
    later chunk still leaves nothing behind, and every problem is reported."""
    _, conference = await _world(factory)
    monkeypatch.setattr(checking, "CHUNK_ROWS", 3)
    lines = [f"F{i},Người Số {i},member,S{1 + i % 2},,," for i in range(10)]
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n".join([*lines, "F2,Trùng Mã,member,S1,,,"]) + "\n")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    errors = failed.value.errors
    assert [(e["row"], e["field"]) for e in errors] == [(11, "external_id")]
    assert "3" in str(errors[0]["message"])  # names row 3, where F2 first appeared
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0
    path.write_text(HEADER + "\n".join([*lines, "F10,,member,S1,,,"]) + "\n")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == [(11, "full_name")]
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0
    path.write_text(HEADER + "\n".join(lines) + "\n")
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result == {"imported": 10, "updated": 0, "unchanged": 0, "rows": 10, **NO_WARNINGS}
    assert await db.fetchval("SELECT count(DISTINCT site_id) FROM delegates") == 2


async def test_fresh_roster_reports_a_repeat_after_a_bad_row(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """Chunks written before a bad row are rolled back, yet a later row repeating their
    ids is still reported, with the row it repeats (the ids are read again)."""
    _, conference = await _world(factory)
    monkeypatch.setattr(checking, "CHUNK_ROWS", 3)
    lines = [f"F{i},Người Số {i},member,S1,,," for i in range(10)]
    lines[4] = "F4,,member,S1,,,"  # chunk 2: empty name
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n".join([*lines, "F1,Trùng Mã,member,S2,,,"]) + "\n")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    errors = failed.value.errors
    assert [(e["row"], e["field"]) for e in errors] == [(5, "full_name"), (11, "external_id")]
    assert "2" in str(errors[1]["message"])  # F1 first appeared on row 2
    assert failed.value.extra["error_count"] == 2
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0


async def test_a_big_file_is_checked_in_its_own_process(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """Above PROCESS_BYTES the rows are checked in a worker process: the same rows
    written, the same errors reported, a header problem raised as itself."""
    _, conference = await _world(factory)
    monkeypatch.setattr(worker, "PROCESS_BYTES", 1)
    path = tmp_path / "r.csv"
    nfd = unicodedata.normalize("NFD", "Người Hai")
    path.write_text(HEADER + f"P1,Người Một,member,S1,,,\nP2,{nfd},guest,S2,,,\n")
    checker = checking.Checker(checking.Maps({}, {}, frozenset(), {}))
    async with worker.checking_for(checker, Sheet(path, "csv"), ImportPool()) as found:
        assert isinstance(found, worker.ProcessChecking)
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result == {"imported": 2, "updated": 0, "unchanged": 0, "rows": 2, **NO_WARNINGS}
    names = await db.fetch("SELECT full_name FROM delegates ORDER BY external_id")
    assert [r["full_name"] for r in names] == ["Người Một", "Người Hai"]  # NFC
    path.write_text(HEADER + "P1,Người Một,member,S1,,,\nP3,,member,NOPE,,,\n")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == [
        (2, "full_name"),
        (2, "site_code"),
    ]
    path.write_text("external_id,full_name\nP4,Người Bốn\n")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert failed.value.code == "import_failed"
    # A re-import may leave the category out (stored ones are kept), not the site.
    assert {e["field"] for e in failed.value.errors} == {"site_code"}
    assert await db.fetchval("SELECT count(*) FROM delegates") == 2


async def test_not_utf8_names_the_line_of_the_bad_byte(client: Any, factory: Any) -> None:
    token, _ = await _world(factory)
    good = "".join(f"U{i},Người {i},member,S1,,,\n" for i in range(5000))
    data = (HEADER + good).encode() + b"U9,Ng\xe6\xe1i,member,S1,,,\n"
    headers = bearer(token) | {"Content-Type": "text/csv"}
    resp = await client.post(f"{URL}/import", data=data, headers=headers)
    body = await assert_problem(resp, 422, "import_failed")
    assert body["errors"][0]["row"] == 5001
    assert f"byte {len((HEADER + good).encode()) + 5}" in str(body["errors"][0]["message"])


async def test_names_with_copy_specials_arrive_intact(
    db: Any, factory: Any, tmp_path: Path
) -> None:
    """Rows reach the database through COPY's text format: backslashes must be stored as
    they were written, and `\\N` as text, not NULL."""
    _, conference = await _world(factory)
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "E1,Lê\\Văn\\tA,member,S1,,,\nE2,\\N,member,S1,,,\n")
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result["imported"] == 2
    names = await db.fetch("SELECT full_name FROM delegates ORDER BY external_id")
    assert [r["full_name"] for r in names] == ["Lê\\Văn\\tA", "\\N"]


async def test_control_characters_in_cells_are_row_errors(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A NUL (PostgreSQL refuses it: a 500 before) or another control character, a tab or
    a line break in a cell is an error naming the row and the field; in a roster being
    re-imported (staged) as in a new one (written straight), in any chunk."""
    _, conference = await _world(factory)
    monkeypatch.setattr(checking, "CHUNK_ROWS", 2)
    path = tmp_path / "r.csv"
    path.write_text(
        HEADER
        + "N1,Lê Văn An,member,S1,,,\n"
        + "N2,Lê\x00Văn Bình,member,S1,,,\n"  # NUL in a name
        + "N3\x1b,Lê Văn Cúc,member,S1,,,\n"  # ESC in an id
        + 'N4,"Lê Văn\tDũng",member,S1,,,\n'  # a tab in a name
        + 'N5,"Lê Văn\nE",member,S1,,,\n'  # a line break in a name
        + "N6,Lê Văn Giang,member,S1,,,g\x85@x.vn\n"  # a C1 control in an e-mail
        + "N7,Lê Văn Hà,member,S1,,,\n"
    )
    expected = [
        (2, "full_name"),
        (3, "external_id"),
        (4, "full_name"),
        (5, "full_name"),
        (6, "email"),
    ]
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == expected
    assert "control" in failed.value.errors[0]["message"].en
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0
    await factory.delegate(conference["id"], site="S1", external_id="OLD")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == expected
    assert await db.fetchval("SELECT array_agg(external_id) FROM delegates") == ["OLD"]


async def test_reimport_without_a_column_keeps_what_is_stored(
    client: Any, factory: Any, db: Any
) -> None:
    """A district re-sends its list without the phone column: phones must not be wiped.
    An empty cell in a column the file does have still clears the field."""
    token, _ = await _world(factory)
    first = (
        HEADER
        + "A1,Lê Văn Cường,member,S1,,0912 345 678,a@x.vn\nA2,Phạm Thu Hà,guest,S1,,0987654321,\n"
    )
    assert (await _post_csv(client, token, first)).status == 200
    without = "external_id,full_name,category,site_code\nA1,Lê Văn Cường,member,S2\nA2,Phạm Thu Hà,guest,S1\n"
    resp = await _post_csv(client, token, without)
    assert await resp.json() == {
        "imported": 0,
        "updated": 1,
        "unchanged": 1,
        "rows": 2,
        **NO_WARNINGS,
    }
    rows = await db.fetch("SELECT external_id, phone, email FROM delegates ORDER BY external_id")
    assert [tuple(r) for r in rows] == [("A1", "0912345678", "a@x.vn"), ("A2", "0987654321", None)]
    emptied = "external_id,full_name,category,site_code,phone\nA1,Lê Văn Cường,member,S2,\n"
    assert (await _post_csv(client, token, emptied)).status == 200
    rows = await db.fetch("SELECT external_id, phone, email FROM delegates ORDER BY external_id")
    assert [tuple(r) for r in rows] == [("A1", None, "a@x.vn"), ("A2", "0987654321", None)]
