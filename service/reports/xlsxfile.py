"""`report.xlsx`: sheets `Tổng hợp` (the headline, totals against the targets, sites by
level, the stamp), `Điểm cầu` (report.csv's columns), `Cờ` (flags and resolutions), then
one per unit level (each unit's subtree rolled up).

Numbers are stored as numbers (a rate as the fraction 0.9787) with display formats
tagged Vietnamese (`[$-42A]#,##0`, `[$-42A]0.00%`): LibreOffice shows them `11.873` and
`97,87%` whatever the computer's settings; Excel uses the computer's separators (a
Vietnamese Windows shows the same). Header rows are frozen; text cells are formula-safe.
Written with openpyxl's write-only workbook, so 40,000 sites stream into the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from diemcau.reconcile import words
from diemcau.reconcile.model import CATEGORIES, Reconciliation, Tally
from diemcau.reports.common import (
    CATEGORY,
    SITE_COLUMNS,
    Stamp,
    headline,
    level_word,
    local,
    span,
    stamp_lines,
)
from diemcau.text import spreadsheet_safe
from diemcau.units import LEVELS

INT = "[$-42A]#,##0"
RATE = "[$-42A]0.00%"
TARGET = "[$-42A]0%"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
RED = Font(color="B00020", bold=True)
NAMES = Font(italic=True, color="808080", size=8)
HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
WRAP = Alignment(wrap_text=True, vertical="top")

SUMMARY = "Tổng hợp"
SITES = "Điểm cầu"
FLAGS = "Cờ"


class Sheet:
    """A write-only sheet with typed cells: text made formula-safe, numbers formatted."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        self.sheet = sheet

    def cell(self, value: Any, kind: str = "auto", font: Font | None = None) -> WriteOnlyCell:
        if isinstance(value, str):
            value = spreadsheet_safe(value)
        cell = WriteOnlyCell(self.sheet, value=value)
        if kind == "rate" and value is not None:
            cell.number_format = RATE
        elif kind == "target" and value is not None:
            cell.number_format = TARGET
        elif isinstance(value, int) and not isinstance(value, bool):
            cell.number_format = INT
        if font is not None:
            cell.font = font
        return cell

    def row(
        self, values: Iterable[Any], kinds: Sequence[str] = (), font: Font | None = None
    ) -> None:
        out = []
        for i, value in enumerate(values):
            out.append(self.cell(value, kinds[i] if i < len(kinds) else "auto", font))
        self.sheet.append(out)

    def header(self, headings: Iterable[str]) -> None:
        out = []
        for text in headings:
            cell = self.cell(text, font=BOLD)
            cell.fill = HEAD_FILL
            cell.alignment = WRAP
            out.append(cell)
        self.sheet.append(out)

    def widths(self, widths: Sequence[float]) -> None:
        for i, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(i)].width = width


def _under(rate: float | None, target: float | None) -> bool:
    return rate is not None and target is not None and rate < target


def _tally_cells(t: Tally, rec: Reconciliation) -> tuple[list[Any], list[str], list[Font | None]]:
    values: list[Any] = [t.sites]
    kinds = ["int"]
    fonts: list[Font | None] = [None]
    for c in ("member", "non_member"):
        r = t.rates[c]
        values += [t.expected.get(c), t.checked_in.get(c), r]
        kinds += ["int", "int", "rate"]
        fonts += [None, None, RED if _under(r, rec.targets.get(c)) else None]
    values += [t.expected.guest, t.checked_in.guest, t.walk_ins.total]
    kinds += ["int", "int", "int"]
    fonts += [None, None, None]
    return values, kinds, fonts


def _styled_row(
    sheet: Sheet, values: list[Any], kinds: list[str], fonts: list[Font | None]
) -> None:
    sheet.sheet.append([sheet.cell(v, k, f) for v, k, f in zip(values, kinds, fonts, strict=True)])


TALLY_HEADINGS = {
    "vi": [
        "Số điểm cầu",
        "ĐV dự kiến",
        "ĐV điểm danh",
        "Tỷ lệ ĐV",
        "QC dự kiến",
        "QC điểm danh",
        "Tỷ lệ QC",
        "KM dự kiến",
        "KM điểm danh",
        "Vãng lai",
    ],
    "en": [
        "Sites",
        "Members expected",
        "Members checked in",
        "Member rate",
        "Non-members expected",
        "Non-members checked in",
        "Non-member rate",
        "Guests expected",
        "Guests checked in",
        "Walk-ins",
    ],
}


def _summary(book: Workbook, rec: Reconciliation, s: Stamp) -> None:
    lang, vi = s.language, s.language != "en"
    sheet = Sheet(book.create_sheet(SUMMARY))
    sheet.sheet.freeze_panes = "A2"
    sheet.widths([34, 16, 16, 14, 16, 16, 14, 14, 14, 12, 12])
    c = rec.conference
    sheet.row(
        [("BÁO CÁO KẾT QUẢ ĐIỂM DANH HỘI NGHỊ" if vi else "CONFERENCE ATTENDANCE REPORT")],
        font=TITLE,
    )
    sheet.row([f"{c.code}: {c.title}"], font=BOLD)
    sheet.row(
        [("Thời gian: " if vi else "Time: ") + span(c.starts_at, c.ends_at, c.timezone, lang)]
    )
    if rec.scope is not None:
        sheet.row([("Phạm vi: đơn vị " if vi else "Scope: unit ") + rec.scope])
    for line in stamp_lines(s, c.timezone):
        sheet.row([line], font=RED if not s.signed else BOLD)
    sheet.row([])
    for line in headline(rec, lang):
        sheet.row([line])
    sheet.row([])
    sheet.header(
        [
            "Thành phần" if vi else "Category",
            "Dự kiến" if vi else "Expected",
            "Điểm danh" if vi else "Checked in",
            "Tỷ lệ" if vi else "Rate",
            "Chỉ tiêu" if vi else "Target",
            "Kết quả" if vi else "Result",
        ]
    )
    t = rec.totals
    for cat in CATEGORIES:
        rate, target = t.rates[cat], rec.targets.get(cat)
        verdict = None
        if rate is not None and target is not None:
            met = not _under(rate, target)
            verdict = ("đạt" if met else "chưa đạt") if vi else ("met" if met else "not met")
        fonts = [None, None, None, RED if _under(rate, target) else None, None, None]
        values = [
            CATEGORY[cat].text(lang),
            t.expected.get(cat),
            t.checked_in.get(cat),
            rate,
            target,
            verdict,
        ]
        _styled_row(sheet, values, ["text", "int", "int", "rate", "target", "text"], fonts)
    sheet.row(["Vãng lai" if vi else "Walk-ins", None, t.walk_ins.total])
    total_in = t.checked_in.total + t.walk_ins.total
    sheet.row(
        ["Tổng số người dự" if vi else "Attended in all", t.expected.total, total_in], font=BOLD
    )
    sheet.row([])
    sheet.row(["Điểm cầu theo cấp" if vi else "Sites by level"], font=BOLD)
    sheet.header(["Cấp" if vi else "Level", *TALLY_HEADINGS[lang]])
    for lv in rec.levels:
        values, kinds, fonts = _tally_cells(lv.tally, rec)
        _styled_row(sheet, [level_word(lv.level, lang), *values], ["text", *kinds], [None, *fonts])
    values, kinds, fonts = _tally_cells(t, rec)
    _styled_row(sheet, ["Tổng" if vi else "Total", *values], ["text", *kinds], [BOLD, *fonts])
    sheet.row([])
    open_ = len(rec.open_flags())
    sheet.row(["Cờ" if vi else "Flags", len(rec.flags)], font=BOLD)
    sheet.row(["Chưa xử lý" if vi else "Open", open_])
    sheet.row(["Đã xử lý" if vi else "Resolved", len(rec.flags) - open_])
    sheet.row([])
    sheet.row(["SHA-256", s.sha256])
    sheet.row(["Trạng thái báo cáo" if vi else "Report status", s.status])
    sheet.row(
        [
            ("Ký xác nhận lúc" if vi else "Signed off at")
            if s.signed
            else ("Số liệu lúc" if vi else "Figures as of"),
            local(s.at, c.timezone),
        ]
    )


def _sites(book: Workbook, rec: Reconciliation, s: Stamp) -> None:
    sheet = Sheet(book.create_sheet(SITES))
    sheet.sheet.freeze_panes = "C3"
    sheet.widths([c.width if c.kind == "text" else 11 for c in SITE_COLUMNS])
    sheet.header(c.heading(s.language) for c in SITE_COLUMNS)
    sheet.row([c.name for c in SITE_COLUMNS], font=NAMES)
    kinds = [c.kind for c in SITE_COLUMNS]
    for row in rec.sites:
        values = [c.value(row) for c in SITE_COLUMNS]
        values[3] = level_word(values[3], s.language)
        sheet.row(values, kinds)


def _flags(book: Workbook, rec: Reconciliation, s: Stamp) -> None:
    lang, vi = s.language, s.language != "en"
    sheet = Sheet(book.create_sheet(FLAGS))
    sheet.sheet.freeze_panes = "A2"
    sheet.widths([30, 12, 30, 50, 12, 18, 10, 40, 16, 22])
    sheet.header(
        [
            "Mã cờ",
            "Điểm cầu",
            "Loại",
            "Số liệu",
            "Trạng thái",
            "Cách xử lý",
            "Con số",
            "Ghi chú",
            "Người xử lý",
            "Lúc",
        ]
        if vi
        else [
            "Flag",
            "Site",
            "Kind",
            "Numbers",
            "Status",
            "Resolution",
            "Figure",
            "Note",
            "By",
            "At",
        ]
    )
    zone = rec.conference.timezone
    for f in rec.flags:
        r = f.resolution
        status = ("Đã xử lý" if vi else "resolved") if r else ("Chưa xử lý" if vi else "open")
        values = [
            f.id,
            f.site_code,
            words.KINDS[f.kind].text(lang),
            words.summary(f, lang),
            status,
            None if r is None else words.ACTIONS[r.action].text(lang),
            None if r is None else r.figure,
            None if r is None else r.note,
            None if r is None else r.by,
            None if r is None else local(r.at, zone),
        ]
        sheet.row(values, font=None if r else RED)


def _levels(book: Workbook, rec: Reconciliation, s: Stamp) -> None:
    lang, vi = s.language, s.language != "en"
    by_level: dict[str, list[Any]] = {}
    for u in rec.units:
        by_level.setdefault(u.level, []).append(u)
    names = {u.unit_code: u.unit_name for u in rec.units}
    for level in LEVELS:
        units = by_level.get(level)
        if not units:
            continue
        sheet = Sheet(book.create_sheet(level_word(level, lang)[:31]))
        sheet.sheet.freeze_panes = "C2"
        sheet.widths([12, 40, 30, 10, 12, 12, 11, 12, 12, 11, 11, 11, 10])
        sheet.header(
            [
                "Mã đơn vị" if vi else "Unit code",
                "Đơn vị" if vi else "Unit",
                "Trực thuộc" if vi else "Parent",
                *TALLY_HEADINGS[lang],
            ]
        )
        for u in units:
            values, kinds, fonts = _tally_cells(u.tally, rec)
            parent = names.get(u.parent_code or "", u.parent_code)
            _styled_row(
                sheet,
                [u.unit_code, u.unit_name, parent, *values],
                ["text", "text", "text", *kinds],
                [None, None, None, *fonts],
            )


def report_xlsx(rec: Reconciliation, s: Stamp, tag: str) -> bytes:
    book = Workbook(write_only=True)
    book.properties.title = f"{rec.conference.code}: {rec.conference.title}"
    book.properties.subject = f"report_sha256={s.sha256}"
    book.properties.keywords = tag
    _summary(book, rec, s)
    _sites(book, rec, s)
    _flags(book, rec, s)
    _levels(book, rec, s)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
