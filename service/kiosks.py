"""Kiosks: enrollment codes, enrolling a device, listing and revoking a site's kiosks,
and what a kiosk reads about itself.

A kiosk is a token of role `kiosk` bound to one site of one conference, with a row in
`kiosks` (device name, when enrolled, when last seen). A technician asks for a short
code, types it (or shows its QR) on the device, and the device trades it once for its
token: the code is 8 characters from an alphabet without look-alikes, readable aloud
over a bad phone line, stored hashed, single use, valid 24 hours.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from diemcau import audit, auth, keystore, qr
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable
from diemcau.conferences.access import schedule_out
from diemcau.errors import Msg, Problem
from diemcau.queries import kiosks as q
from diemcau.ratelimit import FailureGuard

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
CODE_TTL = timedelta(hours=24)
ONLINE_WITHIN = timedelta(seconds=30)  # DESIGN: kiosk_online, seen within 30 s
# 31^8 codes, a few thousand live at once: at ten wrong guesses a minute, one address
# would need decades to hit one; a training room enrolling fifty phones is not slowed.
ENROLL_TRIES = FailureGuard("enroll", tries=10, window=timedelta(minutes=1))
TOO_MANY_CODES = Msg(
    "Đã nhập sai mã ghép máy quá nhiều lần; hãy đợi một phút rồi thử lại",
    "too many wrong enrollment codes; wait a minute and try again",
)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """`7KQ4-MZ2P`: two groups of four are easier to read out and type."""
    return f"{code[:4]}-{code[4:]}"


def normalise_code(text: str) -> str | None:
    """The code as stored from what a person typed (any case, dashes or spaces), or None
    when it cannot be one."""
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def refused(reason: str) -> Problem:
    messages = {
        "unknown": Msg("Mã ghép máy không đúng", "no such enrollment code"),
        "used": Msg(
            "Mã ghép máy đã được dùng; hãy xin mã mới",
            "this enrollment code was used already; ask for a new one",
        ),
        "expired": Msg(
            "Mã ghép máy đã hết hạn; hãy xin mã mới",
            "this enrollment code has expired; ask for a new one",
        ),
    }
    message = messages[reason]
    return Problem(
        "enrollment_code_refused",
        message,
        errors=[{"field": "code", "message": message}],
        reason=reason,
    )


def enroll_url(origin: str, code: str) -> str:
    """The link that opens the kiosk page with the code filled in."""
    return f"{origin}/kiosk#enroll={code}"


def enroll_qr_text(origin: str, code: str) -> str:
    """What the enrollment QR says: `<ORIGIN>/K/<CODE>` in upper case, so it fits the
    QR alphanumeric mode (a phone's camera opens it; /K/ sends it on to the kiosk page),
    or the bare code when the origin has characters that mode cannot carry."""
    text = f"{origin.upper()}/K/{code}"
    if len(text) <= qr.CAPACITY and all(c in qr.ALPHANUMERIC for c in text):
        return text
    return code


async def create_code(
    conn: asyncpg.Connection, caller: Principal, conference: Any, site: Any
) -> tuple[str, datetime]:
    """A new enrollment code for a kiosk of this site; answers it and when it expires (in
    the conference's zone: a technician reads it)."""
    ensure_writable(conference)
    code = new_code()
    async with conn.transaction():
        expires_at = await q.insert_code(
            conn, auth.hash_secret(code), conference["id"], site["id"], caller.token_id, CODE_TTL
        )
        after = {"site": site["code"], "expires_at": expires_at.isoformat()}
        await audit.record(conn, caller, "create", "kiosk_code", conference["code"], None, after)
    return code, expires_at.astimezone(ZoneInfo(conference["timezone"]))


async def code_is_live(
    conn: asyncpg.Connection, conference_id: int, site_id: int, code: str
) -> bool:
    row = await q.fetch_code(conn, auth.hash_secret(code))
    return (
        row is not None
        and row["conference_id"] == conference_id
        and row["site_id"] == site_id
        and row["used_at"] is None
        and not row["expired"]
    )


# A kiosk enrolled without a name is called by its number at the site, in the language
# of the device that enrolled it: "Máy 3" / "Kiosk 3".
DEVICE_NAME = Msg("Máy {}", "Kiosk {}")
_NUMBERED = re.compile(r"^(?:Máy|Kiosk) (\d{1,6})$")


def next_device_name(names: Iterable[str], lang: str) -> str:
    """The next numbered name at a site: one more than its kiosks, and past any number
    already taken, so no two kiosks of a site get the same number from the service."""
    names = list(names)
    taken = [int(m[1]) for n in names if (m := _NUMBERED.match(n))]
    return DEVICE_NAME.text(lang).format(max([len(names), *taken]) + 1)


async def _live_code(conn: asyncpg.Connection, text: str) -> asyncpg.Record:
    """The code's row when it can still be used, else the refusal saying why."""
    code = normalise_code(text)
    row = None if code is None else await q.fetch_code(conn, auth.hash_secret(code))
    if row is None:
        raise refused("unknown")
    if row["used_at"] is not None or row["expired"]:
        raise refused("used" if row["used_at"] else "expired")
    return row


async def preview(conn: asyncpg.Connection, text: str, lang: str) -> dict[str, Any]:
    """What a code would enroll, without using it: the conference and site to show the
    person holding the device, when the code expires, and the name the kiosk would get."""
    row = await _live_code(conn, text)
    conference = await q.fetch_conference_brief(conn, row["conference_id"])
    ensure_writable(conference)
    site = await q.fetch_site_brief(conn, row["site_id"])
    names = await q.fetch_device_names(conn, row["conference_id"], row["site_id"])
    return {
        "conference": conference_brief(conference),
        "site": site_brief(site),
        "expires_at": row["expires_at"].astimezone(ZoneInfo(conference["timezone"])),
        "device_name": next_device_name(names, lang),
    }


async def enroll(
    conn: asyncpg.Connection, text: str, device_name: str | None, lang: str = "vi"
) -> dict[str, Any]:
    """Trade a code for a kiosk token; the answer carries what the kiosk needs offline.
    Without a device name the kiosk is numbered at its site (`next_device_name`)."""
    code = normalise_code(text)
    if code is None:
        raise refused("unknown")
    async with conn.transaction():
        used = await q.use_code(conn, auth.hash_secret(code))
        if used is None:
            await _live_code(conn, code)  # the refusal that says why
            raise refused("used")  # live a moment ago: another device took it meanwhile
        conference = await q.fetch_conference_brief(conn, used["conference_id"])
        ensure_writable(conference)
        site = await q.fetch_site_brief(conn, used["site_id"])
        if not device_name:
            names = await q.fetch_device_names(conn, used["conference_id"], used["site_id"])
            device_name = next_device_name(names, lang)
        secret, token_id = await auth.create_token(
            conn,
            "kiosk",
            label=device_name,
            conference=conference["code"],
            site=site["code"],
            created_by=used["created_by"],
        )
        await q.mark_code_used(conn, auth.hash_secret(code), token_id)
        enrolled = Principal(token_id, "kiosk", device_name)
        after = {"conference": conference["code"], "site": site["code"], "device": device_name}
        await audit.record(conn, enrolled, "enroll", "kiosk", str(token_id), None, after)
        keys = await keystore.jwks(conn, conference)
    return {
        "token": secret,
        "kiosk": {"id": token_id, "device_name": device_name},
        "conference": conference_brief(conference),
        "site": site_brief(site),
        "keys": keys,
    }


def conference_brief(row: Any) -> dict[str, Any]:
    """What a kiosk needs of its conference (times with the conference's offset), and
    its number, which codes carry, for an offline kiosk to compare."""
    return {"id": row["id"], **schedule_out(row)}


def site_brief(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "unit_code": row["unit_code"],
        "unit_name": row["unit_name"],
    }


def kiosk_out(row: Any, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """A kiosk as its technician reads it: times in the conference's zone."""
    seen = row["last_seen_at"]

    def local(when: datetime | None) -> datetime | None:
        return None if when is None else when.astimezone(zone)

    return {
        "id": row["token_id"],
        "device_name": row["device_name"],
        "enrolled_at": local(row["enrolled_at"]),
        "last_seen_at": local(seen),
        "online": row["revoked_at"] is None and seen is not None and now - seen <= ONLINE_WITHIN,
        "queue_length": row["queue_length"],
        "app_version": row["app_version"],
        "scans": row["scans"],
        "revoked_at": local(row["revoked_at"]),
    }


async def list_kiosks(conn: asyncpg.Connection, conference: Any, site_id: int) -> list[dict]:
    now = await conn.fetchval("SELECT now()")
    zone = ZoneInfo(conference["timezone"])
    rows = await q.fetch_site_kiosks(conn, conference["id"], site_id)
    return [kiosk_out(r, now, zone) for r in rows]


async def revoke_kiosk(
    conn: asyncpg.Connection, caller: Principal, conference: Any, site: Any, kiosk_id: int
) -> dict[str, Any]:
    """Revoke a kiosk's token at once; 404 when the site has no such kiosk."""
    async with conn.transaction():
        row = await q.fetch_site_kiosk(conn, conference["id"], site["id"], kiosk_id)
        if row is None:
            raise Problem("not_found", Msg("Không có máy điểm danh này", "no such kiosk"))
        if row["revoked_at"] is None:
            await auth.revoke_token(conn, kiosk_id)
            await audit.record(
                conn,
                caller,
                "revoke",
                "kiosk",
                str(kiosk_id),
                {"revoked": False},
                {"revoked": True},
            )
        row = await q.fetch_site_kiosk(conn, conference["id"], site["id"], kiosk_id)
        now = await conn.fetchval("SELECT now()")
    return kiosk_out(row, now, ZoneInfo(conference["timezone"]))


async def heartbeat(
    conn: asyncpg.Connection, token_id: int, queue_length: int | None, app_version: str | None
) -> datetime:
    """Record that the kiosk is alive (and how much it still has to send); answers the
    service's clock, which a kiosk can compare with its own."""
    await q.touch_kiosks(conn, [token_id], queue_length, app_version)
    return await conn.fetchval("SELECT now()")


async def site_counts(conn: asyncpg.Connection, conference_id: int, site_id: int) -> dict[str, Any]:
    """The site's tally now, for the kiosk's screen."""
    tally = await q.fetch_site_tally(conn, conference_id, site_id)
    expected = {c: 0 for c in ("member", "non_member", "guest")}
    for row in await q.fetch_expected(conn, conference_id, site_id):
        expected[row["category"]] = row["n"]

    def get(name: str) -> int:
        return tally[name] if tally is not None else 0

    return {
        "expected": expected,
        "checked_in": {c: get(f"checked_in_{c}") for c in expected},
        "walk_ins": sum(get(f"walk_ins_{c}") for c in expected),
        "present": get("present"),
        "exits": get("exits"),
        "last_scan_at": tally["last_scan_at"] if tally is not None else None,
    }
