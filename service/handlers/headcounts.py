"""Headcounts over HTTP: a site's technician, an organiser or the site's kiosk reports
one; the history and the latest of each moment are read back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau import headcounts
from diemcau.appkeys import POOL
from diemcau.auth import Principal
from diemcau.handlers.common import conference_for, json_response, read_body, read_query
from diemcau.queries.credentials import fetch_conference_site
from diemcau.routing import Route
from diemcau.search import decode_id_cursor, encode_cursor

REPORTERS = ("organiser", "technician", "kiosk")
PATH = "/api/v1/conferences/{code}/sites/{site}/headcounts"


class Headcount(BaseModel):
    id: int
    headcount_id: str | None
    site_code: str
    moment: str
    counted_at: datetime
    members: int
    non_members: int
    guests: int
    total: int = Field(description="members + non_members + guests")
    note: str | None
    by: str
    recorded_at: datetime


class Latest(BaseModel):
    start: Headcount | None
    after_break: Headcount | None
    end: Headcount | None


class HeadcountList(BaseModel):
    items: list[Headcount]
    next: str | None
    latest: Latest = Field(description="the latest headcount of each moment: the one that counts")


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    moment: Literal["start", "after_break", "end"] | None = None
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)


async def _site(
    request: web.Request,
) -> tuple[Principal, asyncpg.Record, asyncpg.Record]:
    """The caller, the conference and the site `{site}`; 404 for a site that takes no part,
    lies outside a staff member's subtree, or is not a kiosk's own."""
    caller, conference = await conference_for(request, *REPORTERS)
    async with request.app[POOL].acquire() as conn:
        site = await fetch_conference_site(conn, conference["id"], request.match_info["site"])
    if site is None or not headcounts.may_report(caller, site):
        raise headcounts.site_not_found()
    return caller, conference, site


async def post_headcount(request: web.Request) -> web.Response:
    caller, conference, site = await _site(request)
    data = await read_body(request, headcounts.HeadcountIn)
    async with request.app[POOL].acquire() as conn:
        out, new = await headcounts.record_headcount(conn, caller, conference, site, data)
    return json_response(Headcount.model_validate(out), status=201 if new else 200)


async def list_headcounts(request: web.Request) -> web.Response:
    _, conference, site = await _site(request)
    query = read_query(request, HistoryQuery)
    before = decode_id_cursor(query.cursor)
    async with request.app[POOL].acquire() as conn:
        items, latest, more = await headcounts.site_headcounts(
            conn, conference, site, query.moment, before, query.limit
        )
    cursor = encode_cursor(str(items[-1]["id"])) if more else None
    return json_response(
        HeadcountList.model_validate({"items": items, "next": cursor, "latest": latest})
    )


routes = [
    Route(
        "POST",
        PATH,
        post_headcount,
        "Report a headcount (a correction is a new record; the latest of each moment counts)",
        "headcounts",
        roles=REPORTERS,
        body=headcounts.HeadcountIn,
        response=Headcount,
        status=201,
        errors=("not_found", "locked", "conflict"),
    ),
    Route(
        "GET",
        PATH,
        list_headcounts,
        "A site's headcounts, latest recorded first, and the latest of each moment",
        "headcounts",
        roles=REPORTERS,
        query=HistoryQuery,
        response=HeadcountList,
        errors=("not_found", "invalid_cursor"),
    ),
]
