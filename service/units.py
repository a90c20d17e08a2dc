"""The unit tree: province -> district/bloc -> commune/agency. Counts roll up this tree.

A unit's `path` ('/VN/LC/LC-TD/') makes a subtree one `LIKE 'prefix%'`. Scope rule, the
same for units and sites: something that exists outside the caller's subtree answers 404
(it is not revealed); naming an out-of-scope unit as the target of a write answers 403.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import AfterValidator, BaseModel, Field

from diemcau import audit, suggest, text
from diemcau.auth import Principal
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import units as q
from diemcau.search import decode_cursor, encode_cursor, fold
from diemcau.tabular import (
    MAX_REGISTRY_ROWS,
    Found,
    Sheet,
    check_limits,
    import_failed,
    read_rows,
    row_error,
)
from diemcau.validation import STRICT

LEVELS = ("national", "province", "district", "commune", "agency")
# Spreadsheets are typed by people: accept the Vietnamese words for the levels too.
_LEVEL_WORDS = {
    "trung uong": "national",
    "quoc gia": "national",
    "tinh": "province",
    "thanh pho": "province",
    "huyen": "district",
    "quan": "district",
    "thi xa": "district",
    "xa": "commune",
    "phuong": "commune",
    "thi tran": "commune",
    "co quan": "agency",
    "don vi": "agency",
}
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_code(value: str) -> str:
    """A unit or site code: letters, digits, `_ . -`, at most 64, as the DB check says."""
    value = value.strip()
    if not CODE_RE.match(value):
        raise ValueError(
            "Mã chỉ gồm chữ không dấu, số, '_', '.', '-' (tối đa 64 ký tự)|"
            "letters, digits, '_', '.', '-' only, at most 64 characters"
        )
    return value


def normalise_level(value: str) -> str:
    """`province`, or its Vietnamese word ('Tỉnh'), as the canonical level."""
    if value in LEVELS:
        return value
    folded = fold(value).replace("_", " ")
    level = folded if folded in LEVELS else _LEVEL_WORDS.get(folded)
    if level is None:
        raise ValueError(f"Cấp phải là một trong {', '.join(LEVELS)}|level must be one of {LEVELS}")
    return level


MAX_NAME = 300


def clean_text(value: str) -> str:
    """A name as stored (NFC, invisible characters stripped, trimmed, one line, no control
    character): never empty, never invisible-only, at most MAX_NAME characters counted
    after NFC. Imports share it, and check-in takes walk-ins' names through it."""
    return text.required_text(value, MAX_NAME)


Code = Annotated[str, AfterValidator(check_code)]
Level = Annotated[str, AfterValidator(normalise_level)]
# The length is checked by clean_text after NFC, not on the raw input; the schema says it.
Name = Annotated[str, AfterValidator(clean_text), Field(json_schema_extra={"maxLength": MAX_NAME})]


class UnitIn(BaseModel):
    model_config = STRICT
    code: Code
    name: Name
    level: Level
    parent_code: Code | None = None


class Unit(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    path: str
    created_at: datetime
    updated_at: datetime


class UnitDetail(Unit):
    children: int = Field(description="direct child units")
    descendants: int = Field(description="units anywhere below")
    sites: int = Field(description="sites in the whole subtree")


class UnitList(BaseModel):
    items: list[Unit]
    next: str | None


def outside_scope(field: str | None = None) -> Problem:
    """403 for a write that names (in `field`) a unit outside the caller's subtree."""
    errors = (
        None if field is None else [field_error(field, Msg("Ngoài phạm vi", "outside your scope"))]
    )
    return Problem(
        "forbidden",
        Msg("Ngoài phạm vi của mã truy cập", "outside your unit subtree"),
        errors=errors,
    )


def unit_out(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in Unit.model_fields}


async def visible_unit(conn: asyncpg.Connection, principal: Principal, code: str) -> asyncpg.Record:
    """The unit, or 404 when it does not exist or lies outside the caller's subtree."""
    row = await q.fetch_unit(conn, code)
    if row is None or not principal.covers_unit_path(row["path"]):
        raise await suggest.not_found(conn, principal, "units", code)
    return row


async def target_unit(
    conn: asyncpg.Connection, principal: Principal, code: str, field: str
) -> asyncpg.Record:
    """A unit named in a write: 422 on `field` when unknown, 403 when out of scope."""
    row = await q.fetch_unit(conn, code)
    if row is None:
        raise Problem(
            "validation_failed",
            errors=[{"field": field, "message": Msg("Không có đơn vị này", "no such unit")}],
        )
    if not principal.covers_unit_path(row["path"]):
        raise outside_scope(field)
    return row


async def create_unit(conn: asyncpg.Connection, principal: Principal, data: UnitIn) -> dict:
    """A new unit under its parent (inside the caller's subtree); audited."""
    async with conn.transaction():
        if data.parent_code is None:
            if principal.unit_path is not None:
                raise outside_scope()  # a scoped organiser cannot add a root
            path, parent_id = f"/{data.code}/", None
        else:
            parent = await target_unit(conn, principal, data.parent_code, "parent_code")
            path, parent_id = f"{parent['path']}{data.code}/", parent["id"]
        await q.insert_unit(conn, data.code, data.name, data.level, parent_id, path)
        created = unit_out(await visible_unit(conn, principal, data.code))
        await audit.record(conn, principal, "create", "unit", data.code, None, created)
    return created


# What may still name a unit, as a refusal says it: (count name, Vietnamese, English).
_USES = (
    ("children", "đơn vị trực thuộc", "child units"),
    ("sites", "điểm cầu", "sites"),
    ("delegates", "đại biểu", "delegates"),
    ("conferences", "hội nghị", "conferences"),
    ("tokens", "mã truy cập (kể cả đã thu hồi)", "tokens (revoked ones too)"),
)


async def delete_unit(conn: asyncpg.Connection, principal: Principal, code: str) -> dict:
    """Delete a unit nothing names any more (audited); 409 saying what still does."""
    async with conn.transaction():
        row = await visible_unit(conn, principal, code)
        await conn.execute("SELECT 1 FROM units WHERE id = $1 FOR UPDATE", row["id"])
        uses = await q.count_unit_uses(conn, row["id"])
        held = [(uses[k], vi, en) for k, vi, en in _USES if uses[k]]
        if held:
            vi = ", ".join(f"{text.vn_int(n)} {w}" for n, w, _ in held)
            en = ", ".join(f"{n:,} {w}" for n, _, w in held)
            raise Problem(
                "conflict",
                Msg(
                    f"Đơn vị {code} còn {vi}: hãy xóa hoặc chuyển chúng trước",
                    f"unit {code} still has {en}: delete or move them first",
                ),
                **{k: uses[k] for k, _, _ in _USES},
            )
        await conn.execute("DELETE FROM units WHERE id = $1", row["id"])
        before = unit_out(row)
        await audit.record(conn, principal, "delete", "unit", code, before, None)
    return before


async def read_unit(conn: asyncpg.Connection, principal: Principal, code: str) -> dict:
    """One unit with how much lies below it."""
    row = await visible_unit(conn, principal, code)
    counts = await q.count_subtree(conn, row["path"])
    return {
        **unit_out(row),
        "children": counts["children"],
        "descendants": counts["units"],
        "sites": counts["sites"],
    }


async def list_units(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    parent: str | None = None,
    under: str | None = None,
    level: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict:
    """A page of the units the caller may see, filtered; `next` is the following cursor."""
    after = decode_cursor(cursor)
    parent_id = (await visible_unit(conn, principal, parent))["id"] if parent else None
    under_path = (await visible_unit(conn, principal, under))["path"] if under else None
    rows = await q.fetch_units(
        conn,
        scope_path=principal.unit_path,
        parent_id=parent_id,
        under_path=under_path,
        level=level,
        after=after,
        limit=limit + 1,
    )
    items = [unit_out(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next": encode_cursor(items[-1]["code"]) if more else None}


UNIT_COLUMNS = ("code", "name", "level", "parent_code")
UNIT_REQUIRED = ("code", "name", "level")
_UNIT_CHECKS = {
    "code": check_code,
    "name": clean_text,
    "level": normalise_level,
    "parent_code": check_code,
}


def _row_message(exc: ValueError) -> Msg:
    vi, _, en = str(exc).partition("|")
    return Msg(vi, en or vi)


def parse_units(sheet: Sheet) -> tuple[list[tuple[int, dict[str, Any]]], list[dict]]:
    """Every row of a unit file, checked on its own (an import thread: no database)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict] = []
    seen: dict[str, int] = {}
    sheet = replace(sheet, max_rows=MAX_REGISTRY_ROWS)
    check_limits(sheet)
    found = Found()  # garbled cells, told by the reading
    for number, cells in read_rows(sheet, UNIT_COLUMNS, UNIT_REQUIRED, found):
        values: dict[str, Any] = {}
        before = len(errors)
        for column in UNIT_COLUMNS:
            raw = cells.get(column, "")
            if not raw:
                values[column] = None
                if column in UNIT_REQUIRED:
                    errors.append(row_error(number, column, Msg("Thiếu giá trị", "missing")))
                continue
            try:
                values[column] = _UNIT_CHECKS[column](raw)
            except ValueError as exc:
                errors.append(row_error(number, column, _row_message(exc)))
        code = values.get("code")
        if code in seen:
            errors.append(row_error(number, "code", Msg(f"Trùng dòng {seen[code]}", "duplicate")))
        elif code:
            seen[code] = number
        if len(errors) == before:
            rows.append((number, values))
    return rows, found.errors + errors


def _place_unit(
    principal: Principal,
    number: int,
    values: dict[str, Any],
    known: dict[str, asyncpg.Record],
    paths: dict[str, str],
) -> tuple[str | None, dict | None]:
    """Where a row's unit goes ('new', 'update') or the row's error."""
    existing = known.get(values["code"])
    parent = values["parent_code"]
    if existing is not None:
        if not principal.covers_unit_path(existing["path"]):
            return None, row_error(number, "code", Msg("Ngoài phạm vi", "outside your subtree"))
        if existing["parent_code"] != parent:
            return None, row_error(
                number,
                "parent_code",
                Msg("Không hỗ trợ chuyển đơn vị", "moving a unit is not supported"),
            )
        return "update", None
    if parent is None:
        if principal.unit_path is not None:
            return None, row_error(number, "parent_code", Msg("Cần đơn vị cấp trên", "required"))
        paths[values["code"]] = f"/{values['code']}/"
        return "new", None
    parent_path = paths.get(parent) or (known[parent]["path"] if parent in known else None)
    if parent_path is None:
        return None, row_error(
            number,
            "parent_code",
            Msg(
                "Không có đơn vị cấp trên này (ở dòng trước)", "no such parent (in an earlier row)"
            ),
        )
    if not principal.covers_unit_path(parent_path):
        return None, row_error(number, "parent_code", Msg("Ngoài phạm vi", "outside your subtree"))
    paths[values["code"]] = f"{parent_path}{values['code']}/"
    return "new", None


async def write_units(
    conn: asyncpg.Connection,
    principal: Principal,
    rows: list[tuple[int, dict[str, Any]]],
    errors: list[dict],
) -> dict[str, int]:
    """Insert new units (parents first, as in the file) and rename existing ones; or none."""
    async with conn.transaction():
        codes = {v["code"] for _, v in rows} | {
            v["parent_code"] for _, v in rows if v["parent_code"]
        }
        known = {r["code"]: r for r in await q.fetch_units_by_code(conn, sorted(codes))}
        paths: dict[str, str] = {}
        new, updates = [], []
        for number, values in rows:
            what, error = _place_unit(principal, number, values, known, paths)
            if error is not None:
                errors.append(error)
            elif what == "new":
                new.append(
                    (
                        values["code"],
                        values["name"],
                        values["level"],
                        values["parent_code"],
                        paths[values["code"]],
                    )
                )
            else:
                updates.append((values["code"], values["name"], values["level"]))
        if errors:
            raise import_failed(sorted(errors, key=lambda e: e["row"]))
        await q.insert_units(conn, new)
        await q.rename_units(conn, updates)
        counts = {"imported": len(new), "updated": len(updates)}
        await audit.record(conn, principal, "import", "unit", "import", None, counts)
    return counts


async def import_units(
    conn: asyncpg.Connection, principal: Principal, sheet: Sheet
) -> dict[str, int]:
    """Create or rename every unit of the file, or none: `{imported, updated}` (the CLI's
    way in; the API reads the file in its import threads, then calls write_units)."""
    rows, errors = await asyncio.to_thread(parse_units, sheet)
    return await write_units(conn, principal, rows, errors)
