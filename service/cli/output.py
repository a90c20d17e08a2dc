"""Listings on stdout: a table for people (the default), CSV or JSON lines for scripts.

Listings are written page by page as they are read, so a roster of millions streams in
constant memory and `| head` stops it early. A table's column widths come from its
first page. A CSV listing reads back into the import it came from unchanged.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diemcau.cli.say import t
from diemcau.text import spreadsheet_safe

FORMATS = ("table", "csv", "json")
MAX_WIDTH = 48


@dataclass(frozen=True)
class Column:
    key: str
    vi: str
    en: str
    show: Callable[[Any], str] = str  # how a table cell is written for people
    right: bool = False  # numbers line up on the right

    def header(self) -> str:
        return t(self.vi, self.en)


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help=t(
            "table (mặc định), csv hoặc json (mỗi dòng một đối tượng)",
            "table (default), csv, or json (one object a line)",
        ),
    )


def _cell(column: Column, item: dict[str, Any]) -> str:
    value = item.get(column.key)
    return "-" if value is None else column.show(value)


def _plain(value: Any) -> Any:
    """A CSV cell as the imports read it back: text formula-safe, booleans `true` and
    `false`, categories and statuses as the API spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return spreadsheet_safe(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


class Listing:
    """Writes items in one format; `write(page)` as pages arrive, `close()` at the end."""

    def __init__(self, columns: list[Column], fmt: str, out: Any = None) -> None:
        self.columns = columns
        self.fmt = fmt
        self.out = out or sys.stdout
        self.count = 0
        self.widths: list[int] | None = None
        self.csv = csv.writer(self.out, lineterminator="\n") if fmt == "csv" else None

    def write(self, items: Iterable[dict[str, Any]]) -> None:
        items = list(items)
        if self.fmt == "json":
            for item in items:
                self.out.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
        elif self.csv is not None:
            if self.count == 0:
                # A BOM, as `diemcau codes` writes: Excel then reads the file as UTF-8.
                self.out.write("\ufeff")
                self.csv.writerow([c.key for c in self.columns])
            for item in items:
                self.csv.writerow([_plain(item.get(c.key)) for c in self.columns])
        else:
            self._table(items)
        self.count += len(items)
        self.out.flush()

    def _table(self, items: list[dict[str, Any]]) -> None:
        rows = [[_cell(c, item) for c in self.columns] for item in items]
        if self.widths is None:
            self.widths = [
                min(MAX_WIDTH, max([len(c.header())] + [len(r[i]) for r in rows]))
                for i, c in enumerate(self.columns)
            ]
            self._line([c.header() for c in self.columns])
        for row in rows:
            self._line(row)

    def _line(self, cells: list[str]) -> None:
        assert self.widths is not None
        parts = []
        for cell, width, column in zip(cells, self.widths, self.columns, strict=True):
            parts.append(cell.rjust(width) if column.right else cell.ljust(width))
        self.out.write("  ".join(parts).rstrip() + "\n")


Fetch = Callable[[str | None], Awaitable[dict[str, Any]]]


async def pages(fetch: Fetch) -> AsyncIterator[list[dict[str, Any]]]:
    """Every page of a cursor-paged list: `fetch(cursor)` answers `{items, next}`."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        yield page["items"]
        cursor = page["next"]
        if cursor is None:
            return


async def write_all(listing: Listing, fetch: Fetch, most: int | None = None) -> int:
    """Page through a list into a listing (at most `most` items); answers how many."""
    async for items in pages(fetch):
        if most is not None:
            items = items[: most - listing.count]
        listing.write(items)
        if most is not None and listing.count >= most:
            break
    return listing.count
