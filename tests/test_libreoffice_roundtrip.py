"""A district clerk's roster through LibreOffice, for real: the UTF-8 CSV converted to
XLSX by headless `soffice` with its default filter (which reads a CSV as Western Europe,
Windows-1252) and with the UTF-8 filter; each imported; then the original imported again.

- default filter: every Vietnamese name comes out garbled ("Nguyá»…n Thị ..."), and the
  import refuses the file, naming each garbled cell with the name it should read, and
  says once to choose UTF-8;
- UTF-8 filter: the names are right but the ids became numbers (000121 -> 121): the
  import takes the file with one warning that leading zeros may be lost;
- the original again: each id equal to a stored one but for its zeros is refused, naming
  the delegate it repeats, with the fix said once.

Needs LibreOffice (`soffice`, Debian's libreoffice-calc): skipped without it, saying so,
unless DIEMCAU_REQUIRE_LIBREOFFICE=1 (as `.ci/run` sets after installing it), which
makes a missing LibreOffice a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from diemcau.tabular import XLSX_MEDIA
from tests.factory import bearer
from tests.problems import assert_problem

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
if SOFFICE is None:
    if os.environ.get("DIEMCAU_REQUIRE_LIBREOFFICE") == "1":
        raise RuntimeError("LibreOffice (soffice) is required here and is not installed")
    pytest.skip(
        "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc",
        allow_module_level=True,
    )

URL = "/api/v1/conferences/HN/delegates/import"
# Names with letters of each kind garbling makes: 2-byte (Á, Đ, ư), 3-byte (ễ, ị, ạ)
# and those whose second byte Windows-1252 leaves undefined (Á: C3 81, Đ: C4 90).
PEOPLE = [
    ("000121", "Nguyễn Thị Ánh", "đảng viên", "LC-TD-BB"),
    ("000122", "Đỗ Đức Thắng", "đảng viên", "LC-TD-BB"),
    ("000123", "Lò Văn Pâng", "quần chúng", "LC-TD-BB"),
    ("000124", "Tòng Thị Phóng", "khách mời", "LC-TD-BB"),
    ("000125", "Vàng A Sùng", "Đảng viên", "LC-TD-BB"),
]
# LibreOffice's CSV filter options: separator 44 (,), text delimiter 34 ("), charset 76
# (UTF-8), first line 1.
UTF8_FILTER = "CSV:44,34,76,1"


def _convert(source: Path, out: Path, infilter: str | None) -> Path:
    """`soffice --headless --convert-to xlsx`, with its own profile so that runs in
    parallel (or a LibreOffice already open) do not share one."""
    out.mkdir()
    argv = [SOFFICE or "soffice", f"-env:UserInstallation=file://{out}/profile", "--headless"]
    if infilter:
        argv.append(f"--infilter={infilter}")
    argv += ["--convert-to", "xlsx", "--outdir", str(out), str(source)]
    done = subprocess.run(argv, capture_output=True, timeout=180, check=False)
    converted = out / (source.stem + ".xlsx")
    assert done.returncode == 0 and converted.exists(), done.stderr.decode(errors="replace")
    return converted


def _cells(path: Path) -> list[list[Any]]:
    book = load_workbook(path, read_only=True)
    try:
        return [list(row) for row in book.active.iter_rows(min_row=2, values_only=True)]
    finally:
        book.close()


async def _post(client: Any, headers: dict[str, str], data: bytes, media: str) -> Any:
    return await client.post(URL, data=data, headers=headers | {"Content-Type": media})


async def test_a_roster_through_libreoffice(
    client: Any, factory: Any, db: Any, tmp_path: Path
) -> None:
    await factory.unit("LC")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.site("LC-TD-BB", unit="LC-TD")
    await factory.conference("HN", sites=["LC-TD-BB"])
    headers = bearer(await factory.token("organiser"))
    original = tmp_path / "danh-sach.csv"  # as a clerk saves it: UTF-8, no BOM
    original.write_text(
        "external_id,full_name,category,site_code\n" + "".join(",".join(p) + "\n" for p in PEOPLE),
        encoding="utf-8",
    )
    default, utf8 = await asyncio.gather(
        asyncio.to_thread(_convert, original, tmp_path / "default", None),
        asyncio.to_thread(_convert, original, tmp_path / "utf8", UTF8_FILTER),
    )

    # The default filter: garbled names (and categories), refused with what they read.
    cells = _cells(default)
    assert [row[1] for row in cells] != [p[1] for p in PEOPLE], "LibreOffice read UTF-8"
    resp = await _post(client, headers, default.read_bytes(), XLSX_MEDIA)
    body = await assert_problem(resp, 422, "import_failed")
    hint, *errors = body["errors"]
    assert (hint["row"], hint["field"]) == (0, "") and "UTF-8" in hint["message"]
    names = {e["row"]: e["message"] for e in errors if e["field"] == "full_name"}
    assert sorted(names) == [1, 2, 3, 4, 5]
    for row, (_, name, _, _) in enumerate(PEOPLE, start=1):
        assert f"có lẽ là «{name}»" in names[row], names[row]
    assert {e["field"] for e in errors} <= {"full_name", "category"}
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0

    # The UTF-8 filter: right names, ids turned into numbers: imported, one warning.
    assert [row[:2] for row in _cells(utf8)] == [[int(i), n] for i, n, _, _ in PEOPLE]
    resp = await _post(client, headers, utf8.read_bytes(), XLSX_MEDIA)
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["imported"], body["warning_count"]) == (5, 1)
    assert "Ô này là số; các số 0 ở đầu có thể đã mất (5 ô" in body["warnings"][0]["message"]
    stored = await db.fetch("SELECT external_id, full_name FROM delegates ORDER BY 1")
    assert [tuple(r) for r in stored] == [(i.lstrip("0"), n) for i, n, _, _ in PEOPLE]

    # The original again: the zeros tell the same people apart from new ones.
    resp = await _post(client, headers, original.read_bytes(), "text/csv")
    body = await assert_problem(resp, 422, "import_failed")
    fix, *rows = body["errors"]
    assert (fix["row"], fix["field"]) == (0, "external_id") and "Text" in fix["message"]
    assert [(e["row"], e["field"]) for e in rows] == [(i, "external_id") for i in range(1, 6)]
    assert "000121" in rows[0]["message"] and "Nguyễn Thị Ánh" in rows[0]["message"]
    assert await db.fetchval("SELECT count(*) FROM delegates") == 5
