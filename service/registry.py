"""Bridge points (sites): register, read, update, list; the field rules imports share.

Status: `registered` -> `tested` (a passing link test, see link_tests.py) -> `ready`
(confirmed). Changing a tested or ready site's endpoint (protocol or address) sends it
back to `registered`: the earlier test proved another line.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import AfterValidator, BaseModel, Field

from diemcau import audit, suggest, text
from diemcau.auth import Principal
from diemcau.errors import Msg, validation_failed
from diemcau.phones import normalise_phone
from diemcau.queries import sites as q
from diemcau.search import decode_cursor, encode_cursor, like_patterns, search_text
from diemcau.units import Code, Level, Name, target_unit
from diemcau.validation import FREE_TEXT, STRICT

PROTOCOLS = ("sip", "h323", "webrtc", "meeting_link")
STATUSES = ("registered", "tested", "ready", "connected", "degraded", "lost")
_SPACE = re.compile(r"\s")
URL_PROTOCOLS = ("webrtc", "meeting_link")
ENDPOINT_FIELDS = ("endpoint_protocol", "endpoint_uri")


def normalise_protocol(value: str) -> str:
    """`sip`, `h323`, `webrtc`, `meeting_link`; 'H.323', 'SIP', 'meeting link' accepted."""
    word = re.sub(r"[\s.\-]+", "_", value.strip().lower()).replace("h_323", "h323")
    if word not in PROTOCOLS:
        raise ValueError(
            f"Giao thức phải là một trong {', '.join(PROTOCOLS)}|protocol must be one of {PROTOCOLS}"
        )
    return word


MAX_TEXT = 1000


def check_uri(value: str) -> str:
    value = text.checked_text(value, MAX_TEXT)
    if not value or _SPACE.search(value):
        raise ValueError("Địa chỉ kết nối không được rỗng hay có dấu cách|no spaces, not empty")
    return value


def optional_text(value: str) -> str | None:
    """One line of text as stored (see text.checked_text); empty means "none"."""
    return text.checked_text(value, MAX_TEXT) or None


def free_text(value: str) -> str | None:
    """Like optional_text, where line breaks and tabs belong (an address, a note)."""
    return text.checked_text(value, MAX_TEXT, allow_newlines=True) or None


# Lengths are checked after NFC by the validators; the schema still states them.
_MAX_TEXT_SCHEMA = Field(json_schema_extra={"maxLength": MAX_TEXT})
Phone = Annotated[str, AfterValidator(normalise_phone)]
Protocol = Annotated[str, AfterValidator(normalise_protocol)]
Uri = Annotated[str, AfterValidator(check_uri), _MAX_TEXT_SCHEMA]
Text = Annotated[str, AfterValidator(optional_text), _MAX_TEXT_SCHEMA]
# Free text (an address, a note): the one kind of field that keeps tabs and newlines;
# marked so for the request check (validation.FREE_TEXT) and in the OpenAPI document.
FreeText = Annotated[
    str,
    AfterValidator(free_text),
    Field(json_schema_extra={"maxLength": MAX_TEXT, **FREE_TEXT}),
]
Capacity = Annotated[int, Field(ge=0, le=1_000_000)]


class Technician(BaseModel):
    model_config = STRICT
    name: Text | None = None
    phone: Phone | None = None


class Endpoint(BaseModel):
    model_config = STRICT
    protocol: Protocol | None = None
    uri: Uri | None = None
    provider: Text | None = None


class SiteIn(BaseModel):
    model_config = STRICT
    code: Code
    name: Name
    unit_code: Code
    level: Level
    address: FreeText | None = None
    capacity: Capacity | None = None
    technician: Technician | None = None
    endpoint: Endpoint | None = None


class SitePatch(BaseModel):
    """Fields present are changed (null clears an optional one); absent ones are kept."""

    model_config = STRICT
    name: Name | None = None
    unit_code: Code | None = None
    level: Level | None = None
    address: FreeText | None = None
    capacity: Capacity | None = None
    technician: Technician | None = None
    endpoint: Endpoint | None = None


class TechnicianOut(BaseModel):
    # Output models repeat no input rule: a stored value is shown as it is.
    name: str | None
    phone: str | None


class EndpointOut(BaseModel):
    protocol: str | None
    uri: str | None
    provider: str | None


class LastTest(BaseModel):
    kind: str
    passed: bool
    rtt_ms: float
    jitter_ms: float
    loss_pct: float
    audio_ok: bool
    video_ok: bool
    tested_at: datetime


class Site(BaseModel):
    code: str
    name: str
    unit_code: str
    unit_name: str
    level: str
    address: str | None
    capacity: int | None
    technician: TechnicianOut
    endpoint: EndpointOut
    status: str
    status_at: datetime
    last_test: LastTest | None
    created_at: datetime
    updated_at: datetime


class SiteList(BaseModel):
    items: list[Site]
    next: str | None


def site_out(row: asyncpg.Record) -> dict[str, Any]:
    """The contract's site shape from a SITE_SQL row."""
    return {
        "code": row["code"],
        "name": row["name"],
        "unit_code": row["unit_code"],
        "unit_name": row["unit_name"],
        "level": row["level"],
        "address": row["address"],
        "capacity": row["capacity"],
        "technician": {"name": row["technician_name"], "phone": row["technician_phone"]},
        "endpoint": {
            "protocol": row["endpoint_protocol"],
            "uri": row["endpoint_uri"],
            "provider": row["endpoint_provider"],
        },
        "status": row["status"],
        "status_at": row["status_at"],
        "last_test": row["last_test"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def check_endpoint(protocol: str | None, uri: str | None) -> None:
    """An address needs its protocol; browser protocols need an http(s) link."""
    if uri and not protocol:
        raise validation_failed(
            "endpoint.protocol", Msg("Cần ghi giao thức cho địa chỉ", "a uri needs its protocol")
        )
    if uri and protocol in URL_PROTOCOLS and not uri.lower().startswith(("https://", "http://")):
        raise validation_failed(
            "endpoint.uri", Msg("Cần đường dẫn http(s)://", "must be an http(s):// link")
        )


def flat_values(data: dict[str, Any]) -> dict[str, Any]:
    """Nested contract fields -> the table's flat columns (unit_id filled by the caller)."""
    tech = data.get("technician") or {}
    endpoint = data.get("endpoint") or {}
    return {
        "name": data["name"],
        "level": data["level"],
        "address": data.get("address"),
        "capacity": data.get("capacity"),
        "technician_name": tech.get("name"),
        "technician_phone": tech.get("phone"),
        "endpoint_protocol": endpoint.get("protocol"),
        "endpoint_uri": endpoint.get("uri"),
        "endpoint_provider": endpoint.get("provider"),
    }


def with_search_text(code: str, values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "search_text": search_text(code, values["name"], values["address"])}


async def visible_site(
    conn: asyncpg.Connection, principal: Principal, code: str, *, for_update: bool = False
) -> asyncpg.Record:
    """The site, or 404 when it does not exist or lies outside the caller's subtree."""
    row = await q.fetch_site(conn, code, for_update=for_update)
    if row is None or not principal.covers_unit_path(row["unit_path"]):
        raise await suggest.not_found(conn, principal, "sites", code)
    return row


async def create_site(conn: asyncpg.Connection, principal: Principal, data: SiteIn) -> dict:
    """Register a site in a unit of the caller's subtree; audited."""
    values = flat_values(data.model_dump())
    check_endpoint(values["endpoint_protocol"], values["endpoint_uri"])
    async with conn.transaction():
        unit = await target_unit(conn, principal, data.unit_code, "unit_code")
        values = with_search_text(data.code, {**values, "unit_id": unit["id"]})
        await q.insert_site(conn, data.code, values)
        created = site_out(await visible_site(conn, principal, data.code))
        await audit.record(conn, principal, "create", "site", data.code, None, created)
    return created


def _patched(row: asyncpg.Record, patch: SitePatch) -> dict[str, Any]:
    """The site's flat values with the patch applied (nested objects merge field by field)."""
    current = site_out(row)
    given = patch.model_dump(exclude_unset=True)
    for nested in ("technician", "endpoint"):
        if nested in given and given[nested] is not None:
            sent = getattr(patch, nested).model_dump(exclude_unset=True)
            given[nested] = {**current[nested], **sent}
    for required in ("name", "level", "unit_code"):
        if required in given and given[required] is None:
            raise validation_failed(required, Msg("Không được để trống", "must not be null"))
    return {**current, **given}


async def update_site(
    conn: asyncpg.Connection, principal: Principal, code: str, patch: SitePatch
) -> dict:
    """Change a site's fields; a new endpoint resets a tested/ready site to registered."""
    async with conn.transaction():
        row = await visible_site(conn, principal, code, for_update=True)
        merged = _patched(row, patch)
        values = flat_values(merged)
        check_endpoint(values["endpoint_protocol"], values["endpoint_uri"])
        unit_id = row["unit_id"]
        if merged["unit_code"] != row["unit_code"]:
            unit_id = (await target_unit(conn, principal, merged["unit_code"], "unit_code"))["id"]
        status = row["status"]
        if status in ("tested", "ready") and any(values[f] != row[f] for f in ENDPOINT_FIELDS):
            status = "registered"
        values = with_search_text(code, {**values, "unit_id": unit_id})
        await q.update_site(conn, row["id"], values, status)
        before = site_out(row)
        after = site_out(await visible_site(conn, principal, code))
        await audit.record(conn, principal, "update", "site", code, before, after)
    return after


async def read_site(conn: asyncpg.Connection, principal: Principal, code: str) -> dict:
    """One site as the contract shows it."""
    return site_out(await visible_site(conn, principal, code))


async def list_sites(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    unit_path: str | None = None,
    status: str | None = None,
    level: str | None = None,
    query: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict:
    """A page of the caller's sites in code order; `next` continues after the last one."""
    rows = await q.fetch_sites(
        conn,
        scope_path=principal.unit_path,
        unit_path=unit_path,
        status=status,
        level=level,
        patterns=like_patterns(query) if query else (),
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    items = [site_out(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next": encode_cursor(items[-1]["code"]) if more else None}
