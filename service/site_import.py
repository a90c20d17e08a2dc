"""Bulk import of sites from CSV/XLSX: upsert by code, all rows or none.

Fast path for a national file (40,000 rows): the file is parsed and each row checked in
a worker thread (no database); then ONE transaction copies the good rows into a temp
table, checks units and scope set-based, and upserts with one statement. Every bad row
is reported as `{row, field, message}`; with any error the transaction is rolled back.

A column missing from the header keeps the stored value on update (an empty cell
clears it): a file of codes and phones only updates the phones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.errors import Msg
from diemcau.phones import normalise_phone
from diemcau.queries.units import subtree_pattern
from diemcau.registry import (
    URL_PROTOCOLS,
    check_uri,
    free_text,
    normalise_protocol,
    optional_text,
)
from diemcau.search import search_text
from diemcau.tabular import (
    MAX_REGISTRY_ROWS,
    Found,
    Sheet,
    check_limits,
    import_failed,
    read_rows,
    row_error,
)
from diemcau.units import check_code, clean_text, normalise_level

COLUMNS = (
    "code",
    "name",
    "unit_code",
    "level",
    "address",
    "capacity",
    "technician_name",
    "technician_phone",
    "endpoint_protocol",
    "endpoint_uri",
    "endpoint_provider",
)
REQUIRED = ("code", "name", "unit_code", "level")
OPTIONAL = tuple(c for c in COLUMNS if c not in REQUIRED)
STAGE_COLUMNS = ("row", *COLUMNS, "search_text")
_CAPACITY = re.compile(r"^\d{1,3}([.,]\d{3})+$|^\d+$")  # 120, 1.200 or 1,200 (thousands)


@dataclass
class Parsed:
    columns: set[str] = field(default_factory=set)
    records: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    sha256: str = ""


def _msg(exc: ValueError) -> Msg:
    vi, _, en = str(exc).partition("|")
    return Msg(vi, en or vi)


def _capacity(value: str) -> int:
    text = value.replace(" ", "")
    if not _CAPACITY.match(text) or int(re.sub(r"[.,]", "", text)) > 1_000_000:
        raise ValueError("Sức chứa phải là số nguyên không âm|capacity must be a whole number ≥ 0")
    return int(re.sub(r"[.,]", "", text))


# The API's own field rules (registry.SiteIn), so a file and a form agree on every value.
_CHECKS: dict[str, Callable[[str], Any]] = {
    "code": check_code,
    "name": clean_text,
    "unit_code": check_code,
    "level": normalise_level,
    "address": free_text,
    "capacity": _capacity,
    "technician_name": optional_text,
    "technician_phone": normalise_phone,
    "endpoint_protocol": normalise_protocol,
    "endpoint_uri": check_uri,
    "endpoint_provider": optional_text,
}
_MISSING = Msg("Thiếu giá trị bắt buộc", "required value missing")


def check_row(number: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[dict]]:
    """One row's values, converted, and its errors (each bad cell reported)."""
    values: dict[str, Any] = {}
    errors = []
    for column in COLUMNS:
        raw = cells.get(column, "")
        if not raw:
            if column in REQUIRED:
                errors.append(row_error(number, column, _MISSING))
            values[column] = None
            continue
        try:
            values[column] = _CHECKS[column](raw)
        except ValueError as exc:
            errors.append(row_error(number, column, _msg(exc)))
    if values.get("endpoint_uri") and not cells.get("endpoint_protocol"):
        errors.append(row_error(number, "endpoint_protocol", Msg("Cần giao thức", "needed")))
    elif values.get("endpoint_protocol") in URL_PROTOCOLS and values.get("endpoint_uri"):
        if not str(values["endpoint_uri"]).lower().startswith(("https://", "http://")):
            errors.append(row_error(number, "endpoint_uri", Msg("Cần http(s)://", "http(s)://")))
    return values, errors


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()  # streamed, not read whole


def parse_sites(sheet: Sheet) -> Parsed:
    """Read and check every row (runs in an import thread: no database, no event loop)."""
    sheet = replace(sheet, max_rows=MAX_REGISTRY_ROWS)
    check_limits(sheet)
    parsed = Parsed(sha256=_sha256(sheet.path))
    first_row: dict[str, int] = {}
    found = Found()  # garbled cells, told by the reading
    for number, cells in read_rows(sheet, COLUMNS, REQUIRED, found):
        # Short CSV lines drop trailing cells, so a column counts as present when any
        # row has it.
        parsed.columns.update(cells)
        values, errors = check_row(number, cells)
        code = values.get("code")
        if code is not None and code in first_row:
            errors.append(
                row_error(
                    number,
                    "code",
                    Msg(
                        f"Mã trùng với dòng {first_row[code]}",
                        f"same code as row {first_row[code]}",
                    ),
                )
            )
        elif code is not None:
            first_row[code] = number
        if errors:
            parsed.errors.extend(errors)
            continue
        folded = search_text(code, values["name"], values["address"])
        parsed.records.append((number, *(values[c] for c in COLUMNS), folded))
    parsed.errors[:0] = found.errors
    if not parsed.records and not parsed.errors:
        raise import_failed([row_error(0, "", Msg("Tệp không có dòng dữ liệu", "no data rows"))])
    return parsed


_STAGE_SQL = """
    CREATE TEMP TABLE site_import (
        row int, code text, name text, unit_code text, level text, address text,
        capacity int, technician_name text, technician_phone text, endpoint_protocol text,
        endpoint_uri text, endpoint_provider text, search_text text
    ) ON COMMIT DROP
"""

# Rows naming an unknown unit, a unit outside the caller's subtree, or a site code that
# exists outside it ($1 is the subtree pattern; '%' for an unscoped caller).
_CHECK_SQL = """
    SELECT i.row, 'unit_code' AS field, 'unknown' AS problem
      FROM site_import i LEFT JOIN units u ON u.code = i.unit_code
     WHERE u.id IS NULL
    UNION ALL
    SELECT i.row, 'unit_code', 'scope'
      FROM site_import i JOIN units u ON u.code = i.unit_code
     WHERE u.path NOT LIKE $1
    UNION ALL
    SELECT i.row, 'code', 'scope'
      FROM site_import i JOIN sites s ON s.code = i.code JOIN units u ON u.id = s.unit_id
     WHERE u.path NOT LIKE $1
"""
_CHECK_MESSAGES = {
    ("unit_code", "unknown"): Msg("Không có đơn vị này", "no such unit"),
    ("unit_code", "scope"): Msg("Đơn vị ngoài phạm vi của bạn", "unit outside your subtree"),
    ("code", "scope"): Msg(
        "Mã đã dùng cho điểm cầu ngoài phạm vi của bạn", "code taken by a site outside your subtree"
    ),
}


def _upsert_sql(columns: set[str]) -> str:
    """The upsert; optional columns absent from the file keep their stored values."""

    def new(col: str) -> str:
        return f"EXCLUDED.{col}" if col in columns else f"sites.{col}"

    changed = (
        f"(sites.endpoint_protocol IS DISTINCT FROM {new('endpoint_protocol')}"
        f" OR sites.endpoint_uri IS DISTINCT FROM {new('endpoint_uri')})"
    )
    reset = f"sites.status IN ('tested', 'ready') AND {changed}"
    keep = ", ".join(f"{c} = {new(c)}" for c in OPTIONAL)
    return f"""
        WITH written AS (
            INSERT INTO sites (code, name, unit_id, level, {", ".join(OPTIONAL)}, search_text)
            SELECT i.code, i.name, u.id, i.level, {", ".join("i." + c for c in OPTIONAL)},
                   i.search_text
              FROM site_import i JOIN units u ON u.code = i.unit_code
             ORDER BY i.code
            ON CONFLICT (code) DO UPDATE SET
                name = EXCLUDED.name, unit_id = EXCLUDED.unit_id, level = EXCLUDED.level,
                {keep}, search_text = EXCLUDED.search_text, updated_at = now(),
                status = CASE WHEN {reset} THEN 'registered' ELSE sites.status END,
                status_at = CASE WHEN {reset} THEN now() ELSE sites.status_at END
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted) AS imported,
               count(*) FILTER (WHERE NOT inserted) AS updated
          FROM written
    """


async def _keep_stored_addresses(conn: asyncpg.Connection, parsed: Parsed) -> None:
    """Without an address column, search text must still fold the stored address."""
    stored = dict(
        await conn.fetch(
            "SELECT code, address FROM sites WHERE code = ANY($1::text[]) AND address <> ''",
            [r[1] for r in parsed.records],
        )
    )
    if stored:
        # records are (row, code, name, ..., search_text)
        parsed.records = [
            (*r[:-1], search_text(r[1], r[2], stored[r[1]])) if r[1] in stored else r
            for r in parsed.records
        ]


async def _set_based_errors(conn: asyncpg.Connection, principal: Principal) -> list[dict]:
    scope = subtree_pattern(principal.unit_path) if principal.unit_path else "%"
    rows = await conn.fetch(_CHECK_SQL, scope)
    return [
        row_error(r["row"], r["field"], _CHECK_MESSAGES[(r["field"], r["problem"])]) for r in rows
    ]


async def write_sites(conn: asyncpg.Connection, principal: Principal, parsed: Parsed) -> dict:
    """Stage, check and upsert the parsed rows in one transaction; 422 with any bad row."""
    async with conn.transaction():
        if "address" not in parsed.columns:
            await _keep_stored_addresses(conn, parsed)
        await conn.execute(_STAGE_SQL)
        await conn.copy_records_to_table(
            "site_import", records=parsed.records, columns=STAGE_COLUMNS
        )
        errors = parsed.errors + await _set_based_errors(conn, principal)
        if errors:
            order = {c: i for i, c in enumerate(COLUMNS)}
            errors.sort(key=lambda e: (e["row"], order.get(e["field"], -1)))
            raise import_failed(errors)
        counts = dict(await conn.fetchrow(_upsert_sql(parsed.columns)))
        summary = {**counts, "rows": len(parsed.records), "sha256": parsed.sha256}
        await audit.record(conn, principal, "import", "site", "import", None, summary)
    return counts
