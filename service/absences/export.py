"""The make-up list (who owes a make-up session) as files: CSV (UTF-8 with a BOM, for
Excel) and XLSX. Text cells are made formula-safe (text.spreadsheet_safe): a name that
starts with `=` is shown, never run. Built in a thread: CPU work stays off the loop."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from diemcau.text import spreadsheet_safe

COLUMNS = (
    "external_id",
    "full_name",
    "category",
    "site_code",
    "site_name",
    "unit_code",
    "reason",
    "note",
)
HEADINGS = {
    "vi": ("Mã đại biểu", "Họ và tên", "Thành phần", "Mã điểm cầu", "Điểm cầu", "Đơn vị",
           "Lý do vắng", "Ghi chú"),
    "en": ("External id", "Full name", "Category", "Site code", "Site", "Unit", "Reason", "Note"),
}  # fmt: skip
WORDS = {
    "member": "Đảng viên",
    "non_member": "Quần chúng",
    "guest": "Khách mời",
    "sick": "Ốm",
    "on_duty": "Công tác",
    "travel": "Đi xa",
    "other": "Khác",
}


def _cells(row: Any, language: str) -> list[str]:
    out = []
    for name in COLUMNS:
        value = row[name] or ""
        if language == "vi" and name in ("category", "reason"):
            value = WORDS.get(value, value)
        out.append(spreadsheet_safe(str(value)))
    return out


def makeup_csv(rows: Iterable[Any]) -> bytes:
    """The list as CSV: a header of field names, then a row per delegate."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_cells(row, "en"))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def makeup_xlsx(rows: Iterable[Any], language: str = "vi") -> bytes:
    """The list as an XLSX sheet with headings in `language` and a frozen header row."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Học bù" if language == "vi" else "Make-up")
    sheet.freeze_panes = "A2"
    widths = (14, 30, 14, 14, 30, 12, 14, 40)
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    bold = Font(bold=True)
    header = []
    for text in HEADINGS["en" if language == "en" else "vi"]:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(_cells(row, language))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
