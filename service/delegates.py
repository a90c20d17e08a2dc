"""Delegates of a conference: the field rules (shared with the roster import), one-by-one
create, read, edit, delete, and the filtered roster list.

Moving a delegate to another site bumps `credential_version`: the QR code printed for
the old site then answers `revoked` (the code binds the assigned site and the version).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

import asyncpg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from diemcau import audit, text
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable, reload
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import conferences as q
from diemcau.registry import Phone
from diemcau.search import decode_cursor, encode_cursor
from diemcau.text import ascii_number
from diemcau.units import Code, Name, target_unit
from diemcau.validation import STRICT

CATEGORIES = ("member", "non_member", "guest")
# The contract's words and the Vietnamese ones (any case; NFD input is NFC'd first).
CATEGORY_WORDS = {
    "member": "member",
    "đảng viên": "member",
    "dang vien": "member",
    "non_member": "non_member",
    "non-member": "non_member",
    "non member": "non_member",
    "quần chúng": "non_member",
    "quan chung": "non_member",
    "guest": "guest",
    "khách mời": "guest",
    "khach moi": "guest",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_EXTERNAL_ID = 100
MAX_EMAIL = 254


def category_of(value: str) -> str | None:
    """The canonical category for a word people write, or None."""
    found = CATEGORY_WORDS.get(value)
    if found is None:
        word = " ".join(unicodedata.normalize("NFC", value).lower().split())
        found = CATEGORY_WORDS.get(word)
    return found


def check_category(value: str) -> str:
    found = category_of(value)
    if found is None:
        raise ValueError(
            "Loại đại biểu phải là đảng viên, quần chúng hoặc khách mời|"
            "category must be member, non_member or guest (or đảng viên, quần chúng, khách mời)"
        )
    return found


def check_email(value: str) -> str:
    value = text.checked_text(value, MAX_EMAIL)
    if not EMAIL_RE.match(value):
        raise ValueError("Địa chỉ thư điện tử không đúng|not an e-mail address")
    return value


def check_external_id(value: str) -> str:
    """An external id as stored, by the rule the roster import applies (text.checked_text)."""
    return text.required_text(value, MAX_EXTERNAL_ID)


Category = Annotated[str, AfterValidator(check_category)]
Email = Annotated[str, AfterValidator(check_email)]
ExternalId = Annotated[str, AfterValidator(check_external_id)]


class DelegateIn(BaseModel):
    model_config = STRICT
    external_id: ExternalId
    full_name: Name
    category: Category
    site_code: Code
    unit_code: Code | None = Field(None, description="default: the site's unit")
    phone: Phone | None = None
    email: Email | None = None


class DelegatePatch(BaseModel):
    """Fields present are changed (null clears phone, email or unit_code)."""

    model_config = STRICT
    external_id: ExternalId | None = None
    full_name: Name | None = None
    category: Category | None = None
    site_code: Code | None = None
    unit_code: Code | None = None
    phone: Phone | None = None
    email: Email | None = None


def delegate_out(row: Any, personal: bool) -> dict[str, Any]:
    """The contract's delegate; phone and e-mail only for callers allowed personal data."""
    out = {
        "id": row["id"],
        "external_id": row["external_id"],
        "full_name": row["full_name"],
        "category": row["category"],
        "site_code": row["site_code"],
        "unit_code": row["unit_code"],
        "credential_version": row["credential_version"],
        "revoked": row["revoked"],
    }
    if personal:
        out["phone"] = row["phone"]
        out["email"] = row["email"]
    return out


def sees_personal_data(principal: Principal) -> bool:
    return principal.role == "organiser"


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có đại biểu này", "no such delegate"))


def delegate_id(raw: str) -> int:
    """A delegate id from a path segment; anything that is not one is 404, not 422."""
    found = ascii_number(raw)
    if found is None:
        raise not_found()
    return found


async def _site_in_conference(conn: asyncpg.Connection, conference_id: int, code: str) -> Any:
    row = await conn.fetchrow(
        """SELECT s.id, s.unit_id, cs.site_id IS NOT NULL AS taking_part
             FROM sites s
             LEFT JOIN conference_sites cs ON cs.site_id = s.id AND cs.conference_id = $1
            WHERE s.code = $2""",
        conference_id,
        code,
    )
    if row is None or not row["taking_part"]:
        message = (
            Msg("Không có điểm cầu này", f"no site {code!r}")
            if row is None
            else Msg("Điểm cầu không tham gia hội nghị", "the site does not take part")
        )
        raise Problem("validation_failed", message, errors=[field_error("site_code", message)])
    return row


async def _unit_id(conn: asyncpg.Connection, principal: Principal, code: str) -> int:
    """A delegate's unit: 422 when unknown, 403 outside a scoped organiser's subtree."""
    return (await target_unit(conn, principal, code, "unit_code"))["id"]


async def _locked(conn: asyncpg.Connection, conference: Any) -> Any:
    """Lock the conference row (one writer of a roster at a time) and refuse if signed off."""
    row = await reload(conn, conference["id"], lock=True)
    ensure_writable(row)
    return row


async def create_delegate(
    conn: asyncpg.Connection, principal: Principal, conference: Any, data: DelegateIn
) -> dict[str, Any]:
    """One new delegate; 409 when the external id is already in the roster."""
    async with conn.transaction():
        await _locked(conn, conference)
        site = await _site_in_conference(conn, conference["id"], data.site_code)
        unit_id = (
            await _unit_id(conn, principal, data.unit_code) if data.unit_code else site["unit_id"]
        )
        delegate_id = await conn.fetchval(
            """INSERT INTO delegates (conference_id, external_id, full_name, category, site_id,
                                      unit_id, phone, email)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            conference["id"],
            data.external_id,
            data.full_name,
            data.category,
            site["id"],
            unit_id,
            data.phone,
            data.email,
        )
        out = delegate_out(await q.fetch_delegate(conn, conference["id"], delegate_id), True)
        await audit.record(conn, principal, "create", "delegate", _key(conference, out), after=out)
    return out


def _key(conference: Any, delegate: dict[str, Any]) -> str:
    return f"{conference['code']}/{delegate['external_id']}"


async def _patched_values(
    conn: asyncpg.Connection, principal: Principal, conference: Any, row: Any, patch: DelegatePatch
) -> dict[str, Any]:
    given = patch.model_fields_set
    values = {k: row[k] for k in ("external_id", "full_name", "category", "site_id", "unit_id")}
    values |= {"phone": row["phone"], "email": row["email"]}
    for name in ("external_id", "full_name", "category"):
        if getattr(patch, name) is not None:
            values[name] = getattr(patch, name)
    for name in ("phone", "email"):
        if name in given:
            values[name] = getattr(patch, name)
    if patch.site_code is not None:
        site = await _site_in_conference(conn, conference["id"], patch.site_code)
        values["site_id"] = site["id"]
    if "unit_code" in given:
        code = patch.unit_code
        values["unit_id"] = await _unit_id(conn, principal, code) if code else None
    return values


async def update_delegate(
    conn: asyncpg.Connection,
    principal: Principal,
    conference: Any,
    delegate_id: int,
    patch: DelegatePatch,
) -> dict[str, Any]:
    """Change the fields given; a new site bumps the credential version."""
    async with conn.transaction():
        await _locked(conn, conference)
        row = await q.fetch_delegate(conn, conference["id"], delegate_id)
        if row is None:
            raise not_found()
        v = await _patched_values(conn, principal, conference, row, patch)
        await conn.execute(
            """UPDATE delegates SET external_id = $2, full_name = $3, category = $4,
                      site_id = $5, unit_id = $6, phone = $7, email = $8,
                      credential_version = credential_version + (site_id <> $5)::int,
                      updated_at = now()
                WHERE id = $1""",
            delegate_id,
            v["external_id"],
            v["full_name"],
            v["category"],
            v["site_id"],
            v["unit_id"],
            v["phone"],
            v["email"],
        )
        out = delegate_out(await q.fetch_delegate(conn, conference["id"], delegate_id), True)
        before = delegate_out(row, True)
        await audit.record(
            conn, principal, "update", "delegate", _key(conference, out), before, out
        )
    return out


async def delete_delegate(
    conn: asyncpg.Connection, principal: Principal, conference: Any, delegate_id: int
) -> None:
    """Remove a delegate from the roster (the audit entry keeps what they were)."""
    async with conn.transaction():
        await _locked(conn, conference)
        row = await q.fetch_delegate(conn, conference["id"], delegate_id)
        if row is None:
            raise not_found()
        if await q.has_attendance(conn, delegate_id):
            # Their scans and the counts stand on them: annul the check-in first.
            raise Problem(
                "conflict",
                Msg(
                    "Đại biểu đã điểm danh; hãy hủy lượt điểm danh trước khi xóa",
                    "the delegate has checked in: annul the check-in before deleting them",
                ),
            )
        await conn.execute("DELETE FROM delegates WHERE id = $1", delegate_id)
        before = delegate_out(row, True)
        await audit.record(conn, principal, "delete", "delegate", _key(conference, before), before)


def visible_delegate(principal: Principal, row: Any) -> bool:
    """A technician sees the delegates of the sites in their unit subtree only."""
    if principal.role == "technician":
        return principal.covers_unit_path(row["site_unit_path"])
    return True


async def read_delegate(
    conn: asyncpg.Connection, principal: Principal, conference: Any, delegate_id: int
) -> dict[str, Any]:
    row = await q.fetch_delegate(conn, conference["id"], delegate_id)
    if row is None or not visible_delegate(principal, row):
        raise not_found()
    return delegate_out(row, sees_personal_data(principal))


class DelegateFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Code | None = Field(None, description="site code")
    unit: Code | None = Field(None, description="delegates of this unit and its subtree")
    category: Category | None = None
    q: str | None = Field(
        None, min_length=1, max_length=100, description="name (accents optional) or external id"
    )
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)


async def _unit_path(conn: asyncpg.Connection, code: str | None) -> str | None:
    if code is None:
        return None
    # An unknown unit filters everything out rather than failing: a list, not a lookup.
    found = await conn.fetchval("SELECT path FROM units WHERE code = $1", code)
    return found or "//"  # no real path starts with "//"


async def list_delegates(
    conn: asyncpg.Connection, principal: Principal, conference: Any, f: DelegateFilter
) -> dict[str, Any]:
    """A page of the roster; a technician's list keeps to the sites of their subtree."""
    key = decode_cursor(f.cursor)
    # A site outside a technician's subtree filters everything out, as an unknown one
    # does: the answer tells nothing about sites they may not see.
    scoped = principal.role == "technician"
    rows = await q.fetch_delegates(
        conn,
        conference["id"],
        site_unit_path=principal.unit_path if scoped else None,
        site=f.site,
        unit_path=await _unit_path(conn, f.unit),
        category=f.category,
        q=f.q,
        after=key,
        limit=f.limit + 1,
    )
    page = rows[: f.limit]
    personal = sees_personal_data(principal)
    return {
        "items": [delegate_out(r, personal) for r in page],
        "next": encode_cursor(page[-1]["external_id"]) if len(rows) > f.limit else None,
    }
