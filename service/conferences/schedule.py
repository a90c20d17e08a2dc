"""A conference's schedule and the status that follows the clock.

Status (DESIGN, Rules): `draft` until `checkin_opens_at`, `open`, `live` from `starts_at`,
`closed` from `ends_at`, `signed_off` by sign-off. It is computed from the schedule on
every read (queries/conferences.py); an explicit transition moves the schedule to now.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import AfterValidator, BeforeValidator

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences.access import conference_out, ensure_writable, reload
from diemcau.errors import Msg, Problem, field_error, validation_failed
from diemcau.queries import conferences as q
from diemcau.validation import JSON_TIME

STATUSES = ("draft", "open", "live", "closed", "signed_off")
# Forward moves that leave a coherent schedule. draft -> closed would need
# checkin <= starts < ends all at "now"; signed_off belongs to the sign-off endpoint.
NEXT = {"draft": ("open", "live"), "open": ("live",), "live": ("closed",), "closed": ()}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_CHECKIN_LEAD_MINUTES = 60


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ValueError(f"Múi giờ không tồn tại: {value}|unknown time zone: {value}") from None
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


TimeZone = Annotated[str, AfterValidator(check_timezone)]

# Python and PostgreSQL hold years 1 to 9999, but shifting such a time into a time zone
# overflows (a 500); no conference is held outside these years.
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2200, 1, 1)


def check_moment(value: datetime) -> datetime:
    if not EARLIEST <= value.replace(tzinfo=None) < LATEST:
        raise ValueError(
            "Thời điểm phải nằm trong các năm 2000 đến 2199|must lie in the years 2000 to 2199"
        )
    return value


# A conference's time: RFC 3339 text with a time of day (a bare date is told so first),
# within the years a conference can have.
When = Annotated[
    datetime, *JSON_TIME, BeforeValidator(refuse_bare_date), AfterValidator(check_moment)
]


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


async def store_status(conn: asyncpg.Connection, row: Any) -> None:
    # The stored column is only a snapshot for people reading the table by hand; every
    # reader in the service uses the computed status.
    await conn.execute("UPDATE conferences SET status = $2 WHERE id = $1", row["id"], row["status"])


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
        await store_status(conn, after)
    return out
