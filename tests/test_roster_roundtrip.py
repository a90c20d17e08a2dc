"""What the service writes, it reads back: the roster listing (`roster list --format
csv`) and the codes file (`diemcau codes`) imported into the roster they came from change
nothing. The formula-safe apostrophe the writer added is taken off again; the columns an
import does not take (`revoked`, `code`) are skipped with one note; the file without
categories keeps the stored ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diemcau import roster
from diemcau.auth import CLI
from diemcau.errors import Problem
from diemcau.queries.conferences import fetch_conference
from diemcau.tabular import Sheet
from tests.conftest import Run
from tests.factory import Factory

# Names a spreadsheet would run as formulas: written with an apostrophe before them.
PEOPLE = [
    ("000101", "Lò Văn Pâng", "đảng viên", "S1", "LC-TD", "0912345678", ""),
    ("000102", '=HYPERLINK("http://x")', "quần chúng", "S1", "", "", "a@b.vn"),
    ("000103", "+84 Tòng Thị Phóng", "khách mời", "S2", "LC", "", ""),
    ("000104", "-Lường Văn Chiến", "member", "S2", "", "", ""),
    ("000105", "@Vàng A Sùng", "guest", "S1", "", "", ""),
    ("-000106", "Hà Thị Mai", "non_member", "S2", "", "", ""),
]


@pytest.fixture
async def hn(factory: Factory, db: Any, tmp_path: Path) -> Any:
    """Conference HN with the people above, imported from a CSV the way a clerk does."""
    await factory.unit("LC")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.site("S1", unit="LC-TD")
    await factory.site("S2", unit="LC")
    await factory.conference("HN", sites=["S1", "S2"])
    path = tmp_path / "clerk.csv"
    lines = ["external_id,full_name,category,site_code,unit_code,phone,email"]
    lines += [",".join(f'"{v}"' if '"' in v else v for v in p) for p in PEOPLE]
    path.write_text("\n".join(lines).replace('"http://x"', '""http://x""') + "\n", "utf-8")
    conference = await fetch_conference(db, "HN")
    result = await roster.import_roster(db, CLI, conference, Sheet(path, "csv"))
    assert result["imported"] == len(PEOPLE)
    await db.execute("UPDATE delegates SET revoked = true WHERE external_id = '000105'")
    return conference


async def _state(db: Any) -> list[Any]:
    return [
        tuple(r)
        for r in await db.fetch(
            """SELECT external_id, full_name, category, site_id, unit_id, phone, email,
                      credential_version, revoked, updated_at FROM delegates ORDER BY id"""
        )
    ]


async def test_the_listing_reads_back_unchanged(hn: Any, db: Any, cli: Run, tmp_path: Path) -> None:
    before = await _state(db)
    code, out, _ = await cli("roster", "list", "--conference", "HN", "--format", "csv")
    assert code == 0 and out.startswith("\ufeffexternal_id,full_name,category,")
    assert "'=HYPERLINK" in out and "\n'-000106," in out  # formula-safe, as written
    assert ",member," in out and ",non_member," in out and ",false\n" in out and ",true\n" in out
    listing = tmp_path / "listing.csv"
    listing.write_text(out, "utf-8")
    code, _, err = await cli(
        "--lang", "en", "roster", "import", str(listing),
        "--conference", "HN", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert f"0 imported, 0 updated, {len(PEOPLE)} unchanged" in err
    assert err.count("revoked") == 1 and "does not import: ignored" in err
    assert await _state(db) == before


async def test_the_codes_file_reads_back_unchanged(
    hn: Any, db: Any, cli: Run, tmp_path: Path
) -> None:
    before = await _state(db)
    codes = tmp_path / "codes.csv"
    code, _, err = await cli("codes", "--conference", "HN", "-o", str(codes))
    assert code == 0, err
    result = await roster.import_roster(db, CLI, hn, Sheet(codes, "csv"))
    # Revoked delegates are left out of the codes; the others are all there, unchanged.
    assert (result["imported"], result["updated"], result["unchanged"]) == (0, 0, len(PEOPLE) - 1)
    ((row, field, message),) = [(w["row"], w["field"], w["message"]) for w in result["warnings"]]
    assert (row, field) == (0, "code") and "bỏ qua" in message.vi
    assert await _state(db) == before
    # Without a category column, a new delegate cannot be added: nothing says what it is.
    codes.write_text(codes.read_text("utf-8-sig") + "NEW1,Người Mới,S1,\n", "utf-8")
    with pytest.raises(Problem) as failed:
        await roster.import_roster(db, CLI, hn, Sheet(codes, "csv"))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == [(len(PEOPLE), "category")]
    assert await _state(db) == before


async def test_only_the_service_s_apostrophe_is_taken_off(hn: Any, db: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "external_id,full_name,category,site_code\n"
        "000101,'=Lò Văn Pâng,member,S1\n"  # the service's: taken off
        "000107,'Bình,member,S1\n",  # a person's own apostrophe: kept
        "utf-8",
    )
    await roster.import_roster(db, CLI, hn, Sheet(path, "csv"))
    names = dict(await db.fetch("SELECT external_id, full_name FROM delegates"))
    assert names["000101"] == "=Lò Văn Pâng" and names["000107"] == "'Bình"
