"""The report files of the conference worked out by hand (tests/reconcile_world.py, its
figures in docs/reconciliation.md), read back: report.csv, report.xlsx (openpyxl) and
report.pdf (its text, by pdfium) say the same numbers as the reconciliation, in
Vietnamese style; a draft says so, a signed report carries the signed hash and time;
formula-looking text is neutralised; the scan log holds every scan; `diemcau report
--verify` tells a true file from a tampered one, and a file from changed data; a unit
organiser gets their subtree's, nobody else anything."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pypdfium2
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from diemcau import reports
from diemcau.reconcile.model import ByCategory, Conference, Reconciliation, Tally
from diemcau.reports import scanlog
from diemcau.reports.scanlog import COLUMNS as SCAN_COLUMNS
from tests.conftest import Run
from tests.factory import Factory, bearer
from tests.problems import assert_problem
from tests.reconcile_world import Hand, happen, late_upload, make_conference

URL = "/api/v1/conferences/HN1"

# The hand-computed figures (docs/reconciliation.md), as report.csv's columns.
SITES = {
    "HG-01": {"capacity": "", "expected_member": "2", "checked_in_member": "2",
              "expected_non_member": "0", "checked_in_non_member": "0", "walk_ins": "0",
              "moved_in": "0", "moved_out": "0", "exits": "0", "reentries": "0", "present": "2",
              "headcount_start": "2", "headcount_after_break": "2", "headcount_end": "2",
              "rate_member": "1.0", "rate_non_member": ""},
    "LC-01": {"capacity": "7", "expected_member": "6", "checked_in_member": "5",
              "expected_non_member": "2", "checked_in_non_member": "0", "expected_guest": "1",
              "checked_in_guest": "1", "walk_ins": "2", "moved_in": "0", "moved_out": "1",
              "exits": "2", "reentries": "1", "present": "7", "headcount_start": "8",
              "headcount_after_break": "6", "headcount_end": "7", "absent_sick": "1",
              "makeup_owed": "1", "rate_member": "0.8333", "rate_non_member": "0.0"},
    "LC-02": {"capacity": "100", "expected_member": "4", "checked_in_member": "5",
              "expected_non_member": "1", "checked_in_non_member": "2", "walk_ins": "0",
              "moved_in": "2", "moved_out": "0", "present": "7", "headcount_start": "20",
              "headcount_after_break": "20", "headcount_end": "20", "rate_member": "1.25"},
    "LC-03": {"capacity": "50", "expected_member": "3", "checked_in_member": "0",
              "walk_ins": "0", "moved_out": "1", "present": "0", "headcount_start": "",
              "headcount_after_break": "", "headcount_end": "", "absent_on_duty": "1",
              "absent_travel": "1", "makeup_owed": "1", "rate_member": "0.0"},
}  # fmt: skip
FLAGS = [
    "LC-01.over_capacity", "LC-01.hall_emptied", "LC-01.under_target",
    "LC-02.headcount_mismatch", "LC-02.kiosk_silent", "LC-02.many_moved",
    "LC-03.no_checkins", "LC-03.no_headcount", "LC-03.under_target",
]  # fmt: skip
HEADLINE = (
    "Toàn hội nghị có 4 điểm cầu với 17 người dự: 12/15 đảng viên (80,00%) "
    "và 2/3 quần chúng (66,67%)."
)


@pytest.fixture
async def hand(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    hand = await make_conference(factory, db, client)
    await happen(hand)
    await late_upload(hand)
    return hand


async def fetch(
    hand: Hand, name: str, headers: dict[str, str] | None = None, **params: str
) -> tuple[bytes, Any]:
    resp = await hand.client.get(f"{URL}/{name}", headers=headers or hand.organiser, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.read(), resp


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def pdf_text(data: bytes) -> str:
    doc = pypdfium2.PdfDocument(data)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}


async def sign_off(hand: Hand) -> dict[str, Any]:
    await hand.close()
    for flag_id in FLAGS:
        body: dict[str, Any] = {"action": "accept_scans", "note": "đã xem"}
        if flag_id == "LC-02.headcount_mismatch":
            body = {"action": "corrected", "figure": 7, "note": "đếm nhầm"}
        resp = await hand.client.post(
            f"{URL}/reconciliation/flags/{flag_id}/resolve", json=body, headers=hand.organiser
        )
        assert resp.status == 200, await resp.text()
    resp = await hand.client.post(f"{URL}/sign-off", headers=hand.organiser)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_the_draft_report_files_say_the_hand_computed_figures(hand: Hand) -> None:
    data, resp = await fetch(hand, "report.csv")
    assert resp.content_type == "text/csv" and resp.headers["X-Report-Status"] == "draft"
    digest = resp.headers["X-Report-SHA256"]
    rows = {r["site_code"]: r for r in csv_rows(data)}
    assert list(rows) == ["HG-01", "LC-01", "LC-02", "LC-03"]
    for code, expected in SITES.items():
        assert {k: rows[code][k] for k in expected} == expected, code
    assert rows["LC-01"]["site_name"] == "Điểm cầu LC-01" and rows["LC-02"]["unit_code"] == "TD"
    for row in rows.values():
        assert (row["conference_code"], row["report_status"]) == ("HN1", "draft")
        assert row["report_sha256"] == digest and row["report_scope"] == ""

    # A draft is stamped with the second its figures were read: another request in
    # another second is another draft, with its own hash.
    data, resp = await fetch(hand, "report.xlsx")
    digest = resp.headers["X-Report-SHA256"]
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Tổng hợp", "Điểm cầu", "Cờ", "Trung ương", "Cấp tỉnh", "Cấp huyện"]
    summary = [r for r in book["Tổng hợp"].iter_rows(values_only=True)]
    lines = [r[0] for r in summary if r and isinstance(r[0], str)]
    assert HEADLINE in lines and lines[0] == "BÁO CÁO KẾT QUẢ ĐIỂM DANH HỘI NGHỊ"
    assert any(line.startswith("BẢN NHÁP, chưa ký xác nhận") for line in lines)
    assert ("SHA-256", digest) == next(r[:2] for r in summary if r[0] == "SHA-256")
    members = next(r for r in summary if r[0] == "Đảng viên")
    assert members[:5] == ("Đảng viên", 15, 12, 0.8, 0.98) and members[5] == "chưa đạt"
    site_sheet = book["Điểm cầu"]
    assert site_sheet.freeze_panes == "C3" and book["Cờ"].freeze_panes == "A2"
    names = [c.value for c in site_sheet[2]]
    lc01 = next(r for r in site_sheet.iter_rows(min_row=3) if r[0].value == "LC-01")
    cell = dict(zip(names, lc01, strict=True))
    assert cell["checked_in_member"].value == 5 and cell["checked_in_member"].data_type == "n"
    assert cell["checked_in_member"].number_format == "[$-42A]#,##0"
    assert (
        cell["rate_member"].value == 0.8333 and cell["rate_member"].number_format == "[$-42A]0.00%"
    )
    assert cell["headcount_start"].value == 8 and cell["level"].value == "Cấp xã"
    assert site_sheet.column_dimensions["B"].width >= 40
    flags = list(book["Cờ"].iter_rows(min_row=2, values_only=True))
    assert [f[0] for f in flags] == FLAGS and {f[4] for f in flags} == {"Chưa xử lý"}
    mismatch = next(f for f in flags if f[0] == "LC-02.headcount_mismatch")
    assert mismatch[3] == "đếm 20, điểm danh 7 + vãng lai 0 (+13)"
    districts = {r[0]: r for r in book["Cấp huyện"].iter_rows(min_row=2, values_only=True)}
    assert districts["TD"][3:7] == (2, 10, 10, 1.0)  # sites, members expected/in, rate

    data, resp = await fetch(hand, "report.pdf")
    assert resp.content_type == "application/pdf" and data.startswith(b"%PDF")
    digest = resp.headers["X-Report-SHA256"]
    text = pdf_text(data)
    assert HEADLINE.replace(" và", "\r\nvà") in text or HEADLINE in text.replace("\r\n", " ")
    flat = text.replace("\r\n", " ")
    for line in ("Đảng viên: 12/15 (80,00%), chỉ tiêu từ 98% trở lên: chưa đạt.",
                 "Quần chúng: 2/3 (66,67%), chỉ tiêu từ 90% trở lên: chưa đạt.",
                 "Vãng lai (không có trong danh sách): 2 người.",
                 f"SHA-256: {digest}", "BẢN NHÁP", "Tam Đường (TD)", "83,33%",
                 "đếm 20, điểm danh 7 + vãng lai 0 (+13)", "CHƯA XỬ LÝ",
                 "Tỷ lệ điểm danh của từng đơn vị so với chỉ tiêu"):  # fmt: skip
        assert line in flat, line
    assert "Đã ký xác nhận" not in flat


async def test_a_signed_report_carries_the_signed_hash_and_time(hand: Hand) -> None:
    before, _ = await fetch(hand, "report.pdf")
    signed = await sign_off(hand)
    digest = signed["report_sha256"]
    at = datetime.fromisoformat(signed["signed_off_at"])
    shown = at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y %H:%M:%S")
    data, resp = await fetch(hand, "report.pdf")
    assert (resp.headers["X-Report-Status"], resp.headers["X-Report-SHA256"]) == ("signed", digest)
    flat = pdf_text(data).replace("\r\n", " ")
    assert f"Đã ký xác nhận lúc {shown} (+07)" in flat and f"SHA-256: {digest}" in flat
    assert "BẢN NHÁP" not in flat and "CHƯA XỬ LÝ" not in flat
    assert "hiệu chỉnh 7: đếm nhầm" in flat and "lấy số điểm danh: đã xem" in flat
    assert data != before
    rows = csv_rows((await fetch(hand, "report.csv"))[0])
    assert {(r["report_status"], r["report_sha256"]) for r in rows} == {("signed", digest)}
    assert rows[0]["report_at"] == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    book = sheets((await fetch(hand, "report.xlsx"))[0])
    summary = book["Tổng hợp"]
    assert ("SHA-256", digest) in [r[:2] for r in summary]
    assert ("Trạng thái báo cáo", "signed") in [r[:2] for r in summary]
    assert {f[4] for f in book["Cờ"][1:]} == {"Đã xử lý"}
    # The same report again is the same file: rendered from the signed content alone.
    again, _ = await fetch(hand, "report.pdf")
    assert again == data


def small_reconciliation() -> Reconciliation:
    """A reconciliation made in Python: a province with one hall, nothing flagged."""
    at = datetime(2021, 1, 28, 1, 0, tzinfo=UTC)
    conference = Conference(
        code="LC-NQ13", title="Học tập, quán triệt Nghị quyết Đại hội XIII", starts_at=at,
        ends_at=at + timedelta(hours=3), checkin_opens_at=at - timedelta(hours=1),
        timezone="Asia/Ho_Chi_Minh", host_site=None, other_site="accept",
        targets={"member": 0.98, "non_member": 0.9},
    )  # fmt: skip
    return Reconciliation(
        conference=conference, status="closed", totals=Tally(), units=[], levels=[], sites=[],
        flags=[], computed_at=at + timedelta(hours=4),
    )  # fmt: skip


def test_vietnamese_numbers_in_the_pdf() -> None:
    """Figures of the seed article's size, written as the provinces write them."""
    rec = small_reconciliation()
    big = Tally(
        expected=ByCategory(4600, 7400, 0),
        checked_in=ByCategory(4502, 7371, 0),
        walk_ins=ByCategory(0, 0, 0),
        sites=145,
    )
    rec = replace(rec, totals=big)
    stamp = reports.stamp(rec, None)
    flat = pdf_text(reports.render("pdf", rec, stamp)).replace("\r\n", " ")
    assert "145 điểm cầu với 11.873 người dự: 4.502/4.600 đảng viên (97,87%)" in flat
    assert "7.371/7.400 quần chúng (99,61%)" in flat
    assert "Đảng viên: 4.502/4.600 (97,87%), chỉ tiêu từ 98% trở lên: chưa đạt." in flat
    assert "97,27%" not in flat and "11,873" not in flat and "97.87" not in flat
    english = reports.render("pdf", rec, reports.stamp(rec, None, "en"))
    flat = pdf_text(english).replace("\r\n", " ")
    assert "4,502/4,600 members (97.87%)" in flat and "11,873 attended" in flat


async def test_formula_looking_text_is_neutralised(hand: Hand, db: asyncpg.Connection) -> None:
    await db.execute(
        "UPDATE sites SET name = '=HYPERLINK(\"http://x\",\"y\")' WHERE code = 'LC-01'"
    )
    await db.execute("UPDATE sites SET name = '+1-2' WHERE code = 'LC-02'")
    await db.execute("UPDATE units SET name = '@SUM(A1)' WHERE code = 'TD'")
    await db.execute("UPDATE delegates SET full_name = '-2+3 Nguyễn' WHERE external_id = 'A1'")
    rows = {r["site_code"]: r for r in csv_rows((await fetch(hand, "report.csv"))[0])}
    assert rows["LC-01"]["site_name"] == '\'=HYPERLINK("http://x","y")'
    assert rows["LC-02"]["site_name"] == "'+1-2"
    book = sheets((await fetch(hand, "report.xlsx"))[0])
    names = {r[0]: r[1] for r in book["Điểm cầu"][2:]}
    assert names["LC-01"] == '\'=HYPERLINK("http://x","y")' and names["LC-02"] == "'+1-2"
    assert next(r for r in book["Cấp huyện"] if r[0] == "TD")[1] == "'@SUM(A1)"
    loaded = load_workbook(io.BytesIO((await fetch(hand, "report.xlsx"))[0]))
    cell = next(r[1] for r in loaded["Điểm cầu"].iter_rows(min_row=3) if r[0].value == "LC-01")
    assert cell.data_type == "s"  # text, never a formula
    log = csv_rows((await fetch(hand, "scans.csv"))[0])
    assert {r["full_name"] for r in log if r["external_id"] == "A1"} == {"'-2+3 Nguyễn"}
    xlsx = sheets((await fetch(hand, "scans.xlsx"))[0])["Lượt quét"]
    assert {r[6] for r in xlsx[2:] if r[5] == "A1"} == {"'-2+3 Nguyễn"}


async def test_the_scan_log_holds_every_scan(hand: Hand, db: asyncpg.Connection) -> None:
    stored = await db.fetch(
        """SELECT c.scan_id::text AS scan_id, s.code, c.kiosk_id, c.scanned_at, c.received_at,
                  c.received_at - c.judged_at > interval '30 seconds' AS offline, c.result,
                  c.annulment_id IS NOT NULL AS annulled, d.external_id
             FROM checkins c JOIN sites s ON s.id = c.site_id
             LEFT JOIN delegates d ON d.id = c.delegate_id
            WHERE c.conference_id = $1""",
        hand.conference["id"],
    )
    assert len(stored) > 20
    data, resp = await fetch(hand, "scans.csv")
    assert resp.content_type == "text/csv"
    rows = csv_rows(data)
    assert list(rows[0]) == list(SCAN_COLUMNS)
    by_id = {r["scan_id"]: r for r in rows}
    assert len(rows) == len(by_id) == len(stored)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    for s in stored:
        row = by_id[s["scan_id"]]
        assert row["site_code"] == s["code"] and row["kiosk_id"] == str(s["kiosk_id"] or "")
        assert row["scanned_at"] == s["scanned_at"].astimezone(zone).isoformat()
        assert row["received_at"] == s["received_at"].astimezone(zone).isoformat()
        assert row["offline"] == str(s["offline"]).lower() and row["result"] == s["result"]
        assert row["annulled"] == str(s["annulled"]).lower()
    assert [r["annulled"] for r in rows if r["external_id"] == "A8"] == ["true"]
    (late,) = [r for r in rows if r["external_id"] == "C1" and r["site_code"] == "LC-02"]
    assert late["offline"] == "true" and late["result"] == "accepted" and late["moved"] == "true"
    # Grouped by site, each site's scans in arrival order.
    sites = [r["site_code"] for r in rows]
    assert sites == sorted(sites, key=lambda c: sites.index(c))
    data, resp = await fetch(hand, "scans.xlsx")
    sheet = sheets(data)["Lượt quét"]
    assert sheet[0][0] == "Mã lượt quét" and sheet[1] == SCAN_COLUMNS
    assert [r[0] for r in sheet[2:]] == [r["scan_id"] for r in rows]
    assert all(r[12] in (True, False) for r in sheet[2:])
    loaded = load_workbook(io.BytesIO(data))["Lượt quét"]
    assert loaded.freeze_panes == "A3" and loaded["A1"].font.b and loaded["A2"].font.i
    assert loaded.column_dimensions["G"].width >= 28  # full names
    assert loaded["C3"].data_type == "n" and loaded["M3"].data_type == "b"


async def test_a_long_scan_log_goes_on_over_sheets(
    hand: Hand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet holds 1,048,576 rows at most: 2,500,000 scans go on over three."""
    monkeypatch.setattr(scanlog, "SHEET_ROWS", 10)
    rows = csv_rows((await fetch(hand, "scans.csv"))[0])
    book = sheets((await fetch(hand, "scans.xlsx"))[0])
    count = -(-len(rows) // 10)
    assert list(book) == ["Lượt quét"] + [f"Lượt quét {i}" for i in range(2, count + 1)]
    assert all(len(sheet) - 2 == 10 for sheet in list(book.values())[:-1])
    ids = [r[0] for sheet in book.values() for r in sheet[2:]]
    assert ids == [r["scan_id"] for r in rows]


async def test_a_unit_organiser_gets_their_subtree(hand: Hand, factory: Factory) -> None:
    whole = csv_rows((await fetch(hand, "report.csv"))[0])
    lc = bearer(await factory.token("organiser", unit="LC"))
    rows = csv_rows((await fetch(hand, "report.csv", lc))[0])
    assert [r["site_code"] for r in rows] == ["LC-01", "LC-02", "LC-03"]
    assert {r["report_scope"] for r in rows} == {"LC"}
    # The hash is the whole conference's.
    assert {r["report_sha256"] for r in rows} == {whole[0]["report_sha256"]}
    book = sheets((await fetch(hand, "report.xlsx", lc))[0])
    assert ("Phạm vi: đơn vị LC",) == next(
        r[:1] for r in book["Tổng hợp"] if str(r[0]).startswith("Phạm vi")
    )
    members = next(r for r in book["Tổng hợp"] if r[0] == "Đảng viên")
    assert members[1:3] == (13, 10)  # LC: 6 + 4 + 3 expected, 5 + 5 + 0 in
    td = csv_rows((await fetch(hand, "report.csv", lc, unit="TD"))[0])
    assert [r["site_code"] for r in td] == ["LC-01", "LC-02"]
    flat = pdf_text((await fetch(hand, "report.pdf", lc))[0]).replace("\r\n", " ")
    assert "Phạm vi: Lai Châu (LC)" in flat or "Phạm vi:" in flat
    assert "HG-01" not in flat and "Hà Giang" not in flat
    log = csv_rows((await fetch(hand, "scans.csv", lc))[0])
    assert log and {r["site_code"] for r in log} <= {"LC-01", "LC-02", "LC-03"}
    for name in ("report.pdf", "report.csv", "scans.csv", "scans.xlsx"):
        resp = await hand.client.get(f"{URL}/{name}", params={"unit": "HG"}, headers=lc)
        await assert_problem(resp, 404, "not_found")


async def test_no_rights_no_report(hand: Hand, factory: Factory) -> None:
    await factory.unit("QN", parent="VN")
    nowhere = bearer(await factory.token("organiser", unit="QN"))
    tech = bearer(await factory.token("technician", unit="LC"))
    kiosk = hand.kiosks["LC-01"][0]
    for name in ("report.csv", "report.xlsx", "report.pdf", "scans.csv", "scans.xlsx"):
        await assert_problem(
            await hand.client.get(f"{URL}/{name}", headers=nowhere), 404, "not_found"
        )
        await assert_problem(await hand.client.get(f"{URL}/{name}", headers=tech), 403, "forbidden")
        await assert_problem(
            await hand.client.get(f"{URL}/{name}", headers=kiosk), 403, "forbidden"
        )
        await assert_problem(await hand.client.get(f"{URL}/{name}"), 401, "authentication_required")
        resp = await hand.client.get(f"/api/v1/conferences/NOPE/{name}", headers=hand.organiser)
        await assert_problem(resp, 404, "not_found")
        resp = await hand.client.get(f"{URL}/{name}", params={"lang": "fr"}, headers=hand.organiser)
        await assert_problem(resp, 422, "validation_failed")


async def test_verify_tells_a_true_file_from_a_tampered_one(
    hand: Hand,
    cli: Run,
    tmp_path: Path,
) -> None:
    draft = tmp_path / "nhap.csv"
    code, out, err = await cli("report", "--conference", "HN1", "--format", "csv", "-o", str(draft))
    assert code == 0 and "BẢN NHÁP" in err and len(out.strip()) == 64
    code, out, err = await cli("report", "--verify", str(draft))
    assert (code, out.strip()) == (0, "KHỚP"), err
    await sign_off(hand)
    files = {}
    for kind in ("pdf", "xlsx", "csv"):
        files[kind] = tmp_path / f"bao-cao.{kind}"
        code, out, err = await cli("report", "--conference", "HN1", "-o", str(files[kind]))
        assert code == 0 and "đã ký xác nhận" in err, err
        code, out, err = await cli("report", "--verify", str(files[kind]))
        assert (code, out.strip()) == (0, "KHỚP"), err
    # The draft was made before the flags were resolved: the data has moved on since.
    code, out, err = await cli("report", "--verify", str(draft))
    assert (code, out.strip()) == (1, "KHÔNG KHỚP") and "mã băm" in err
    # Tampered files.
    text = files["csv"].read_text()
    bad = tmp_path / "sua.csv"
    bad.write_text(
        text.replace(",Điểm cầu LC-01,TD,commune,7,6,5,", ",Điểm cầu LC-01,TD,commune,7,6,6,")
    )
    assert bad.read_text() != text
    code, out, err = await cli("report", "--verify", str(bad))
    assert ((code, out.strip()) == (1, "KHÔNG KHỚP") and "dòng" in err) or "line" in err
    book = load_workbook(files["xlsx"])
    sheet = book["Điểm cầu"]
    row = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == "LC-01")
    row[6].value = 6
    book.save(tmp_path / "sua.xlsx")
    code, out, err = await cli("report", "--verify", str(tmp_path / "sua.xlsx"))
    assert (code, out.strip()) == (1, "KHÔNG KHỚP") and "Điểm cầu!R" in err
    pdf = files["pdf"].read_bytes()
    (tmp_path / "sua.pdf").write_bytes(pdf.replace(b"/Author (diemcau)", b"/Author (khac!!)"))
    code, out, err = await cli("report", "--verify", str(tmp_path / "sua.pdf"))
    assert (code, out.strip()) == (1, "KHÔNG KHỚP")
    # Data changed behind the lock: every file, untouched, no longer matches.
    await hand.db.execute(
        "UPDATE headcounts SET members = members + 1 WHERE id = (SELECT max(id) FROM headcounts)"
    )
    for kind, path in files.items():
        code, out, err = await cli("report", "--verify", str(path))
        assert (code, out.strip()) == (1, "KHÔNG KHỚP"), kind
        assert "mã băm" in err
    code, _, err = await cli("report", "--verify", str(tmp_path / "none.pdf"))
    assert code == 2
    (tmp_path / "rac.csv").write_text("a,b\n1,2\n")
    code, _, err = await cli("report", "--verify", str(tmp_path / "rac.csv"))
    assert code == 1 and "Không đọc được tệp báo cáo" in err


async def test_the_cli_writes_the_scan_log_as_http_does(
    hand: Hand,
    cli: Run,
    tmp_path: Path,
) -> None:
    out_csv = tmp_path / "luot-quet.csv"
    code, _, err = await cli("scans", "--conference", "HN1", "-o", str(out_csv))
    assert code == 0 and "lượt quét" in err, err
    assert out_csv.read_bytes() == (await fetch(hand, "scans.csv"))[0]
    out_xlsx = tmp_path / "luot-quet.xlsx"
    code, _, err = await cli("scans", "--conference", "HN1", "--unit", "TD", "-o", str(out_xlsx))
    assert code == 0, err
    rows = sheets(out_xlsx.read_bytes())["Lượt quét"][2:]
    assert rows and {r[1] for r in rows} == {"LC-01", "LC-02"}
    code, _, err = await cli("scans", "--conference", "HN1", "-o", str(tmp_path / "x.txt"))
    assert code == 2 and "--format" in err


def test_progress_is_a_bar_on_a_terminal_and_a_line_now_and_then_otherwise() -> None:
    from diemcau.cli.report import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(("lượt quét", "scans"), tty)
    for i in range(0, 1001, 100):
        bar(i, 1000)
    bar.finish()
    assert (
        tty.getvalue().count("\r") >= 11
        and "[##############################] 1.000/1.000" in tty.getvalue()
    )
    log = io.StringIO()
    bar = Progress(("lượt quét", "scans"), log, every=3600)
    for i in range(0, 1001, 100):
        bar(i, 1000)
    bar.finish()
    assert "\r" not in log.getvalue() and len(log.getvalue().splitlines()) == 2
