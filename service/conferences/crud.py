"""Conferences: the input models, create, read back, update and list.

A scoped organiser's conferences belong to a unit of their subtree; see access.py for
who sees what, schedule.py for the status, sites.py for the participating sites.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import AfterValidator, BaseModel, Field

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences.access import conference_out, ensure_writable, reload
from diemcau.conferences.schedule import (
    DEFAULT_CHECKIN_LEAD_MINUTES,
    DEFAULT_TIMEZONE,
    TimeZone,
    When,
    check_window,
    localise,
    store_status,
)
from diemcau.conferences.sites import add_sites, host_site_id, participant_ids
from diemcau.queries import conferences as q
from diemcau.search import decode_id_cursor, encode_cursor
from diemcau.units import Code, Name, target_unit
from diemcau.validation import STRICT


def check_fraction(value: float) -> float:
    """A target rate: a fraction, since people write 98 (per cent) for 0.98."""
    if not 0 <= value <= 1:
        raise ValueError(
            "Tỷ lệ mục tiêu là phân số từ 0 đến 1, ví dụ 0.98 cho 98%|"
            "a target is a fraction from 0 to 1, such as 0.98 for 98%"
        )
    return value


Fraction = Annotated[
    float,
    Field(json_schema_extra={"minimum": 0, "maximum": 1}),
    AfterValidator(check_fraction),
]


class Policy(BaseModel):
    model_config = STRICT
    other_site: Literal["accept", "reject"] = "accept"


class Targets(BaseModel):
    """Target attendance rate per category, a fraction (0.98 is 98%)."""

    model_config = STRICT
    member: Fraction | None = None
    non_member: Fraction | None = None
    guest: Fraction | None = None


class ConferenceIn(BaseModel):
    model_config = STRICT
    code: Code
    title: Name
    starts_at: When
    ends_at: When
    checkin_opens_at: When | None = Field(None, description="default: 60 minutes before starts_at")
    timezone: TimeZone = DEFAULT_TIMEZONE
    host_site: Code | None = None
    sites: list[Code] = Field(default_factory=list, max_length=100_000)
    policy: Policy = Field(default_factory=Policy)
    targets: Targets = Field(default_factory=Targets)
    unit_code: Code | None = None


class ConferencePatch(BaseModel):
    """Fields present are changed (null clears host_site or unit_code); absent ones kept."""

    model_config = STRICT
    title: Name | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    checkin_opens_at: When | None = None
    timezone: TimeZone | None = None
    host_site: Code | None = None
    policy: Policy | None = None
    targets: Targets | None = None
    unit_code: Code | None = None


async def _owning_unit(
    conn: asyncpg.Connection, principal: Principal, code: str | None
) -> int | None:
    """The unit id for `unit_code`; a scoped organiser's conferences stay in their subtree."""
    if code is None:
        if principal.unit_path is not None:
            return principal.unit_id  # a scoped organiser's conference is theirs by default
        return None
    return (await target_unit(conn, principal, code, "unit_code"))["id"]


async def create_conference(
    conn: asyncpg.Connection, principal: Principal, data: ConferenceIn
) -> dict[str, Any]:
    """A new conference with its sites (the host among them); 409 when the code exists."""
    tz = data.timezone
    starts, ends = localise(data.starts_at, tz), localise(data.ends_at, tz)
    opens = localise(data.checkin_opens_at, tz) if data.checkin_opens_at else None
    if opens is None:
        opens = starts - timedelta(minutes=DEFAULT_CHECKIN_LEAD_MINUTES)
    check_window(opens, starts, ends)
    async with conn.transaction():
        unit_id = await _owning_unit(conn, principal, data.unit_code)
        host_id = await host_site_id(conn, principal, data.host_site)
        codes = list(dict.fromkeys(data.sites))
        found = await participant_ids(conn, principal, codes, frozenset())
        targets = data.targets.model_dump(exclude_none=True)
        conference_id = await conn.fetchval(
            """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at,
                   timezone, host_site_id, policy_other_site, targets, unit_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
            data.code,
            data.title,
            starts,
            ends,
            opens,
            tz,
            host_id,
            data.policy.other_site,
            targets,
            unit_id,
        )
        ids = list(found.values()) + ([host_id] if host_id is not None else [])
        await add_sites(conn, conference_id, ids)
        row = await reload(conn, conference_id)
        counts = await q.fetch_counts(conn, conference_id)
        out = conference_out(row, counts)
        await audit.record(conn, principal, "create", "conference", data.code, after=out)
        await store_status(conn, row)
    return out


def _patched_times(row: Any, patch: ConferencePatch, tz: str) -> dict[str, datetime]:
    times = {}
    for name in ("starts_at", "ends_at", "checkin_opens_at"):
        given = getattr(patch, name)
        times[name] = localise(given, tz) if given is not None else row[name]
    check_window(times["checkin_opens_at"], times["starts_at"], times["ends_at"])
    return times


async def update_conference(
    conn: asyncpg.Connection, principal: Principal, conference: Any, patch: ConferencePatch
) -> dict[str, Any]:
    """Change the fields given; a new host site joins the participating sites."""
    given = patch.model_fields_set
    async with conn.transaction():
        row = await reload(conn, conference["id"], lock=True)
        ensure_writable(row)
        tz = patch.timezone or row["timezone"]
        times = _patched_times(row, patch, tz)
        host_id = row["host_site_id"]
        if "host_site" in given:
            host_id = await host_site_id(conn, principal, patch.host_site, row["host_site_id"])
        unit_id = row["unit_id"]
        if "unit_code" in given:
            unit_id = await _owning_unit(conn, principal, patch.unit_code)
        policy = patch.policy.other_site if patch.policy else row["policy_other_site"]
        targets = patch.targets.model_dump(exclude_none=True) if patch.targets else row["targets"]
        await conn.execute(
            """UPDATE conferences SET title = $2, starts_at = $3, ends_at = $4,
                   checkin_opens_at = $5, timezone = $6, host_site_id = $7,
                   policy_other_site = $8, targets = $9, unit_id = $10, updated_at = now()
             WHERE id = $1""",
            row["id"],
            patch.title or row["title"],
            times["starts_at"],
            times["ends_at"],
            times["checkin_opens_at"],
            tz,
            host_id,
            policy,
            targets,
            unit_id,
        )
        if host_id is not None:
            await add_sites(conn, row["id"], [host_id])
        after = await reload(conn, row["id"])
        out = conference_out(after, await q.fetch_counts(conn, row["id"]))
        await audit.record(
            conn, principal, "update", "conference", row["code"], conference_out(row), out
        )
        await store_status(conn, after)
    return out


async def list_conferences(
    conn: asyncpg.Connection, principal: Principal, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of conferences, newest first, within the caller's unit subtree."""
    after = decode_id_cursor(cursor)
    rows = await q.fetch_conferences(
        conn, unit_path=principal.unit_path, after=after, limit=limit + 1
    )
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [conference_out(r) for r in page],
        "next": encode_cursor(str(page[-1]["id"])) if more else None,
    }
