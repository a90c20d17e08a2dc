"""Conferences: create, update, the participating sites, and the status that follows the clock.

Status (DESIGN, Rules): `draft` until `checkin_opens_at`, `open`, `live` from `starts_at`,
`closed` from `ends_at`, `signed_off` by sign-off. It is computed from the schedule on
every read (queries/conferences.py); an explicit transition moves the schedule to now.
The host site always takes part: naming it adds it to the participating sites.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from diemcau import audit
from diemcau.auth import Principal
from diemcau.errors import Msg, Problem, field_error, validation_failed
from diemcau.queries import conferences as q
from diemcau.search import decode_cursor, encode_cursor
from diemcau.units import Code, Name

STATUSES = ("draft", "open", "live", "closed", "signed_off")
# Forward moves that leave a coherent schedule. draft -> closed would need
# checkin <= starts < ends all at "now"; signed_off belongs to the sign-off endpoint.
NEXT = {"draft": ("open", "live"), "open": ("live",), "live": ("closed",), "closed": ()}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_CHECKIN_LEAD_MINUTES = 60


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Múi giờ không tồn tại: {value}|unknown time zone: {value}") from None
    return value


def check_fraction(value: float) -> float:
    """A target rate: a fraction, since people write 98 (per cent) for 0.98."""
    if not 0 <= value <= 1:
        raise ValueError(
            "Tỷ lệ mục tiêu là phân số từ 0 đến 1, ví dụ 0.98 cho 98%|"
            "a target is a fraction from 0 to 1, such as 0.98 for 98%"
        )
    return value


_BARE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def refuse_bare_date(value: Any) -> Any:
    """A date with no time would silently mean midnight: ask for the time instead."""
    if isinstance(value, str) and _BARE_DATE.match(value):
        raise ValueError(
            f"Thiếu giờ: {value.strip()} sẽ là 00:00; hãy ghi cả giờ, ví dụ {value.strip()}T08:00|"
            f"no time given: {value.strip()} would mean midnight; write the time too, "
            f"such as {value.strip()}T08:00"
        )
    return value


Fraction = Annotated[
    float,
    Field(json_schema_extra={"minimum": 0, "maximum": 1}),
    AfterValidator(check_fraction),
]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
When = Annotated[datetime, BeforeValidator(refuse_bare_date)]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_site: Literal["accept", "reject"] = "accept"


class Targets(BaseModel):
    """Target attendance rate per category, a fraction (0.98 is 98%)."""

    model_config = ConfigDict(extra="forbid")
    member: Fraction | None = None
    non_member: Fraction | None = None
    guest: Fraction | None = None


class ConferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
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

    model_config = ConfigDict(extra="forbid")
    title: Name | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    checkin_opens_at: When | None = None
    timezone: TimeZone | None = None
    host_site: Code | None = None
    policy: Policy | None = None
    targets: Targets | None = None
    unit_code: Code | None = None


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có hội nghị này", "no such conference"))


def visible_to(principal: Principal, conference: asyncpg.Record) -> bool:
    """Whether the caller may see this conference at all (else it answers 404).

    Tokens bound to one conference (kiosk, viewer) see that one; an organiser limited to
    a unit subtree sees the conferences owned by a unit of that subtree.
    """
    if not principal.covers_conference(conference["id"]):
        return False
    if principal.role == "organiser" and principal.unit_path is not None:
        path = conference["unit_path"]
        return path is not None and path.startswith(principal.unit_path)
    return True


async def reload(conn: asyncpg.Connection, conference_id: int, *, lock: bool = False) -> Any:
    """The conference as of now (locked for this transaction with `lock`), or 404."""
    row = await q.fetch_conference_by_id(conn, conference_id, lock=lock)
    if row is None:
        raise not_found()
    return row


def ensure_writable(conference: Any) -> None:
    """A signed-off conference is locked: every write answers 409 `locked`."""
    if conference["status"] == "signed_off" or conference["signed_off_at"] is not None:
        raise Problem(
            "locked",
            Msg(
                "Hội nghị đã khóa sổ, không thể thay đổi",
                "the conference is signed off; nothing can change",
            ),
        )


def localise(value: datetime, timezone: str) -> datetime:
    """A time as given, or read in the conference's zone when it carries no offset."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(timezone))
    return value


def check_window(opens: datetime, starts: datetime, ends: datetime) -> None:
    if opens > starts:
        raise validation_failed(
            "checkin_opens_at",
            Msg("Giờ mở điểm danh phải trước giờ khai mạc", "must not be after starts_at"),
        )
    if starts >= ends:
        raise validation_failed(
            "ends_at", Msg("Giờ bế mạc phải sau giờ khai mạc", "must be after starts_at")
        )


def conference_out(row: Any, counts: Any = None) -> dict[str, Any]:
    """The contract shape; times shown with their offset in the conference's zone."""
    zone = ZoneInfo(row["timezone"])
    out = {
        "code": row["code"],
        "title": row["title"],
        "starts_at": row["starts_at"].astimezone(zone),
        "ends_at": row["ends_at"].astimezone(zone),
        "checkin_opens_at": row["checkin_opens_at"].astimezone(zone),
        "timezone": row["timezone"],
        "host_site": row["host_site"],
        "policy": {"other_site": row["policy_other_site"]},
        "targets": row["targets"],
        "status": row["status"],
        "unit_code": row["unit_code"],
        "signed_off_at": row["signed_off_at"] and row["signed_off_at"].astimezone(zone),
        "created_at": row["created_at"].astimezone(zone),
        "updated_at": row["updated_at"].astimezone(zone),
    }
    if counts is not None:
        out["sites_count"] = counts["sites"]
        out["delegates_count"] = counts["delegates"]
    return out


async def _owning_unit(
    conn: asyncpg.Connection, principal: Principal, code: str | None
) -> int | None:
    """The unit id for `unit_code`; a scoped organiser's conferences stay in their subtree."""
    if code is None:
        if principal.unit_path is not None:
            return principal.unit_id  # a scoped organiser's conference is theirs by default
        return None
    unit = await conn.fetchrow("SELECT id, path FROM units WHERE code = $1", code)
    if unit is None:
        raise validation_failed("unit_code", Msg("Không có đơn vị này", f"no unit {code!r}"))
    if not principal.covers_unit_path(unit["path"]):
        raise Problem(
            "forbidden",
            Msg("Đơn vị ngoài phạm vi của mã truy cập", "the unit is outside your scope"),
            errors=[field_error("unit_code", Msg("Ngoài phạm vi", "outside your scope"))],
        )
    return unit["id"]


async def _site_ids(conn: asyncpg.Connection, codes: list[str], field: str) -> dict[str, int]:
    """{code: id} for these site codes; 422 listing each unknown one as `field.N`."""
    rows = await conn.fetch("SELECT code, id FROM sites WHERE code = ANY($1::text[])", codes)
    found = {r["code"]: r["id"] for r in rows}
    errors = [
        field_error(f"{field}.{i}", Msg(f"Không có điểm cầu {c}", f"no site {c!r}"))
        for i, c in enumerate(codes)
        if c not in found
    ]
    if errors:
        raise Problem(
            "validation_failed", Msg("Có mã điểm cầu không tồn tại", "unknown sites"), errors=errors
        )
    return found


async def _host_site_id(conn: asyncpg.Connection, code: str | None) -> int | None:
    if code is None:
        return None
    found = await conn.fetchval("SELECT id FROM sites WHERE code = $1", code)
    if found is None:
        raise validation_failed("host_site", Msg("Không có điểm cầu này", f"no site {code!r}"))
    return found


async def _add_sites(conn: asyncpg.Connection, conference_id: int, site_ids: list[int]) -> None:
    await conn.execute(
        """INSERT INTO conference_sites (conference_id, site_id)
           SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING""",
        conference_id,
        site_ids,
    )


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
        host_id = await _host_site_id(conn, data.host_site)
        codes = list(dict.fromkeys(data.sites))
        site_ids = await _site_ids(conn, codes, "sites") if codes else {}
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
        ids = list(site_ids.values()) + ([host_id] if host_id is not None else [])
        await _add_sites(conn, conference_id, ids)
        row = await reload(conn, conference_id)
        counts = await q.fetch_counts(conn, conference_id)
        out = conference_out(row, counts)
        await audit.record(conn, principal, "create", "conference", data.code, after=out)
        await _store_status(conn, row)
    return out


async def _store_status(conn: asyncpg.Connection, row: Any) -> None:
    # The stored column is only a snapshot for people reading the table by hand; every
    # reader in the service uses the computed status.
    await conn.execute("UPDATE conferences SET status = $2 WHERE id = $1", row["id"], row["status"])


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
            host_id = await _host_site_id(conn, patch.host_site)
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
            await _add_sites(conn, row["id"], [host_id])
        after = await reload(conn, row["id"])
        out = conference_out(after, await q.fetch_counts(conn, row["id"]))
        await audit.record(
            conn, principal, "update", "conference", row["code"], conference_out(row), out
        )
        await _store_status(conn, after)
    return out


def _invalid_transition(current: str, target: str) -> Problem:
    allowed = list(NEXT.get(current, ()))
    shown = ", ".join(allowed) or "—"
    hint_vi = " (khóa sổ bằng chức năng ký xác nhận)" if target == "signed_off" else ""
    hint_en = " (signing off has its own endpoint)" if target == "signed_off" else ""
    return Problem(
        "invalid_transition",
        Msg(
            f"Không thể chuyển từ {current} sang {target}; được phép: {shown}{hint_vi}",
            f"cannot go from {current} to {target}; allowed: {shown}{hint_en}",
        ),
        errors=[field_error("status", Msg(f"Được phép: {shown}", f"allowed: {shown}"))],
        current=current,
        allowed=allowed,
    )


# Which schedule fields a move sets to now (the status then follows the clock).
_MOVES = {
    ("draft", "open"): ("checkin_opens_at",),
    ("draft", "live"): ("checkin_opens_at", "starts_at"),
    ("open", "live"): ("starts_at",),
    ("live", "closed"): ("ends_at",),
}


async def change_status(
    conn: asyncpg.Connection, principal: Principal, conference: Any, target: str
) -> dict[str, Any]:
    """Move the status forward by moving the schedule to now; 409 for any other move."""
    async with conn.transaction():
        row = await reload(conn, conference["id"], lock=True)
        ensure_writable(row)
        fields = _MOVES.get((row["status"], target))
        if fields is None:
            raise _invalid_transition(row["status"], target)
        sets = ", ".join(f"{f} = now()" for f in fields)  # names from the fixed table above
        await conn.execute(
            f"UPDATE conferences SET {sets}, updated_at = now() WHERE id = $1", row["id"]
        )
        after = await reload(conn, row["id"])
        out = conference_out(after, await q.fetch_counts(conn, row["id"]))
        await audit.record(
            conn,
            principal,
            "status",
            "conference",
            row["code"],
            {"status": row["status"]},
            {"status": after["status"]},
        )
        await _store_status(conn, after)
    return out


async def _sites_with_delegates(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT s.code, count(*) AS delegates FROM delegates d JOIN sites s ON s.id = d.site_id
            WHERE d.conference_id = $1 AND d.site_id = ANY($2::bigint[])
            GROUP BY s.code ORDER BY s.code""",
        conference_id,
        site_ids,
    )


def _sites_in_use(rows: list[asyncpg.Record]) -> Problem:
    names = ", ".join(f"{r['code']} ({r['delegates']})" for r in rows)
    return Problem(
        "conflict",
        Msg(
            f"Không thể bỏ điểm cầu còn đại biểu: {names}; hãy chuyển đại biểu đi trước",
            f"cannot remove sites that still have delegates: {names}; move them first",
        ),
        errors=[
            field_error(
                "sites",
                Msg(
                    f"Điểm cầu {r['code']} còn {r['delegates']} đại biểu",
                    f"site {r['code']} still has {r['delegates']} delegates",
                ),
                site=r["code"],
            )
            for r in rows
        ],
    )


async def set_sites(
    conn: asyncpg.Connection, principal: Principal, conference: Any, codes: list[str]
) -> list[asyncpg.Record]:
    """Replace the participating sites (the host site always stays); answer the new list."""
    codes = list(dict.fromkeys(codes))
    async with conn.transaction():
        row = await reload(conn, conference["id"], lock=True)
        ensure_writable(row)
        wanted = set((await _site_ids(conn, codes, "sites")).values())
        if row["host_site_id"] is not None:
            wanted.add(row["host_site_id"])
        current = {
            r["site_id"]
            for r in await conn.fetch(
                "SELECT site_id FROM conference_sites WHERE conference_id = $1", row["id"]
            )
        }
        removed = sorted(current - wanted)
        in_use = await _sites_with_delegates(conn, row["id"], removed) if removed else []
        if in_use:
            raise _sites_in_use(in_use)
        before = [r["code"] for r in await q.fetch_conference_sites(conn, row["id"])]
        await conn.execute(
            "DELETE FROM conference_sites WHERE conference_id = $1 AND site_id = ANY($2::bigint[])",
            row["id"],
            removed,
        )
        await _add_sites(conn, row["id"], sorted(wanted - current))
        after = await q.fetch_conference_sites(conn, row["id"])
        await audit.record(
            conn,
            principal,
            "set_sites",
            "conference",
            row["code"],
            {"sites": before},
            {"sites": [r["code"] for r in after]},
        )
    return after


async def list_conferences(
    conn: asyncpg.Connection, principal: Principal, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of conferences, newest first, within the caller's unit subtree."""
    key = decode_cursor(cursor)
    after = _cursor_id(key)
    rows = await q.fetch_conferences(
        conn, unit_path=principal.unit_path, after=after, limit=limit + 1
    )
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [conference_out(r) for r in page],
        "next": encode_cursor(str(page[-1]["id"])) if more else None,
    }


def _cursor_id(key: str | None) -> int | None:
    if key is None:
        return None
    if not key.isdigit():
        raise Problem("invalid_cursor", Msg("Con trỏ không đúng", "invalid cursor"))
    return int(key)
