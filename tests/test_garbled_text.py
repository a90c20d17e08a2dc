"""Text garbled by the wrong character set is refused in every import, showing the cell
and what it probably read, with one hint about UTF-8 for the file; real Vietnamese (the
seeds' words and names, the rosters the tests and benches build) never looks garbled.

A UTF-8 roster opened in LibreOffice or Excel as Windows-1252 and saved again reads
"Nguyá»…n Thá»‹ Ãnh": each byte of a letter became a character. LibreOffice shows the
bytes Windows-1252 leaves undefined as U+F181...; other tools keep them as C1 controls,
or drop them (then "Ã" is all that is left of "Á")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import common, import_roster
from diemcau.tabular.cells import SUSPECT, garbled
from tests.factory import bearer
from tests.problems import assert_problem

SEEDS = Path(__file__).with_name("seed_text.txt")
NAMES = sorted(
    {f"{a} {b} {c}" for a in common.FAMILY for b in common.MIDDLE for c in common.GIVEN}
    | {
        f"{a} {b} {c}"
        for a in import_roster.HO
        for b in import_roster.DEM
        for c in import_roster.TEN
    }
)
ROSTER = "/api/v1/conferences/HN/delegates/import"


def _seed_lines() -> list[str]:
    text = SEEDS.read_text(encoding="utf-8").splitlines()
    return [line for line in text if line and not line.startswith("#")]


def as_libreoffice_reads(text: str, undefined: str = "keep") -> str:
    """`text`'s UTF-8 bytes read as Windows-1252: an undefined byte kept as LibreOffice
    shows it (U+F1xx), as a C1 control ('c1'), or dropped ('drop')."""
    out = []
    for byte in text.encode():
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            shown = {"keep": chr(0xF100 + byte), "c1": chr(byte), "drop": ""}
            out.append(shown[undefined])
    return "".join(out)


def test_no_false_alarm_on_real_vietnamese() -> None:
    lines = _seed_lines()
    assert len(lines) > 600 and any("–" in line for line in lines)
    assert [line for line in lines + NAMES if garbled(line) is not None] == []
    # Punctuation that garbling also makes, in text that is fine.
    for fine in ("Hội trường – Tầng 2", "“Quán triệt”", "Café «Hà Nội»", "5 °C", "Nhà văn hoá"):
        assert garbled(fine) is None


def test_every_garbling_of_real_names_is_caught_and_mended() -> None:
    for name in [*NAMES, *_seed_lines()[:600]]:
        for undefined in ("keep", "c1"):
            bad = as_libreoffice_reads(name, undefined)
            if bad != name:
                assert garbled(bad) == name, (name, bad)
        dropped = as_libreoffice_reads(name, "drop")
        # "Ánh" with its second byte dropped is "Ãnh": ordinary letters, not caught
        # unless the cell holds another garbled letter (the README says so).
        if SUSPECT.search(dropped):
            assert garbled(dropped) is not None, (name, dropped)
    # The issue's own case, with the byte of "Á" lost on the way.
    assert garbled("Nguyá»…n Thá»‹ Ãnh") == "Nguyễn Thị Ánh"
    assert garbled(as_libreoffice_reads("Đỗ Thị Ánh")) == "Đỗ Thị Ánh"
    assert garbled(as_libreoffice_reads("“Học tập” – Đảng ủy")) == "“Học tập” – Đảng ủy"


async def _roster_world(factory: Any) -> dict[str, str]:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    await factory.conference("HN", sites=["S1"])
    return bearer(await factory.token("organiser"))


@pytest.mark.parametrize("undefined", ["keep", "drop"])
async def test_a_garbled_roster_is_refused_saying_what_it_read(
    client: Any, factory: Any, db: Any, undefined: str
) -> None:
    headers = await _roster_world(factory)
    rows = [
        ("D1", "Lò Văn Pâng", "đảng viên"),
        ("D2", "Nguyễn Thị Ánh", "đảng viên"),
        ("D3", "Trần Văn Ất", "quần chúng"),
    ]
    text = "external_id,full_name,category,site_code\n" + "".join(
        f"{i},{n},{c},S1\n" for i, n, c in rows
    )
    garbled_file = as_libreoffice_reads(text, undefined).encode()
    resp = await client.post(
        ROSTER, data=garbled_file, headers=headers | {"Content-Type": "text/csv"}
    )
    body = await assert_problem(resp, 422, "import_failed")
    # One hint for the file; each garbled cell once, as a garbling (the category too,
    # not as a bad category), and nothing else.
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (0, ""),
        (1, "category"),
        (1, "full_name"),
        (2, "category"),
        (2, "full_name"),
        (3, "category"),
        (3, "full_name"),
    ]
    hint, name = body["errors"][0]["message"], body["errors"][4]["message"]
    assert "UTF-8" in hint and "LibreOffice" in hint
    assert "Nguyá»…n Thá»‹ Ã" in name and "có lẽ là «Nguyễn Thị Ánh»" in name
    assert await db.fetchval("SELECT count(*) FROM delegates") == 0
    resp = await client.post(
        ROSTER + "?lang=en", data=garbled_file, headers=headers | {"Content-Type": "text/csv"}
    )
    body = await resp.json()
    assert "probably «Nguyễn Thị Ánh»" in body["errors"][4]["message"]
    # The same file in UTF-8 imports.
    resp = await client.post(
        ROSTER, data=text.encode(), headers=headers | {"Content-Type": "text/csv"}
    )
    assert (await resp.json())["imported"] == 3


async def test_site_and_unit_imports_refuse_garbled_text(client: Any, factory: Any) -> None:
    headers = bearer(await factory.token("organiser"))
    units = "code,name,level,parent_code\nVN,Việt Nam,national,\nLC,Tỉnh Lai Châu,province,VN\n"
    resp = await client.post(
        "/api/v1/units/import",
        data=as_libreoffice_reads(units).encode(),
        headers=headers | {"Content-Type": "text/csv"},
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (0, ""),
        (1, "name"),
        (2, "name"),
    ]
    assert "«Tỉnh Lai Châu»" in body["errors"][2]["message"]
    await factory.unit("VN", level="national")
    sites = "code,name,unit_code,level,address\nS1,Hội trường xã Bản Bo,VN,xã,Bản Bo – Tam Đường\n"
    resp = await client.post(
        "/api/v1/sites/import",
        data=as_libreoffice_reads(sites).encode(),
        headers=headers | {"Content-Type": "text/csv"},
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (0, ""),
        (1, "name"),
        (1, "level"),
        (1, "address"),
    ]
    resp = await client.post(
        "/api/v1/sites/import", data=sites.encode(), headers=headers | {"Content-Type": "text/csv"}
    )
    assert (await resp.json())["imported"] == 1
