"""Every file the service reads: CSV and XLSX uploads as numbered rows of text.

One way in for the three imports (units, sites, rosters), so that the limits on what a
file may make the service do (limits.py: rows, columns, cell and row length, the
uncompressed size of an XLSX's parts) hold everywhere. `check_limits` refuses an
oversized file in seconds, before any row is read; the readers count as they go anyway,
and stop when `Sheet.stop` is set (the client went away).

Row 1 is the first data row (the header is row 0), so the numbers in an error match what
a person sees below the header in Excel. Header problems and unreadable files are
reported as `import_failed` problems before any row is read.

While rows are read, their cells are checked for what spreadsheets do to them
(cells.py): garbled text is a row error (the cell replaced by what it probably read),
the service's own formula-safe apostrophe is taken off, and numbers in an id column are
judged at the end of the file. These go to the import's Sink; an import that gives none
gets the errors as one `import_failed` once the rows are read.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from diemcau.errors import Msg, Problem
from diemcau.tabular.cells import CellChecks, Found, Sink
from diemcau.tabular.csvfile import check_csv, csv_rows
from diemcau.tabular.limits import (
    MAX_COLUMNS,
    MAX_REGISTRY_ROWS,
    MAX_ROWS,
    CellLimit,
    Stopped,
    cell_too_long,
    column_letters,
    too_many_columns,
)
from diemcau.tabular.problems import MAX_ERRORS, import_failed, row_error
from diemcau.tabular.xlsx import check_xlsx, xlsx_rows

__all__ = [
    "CSV",
    "CSV_MEDIA",
    "MAX_ERRORS",
    "MAX_REGISTRY_ROWS",
    "XLSX",
    "XLSX_MEDIA",
    "Found",
    "Sheet",
    "Sink",
    "Stopped",
    "Table",
    "check_limits",
    "clean",
    "import_failed",
    "kind_of",
    "read_header",
    "read_records",
    "read_rows",
    "row_error",
]

CSV = "csv"
XLSX = "xlsx"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = ("text/csv", "application/csv", "text/plain")
# Columns people add to spreadsheets by habit ("STT": the row's number) and that we skip.
IGNORED_COLUMNS = frozenset({"stt", "no", "#"})
EXTRA_CELLS = Msg("Dòng có nhiều ô hơn tiêu đề", "the row has more cells than the header")
_LOOK_ROWS = 256  # rows whose cells are searched at once for anything to look at
_SKIPPED = Msg(
    "Cột do diemcau ghi khi xuất danh sách, không nhập: đã bỏ qua",
    "columns diemcau writes in its listings but does not import: ignored",
)
_EMPTY_FILE = Msg(
    "Tệp trống: cần dòng tiêu đề và ít nhất một dòng dữ liệu",
    "the file is empty: a header and at least one row are needed",
)


@dataclass
class Sheet:
    """An uploaded file to read: where it is, CSV or XLSX, how many rows it may hold (a
    roster's limit unless the import says less), and a flag that stops reading."""

    path: Path
    kind: str
    max_rows: int = MAX_ROWS
    stop: threading.Event = field(default_factory=threading.Event)


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


def clean(value: str) -> str:
    """A cell as trimmed NFC text."""
    return (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()


def check_limits(sheet: Sheet) -> int | None:
    """Refuse a file past a size limit before reading a row (413 naming the limit);
    about how many rows a CSV holds, for a progress bar (None for XLSX)."""
    if sheet.kind == XLSX:
        check_xlsx(sheet.path)
        return None
    return check_csv(sheet.path, sheet.max_rows)


@dataclass(frozen=True)
class Header:
    names: list[str]  # one per column; '' for a column we skip
    skipped: list[str] = field(default_factory=list)  # columns of `ignored` found


def check_header(
    raw: Sequence[str],
    columns: Sequence[str],
    required: Sequence[str],
    ignored: Sequence[str] = (),
) -> Header:
    """Map header cells to known columns, or fail naming what is missing or unknown;
    columns in `ignored` (written by the service's listings, not imported) are skipped."""
    beyond = [i for i, c in enumerate(raw[MAX_COLUMNS:], MAX_COLUMNS + 1) if c.strip()]
    if beyond:
        raise import_failed([too_many_columns(0, column_letters(beyond[0]))])
    names = [clean(c).lower().replace(" ", "_") for c in raw]
    errors = []
    seen: set[str] = set()
    out = []
    skipped = []
    for name in names:
        if name in IGNORED_COLUMNS or name == "" or name in ignored:
            out.append("")
            if name in ignored:
                skipped.append(name)
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
    return Header(out, skipped)


def _blank(raw: list[str]) -> bool:
    return not raw or (not raw[0].strip() and not "".join(raw).strip())


class Table:
    """An open file: its header (read on opening), then its rows. A context manager.

    What the cells' checks find goes to `sink`; without one, the errors are raised as
    one `import_failed` once the last row is read (warnings are then dropped).
    """

    def __init__(
        self,
        sheet: Sheet,
        columns: Sequence[str],
        required: Sequence[str],
        sink: Sink | None = None,
        ignored: Sequence[str] = (),
    ) -> None:
        self.columns = columns
        self._start = 0
        self._names: list[str] = []
        self._own = sink is None
        self.sink: Sink = Found() if sink is None else sink
        self._numbers = sheet.kind == XLSX  # only an XLSX stores a cell as a number
        read = xlsx_rows if sheet.kind == XLSX else csv_rows
        self._rows = read(sheet.path, sheet.stop, sheet.max_rows)
        try:
            self.header = self._read_header(columns, required, ignored)
        except BaseException:
            self.close()
            raise

    @property
    def present(self) -> list[str]:
        """The known columns the header names, in file order."""
        return [n for n in self.header.names if n]

    def _read_header(
        self, columns: Sequence[str], required: Sequence[str], ignored: Sequence[str]
    ) -> Header:
        with self._cell_limits():
            for index, raw in self._rows:
                if not _blank(raw):
                    header = check_header(raw, columns, required, ignored)
                    self._start, self._names = index, header.names
                    if header.skipped:
                        self.sink.warn(0, ", ".join(header.skipped), _SKIPPED)
                    return header
        raise import_failed([row_error(0, "", _EMPTY_FILE)])

    def records(self) -> Iterator[tuple[int, Sequence[str]]]:
        """(row number, cells in `columns` order, '' for a column the file lacks) for every
        non-blank row; `()` for a row with values right of the header (the caller reports
        it). Cells come as written: the caller trims and normalises what it keeps (at
        2,500,000 rows, cleaning every cell up front costs 20 s)."""
        width = len(self._names)
        where = [self._names.index(c) if c in self._names else width for c in self.columns]
        pick = itemgetter(*where) if len(where) > 1 else lambda raw: (raw[where[0]],)
        start = self._start
        with self._cell_limits():
            for index, raw in self._looked():
                # Blank lines are skipped but keep their number, as in Excel. (The test is
                # written out, not a call: this loop runs once per row of 2,500,000.)
                if not raw or (not raw[0].strip() and not "".join(raw).strip()):
                    continue
                if len(raw) != width:
                    if len(raw) > width and "".join(raw[width:]).strip():
                        yield index - start, ()
                        continue
                    raw = (raw + [""] * width)[:width]
                raw.append("")  # where[] points here for a column the file does not have
                yield index - start, pick(raw)

    def _looked(self) -> Iterator[tuple[int, list[str]]]:
        """The file's rows, their cells checked (cells.CellChecks) a batch at a time."""
        checks = CellChecks(self._names, self.sink, self._numbers)
        batch: list[tuple[int, list[str]]] = []
        for item in self._rows:
            batch.append(item)
            if len(batch) >= _LOOK_ROWS:
                checks.look(batch, self._start)
                yield from batch
                batch = []
        checks.look(batch, self._start)
        yield from batch
        checks.finish()
        if self._own and self.sink.error_count:
            found = self.sink
            assert isinstance(found, Found)
            raise import_failed(found.errors, found.error_count)

    @contextmanager
    def _cell_limits(self) -> Iterator[None]:
        """Turns a reader's CellLimit into the problem naming the row and the column."""
        try:
            yield
        except CellLimit as exc:
            raise self.problem(exc) from None

    def problem(self, exc: CellLimit) -> Problem:
        """The 422 for a cell past its limit, on the row and column people see."""
        number = exc.index - self._start if self._names else 0
        names = self._names
        known = 0 < exc.column <= len(names) and names[exc.column - 1]
        column = names[exc.column - 1] if known else column_letters(exc.column)
        if exc.wide:
            return import_failed([too_many_columns(number, column)])
        return import_failed([cell_too_long(number, column)])

    def close(self) -> None:
        self._rows.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_header(
    sheet: Sheet, columns: Sequence[str], required: Sequence[str], ignored: Sequence[str] = ()
) -> list[str]:
    """The known columns a file's header names, checked as `read_rows` checks them.

    Imports use it to tell a column the file leaves out (keep what is stored) from an
    empty cell (clear it).
    """
    with Table(sheet, columns, required, Found(), ignored) as table:
        return table.present


def read_records(
    sheet: Sheet,
    columns: Sequence[str],
    required: Sequence[str],
    sink: Sink | None = None,
    ignored: Sequence[str] = (),
) -> Generator[tuple[int, Sequence[str]]]:
    """`Table.records` of a file, closing it at the end (the roster's fast path)."""
    with Table(sheet, columns, required, sink, ignored) as table:
        yield from table.records()


def read_rows(
    sheet: Sheet,
    columns: Sequence[str],
    required: Sequence[str],
    sink: Sink | None = None,
    ignored: Sequence[str] = (),
) -> Generator[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for every non-blank row, over the columns the file
    has, each cell trimmed and NFC; raises on a bad header or a row wider than it. What
    the cells' checks find goes to `sink` (see Table)."""
    with Table(sheet, columns, required, sink, ignored) as table:
        present = set(table.present)
        for number, cells in table.records():
            if not cells:
                raise import_failed([row_error(number, "", EXTRA_CELLS)])
            yield (
                number,
                {c: clean(v) for c, v in zip(columns, cells, strict=False) if c in present},
            )
