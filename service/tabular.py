"""Spreadsheets in: CSV (UTF-8, with or without BOM) and XLSX, as numbered rows of text.

Row 1 is the first data row (the header is row 0), so the numbers in an error match what
a person sees below the header in Excel. Header problems and undecodable files are
reported as `import_failed` problems before any row is read.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
import zipfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from diemcau.errors import Msg, Problem

CSV = "csv"
XLSX = "xlsx"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = ("text/csv", "application/csv", "text/plain")
# Columns people add to spreadsheets by habit ("STT": the row's number) and that we skip.
IGNORED_COLUMNS = frozenset({"stt", "no", "#"})
MAX_ERRORS = 1000


def row_error(row: int, field: str, message: Msg | str) -> dict[str, Any]:
    return {"row": row, "field": field, "message": message}


def import_failed(errors: list[dict[str, Any]], total: int | None = None) -> Problem:
    """The 422 for a file with bad rows; at most MAX_ERRORS are listed, all are counted."""
    total = len(errors) if total is None else total
    shown = errors[:MAX_ERRORS]
    extra: dict[str, Any] = {"error_count": total}
    if total > len(shown):
        extra["errors_truncated"] = True
    detail = Msg(f"{total} lỗi; không có dòng nào được lưu", f"{total} errors; nothing was saved")
    return Problem("import_failed", detail, errors=shown, **extra)


def kind_of(media_type: str, head: bytes) -> str:
    """CSV or XLSX, from the declared media type, or from the first bytes when vague."""
    media = media_type.split(";")[0].strip().lower()
    if media == XLSX_MEDIA or (media in ("application/octet-stream", "") and head[:2] == b"PK"):
        return XLSX
    if media in CSV_MEDIA or media in ("application/octet-stream", ""):
        return CSV
    raise Problem(
        "unsupported_media_type",
        Msg(
            f"Chỉ nhận CSV (text/csv) hoặc XLSX, không nhận {media}",
            f"send text/csv or {XLSX_MEDIA}, not {media}",
        ),
    )


def clean(value: Any) -> str:
    """A cell as trimmed NFC text ('' for empty); whole-number floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


@dataclass(frozen=True)
class Header:
    names: list[str]  # one per column; '' for a column we skip


def check_header(raw: Sequence[Any], columns: Sequence[str], required: Sequence[str]) -> Header:
    """Map header cells to known columns, or fail naming what is missing or unknown."""
    names = [clean(c).lower().replace(" ", "_") for c in raw]
    errors = []
    seen: set[str] = set()
    out = []
    for name in names:
        if name in IGNORED_COLUMNS or name == "":
            out.append("")
            continue
        if name not in columns:
            errors.append(
                row_error(
                    0,
                    name,
                    Msg(
                        f"Cột không xác định; các cột hợp lệ: {', '.join(columns)}",
                        f"unknown column; expected: {', '.join(columns)}",
                    ),
                )
            )
        elif name in seen:
            errors.append(row_error(0, name, Msg("Cột bị lặp", "column appears twice")))
        seen.add(name)
        out.append(name)
    for name in required:
        if name not in seen:
            errors.append(row_error(0, name, Msg("Thiếu cột bắt buộc", "required column missing")))
    if errors:
        raise import_failed(errors)
    return Header(out)


def not_utf8(path: Path) -> Problem:
    """The 422 for a CSV that is not UTF-8, naming the first bad byte and its line.

    Only called once decoding has failed, so it may read the file again: the streaming
    decoder reads ahead in blocks and cannot say exactly where the bad byte was.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            held = decoder.getstate()[0]  # an unfinished character from the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start - len(held), 0)
                return _not_utf8_problem(lines + block.count(b"\n", 0, start), offset + start)
            offset += len(block)
            lines += block.count(b"\n")
    return _not_utf8_problem(lines, offset)  # the file ends inside a character


def _not_utf8_problem(line: int, offset: int) -> Problem:
    return import_failed(
        [
            row_error(
                line,
                "",
                Msg(
                    f"Tệp không phải UTF-8 (byte {offset}); hãy lưu dạng 'CSV UTF-8'",
                    f"not UTF-8 (byte {offset}); save the file as 'CSV UTF-8'",
                ),
            )
        ]
    )


def open_csv(path: Path) -> Generator[list[str]]:
    """The raw rows of a CSV file, streamed: the file is decoded as it is read.

    The delimiter (comma, semicolon or tab) is the one the first line uses most. A file
    that is not UTF-8 raises `not_utf8` wherever the bad byte is, even mid-file.
    """
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            first = fh.readline()
            fh.seek(0)
            # utf-8-sig only drops the BOM at the very start of decoding: seek(0) resets it
            yield from csv.reader(fh, delimiter=max((",", ";", "\t"), key=first.count))
        except UnicodeDecodeError:
            raise not_utf8(path) from None


def _xlsx_rows(path: Path) -> Generator[Sequence[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # A file object, not the path: openpyxl judges a path by its extension, and uploads
    # are temporary files with none.
    with open(path, "rb") as fh:
        try:
            book = load_workbook(fh, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            message = Msg(f"Không đọc được tệp XLSX: {exc}", f"cannot read the XLSX file: {exc}")
            raise import_failed([row_error(0, "", message)]) from None
        try:
            sheet = book.worksheets[0]
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()


def read_header(
    path: Path, kind: str, columns: Sequence[str], required: Sequence[str]
) -> list[str]:
    """The known columns a file's header names, checked as `read_rows` checks them.

    Imports use it to tell a column the file leaves out (keep what is stored) from an
    empty cell (clear it).
    """
    rows = _xlsx_rows(path) if kind == XLSX else open_csv(path)
    try:
        for raw in rows:
            if any(clean(c) for c in raw):
                return [n for n in check_header(raw, columns, required).names if n]
        return []
    finally:
        rows.close()


def read_rows(
    path: Path, kind: str, columns: Sequence[str], required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for every non-blank data row; raises on a bad header."""
    rows = _xlsx_rows(path) if kind == XLSX else open_csv(path)
    header = None
    for raw in rows:
        if header is None:
            if not any(clean(c) for c in raw):
                continue  # blank lines above the header
            header = check_header(raw, columns, required)
            number = 0
            continue
        number += 1
        values = [clean(c) for c in raw]
        if not any(values):
            continue
        if len(values) > len(header.names) and any(values[len(header.names) :]):
            raise import_failed(
                [
                    row_error(
                        number,
                        "",
                        Msg(
                            "Dòng có nhiều ô hơn tiêu đề", "the row has more cells than the header"
                        ),
                    )
                ]
            )
        yield number, {n: v for n, v in zip(header.names, values, strict=False) if n}
    if header is None:
        raise import_failed(
            [
                row_error(
                    0,
                    "",
                    Msg(
                        "Tệp trống: cần dòng tiêu đề và ít nhất một dòng dữ liệu",
                        "the file is empty: a header and at least one row are needed",
                    ),
                )
            ]
        )
