"""What spreadsheets do to a roster between two imports: Excel and LibreOffice read
'000123' as the number 123, so a re-import of the original file would add the same
people again; an id equal to another but for leading zeros is refused, naming the one
it repeats. A new delegate with an existing one's name and site is imported with a
warning (namesakes are common; one person entered twice is too)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from diemcau import roster
from diemcau.auth import CLI
from diemcau.errors import Problem
from diemcau.roster import checking, worker
from diemcau.tabular import XLSX_MEDIA, Sheet
from tests.factory import bearer
from tests.problems import assert_problem

HEADER = "external_id,full_name,category,site_code\n"
URL = "/api/v1/conferences/HN/delegates/import"
PEOPLE = ("Lò Văn Pâng", "Tòng Thị Phóng", "Lường Văn Chiến", "Vàng A Sùng")


async def _world(factory: Any) -> tuple[dict[str, str], Any]:
    await factory.unit("VN", level="national")
    for code in ("S1", "S2"):
        await factory.site(code, unit="VN")
    conference = await factory.conference("HN", sites=["S1", "S2"])
    return bearer(await factory.token("organiser")), conference


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


def _as_libreoffice_saves_it(text: bytes) -> bytes:
    """The same roster through a spreadsheet: all-digit ids become numbers."""
    book = Workbook()
    sheet = book.active
    for i, line in enumerate(text.decode().splitlines()):
        cells: list[Any] = line.split(",")
        if i and cells[0].isdigit():
            cells[0] = int(cells[0])
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _post(client: Any, headers: dict[str, str], data: bytes, xlsx: bool = False) -> Any:
    media = XLSX_MEDIA if xlsx else "text/csv"
    return await client.post(URL, data=data, headers=headers | {"Content-Type": media})


async def test_ids_that_lost_their_zeros_are_refused(client: Any, factory: Any, db: Any) -> None:
    """The issue's case: a LibreOffice copy of the district's list, then the list itself
    (4 people had become 7 delegates, each with a valid badge)."""
    headers, _ = await _world(factory)
    original = _csv(*(f"00012{i},{name},member,S1" for i, name in enumerate(PEOPLE)))
    resp = await _post(client, headers, _as_libreoffice_saves_it(original), xlsx=True)
    body = await resp.json()
    assert body["imported"] == 4
    # Nothing in the file tells whether its ids had zeros: one warning, not four.
    (warning,) = body["warnings"]
    assert (warning["row"], warning["field"], body["warning_count"]) == (1, "external_id", 1)
    assert "Ô này là số; các số 0 ở đầu có thể đã mất (4 ô" in warning["message"]
    assert await db.fetchval(
        "SELECT array_agg(external_id ORDER BY external_id) FROM delegates"
    ) == [
        "120",
        "121",
        "122",
        "123",
    ]
    resp = await _post(client, headers, original)
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (i, "external_id") for i in range(5)
    ]
    # The fix once for the file; each row says what it repeats, once.
    fix, first, *rest = (e["message"] for e in body["errors"])
    assert "Text (Văn bản)" in fix and "tệp gốc" in fix
    assert "000120" in first and "120" in first and PEOPLE[0] in first
    assert all(m.count("số 0") == 1 and "Text" not in m for m in [first, *rest])
    assert body["detail"] == "5 lỗi trong tệp" and body["error_count"] == 5
    assert await db.fetchval("SELECT count(*) FROM delegates") == 4
    # The other way round, in English: the roster has the zeros, the file lost them.
    await db.execute("UPDATE delegates SET external_id = '000' || external_id")
    resp = await client.post(
        URL + "?lang=en",
        data=_as_libreoffice_saves_it(_csv("123,Vàng A Sùng,member,S1", "9,Mới,member,S1")),
        headers=headers | {"Content-Type": XLSX_MEDIA},
    )
    body = await assert_problem(resp, 422, "import_failed")
    fix, error = body["errors"]
    assert error["row"] == 1 and "000123" in error["message"] and "zeros" in error["message"]
    assert fix["row"] == 0 and "dropped" in fix["message"] and "format the column" in fix["message"]
    # Ids that are not all digits, or equal, are not touched by the rule.
    resp = await _post(client, headers, _csv("000123,Vàng A Sùng,member,S1", "A0123,Mới,guest,S2"))
    assert (await resp.json())["imported"] == 1


async def test_ids_that_differ_by_zeros_within_one_file_are_refused(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A new roster (written straight into `delegates`, chunk by chunk, checked in a
    thread or a process) and a re-import (staged) alike: the later row names the earlier
    one."""
    _, conference = await _world(factory)
    monkeypatch.setattr(checking, "CHUNK_ROWS", 2)
    path = tmp_path / "r.csv"
    rows = [f"{i:05d},Người {i},member,S1" for i in range(1, 6)]
    path.write_bytes(_csv(*rows, "3,Người Ba Lại,member,S2", "0004,Người Bốn Lại,member,S2"))
    for existing, process in ((None, False), (None, True), ("A1", False)):
        # A big file is checked in a process of its own, which counts the zeros too.
        monkeypatch.setattr(worker, "PROCESS_BYTES", 1 if process else 4 << 20)
        if existing:
            await factory.delegate(conference["id"], site="S1", external_id=existing)
        with pytest.raises(Problem) as failed:
            await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
        errors = failed.value.errors
        assert [(e["row"], e["field"]) for e in errors] == [
            (0, "external_id"),  # the fix, once
            (6, "external_id"),
            (7, "external_id"),
        ]
        assert "00003" in errors[1]["message"].en and "row 3" in errors[1]["message"].en
        assert failed.value.extra["error_count"] == 3
        assert await db.fetchval("SELECT count(*) FROM delegates") == (1 if existing else 0)
    path.write_bytes(_csv(*rows))
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result["imported"] == 5


async def test_namesakes_are_imported_with_a_warning(
    client: Any, factory: Any, db: Any, config: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    headers, conference = await _world(factory)
    await factory.delegate(conference["id"], site="S1", external_id="A1", full_name=PEOPLE[0])
    await factory.delegate(conference["id"], site="S1", external_id="A2", full_name=PEOPLE[1])
    data = _csv(
        f"A1,{PEOPLE[0]},member,S1",  # the same person: no warning
        f"B1,{PEOPLE[0]},member,S1",  # a namesake at the same site
        f"B2,{PEOPLE[1]},guest,S2",  # the same name elsewhere: no warning
        f"B3,{PEOPLE[1]},member,S1",
    )
    resp = await _post(client, headers, data)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["imported"], body["unchanged"], body["warning_count"]) == (3, 1, 2)
    assert [(w["row"], w["field"]) for w in body["warnings"]] == [
        (2, "full_name"),
        (4, "full_name"),
    ]
    assert "A1" in body["warnings"][0]["message"] and "S1" in body["warnings"][0]["message"]
    assert "hai người" in body["warnings"][0]["message"]  # Vietnamese unless asked
    assert await db.fetchval("SELECT count(*) FROM delegates") == 5
    # The CLI lists them too.
    from diemcau.cli import main

    path = tmp_path / "r.csv"
    path.write_bytes(_csv(f"C1,{PEOPLE[0]},member,S1"))
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    argv = ["--lang", "en", "roster", "import", str(path), "--conference", "HN", "--quiet"]
    code = await asyncio.to_thread(main, argv)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "1 warning (" in err and "row 1, full_name: same name and site (S1)" in err


def _xlsx(rows: list[list[Any]]) -> bytes:
    """A roster as a spreadsheet keeps it: what `rows` holds as int is a number cell."""
    book = Workbook()
    sheet = book.active
    sheet.append(["external_id", "full_name", "category", "site_code"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_number_ids_are_refused_when_the_other_ids_show_their_zeros(
    client: Any, factory: Any, db: Any
) -> None:
    """Ids typed as text keep their zeros; a row typed later as a number lost them: the
    file's fixed width says so. The fix is said once, each short number named."""
    headers, _ = await _world(factory)
    rows: list[list[Any]] = [
        ["000121", PEOPLE[0], "member", "S1"],
        [122, PEOPLE[1], "member", "S1"],
        ["000123", PEOPLE[2], "member", "S1"],
        [124, PEOPLE[3], "member", "S2"],
        [100125, "Lò Văn Sáu", "member", "S2"],  # six digits: nothing lost
    ]
    resp = await _post(client, headers, _xlsx(rows), xlsx=True)
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (0, "external_id"),
        (2, "external_id"),
        (4, "external_id"),
    ]
    fix, short, *_ = (e["message"] for e in body["errors"])
    assert "Text (Văn bản)" in fix and "tệp gốc" in fix
    assert "Ô này là số 122" in short and "6 chữ số" in short and "Text" not in short
    assert body["error_count"] == 3
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0
    # Typed as text throughout: imported, with nothing to say.
    rows[1][0], rows[3][0] = "000122", "000124"
    resp = await _post(client, headers, _xlsx(rows), xlsx=True)
    body = await resp.json()
    assert (body["imported"], body["warning_count"]) == (5, 0), body


async def test_namesakes_inside_one_file_are_warned_like_the_roster_s(
    db: Any, factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A new roster (written straight, checked in a thread or in a process) and a
    re-import alike: the later row names the earlier one's delegate."""
    _, conference = await _world(factory)
    monkeypatch.setattr(checking, "CHUNK_ROWS", 2)  # the namesakes fall in other chunks
    path = tmp_path / "r.csv"
    path.write_bytes(
        _csv(
            f"N1,{PEOPLE[0]},member,S1",
            f"N2,{PEOPLE[1]},member,S1",
            f"N3,{PEOPLE[0]},member,S2",  # another site: not a namesake
            f"N4,{PEOPLE[0]},guest,S1",  # N1's namesake
            f"N5,{PEOPLE[1]},member,S1",  # N2's
        )
    )
    for process in (False, True):
        monkeypatch.setattr(worker, "PROCESS_BYTES", 1 if process else 4 << 20)
        result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
        assert result["imported"] == 5 and result["warning_count"] == 2
        assert [(w["row"], w["field"]) for w in result["warnings"]] == [
            (4, "full_name"),
            (5, "full_name"),
        ]
        first = result["warnings"][0]["message"]
        assert "N1" in first.vi and "S1" in first.vi and "hai người" in first.vi
        assert "earlier in this file" in first.en
        await db.execute("DELETE FROM delegates")
    # A re-import: new rows against the roster first, then against earlier new rows.
    await factory.delegate(conference["id"], site="S1", external_id="A1", full_name=PEOPLE[2])
    path.write_bytes(
        _csv(
            f"N1,{PEOPLE[0]},member,S1",
            f"N2,{PEOPLE[2]},member,S1",  # A1's namesake, in the roster
            f"N3,{PEOPLE[0]},member,S1",  # N1's, earlier in the file
            f"N4,{PEOPLE[2]},member,S1",  # A1's (not N2's: the roster comes first)
        )
    )
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result["warning_count"] == 3
    said = [(w["row"], w["message"].en) for w in result["warnings"]]
    assert [row for row, _ in said] == [2, 3, 4]
    assert "A1, already in the roster" in said[0][1] and "A1, already" in said[2][1]
    assert "N1, earlier in this file" in said[1][1]


async def test_a_bad_category_is_shown_and_nothing_saved_is_said_once(
    factory: Any, config: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    await _world(factory)
    from diemcau.cli import main

    path = tmp_path / "r.csv"
    path.write_bytes(_csv(f"D1,{PEOPLE[0]},đảng viên dự bị,S1", f"D2,{PEOPLE[1]},member,S9"))
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    for lang, saved in (("vi", "không có dòng nào được lưu"), ("en", "nothing was saved")):
        argv = ["--lang", lang, "roster", "import", str(path), "--conference", "HN", "--quiet"]
        assert await asyncio.to_thread(main, argv) == 1
        err = capsys.readouterr().err
        assert err.lower().count(saved) == 1, err
        assert "«đảng viên dự bị»" in err
