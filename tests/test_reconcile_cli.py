"""The organiser's end of a conference on the command line: `diemcau reconcile` (the
provinces' headline lines, in Vietnamese numbers), `--verify`, `diemcau flag`,
`diemcau sign-off`, and `diemcau absence`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from tests.conftest import Run
from tests.factory import Factory
from tests.reconcile_world import Hand, session


@pytest.fixture
async def hand(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    return await session(factory, db, client, late=True)


async def test_reconcile_prints_the_headline_rows_and_open_flags(hand: Hand, cli: Run) -> None:
    code, out, err = await cli("reconcile", "--conference", "HN1")
    assert code == 0, err
    assert "đảng viên: 12/15 (80,00%), mục tiêu 98%" in err
    assert "quần chúng: 2/3 (66,67%), mục tiêu 90%" in err
    assert "vãng lai: 2" in err and "4 điểm cầu, 9 cờ chưa xử lý" in err
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "5/6 (83,33%)" in lines["LC-01"]
    assert "đếm 20, điểm danh 7 + vãng lai 0 (+13)" in lines["LC-02.headcount_mismatch"]
    assert "đảng viên 5/6 (83,33%) < 98%" in lines["LC-01.under_target"]
    code, out, _ = await cli("--lang", "en", "reconcile", "--conference", "HN1", "--format", "csv")
    assert out.startswith("\ufeff")  # UTF-8 with a BOM for Excel, as every listing's CSV
    rows = {r["site_code"]: r for r in csv.DictReader(io.StringIO(out.removeprefix("\ufeff")))}
    assert rows["LC-01"]["member"] == "5/6 (83.33%)" and rows["LC-03"]["headcount_start"] == ""


async def test_verify_finds_no_difference(hand: Hand, cli: Run) -> None:
    code, _, err = await cli("reconcile", "--conference", "HN1", "--verify")
    assert code == 0 and "Không có chênh lệch" in err
    await hand.db.execute("UPDATE site_tallies SET present = present + 2")
    code, out, err = await cli("reconcile", "--conference", "HN1", "--verify")
    assert code == 1 and "present" in out and "4 chênh lệch" in err


async def test_flags_are_resolved_and_the_conference_signed_off(hand: Hand, cli: Run) -> None:
    code, out, _ = await cli("flag", "list", "--conference", "HN1", "--open", "--format", "json")
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert len(ids) == 9
    code, _, err = await cli("sign-off", "--conference", "HN1")
    assert code == 1 and "chưa kết thúc" in err
    await hand.close()
    for flag_id in ids:
        argv = ["flag", "resolve", "--conference", "HN1", flag_id, "--note", "đã xem"]
        argv += (
            ["--action", "corrected", "--figure", "7"]
            if "mismatch" in flag_id
            else ["--action", "accept_scans"]
        )
        code, _, err = await cli(*argv)
        assert code == 0, err
    code, _, err = await cli("flag", "resolve", "--conference", "HN1", "LC-01.under_target",
                             "--action", "corrected", "--note", "x")  # fmt: skip
    assert code == 1 and "figure" in err
    code, out, err = await cli("sign-off", "--conference", "HN1")
    assert code == 0, err
    digest = out.strip()
    assert len(digest) == 64 and "Đã ký xác nhận HN1" in err
    assert digest == await hand.db.fetchval("SELECT report_sha256 FROM sign_offs")
    code, _, err = await cli("sign-off", "--conference", "HN1")
    assert code == 1 and "khóa sổ" in err
    code, _, err = await cli("reconcile", "--conference", "HN1")
    assert f"sha256 {digest}" in err


async def test_absences_on_the_command_line(hand: Hand, cli: Run, tmp_path: Path) -> None:
    code, _, err = await cli("absence", "add", "--conference", "HN1", "B1", "--reason", "ốm")
    assert code == 1 and "đã điểm danh" in err.lower()
    code, _, err = await cli(
        "absence", "add", "--conference", "HN1", "A8", "--reason", "công tác", "--makeup"
    )
    assert code == 0, err
    file = tmp_path / "vang.csv"
    file.write_text("external_id,reason,makeup_owed\nC2,khác,có\n", encoding="utf-8")
    code, _, err = await cli("absence", "import", str(file), "--conference", "HN1")
    assert code == 0 and "0 mới, 1 cập nhật" in err
    code, out, err = await cli("absence", "makeup", "--conference", "HN1")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["A6", "A8", "C2", "C3"]
    xlsx = tmp_path / "hoc-bu.xlsx"
    code, _, err = await cli("absence", "makeup", "--conference", "HN1", "-o", str(xlsx))
    assert code == 0 and "4 người" in err
    sheet = load_workbook(xlsx).active
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == ["A6", "A8", "C2", "C3"]
    code, _, _ = await cli("absence", "remove", "--conference", "HN1", "A8")
    code, out, _ = await cli("absence", "list", "--conference", "HN1", "--reason", "sick")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["A6"]
