"""CSV in: UTF-8 (with or without BOM), comma, semicolon or tab, with bounded memory.

The csv module keeps a whole record in memory, and a record has no limit of its own: one
line of a gigabyte, or a million quoted fields each holding a line break, would be read
whole. So lines are fed to it one by one, at most MAX_ROW_CHARS each and per record; a
cell is at most MAX_CELL_CHARS; the rows are counted. The checks cost about a tenth of
a second over a 2,500,000-row roster.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TextIO

from diemcau.errors import Msg
from diemcau.tabular.limits import (
    MAX_CELL_CHARS,
    MAX_ROW_CHARS,
    MAX_ROWS,
    CellLimit,
    Stopped,
    too_large,
)
from diemcau.tabular.problems import file_error, not_utf8

_STOP_EVERY = 4096  # lines between two looks at the stop flag


class _Budget:
    """What the record being read may still take (reset by the reader at each record)."""

    left = MAX_ROW_CHARS


def _lines(fh: TextIO, budget: _Budget, stop: threading.Event) -> Iterator[str]:
    readline = fh.readline
    count = 0
    # readline with a size: a line with no end is never read whole.
    while line := readline(MAX_ROW_CHARS + 1):
        budget.left -= len(line)
        if budget.left < 0:
            raise too_large("row_chars", MAX_ROW_CHARS)
        count += 1
        if count % _STOP_EVERY == 0 and stop.is_set():
            raise Stopped
        yield line


def csv_rows(
    path: Path, stop: threading.Event, max_rows: int = MAX_ROWS
) -> Generator[tuple[int, list[str]]]:
    """(row index, raw cells) of a CSV file, streamed: the file is decoded as it is read.

    The delimiter (comma, semicolon or tab) is the one the first line uses most. A file
    that is not UTF-8 raises `not_utf8` wherever the bad byte is, even mid-file.
    """
    # The module's own limit is 131,072 and process-wide; the service reads no other CSV.
    csv.field_size_limit(MAX_CELL_CHARS)
    index = 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            first = fh.readline(MAX_ROW_CHARS + 1)
            fh.seek(0)
            # utf-8-sig only drops the BOM at the very start of decoding: seek(0) resets it
            delimiter = max((",", ";", "\t"), key=first.count)
            budget = _Budget()
            for raw in csv.reader(_lines(fh, budget, stop), delimiter=delimiter):
                index += 1
                if index > max_rows + 1:  # the header and max_rows rows
                    raise too_large("rows", max_rows)
                yield index, raw
                budget.left = MAX_ROW_CHARS
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise CellLimit(index + 1) from None
            raise file_error(
                Msg(f"Không đọc được tệp CSV: {exc}", f"cannot read the CSV file: {exc}")
            ) from None


def check_csv(path: Path, max_rows: int = MAX_ROWS) -> int:
    """About how many rows a CSV holds (for a progress bar), refusing at once a file with
    more than `max_rows` lines or a line over MAX_ROW_CHARS: a second a gigabyte."""
    lines = longest = since = 0
    with open(path, "rb") as fh:
        # Blocks no bigger than the line limit: a line inside one block is short enough,
        # so only lines that cross blocks need measuring.
        while block := fh.read(MAX_ROW_CHARS):
            ends = block.count(b"\n")
            if ends == 0:
                since += len(block)
            else:
                longest = max(longest, since + block.find(b"\n"))
                since = len(block) - block.rfind(b"\n") - 1
            lines += ends
            if lines > max_rows + 1:
                raise too_large("rows", max_rows)
    # Bytes, not characters: a line of 4-byte characters is refused a little early.
    if max(longest, since) > MAX_ROW_CHARS * 4:
        raise too_large("row_chars", MAX_ROW_CHARS)
    return max(lines - 1, 0)
