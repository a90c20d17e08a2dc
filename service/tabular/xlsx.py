"""XLSX in, with bounded time and memory: the first worksheet's rows, as text.

Not openpyxl, which trusts a file: it pads every row to the sheet's declared size (a
2 KB file declaring A1:XFD1048576 kept a thread busy for nine minutes) and loads every
shared string at once (a 1 MB file holding one 1 GiB string grew the service by 2 GB).
Here the zip's table of contents and each part's uncompressed size are checked before
anything is decompressed; XML is parsed as a stream by expat with no DTD allowed (so no
entity expansion); rows come as the sheet has them, a gap costing nothing; shared
strings are parsed only as far as a cell needs, into one compact buffer; and cells,
columns, rows and tag lengths are counted as they are read (limits.py).

Values are what Excel shows in data-only mode: shared and inline strings, formula
results, numbers (a whole float loses its '.0'), booleans as True/False. A date stays
the serial number it is stored as: no unit, site or roster column holds one.
"""

from __future__ import annotations

import posixpath
import re
import struct
import threading
import zipfile
from array import array
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from diemcau.errors import Msg, Problem
from diemcau.tabular.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_PART_BYTES,
    MAX_ROWS,
    MAX_SHARED_STRINGS_BYTES,
    MAX_SHEET_BYTES,
    MAX_XML_TOKEN_BYTES,
    MAX_ZIP_DIRECTORY_BYTES,
    CellLimit,
    Stopped,
    too_large,
)
from diemcau.tabular.problems import file_error

_BLOCK = 1 << 16
_MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",  # "strict" OOXML
)
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
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


def _not_xlsx(reason: str) -> Problem:
    return file_error(
        Msg(f"Không đọc được tệp XLSX: {reason}", f"cannot read the XLSX file: {reason}")
    )


def _parser() -> Any:
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    if hasattr(parser, "SetReparseDeferralEnabled"):
        parser.SetReparseDeferralEnabled(False)  # keep CurrentByteIndex close to what is fed

    def no_dtd(*_: Any) -> None:
        # A spreadsheet never has one; a DTD is where entity bombs live.
        raise _not_xlsx("DTD")

    parser.StartDoctypeDeclHandler = no_dtd
    return parser


def _directory_size(fh: IO[bytes]) -> int | None:
    """The size of the zip's central directory, from its end record (zip64 too)."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - (22 + 65535)))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None  # not a zip: zipfile says so
    entries, directory = struct.unpack("<HL", tail[at + 10 : at + 16])
    if entries != 0xFFFF and directory != 0xFFFFFFFF:
        return int(directory)
    locator = tail[at - 20 : at]
    if len(locator) < 20 or locator[:4] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack("<Q", locator[8:16])
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    return int(struct.unpack("<Q", record[40:48])[0])


def open_zip(fh: IO[bytes]) -> zipfile.ZipFile:
    """The zip, once its table of contents is known to be small (zipfile reads all of it
    into memory: a 1 GB upload of empty entries would cost ten times that)."""
    directory = _directory_size(fh)
    if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
        raise too_large("zip_directory_bytes", MAX_ZIP_DIRECTORY_BYTES)
    fh.seek(0)
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _not_xlsx(str(exc)) from None


def _member(book: zipfile.ZipFile, name: str, limit: str, maximum: int) -> zipfile.ZipInfo:
    try:
        info = book.getinfo(name)
    except KeyError:
        raise _not_xlsx(f"{name} missing") from None
    if info.file_size > maximum:
        raise too_large(limit, maximum)
    # zipfile bounds what deflate gives back per read; bzip2 and lzma it does not.
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _not_xlsx(f"{name}: compression method {info.compress_type}")
    return info


def _small_part(book: zipfile.ZipFile, name: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of a small XML part (workbook, relationships): (local name, attrs)."""
    info = _member(book, name, "part_bytes", MAX_PART_BYTES)
    found: list[tuple[str, dict[str, str]]] = []
    parser = _parser()
    parser.StartElementHandler = lambda tag, attrs: found.append((tag.rpartition("}")[2], attrs))
    try:
        parser.Parse(book.read(info), True)
    except (expat.ExpatError, zipfile.BadZipFile, OSError) as exc:
        raise _not_xlsx(f"{name}: {exc}") from None
    return found


def _relationships(book: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type's last word, target part name)."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in book.NameToInfo:
        return {}
    out = {}
    for tag, attrs in _small_part(book, rels):
        if tag == "Relationship" and "Target" in attrs and attrs.get("TargetMode") != "External":
            target = attrs["Target"]
            name = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            out[attrs.get("Id", "")] = (
                attrs.get("Type", "").rpartition("/")[2],
                posixpath.normpath(name),
            )
    return out


def locate(book: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part and the shared strings' (None when there are none)."""
    office = [t for kind, t in _relationships(book, "").values() if kind == "officeDocument"]
    workbook = office[0] if office else "xl/workbook.xml"
    rels = _relationships(book, workbook)
    for tag, attrs in _small_part(book, workbook):
        if tag != "sheet":
            continue
        rid = next((v for k, v in attrs.items() if k.rpartition("}")[2] == "id"), None)
        kind, target = rels.get(rid or "", ("", ""))
        if kind == "worksheet":
            strings = [t for k, t in rels.values() if k == "sharedStrings"]
            return target, strings[0] if strings else None
    raise _not_xlsx("no worksheet")


class _Feed:
    """One zip part, fed to an expat parser block by block, within its limits."""

    def __init__(self, book: zipfile.ZipFile, info: zipfile.ZipInfo, parser: Any) -> None:
        self.stream = book.open(info)
        self.parser = parser
        self.fed = 0
        self.done = False

    def next(self) -> None:
        """Parse one more block; raise if one tag has gone on for too long."""
        try:
            block = self.stream.read(_BLOCK)
            self.fed += len(block)
            self.parser.Parse(block, not block)
        except (expat.ExpatError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise _not_xlsx(str(exc)) from None
        self.done = not block
        # Past the last complete event, expat holds the unfinished tag in memory.
        if self.fed - self.parser.CurrentByteIndex > MAX_XML_TOKEN_BYTES:
            raise too_large("xml_token_bytes", MAX_XML_TOKEN_BYTES)

    def close(self) -> None:
        self.stream.close()


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
        self._feed: _Feed | None = None
        if name is not None:
            info = _member(book, name, "shared_strings_bytes", MAX_SHARED_STRINGS_BYTES)
            parser = _parser()
            parser.StartElementHandler = self._start
            parser.EndElementHandler = self._end
            parser.CharacterDataHandler = self._chars
            self._feed = _Feed(book, info, parser)

    def get(self, index: int) -> str:
        """The string at `index`; CellLimit when it is over MAX_CELL_CHARS."""
        while index >= len(self._ends) and self._feed is not None and not self._feed.done:
            self._feed.next()
        if not 0 <= index < len(self._ends):
            raise _not_xlsx(f"shared string {index} missing")
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
        raise _not_xlsx(f"row {ref[:20]!r}")
    return int(ref)


_COLUMNS: dict[str, int] = {}


def _column(ref: str) -> int:
    """'C7' -> 3; anything right of XFD (Excel's last column) counts as very far."""
    letters = ref.rstrip(_DIGITS)
    found = _COLUMNS.get(letters)
    if found is None:
        if not letters.isascii() or not letters.isalpha() or not letters.isupper():
            raise _not_xlsx(f"cell {ref[:20]!r}")
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
    ) -> None:
        info = _member(book, name, "sheet_bytes", MAX_SHEET_BYTES)
        parser = _parser()
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        self._feed = _Feed(book, info, parser)
        self._strings = strings
        self._stop = stop
        self._max_rows = max_rows
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
                raise _not_xlsx(f"row {index} out of order")
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
                raise _not_xlsx(f"shared string {raw[:20]!r}")
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
        return _number(raw)

    def _cell_done(self) -> None:
        parts, self._parts = self._parts, None
        if parts is None or self._row is None:
            return  # no value (a styled empty cell), or a cell outside any row
        value = self._value("".join(parts))
        if not value:
            return
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
        _member(book, sheet, "sheet_bytes", MAX_SHEET_BYTES)
        if strings is not None:
            _member(book, strings, "shared_strings_bytes", MAX_SHARED_STRINGS_BYTES)


def xlsx_rows(
    path: Path, stop: threading.Event, max_rows: int = MAX_ROWS
) -> Generator[tuple[int, list[str]]]:
    """(row index, cells) of the first worksheet, in order, blank rows left out."""
    with open(path, "rb") as fh, open_zip(fh) as book:
        sheet, name = locate(book)
        strings = SharedStrings(book, name)
        try:
            yield from _SheetReader(book, sheet, strings, stop, max_rows).rows()
        finally:
            strings.close()
