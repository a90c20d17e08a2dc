"""CSV in: UTF-8 (with or without BOM), comma, semicolon or tab, with bounded memory.

The csv module keeps a whole record in memory, and a record has no limit of its own: one
line of a gigabyte, or a million quoted fields each holding a line break, would be read
whole. So the file is scanned first, as bytes (a tenth of a second for a 2,500,000-row
roster): too many lines or a line over MAX_ROW_BYTES is refused before any row is read.
A file with no quote cannot spread a record over lines, and is then read at the csv
module's own speed; one with quotes is fed to it line by line within a budget per
record. A cell is at most MAX_CELL_CHARS.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from diemcau.errors import Msg
from diemcau.tabular.limits import (
    MAX_CELL_CHARS,
    MAX_ROW_BYTES,
    MAX_ROWS,
    CellLimit,
    Stopped,
    too_large,
)
from diemcau.tabular.problems import file_error, not_utf8

_EVERY = 4096  # rows between two looks at the stop flag


@dataclass(frozen=True)
class Scan:
    """What a byte scan of a CSV found."""

    lines: int
    quoted: bool  # whether any quote appears: only then may a record span lines


def scan_csv(path: Path, max_rows: int = MAX_ROWS) -> Scan:
    """Count the lines, refusing more than `max_rows` (and a header) or one longer than
    MAX_ROW_BYTES; note whether the file has quotes at all."""
    lines = longest = since = 0
    quoted = False
    end = b"\n"
    with open(path, "rb") as fh:
        # Blocks no bigger than the line limit: a line inside one block is short enough,
        # so only the lines that cross blocks need measuring.
        while block := fh.read(MAX_ROW_BYTES):
            if not lines and not since and end not in block and b"\r" in block:
                end = b"\r"  # "CSV (Macintosh)" from an old Excel ends lines so
            ends = block.count(end)
            if ends == 0:
                since += len(block)
            else:
                longest = max(longest, since + block.find(end))
                since = len(block) - block.rfind(end) - 1
            if max(longest, since) > MAX_ROW_BYTES:
                raise too_large("row_bytes", MAX_ROW_BYTES)
            lines += ends
            if lines > max_rows + 1:
                raise too_large("rows", max_rows)
            quoted = quoted or b'"' in block
    return Scan(lines + (since > 0), quoted)


class _Budget:
    """What the record being read may still take (reset by the reader at each record)."""

    left = MAX_ROW_BYTES


def _budgeted(fh: TextIO, budget: _Budget) -> Iterator[str]:
    """The file's lines, refusing a record (lines joined by quotes) over the budget."""
    for line in fh:
        budget.left -= len(line)
        if budget.left < 0:
            raise too_large("row_bytes", MAX_ROW_BYTES)
        yield line


def _records(
    reader: Iterable[list[str]], budget: _Budget, stop: threading.Event
) -> Iterator[tuple[int, list[str]]]:
    for index, raw in enumerate(reader, 1):
        if index % _EVERY == 0 and stop.is_set():
            raise Stopped
        yield index, raw
        budget.left = MAX_ROW_BYTES  # the next record starts


def csv_rows(
    path: Path, stop: threading.Event, max_rows: int = MAX_ROWS
) -> Generator[tuple[int, list[str]]]:
    """(row index, raw cells) of a CSV file, streamed: the file is decoded as it is read.

    The delimiter (comma, semicolon or tab) is the one the first line uses most. A file
    that is not UTF-8 raises `not_utf8` wherever the bad byte is, even mid-file.
    """
    scan = scan_csv(path, max_rows)
    # The module's own limit is 131,072 and process-wide; the service reads no other CSV.
    csv.field_size_limit(MAX_CELL_CHARS)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            first = fh.readline()  # the scan bounds its length
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        fh.seek(0)
        # utf-8-sig only drops the BOM at the very start of decoding: seek(0) resets it
        delimiter = max((",", ";", "\t"), key=first.count)
        budget = _Budget()
        lines = _budgeted(fh, budget) if scan.quoted else fh
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            yield from _records(reader, budget, stop)
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except csv.Error as exc:
            if "field limit" in str(exc):
                # The line the cell ends on: the row's own index unless quotes spread
                # earlier rows over several lines.
                raise CellLimit(reader.line_num) from None
            raise file_error(
                Msg(f"Không đọc được tệp CSV: {exc}", f"cannot read the CSV file: {exc}")
            ) from None


def check_csv(path: Path, max_rows: int = MAX_ROWS) -> int:
    """About how many rows a CSV holds (for a progress bar), refusing at once a file past
    its limits (scan_csv): a second a gigabyte."""
    return max(scan_csv(path, max_rows).lines - 1, 0)
