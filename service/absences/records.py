"""One delegate's absence: record (or replace), read, remove, and the list.

An absence is for a delegate who did not come: one who checked in is refused (409,
naming where). An organiser whose scope covers the delegate's site, or a technician of
that site, records it; others see nothing (404), as for a delegate outside their scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences import hold_writable
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import absences as q
from diemcau.queries.conferences import fetch_delegate
from diemcau.registry import FreeText
from diemcau.search import decode_cursor, encode_cursor
from diemcau.units import Code
from diemcau.validation import STRICT

REASONS = ("sick", "on_duty", "travel", "other")
Reason = Literal["sick", "on_duty", "travel", "other"]


class AbsenceIn(BaseModel):
    """DESIGN, Contract: `{delegate_id, reason, note, makeup_owed}`."""

    model_config = STRICT
    delegate_id: int = Field(ge=1, le=2**62)
    reason: Reason
    note: FreeText | None = None
    makeup_owed: bool = Field(False, description="a make-up session is owed")


class AbsenceFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Code | None = None
    reason: Reason | None = None
    makeup_owed: bool | None = None
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có đại biểu này", "no such delegate"))


def absence_out(row: Any) -> dict[str, Any]:
    return {
        "delegate_id": row["delegate_id"],
        "external_id": row["external_id"],
        "full_name": row["full_name"],
        "category": row["category"],
        "site_code": row["site_code"],
        "unit_code": row["unit_code"],
        "reason": row["reason"],
        "note": row["note"],
        "makeup_owed": row["makeup_owed"],
        "by": row["actor"],
        "recorded_at": row["recorded_at"],
        "updated_at": row["updated_at"],
    }


async def _delegate_in_scope(
    conn: asyncpg.Connection, caller: Principal, conference_id: int, delegate_id: int
) -> Any:
    delegate = await fetch_delegate(conn, conference_id, delegate_id)
    if delegate is None or not caller.covers_unit_path(delegate["site_unit_path"]):
        raise not_found()
    return delegate


def checked_in(site: str, at: datetime | None) -> Problem:
    message = Msg(
        f"Đại biểu đã điểm danh tại {site}; hủy lượt điểm danh trước nếu đó là nhầm lẫn",
        f"the delegate checked in at {site}; annul that check-in first if it was a mistake",
    )
    return Problem("conflict", message, errors=[field_error("delegate_id", message)], site=site)


def _serialisable(out: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in out.items()}


async def record_absence(
    conn: asyncpg.Connection, caller: Principal, conference: Any, data: AbsenceIn
) -> tuple[dict[str, Any], bool]:
    """Record or replace a delegate's absence; answers it and whether it is new."""
    async with conn.transaction():
        row = await hold_writable(conn, conference["id"])
        await _delegate_in_scope(conn, caller, row["id"], data.delegate_id)
        came = await q.fetch_counted_site(conn, data.delegate_id)
        if came is not None:
            raise checked_in(came["code"], came["first_at"])
        before = await q.fetch_absence(conn, row["id"], data.delegate_id)
        values = {
            **data.model_dump(),
            "conference_id": row["id"],
            "token_id": caller.token_id,
            "actor": caller.actor,
        }
        new = await q.upsert_absence(conn, values)
        out = absence_out(await q.fetch_absence(conn, row["id"], data.delegate_id))
        key = f"{row['code']}/{data.delegate_id}"
        old = None if before is None else _serialisable(absence_out(before))
        await audit.record(conn, caller, "record", "absence", key, old, _serialisable(out))
    return out, new


async def read_absence(
    conn: asyncpg.Connection, caller: Principal, conference: Any, delegate_id: int
) -> dict[str, Any]:
    found = await q.fetch_absence(conn, conference["id"], delegate_id)
    if found is None or not caller.covers_unit_path(found["site_unit_path"]):
        raise Problem("not_found", Msg("Không có ghi nhận vắng mặt này", "no such absence"))
    return absence_out(found)


async def remove_absence(
    conn: asyncpg.Connection, caller: Principal, conference: Any, delegate_id: int
) -> None:
    """The delegate was not absent after all: the absence goes (audited)."""
    async with conn.transaction():
        row = await hold_writable(conn, conference["id"])
        before = await read_absence(conn, caller, row, delegate_id)
        await q.delete_absence(conn, row["id"], delegate_id)
        key = f"{row['code']}/{delegate_id}"
        await audit.record(conn, caller, "delete", "absence", key, _serialisable(before), None)


async def list_absences(
    conn: asyncpg.Connection, caller: Principal, conference: Any, query: AbsenceFilter
) -> dict[str, Any]:
    """A page of absences in external_id order, within the caller's subtree."""
    rows = await q.fetch_absences(
        conn,
        conference["id"],
        site_unit_path=caller.unit_path,
        site=query.site,
        reason=query.reason,
        makeup_owed=query.makeup_owed,
        after=decode_cursor(query.cursor),
        limit=query.limit + 1,
    )
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return {
        "items": [absence_out(r) for r in page],
        "next": encode_cursor(page[-1]["external_id"]) if more else None,
    }
