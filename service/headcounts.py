"""Headcounts: what a technician counted in the room at `start`, `after_break` and `end`.

A correction is a new record; the latest of each moment (by `counted_at`, then by
record) is the one reconciliation uses, and the history stays readable. A site's
technician, an organiser whose scope covers the site, or a kiosk of the site (a kiosk
reports its own site only) may report one. An offline client gives each headcount a
`headcount_id` once; sending it again answers the stored record and adds nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel, Field, Strict

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences import When, hold_writable, localise
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import headcounts as q
from diemcau.queries import reconcile as qr
from diemcau.registry import FreeText
from diemcau.validation import STRICT

MOMENTS = ("start", "after_break", "end")
MAX_PEOPLE = 1_000_000


class HeadcountIn(BaseModel):
    """A headcount (DESIGN, Contract): `{moment, counted_at, members, non_members, guests,
    note}`; `counted_at` defaults to now, read in the conference's zone without offset."""

    model_config = STRICT
    moment: Literal["start", "after_break", "end"]
    counted_at: When | None = Field(None, description="when the room was counted (default now)")
    members: int = Field(ge=0, le=MAX_PEOPLE, description="party members counted")
    non_members: int = Field(ge=0, le=MAX_PEOPLE, description="non-members counted")
    guests: int = Field(ge=0, le=MAX_PEOPLE, description="invited guests counted")
    note: FreeText | None = None
    headcount_id: Annotated[UUID, Strict(False)] | None = Field(
        None, description="made once by an offline client: a repeat answers the stored record"
    )


def site_not_found() -> Problem:
    return Problem("not_found", Msg("Điểm cầu không tham gia hội nghị", "no such site"))


def may_report(caller: Principal, site: Any) -> bool:
    """A kiosk at its own site; staff whose subtree holds the site."""
    if caller.role == "kiosk":
        return caller.site_id == site["id"]
    return caller.covers_unit_path(site["unit_path"])


def headcount_out(row: Any, timezone: str) -> dict[str, Any]:
    """A headcount as the API answers it, times in the conference's zone."""
    zone = ZoneInfo(timezone)
    return {
        "id": row["id"],
        "headcount_id": str(row["client_id"]) if row["client_id"] else None,
        "site_code": row["site_code"],
        "moment": row["moment"],
        "counted_at": row["counted_at"].astimezone(zone),
        "members": row["members"],
        "non_members": row["non_members"],
        "guests": row["guests"],
        "total": row["members"] + row["non_members"] + row["guests"],
        "note": row["note"],
        "by": row["actor"],
        "recorded_at": row["recorded_at"].astimezone(zone),
    }


def _same(row: Any, conference_id: int, site_id: int, data: HeadcountIn, at: datetime) -> bool:
    return (row["conference_id"], row["site_id"], row["moment"], row["counted_at"]) == (
        conference_id,
        site_id,
        data.moment,
        at,
    ) and (row["members"], row["non_members"], row["guests"], row["note"]) == (
        data.members,
        data.non_members,
        data.guests,
        data.note,
    )


def reused_id() -> Problem:
    message = Msg(
        "Mã headcount_id đã dùng cho một lần đếm khác", "this headcount_id was used for another"
    )
    return Problem("conflict", message, errors=[field_error("headcount_id", message)])


async def record_headcount(
    conn: asyncpg.Connection, caller: Principal, conference: Any, site: Any, data: HeadcountIn
) -> tuple[dict[str, Any], bool]:
    """Store a headcount; answers it and whether it is new (False: a replay)."""
    at = localise(data.counted_at, conference["timezone"]) if data.counted_at else None
    async with conn.transaction():
        row = await hold_writable(conn, conference["id"])
        at = at or await conn.fetchval("SELECT now()")
        values = {
            **data.model_dump(exclude={"headcount_id", "counted_at"}),
            "conference_id": row["id"],
            "site_id": site["id"],
            "counted_at": at,
            "client_id": data.headcount_id,
            "token_id": caller.token_id,
            "actor": caller.actor,
        }
        new_id = await q.insert_headcount(conn, values)
        if new_id is None:
            assert data.headcount_id is not None
            stored = await q.fetch_by_client_id(conn, data.headcount_id)
            if stored is None or not _same(stored, row["id"], site["id"], data, at):
                raise reused_id()
            return headcount_out(stored, row["timezone"]), False
        stored = await q.fetch_headcount(conn, new_id)
        out = headcount_out(stored, row["timezone"])
        key = f"{row['code']}/{site['code']}/{data.moment}"
        await audit.record(conn, caller, "create", "headcount", key, None, _audit(out))
    return out, True


def _audit(out: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in out.items()}


async def site_headcounts(
    conn: asyncpg.Connection,
    conference: Any,
    site: Any,
    moment: str | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """A page of the site's history (latest recorded first), the latest headcount of each
    moment, and whether more history follows."""
    rows = await q.fetch_history(conn, conference["id"], site["id"], moment, before_id, limit + 1)
    latest_rows = await qr.fetch_latest_headcounts(conn, conference["id"], [site["id"]])
    zone = conference["timezone"]
    by_moment: dict[str, Any] = dict.fromkeys(MOMENTS)
    for r in latest_rows:
        by_moment[r["moment"]] = headcount_out({**dict(r), "site_code": site["code"]}, zone)
    return [headcount_out(r, zone) for r in rows[:limit]], by_moment, len(rows) > limit
