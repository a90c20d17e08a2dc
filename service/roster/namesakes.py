"""Namesakes: a new delegate with the same name and site as one already in the roster, or
as an earlier row of the same file. A warning, not an error: namesakes are common in
Vietnam, but so is one person entered twice.

A re-imported file's new rows are staged with their row numbers (`roster_new`), so both
kinds are found there in SQL. A new roster goes straight into `delegates` without them,
so its rows are remembered as they are checked, cheaply: a bitmap of the hashes of
(site, name) seen. A row whose bit is already set may repeat an earlier row (or only
share a bit with one: about 1% of the rows of a big file); it is kept, and looked up in
the written roster once the import has succeeded.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau.errors import Msg
from diemcau.queries import roster as q
from diemcau.tabular import MAX_ERRORS, row_error

Found = tuple[list[dict[str, Any]], int]  # the first MAX_ERRORS found, and how many in all
Maybe = tuple[int, str, int, str]  # row, external_id, site_id, full_name

# A roster file takes about 40 bytes a row at the least: enough bits for 1 in 32 set.
_BYTES_PER_ROW = 40
_BITS_PER_ROW = 32
_MOST_BITS = 1 << 27  # 16 MiB, for 4,000,000 rows and more


class SeenNames:
    """The (site, name) pairs of the rows checked so far, as a bitmap of their hashes."""

    def __init__(self, file_bytes: int) -> None:
        want = max(file_bytes // _BYTES_PER_ROW, 1) * _BITS_PER_ROW
        bits = min(max(1 << want.bit_length(), 1 << 16), _MOST_BITS)
        self._mask = bits - 1
        self._bits = bytearray(bits >> 3)

    def seen(self, site_id: int, name: str) -> bool:
        """Whether the pair may have been seen before; remembers it."""
        h = (hash(name) + site_id * 0x9E3779B1) & self._mask  # no tuple made a row
        byte, bit = h >> 3, 1 << (h & 7)
        found = self._bits[byte] & bit
        self._bits[byte] |= bit
        return bool(found)


def _message(site_code: str, existing: str, in_file: bool) -> Msg:
    if in_file:
        return Msg(
            f"Cùng họ tên và điểm cầu {site_code} với đại biểu mã {existing} ở dòng trên "
            "của tệp; hãy kiểm tra đây là hai người",
            f"same name and site ({site_code}) as delegate {existing}, earlier in this "
            "file; check these are two people",
        )
    return Msg(
        f"Cùng họ tên và điểm cầu {site_code} với đại biểu mã {existing} đã có; hãy kiểm "
        "tra đây là hai người",
        f"same name and site ({site_code}) as delegate {existing}, already in the roster; "
        "check these are two people",
    )


def _found(rows: list[asyncpg.Record]) -> Found:
    warnings = [
        row_error(r["row"], "full_name", _message(r["site_code"], r["existing"], r["in_file"]))
        for r in rows
    ]
    return warnings, int(rows[0]["total"]) if rows else 0


async def in_new_roster(conn: asyncpg.Connection, conference_id: int, maybe: list[Maybe]) -> Found:
    """Warnings for the rows of a new roster that repeat an earlier row's name and site."""
    if not maybe:
        return [], 0
    columns = [list(c) for c in zip(*maybe, strict=True)]
    return _found(await conn.fetch(q.FETCH_NAMESAKES_WRITTEN, conference_id, *columns, MAX_ERRORS))


async def in_reimport(conn: asyncpg.Connection, conference_id: int) -> Found:
    """Warnings for a re-imported file's new rows: a namesake in the roster, else one on
    an earlier new row of the file."""
    return _found(await conn.fetch(q.FETCH_NAMESAKES, conference_id, MAX_ERRORS))
