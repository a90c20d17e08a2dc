"""What a cell may bring in from a spreadsheet, caught while the file is read, for every
import alike: text garbled by the wrong character set, the apostrophe the service's own
files put before a formula character, and an id a spreadsheet turned into a number.

Garbled text: a UTF-8 file opened as Windows-1252 or Latin-1 (LibreOffice's and Excel's
guess for a CSV without a BOM) and saved again turns "Nguyễn Thị Ánh" into "Nguyá»…n
Thá»‹ Ãnh". Each Vietnamese letter becomes a lead character followed by what a UTF-8
continuation byte (0x80-0xBF) reads as in those character sets: a Latin-1 symbol, one of
Windows-1252's punctuation marks, or, for the five bytes Windows-1252 leaves undefined,
LibreOffice's private-use U+F181... . Real Vietnamese text has none of these characters
but a few punctuation marks (a dash, a curly quote), so a cell without any is clean and
costs one search, a whole batch of rows at once; only a cell with one is judged
(`garbled`, with ftfy's codecs and badness measure).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from diemcau.errors import Msg
from diemcau.tabular.problems import MAX_ERRORS, row_error
from diemcau.text import shown

# The continuation bytes as Latin-1 and Windows-1252 show them, and LibreOffice's
# private-use stand-ins for the bytes Windows-1252 does not define (U+F100 + the byte).
# Latin-1 shows 0x80-0x9F as C1 controls, which a cell may hold for other reasons (and
# is refused for): those count as garbling only when the cell decodes (see `garbled`).
_CONTINUATION = "\xa0-\xbf" + "ŒœŠšŸŽžƒˆ˜–—‘’‚“”„†‡•…‰‹›€™" + "\uf180-\uf1bf"
SUSPECT = re.compile(f"[\x80-\x9f{_CONTINUATION}]")
_SHOWN = re.compile(f"[{_CONTINUATION}]")
_LIBREOFFICE_BYTES = {0xF100 + b: b for b in range(0x80, 0xC0)}

# What the service writes before a text cell starting with a formula character
# (text.spreadsheet_safe), read back as the cell it protected.
_PROTECTED = ("'=", "'+", "'-", "'@")

# Id columns: a number stored in one may have lost its leading zeros.
ID_COLUMNS = ("external_id",)

GARBLED_HINT = Msg(
    "Tệp có chữ bị lỗi bảng mã: khi mở hoặc lưu tệp CSV, hãy chọn bộ ký tự UTF-8 "
    "(«Unicode (UTF-8)» trong LibreOffice, «CSV UTF-8» trong Excel) rồi nhập lại",
    "the file has garbled text: when opening or saving the CSV, choose the UTF-8 "
    "character set ('Unicode (UTF-8)' in LibreOffice, 'CSV UTF-8' in Excel), then import again",
)
ZEROS_FIX = Msg(
    "Bảng tính có thể đã bỏ các số 0 ở đầu mã: định dạng cột là Text (Văn bản) rồi nhập "
    "lại, hoặc nhập tệp gốc",
    "a spreadsheet may have dropped the leading zeros of the ids: format the column as "
    "Text and import again, or import the original file",
)


class Number(str):
    """A cell an XLSX stores as a number, as text ('123', where 000123 was typed)."""

    __slots__ = ()


class Sink(Protocol):
    """Where reading reports what it finds (the roster's Checker is one); it lists the
    first errors and counts them all."""

    error_count: int

    def fail(self, row: int, field: str, message: Msg | str) -> None: ...

    def warn(self, row: int, field: str, message: Msg | str) -> None: ...


@dataclass(kw_only=True)
class Found:
    """A Sink that keeps the first MAX_ERRORS errors and warnings and counts them all."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0

    def fail(self, row: int, field: str, message: Msg | str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(row_error(row, field, message))

    def warn(self, row: int, field: str, message: Msg | str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_ERRORS:
            self.warnings.append(row_error(row, field, message))


def garbled(value: str) -> str | None:
    """What a cell garbled by the wrong character set probably read (itself when nothing
    better is found), or None when it reads right.

    Judged, for a cell with a suspect character, by encoding it back to the bytes
    Windows-1252 showed: garbled text then decodes as UTF-8 (a few valid multi-byte
    sequences by chance are next to impossible), else word by word, a word that lost an
    undefined byte on the way being mended; and, for any other garbling, by ftfy's
    badness measure and its fix.
    """
    if SUSPECT.search(value) is None:
        return None
    # Imported here: ftfy takes 0.2 s to load, which every command would pay.
    import ftfy.bad_codecs  # noqa: F401  (registers "sloppy-windows-1252")
    from ftfy import badness, fix_encoding

    text = value.translate(_LIBREOFFICE_BYTES)
    whole = _redecoded(text)
    if whole is not None:
        return whole if whole != text else None
    words = text.split(" ")
    mended = [_redecoded(w) or _mended(w) or w for w in words]
    if mended != words:
        return " ".join(mended)
    if _SHOWN.search(text) is None:
        return None  # a control character only: refused as one, not as garbling
    return fix_encoding(text) if badness.is_bad(text) else None


def _redecoded(text: str) -> str | None:
    """`text` as the UTF-8 its Windows-1252 bytes spell, or None when they spell none."""
    try:
        return text.encode("sloppy-windows-1252").decode("utf-8")
    except UnicodeError:
        return None


# Bytes Windows-1252 leaves undefined; some programs drop them ("Ánh" is C3 81 6E 68,
# read "Ã" then nothing). In the order a guess tries them.
_DROPPED = (0x81, 0x90, 0x8D, 0x9D, 0x8F)
_VIETNAMESE = set(
    "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
    "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬEÈÉẺẼẸÊỀẾỂỄỆIÌÍỈĨỊOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰYỲÝỶỸỴĐ"
    "“”‘’–—…"  # and the punctuation whose last byte is one of them
)


def _mended(word: str) -> str | None:
    """A word whose bytes lack one of the undefined bytes here and there, mended where
    a letter of Vietnamese (or a quote or dash) comes out: the first such, so Ã is
    taken for Á before Í."""
    try:
        raw = word.encode("sloppy-windows-1252")
    except UnicodeError:
        return None
    for _ in range(4):  # a few lost bytes in a word at most
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason not in ("invalid continuation byte", "unexpected end of data"):
                return None
            tries = (raw[: exc.end] + bytes([b]) + raw[exc.end :] for b in _DROPPED)
            raw = next((t for t in tries if _letter_at(t, exc.start)), b"")
            if not raw:
                return None
    return None


def _letter_at(raw: bytes, start: int) -> bool:
    size = 2 if raw[start] < 0xE0 else 3 if raw[start] < 0xF0 else 4
    try:
        return raw[start : start + size].decode("utf-8") in _VIETNAMESE
    except UnicodeDecodeError:
        return False


def unprotected(value: str) -> str:
    """A cell without the apostrophe the service put before a formula character."""
    return value[1:] if value.startswith(_PROTECTED) else value


def _quoted(value: str) -> str:
    return f"«{shown(value)}»"  # a control character is named, never printed


def garbled_message(value: str, fixed: str) -> Msg:
    if fixed == value:
        return Msg(f"Chữ bị lỗi bảng mã: {_quoted(value)}", f"garbled text: {_quoted(value)}")
    return Msg(
        f"Chữ bị lỗi bảng mã: {_quoted(value)}, có lẽ là {_quoted(fixed)}",
        f"garbled text: {_quoted(value)}, probably {_quoted(fixed)}",
    )


def ids_message(count: int, rows: Sequence[int]) -> Msg:
    """The one warning for a file whose ids are numbers and whose other ids say nothing
    of a fixed width."""
    shown = ", ".join(str(r) for r in rows[:5]) + (", …" if count > 5 else "")
    return Msg(
        f"Ô này là số; các số 0 ở đầu có thể đã mất ({count} ô của cột là số: dòng "
        f"{shown}); nếu mã có số 0 ở đầu, định dạng cột là Text (Văn bản) hoặc nhập tệp gốc",
        f"this cell is a number; leading zeros may have been lost ({count} cells of the "
        f"column are numbers: rows {shown}); if ids start with zeros, format the column as "
        "Text or import the original file",
    )


class CellChecks:
    """The checks of one file's cells, row by row, reporting to a Sink.

    `names` are the header's columns ('' for one skipped). Garbled cells are reported
    and replaced by what they probably read, so that later checks (a category, a code)
    judge the text the person meant, not the garbling; the file gets one hint about
    UTF-8. Number cells of an id column are tallied; `finish` judges them against the
    file's text ids (see there).
    """

    def __init__(self, names: Sequence[str], sink: Sink, numbers: bool) -> None:
        self.names = list(names)
        self.sink = sink
        self.hinted = False
        self.ids = [i for i, n in enumerate(self.names) if n in ID_COLUMNS] if numbers else []
        self.number_rows: dict[int, list[tuple[int, str]]] = {}  # digits -> (row, cell)
        self.number_count: Counter[int] = Counter()
        self.text_widths: Counter[int] = Counter()  # lengths of all-digit text ids
        self.zero_led = False

    def look(self, rows: list[tuple[int, list[str]]], start: int) -> None:
        """Check a batch of raw rows (index, cells), fixing cells in place."""
        text = "\x1f".join(["\x1f".join(raw) for _, raw in rows])
        if "'" in text or SUSPECT.search(text) is not None:
            for index, raw in rows:
                self._row(index - start, raw)
        for at in self.ids:
            for index, raw in rows:
                if at < len(raw):
                    self._id(index - start, at, raw[at])

    def _row(self, number: int, raw: list[str]) -> None:
        for at, cell in enumerate(raw[: len(self.names)]):
            if not cell or not self.names[at]:
                continue
            if cell[0] == "'":
                raw[at] = cell = unprotected(cell)
            fixed = garbled(cell)
            if fixed is not None:
                self._garbled(number, self.names[at], cell, fixed)
                raw[at] = fixed

    def _garbled(self, number: int, name: str, cell: str, fixed: str) -> None:
        if not self.hinted:
            self.hinted = True
            self.sink.fail(0, "", GARBLED_HINT)
        self.sink.fail(number, name, garbled_message(cell.strip(), fixed.strip()))

    def _id(self, number: int, at: int, cell: str) -> None:
        if type(cell) is Number:
            digits = cell.strip()
            if digits.isdigit():
                width = len(digits)
                self.number_count[width] += 1
                kept = self.number_rows.setdefault(width, [])
                if len(kept) < MAX_ERRORS:
                    kept.append((number, digits))
            return
        value = cell.strip()
        if value.isascii() and value.isdigit():
            self.text_widths[len(value)] += 1
            self.zero_led = self.zero_led or value[0] == "0"

    def finish(self) -> None:
        """Number cells in an id column: when the file's other all-digit ids are text of
        one width with leading zeros, a shorter number has lost its zeros (an error on
        each, and the fix once); otherwise one warning, since nothing tells."""
        if not self.number_count:
            return
        name = self.names[self.ids[0]]
        widths = list(self.text_widths)
        width = widths[0] if len(widths) == 1 and self.zero_led else None
        if width is None:
            firsts = sorted(r for rows in self.number_rows.values() for r, _ in rows)
            total = sum(self.number_count.values())
            self.sink.warn(firsts[0], name, ids_message(total, firsts))
            return
        short = [(r, c) for w, rows in self.number_rows.items() if w < width for r, c in rows]
        if not short:
            return
        self.sink.fail(0, name, ZEROS_FIX)
        for row, cell in sorted(short)[:MAX_ERRORS]:
            self.sink.fail(row, name, _lost_zeros(cell, width))
        # Past the cells kept, the rest are counted (an error each) but not listed.
        total = sum(n for w, n in self.number_count.items() if w < width)
        self.sink.error_count += total - min(len(short), MAX_ERRORS)


def _lost_zeros(cell: str, width: int) -> Msg:
    return Msg(
        f"Ô này là số {cell}; các mã khác của tệp có {width} chữ số, nên các số 0 ở đầu đã mất",
        f"this cell is the number {cell}; the file's other ids have {width} digits, so its "
        "leading zeros were lost",
    )
