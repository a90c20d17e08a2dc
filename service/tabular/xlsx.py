"""XLSX in, with bounded time and memory: the first worksheet's rows, as text.

Not openpyxl, which trusts a file: it pads every row to the sheet's declared size (a
2 KB file declaring A1:XFD1048576 kept a thread busy for nine minutes) and loads every
shared string at once (a 1 MB file holding one 1 GiB string grew the service by 2 GB).
Here the zip's table of contents and each part's uncompressed size are checked before
anything is decompressed, and XML is parsed as a stream (xlsxzip.py); rows come as the
sheet has them, a gap costing nothing; shared
strings are parsed only as far as a cell needs, into one compact buffer; and cells,
columns, rows and tag lengths are counted as they are read (limits.py).

Values are what Excel shows in data-only mode: shared and inline strings, formula
results, numbers (a whole float loses its '.0'), booleans as True/False. A date stays
the serial number it is stored as: no unit, site or roster column holds one. A number
comes as `cells.Number`, text that remembers it was a number (an id that was 000123).
"""

from __future__ import annotations

import re
import threading
import zipfile
from array import array
from collections.abc import Generator, Iterator
from pathlib import Path

from diemcau.tabular.cells import Number
from diemcau.tabular.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SHARED_STRINGS_BYTES,
    MAX_SHEET_BYTES,
    CellLimit,
    Stopped,
    sheet_text_budget,
    too_large,
)
from diemcau.tabular.xlsxzip import Feed, feed_part, locate, member, not_xlsx, open_zip

_MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",  # "strict" OOXML
)
_SHEET_TAGS = ("row", "c", "v", "is", "t", "rPh", "si")
# expat names namespaced elements "<uri>}<local>": one lookup finds what a tag is.
_TAGS = {f"{ns}}}{local}": local for ns in _MAIN for local in _SHEET_TAGS} | {
    local: local for local in _SHEET_TAGS
}
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DIGITS = "0123456789"


def _unescape(text: str) -> str:
    """Excel writes characters XML cannot carry as _xHHHH_ (a line break as _x000D_)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


class SharedStrings:
    """The workbook's shared strings, parsed only as far as the cells ask, kept as one
    UTF-8 buffer and an array of ends (a Python string each would cost 50 bytes more)."""

    def __init__(self, book: zipfile.ZipFile, name: str | None) -> None:
        self._text = bytearray()
        self._ends = array("I")  # 4 bytes each; the buffer is at most 128 MiB
        self._too_long: set[int] = set()  # kept, and refused only if a cell uses them
        self._parts: list[str] | None = None
        self._size = 0
        self._phonetic = 0
        self._feed: Feed | None = None
        if name is not None:
            handlers = (self._start, self._end, self._chars)
            limit = ("shared_strings_bytes", MAX_SHARED_STRINGS_BYTES)
            self._feed = feed_part(book, name, *limit, handlers)

    def get(self, index: int) -> str:
        """The string at `index`; CellLimit when it is over MAX_CELL_CHARS."""
        while index >= len(self._ends) and self._feed is not None and not self._feed.done:
            self._feed.next()
        if not 0 <= index < len(self._ends):
            raise not_xlsx(f"shared string {index} missing")
        if self._too_long and index in self._too_long:
            raise CellLimit()
        start = self._ends[index - 1] if index else 0
        return self._text[start : self._ends[index]].decode()

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _TAGS.get(name)
        if tag == "si":
            self._parts, self._size = [], 0
        elif tag == "rPh":
            self._phonetic += 1  # phonetic guides are not the cell's text

    def _end(self, name: str) -> None:
        tag = _TAGS.get(name)
        if tag == "rPh":
            self._phonetic -= 1
        elif tag == "si" and self._parts is not None:
            if self._size > MAX_CELL_CHARS:
                self._too_long.add(len(self._ends))
            else:
                self._text += _unescape("".join(self._parts)).encode()
            self._ends.append(len(self._text))
            self._parts = None

    def _chars(self, data: str) -> None:
        # Past the cell limit nothing more is kept: memory stays bounded per string.
        if self._parts is not None and not self._phonetic and self._size <= MAX_CELL_CHARS:
            self._size += len(data)
            self._parts.append(data)

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()


def _row_index(ref: str) -> int:
    if not (ref.isascii() and ref.isdigit()) or len(ref) > 9:
        raise not_xlsx(f"row {ref[:20]!r}")
    return int(ref)


_COLUMNS: dict[str, int] = {}


def _column(ref: str) -> int:
    """'C7' -> 3; anything right of XFD (Excel's last column) counts as very far."""
    letters = ref.rstrip(_DIGITS)
    found = _COLUMNS.get(letters)
    if found is None:
        if not letters.isascii() or not letters.isalpha() or not letters.isupper():
            raise not_xlsx(f"cell {ref[:20]!r}")
        if len(letters) > 3:
            return 1 << 20
        found = 0
        for letter in letters:
            found = found * 26 + ord(letter) - 64
        _COLUMNS[letters] = found
    return found


def _number(raw: str) -> str:
    """A number cell as text: 912345678 stays itself, 1.2E3 becomes 1200, 0.5 stays 0.5."""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and (raw[0] != "0" or raw == "0"):
        return raw
    try:
        if any(c in raw for c in ".Ee"):
            value = float(raw)
            return str(int(value)) if value.is_integer() else str(value)
        return str(int(raw))
    except ValueError:
        return raw


class _SheetReader:
    """A worksheet's rows as (row index, [text per column]), parsed as a stream."""

    def __init__(
        self,
        book: zipfile.ZipFile,
        name: str,
        strings: SharedStrings,
        stop: threading.Event,
        max_rows: int,
        max_text: int,
    ) -> None:
        handlers = (self._start, self._end, self._chars)
        self._feed = feed_part(book, name, "sheet_bytes", MAX_SHEET_BYTES, handlers)
        self._strings = strings
        self._stop = stop
        self._max_rows = max_rows
        self._text_left = self._max_text = max_text
        self._ready: list[tuple[int, list[str]]] = []
        self._index = 0
        self._row: list[str] | None = None
        self._column = 0
        self._type = "n"
        self._parts: list[str] | None = None  # the cell's value so far, once it has one
        self._collecting = False
        self._size = 0
        self._inline = False
        self._phonetic = 0

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            while not self._feed.done:
                if self._stop.is_set():
                    raise Stopped
                failed = None
                try:
                    self._feed.next()
                except CellLimit as exc:
                    failed = exc  # after the rows before it: the header gives its number
                ready, self._ready = self._ready, []
                yield from ready
                if failed is not None:
                    raise failed
        finally:
            self._feed.close()

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _TAGS.get(name)
        if tag == "c":
            ref = attrs.get("r")
            self._column = _column(ref) if ref else self._column + 1
            self._type = attrs.get("t", "n")
            self._parts = None
        elif tag == "v" or (tag == "t" and self._inline and not self._phonetic):
            if self._parts is None:
                self._parts, self._size = [], 0
            self._collecting = True
        elif tag == "row":
            ref = attrs.get("r")
            index = _row_index(ref) if ref else self._index + 1
            if index <= self._index:
                raise not_xlsx(f"row {index} out of order")
            if index > self._max_rows + 1:
                raise too_large("rows", self._max_rows)
            self._index, self._row, self._column = index, [], 0
        elif tag == "is":
            self._inline = True
        elif tag == "rPh":
            self._phonetic += 1

    def _end(self, name: str) -> None:
        tag = _TAGS.get(name)
        if tag == "v" or tag == "t":
            self._collecting = False
        elif tag == "c":
            self._cell_done()
        elif tag == "row" and self._row is not None:
            self._ready.append((self._index, self._row))
            self._row = None
        elif tag == "is":
            self._inline = False
        elif tag == "rPh":
            self._phonetic -= 1

    def _chars(self, data: str) -> None:
        if self._collecting:
            self._size += len(data)
            if self._size > MAX_CELL_CHARS:
                raise CellLimit(self._index, self._column)
            self._parts.append(data)  # type: ignore[union-attr]

    def _value(self, raw: str) -> str:
        kind = self._type
        if kind == "s":
            if not (raw.isascii() and raw.isdigit()):
                raise not_xlsx(f"shared string {raw[:20]!r}")
            try:
                return self._strings.get(int(raw))
            except CellLimit:
                raise CellLimit(self._index, self._column) from None
        if kind in ("inlineStr", "str"):
            return _unescape(raw)
        if kind == "b":
            return "True" if raw.strip() == "1" else "False"
        if kind in ("e", "d"):
            return raw
        return Number(_number(raw))

    def _cell_done(self) -> None:
        parts, self._parts = self._parts, None
        if parts is None or self._row is None:
            return  # no value (a styled empty cell), or a cell outside any row
        value = self._value("".join(parts))
        if not value:
            return
        self._text_left -= len(value)
        if self._text_left < 0:  # shared strings referenced over and over (limits.py)
            raise too_large("sheet_text", self._max_text)
        column, row = self._column, self._row
        if column > MAX_COLUMNS:
            raise CellLimit(self._index, column, wide=True)
        if column > len(row):
            row.extend([""] * (column - 1 - len(row)))
            row.append(value)
        else:
            row[column - 1] = value


def check_xlsx(path: Path) -> None:
    """Refuse at once a file whose table of contents, sheet or shared strings are over
    their limits, before a byte is decompressed."""
    with open(path, "rb") as fh, open_zip(fh) as book:
        sheet, strings = locate(book)
        member(book, sheet, "sheet_bytes", MAX_SHEET_BYTES)
        if strings is not None:
            member(book, strings, "shared_strings_bytes", MAX_SHARED_STRINGS_BYTES)


def xlsx_rows(
    path: Path, stop: threading.Event, max_rows: int = MAX_ROWS
) -> Generator[tuple[int, list[str]]]:
    """(row index, cells) of the first worksheet, in order, blank rows left out."""
    with open(path, "rb") as fh, open_zip(fh) as book:
        sheet, name = locate(book)
        strings = SharedStrings(book, name)
        max_text = sheet_text_budget(path.stat().st_size)
        try:
            yield from _SheetReader(book, sheet, strings, stop, max_rows, max_text).rows()
        finally:
            strings.close()
