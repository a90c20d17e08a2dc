"""Check-ins over HTTP: a kiosk's batch of scans, annulling a check-in, a site's scans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau.appkeys import INGESTOR, KIOSK_LIMITER, POOL
from diemcau.checkin import annul as annulling
from diemcau.checkin.model import ScanBatch, ScanResults, scans_from, sent_at_from
from diemcau.checkin.records import Job, Kiosk
from diemcau.handlers.common import (
    cached_principal,
    conference_for,
    json_response,
    rate_limit,
    read_body,
    read_query,
)
from diemcau.handlers.kiosk_sites import conference_site
from diemcau.queries import checkins as q
from diemcau.routing import Route
from diemcau.search import decode_id_cursor, encode_cursor
from diemcau.units import Name
from diemcau.validation import STRICT, load_json

STAFF = ("organiser", "technician")


def kiosk_of(caller: Any) -> Kiosk:
    return Kiosk(caller.token_id, caller.conference_id, caller.site_id)


async def post_checkins(request: web.Request) -> web.Response:
    received_at = datetime.now(UTC)  # before the body: the kiosk's clock is measured by it
    caller = await cached_principal(request, "kiosk")
    rate_limit(request.app[KIOSK_LIMITER], caller.token_id)
    data = load_json(await request.read())
    scans = scans_from(data)
    job = Job(kiosk_of(caller), scans, received_at, sent_at_from(data))
    results = await request.app[INGESTOR].submit(job)
    return web.Response(body=orjson.dumps({"results": results}), content_type="application/json")


class AnnulIn(BaseModel):
    model_config = STRICT
    reason: Name = Field(description="why the check-in was a mistake (kept in the audit log)")


class Annulled(BaseModel):
    annulment_id: int
    scan_id: str
    delegate_id: int | None
    voided: list[str]
    reason: str


def scan_id_of(raw: str) -> UUID:
    """A scan id from a path segment; anything else is 404, like an unknown one."""
    try:
        return UUID(raw)
    except ValueError:
        raise annulling.not_found() from None


async def annul_checkin(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    scan_id = scan_id_of(request.match_info["scan_id"])
    body = await read_body(request, AnnulIn)
    async with request.app[POOL].acquire() as conn:
        done = await annulling.annul(conn, caller, conference, scan_id, body.reason)
    return json_response(Annulled.model_validate(done))


class ScanListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: (
        Literal["accepted", "duplicate", "wrong_site", "revoked", "invalid", "not_open", "closed"]
        | None
    ) = Field(None, description="only scans with this result")
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)


class StoredScan(BaseModel):
    scan_id: str
    kiosk_id: int | None
    delegate_id: int | None
    full_name: str | None
    method: str
    direction: str
    scanned_at: Any
    received_at: Any
    result: str
    moved: bool
    reentry: bool
    skewed: bool
    annulled: bool


class ScanList(BaseModel):
    items: list[StoredScan]
    next: str | None


async def list_site_checkins(request: web.Request) -> web.Response:
    """A site's scans, newest first (the technician's view of the door)."""
    _, conference, site = await conference_site(request, *STAFF)
    query = read_query(request, ScanListQuery)
    before_id = decode_id_cursor(query.cursor)
    async with request.app[POOL].acquire() as conn:
        rows = await q.fetch_site_scans(
            conn, conference["id"], site["id"], query.result, before_id, query.limit + 1
        )
    page = rows[: query.limit]
    zone = ZoneInfo(conference["timezone"])  # a technician reads these times
    items = [
        StoredScan.model_validate(
            {
                **dict(r),
                "scan_id": str(r["scan_id"]),
                "scanned_at": r["scanned_at"].astimezone(zone),
                "received_at": r["received_at"].astimezone(zone),
            }
        )
        for r in page
    ]
    more = len(rows) > query.limit
    return json_response(
        ScanList(items=items, next=encode_cursor(str(page[-1]["id"])) if more else None)
    )


_SCAN_ERRORS = ("invalid_json", "scan_conflict", "rate_limited", "payload_too_large")

routes = [
    Route(
        "POST",
        "/api/v1/checkins",
        post_checkins,
        "A kiosk's scans (1 to 500): each answered accepted, duplicate, wrong_site, "
        "revoked, invalid, not_open or closed, in order, once committed",
        "checkin",
        roles=("kiosk",),
        body=ScanBatch,
        response=ScanResults,
        errors=_SCAN_ERRORS,
    ),
    Route(
        "POST",
        "/api/v1/conferences/{code}/checkins/{scan_id}/annul",
        annul_checkin,
        "Annul the check-in a scan counts for, or a refused or duplicate scan alone "
        "(the counts follow; audited)",
        "checkin",
        roles=STAFF,
        body=AnnulIn,
        response=Annulled,
        errors=("not_found", "forbidden", "conflict", "locked"),
    ),
    Route(
        "GET",
        "/api/v1/conferences/{code}/sites/{site}/checkins",
        list_site_checkins,
        "A site's scans, newest first, refusals included",
        "checkin",
        roles=STAFF,
        query=ScanListQuery,
        response=ScanList,
        errors=("not_found", "invalid_cursor"),
    ),
]
