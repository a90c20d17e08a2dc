"""What a kiosk reads over HTTP: itself and its site's counts, its roster snapshot (ETag,
gzip, `since`), the name search for a manual check-in, and its heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, Strict

from diemcau import kiosk_roster, kiosks
from diemcau.appkeys import INGESTOR, KIOSK_LIMITER, POOL
from diemcau.auth import Principal
from diemcau.checkin.model import SENT_AT_HELP, KioskTime
from diemcau.handlers.common import json_response, principal, rate_limit, read_body, read_query
from diemcau.queries import kiosk_roster as qr
from diemcau.queries import kiosks as q
from diemcau.routing import Route


async def kiosk_context(request: web.Request) -> tuple[Principal, Any, Any]:
    """The calling kiosk, its conference and its site."""
    caller = await principal(request, "kiosk")
    assert caller.conference_id is not None and caller.site_id is not None
    async with request.app[POOL].acquire() as conn:
        conference = await q.fetch_conference_brief(conn, caller.conference_id)
        site = await q.fetch_site_brief(conn, caller.site_id)
    return caller, conference, site


class KioskSelf(BaseModel):
    kiosk: dict[str, Any]
    conference: dict[str, Any]
    site: dict[str, Any]
    counts: dict[str, Any]
    server_time: datetime


async def get_kiosk(request: web.Request) -> web.Response:
    caller, conference, site = await kiosk_context(request)
    async with request.app[POOL].acquire() as conn:
        counts = await kiosks.site_counts(conn, conference["id"], site["id"])
        now = await conn.fetchval("SELECT now()")
    out = KioskSelf(
        kiosk={"id": caller.token_id, "device_name": caller.label},
        conference=kiosks.conference_brief(conference),
        site=kiosks.site_brief(site),
        counts=counts,
        server_time=now,
    )
    return json_response(out)


class RosterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["site", "unit"] = "site"
    since: str | None = Field(None, max_length=20, description="`version` of an earlier answer")


class RosterEntry(BaseModel):
    id: int
    external_id: str
    full_name: str
    category: str
    unit_code: str | None
    unit_name: str | None
    site_code: str
    credential_version: int
    revoked: bool


class Roster(BaseModel):
    version: str
    scope: str
    full: bool
    delegates: list[RosterEntry]
    removed: list[int]
    site_names: dict[str, str] = Field(description="site code -> name, for the scope's sites")
    keys: dict[str, Any]


async def get_roster(request: web.Request) -> web.StreamResponse:
    caller, conference, site = await kiosk_context(request)
    assert caller.token_id is not None
    query = read_query(request, RosterQuery)
    since = kiosk_roster.parse_since(query.since)
    async with request.app[POOL].acquire() as conn:
        sites = await kiosk_roster.scope_sites(conn, conference["id"], site["id"], query.scope)
        tag, version = await kiosk_roster.etag(conn, conference, sites, query.scope)
        if tag in request.headers.get("If-None-Match", ""):
            await qr.record_roster_scope(conn, caller.token_id, query.scope)
            return web.Response(status=304, headers={"ETag": tag})
        body = await kiosk_roster.snapshot(conn, conference, sites, query.scope, version, since)
        # The roster it took is what its manual check-ins may name (DESIGN, Rules).
        await qr.record_roster_scope(conn, caller.token_id, query.scope)
    response = json_response(body, headers={"ETag": tag, "Cache-Control": "no-cache"})
    response.enable_compression()  # gzip when the kiosk says it takes it
    return response


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field(min_length=2, max_length=100, description="part of a name; accents optional")


class Found(RosterEntry):
    checked_in: bool


class FoundList(BaseModel):
    items: list[Found]


async def search_delegates(request: web.Request) -> web.Response:
    caller = await principal(request, "kiosk")
    query = read_query(request, SearchQuery)
    assert caller.conference_id is not None and caller.site_id is not None
    async with request.app[POOL].acquire() as conn:
        items = await kiosk_roster.search(conn, caller.conference_id, caller.site_id, query.q)
    return json_response(FoundList.model_validate({"items": items}))


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sent_at: KioskTime | None = Field(None, description=SENT_AT_HELP)
    # Each field strict by itself (no "3" or true for a number), as validation.STRICT is.
    queue_length: Annotated[int, Strict()] | None = Field(None, ge=0, le=10_000_000)
    app_version: str | None = Field(None, max_length=100, pattern=r"^[\x20-\x7e]*$")


class HeartbeatOut(BaseModel):
    server_time: datetime


async def post_heartbeat(request: web.Request) -> web.Response:
    received_at = datetime.now(UTC)  # before the body: the kiosk's clock is measured by it
    caller = await principal(request, "kiosk")
    # The kiosk's own allowance, shared with its check-ins: a heartbeat is a write too.
    rate_limit(request.app[KIOSK_LIMITER], caller.token_id)
    raw = await request.read()
    body = await read_body(request, HeartbeatIn) if raw.strip() else HeartbeatIn.model_validate({})
    assert caller.token_id is not None
    async with request.app[POOL].acquire() as conn:
        now = await kiosks.heartbeat(conn, caller.token_id, body.queue_length, body.app_version)
    # Recorded: the kiosk is in contact, and its clock measured.
    ingestor = request.app[INGESTOR]
    if body.sent_at is not None:
        ingestor.clocks.measure(caller.token_id, received_at, body.sent_at)
    ingestor.contacts.heard(caller.token_id, received_at)
    return json_response(HeartbeatOut(server_time=now))


routes = [
    Route(
        "GET",
        "/api/v1/kiosk",
        get_kiosk,
        "The calling kiosk: its conference, its site and the site's counts now",
        "kiosk",
        roles=("kiosk",),
        response=KioskSelf,
    ),
    Route(
        "GET",
        "/api/v1/kiosk/roster",
        get_roster,
        "Roster snapshot and key set for offline use (ETag, gzip, `since` for changes)",
        "kiosk",
        roles=("kiosk",),
        query=RosterQuery,
        response=Roster,
        errors=("roster_too_large", "validation_failed"),
    ),
    Route(
        "GET",
        "/api/v1/kiosk/delegates",
        search_delegates,
        "The kiosk's site's delegates whose name matches `q`, accents and case aside",
        "kiosk",
        roles=("kiosk",),
        query=SearchQuery,
        response=FoundList,
        errors=("validation_failed",),
    ),
    Route(
        "POST",
        "/api/v1/kiosk/heartbeat",
        post_heartbeat,
        "The kiosk is alive (optional: how many scans it still has to send)",
        "kiosk",
        roles=("kiosk",),
        body=HeartbeatIn,
        body_optional=True,
        response=HeartbeatOut,
        errors=("rate_limited",),
    ),
]
