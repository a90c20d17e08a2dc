"""Conferences over HTTP: create, read, list, update, status moves, participating sites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau import conferences
from diemcau.appkeys import POOL
from diemcau.handlers.common import (
    conference_for,
    json_response,
    principal,
    read_body,
    read_query,
)
from diemcau.queries import conferences as q
from diemcau.routing import Route
from diemcau.validation import STRICT

ORGANISER = ("organiser",)


class Conference(BaseModel):
    code: str
    title: str
    starts_at: datetime
    ends_at: datetime
    checkin_opens_at: datetime
    timezone: str
    host_site: str | None
    policy: conferences.Policy
    targets: conferences.Targets
    status: Literal["draft", "open", "live", "closed", "signed_off"]
    unit_code: str | None
    signed_off_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sites_count: int | None = None
    delegates_count: int | None = None


class ConferenceList(BaseModel):
    items: list[Conference]
    next: str | None


class ConferenceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=500)


class StatusIn(BaseModel):
    model_config = STRICT
    status: Literal["draft", "open", "live", "closed", "signed_off"]


class SitesIn(BaseModel):
    model_config = STRICT
    sites: list[str] = Field(max_length=100_000)


class ConferenceSite(BaseModel):
    code: str
    name: str
    unit_code: str
    level: str
    capacity: int | None
    status: str
    delegates: int


class ConferenceSites(BaseModel):
    items: list[ConferenceSite]


def _conference(data: dict) -> web.Response:
    return json_response(Conference.model_validate(data))


async def create_conference(request: web.Request) -> web.Response:
    caller = await principal(request, *ORGANISER)
    data = await read_body(request, conferences.ConferenceIn)
    async with request.app[POOL].acquire() as conn:
        created = await conferences.create_conference(conn, caller, data)
    return json_response(Conference.model_validate(created), status=201)


async def list_conferences(request: web.Request) -> web.Response:
    caller = await principal(request, *ORGANISER)
    query = read_query(request, ConferenceQuery)
    async with request.app[POOL].acquire() as conn:
        page = await conferences.list_conferences(conn, caller, query.cursor, query.limit)
    return json_response(ConferenceList.model_validate(page))


async def get_conference(request: web.Request) -> web.Response:
    _, conference = await conference_for(request, *ORGANISER)
    async with request.app[POOL].acquire() as conn:
        counts = await q.fetch_counts(conn, conference["id"])
    return _conference(conferences.conference_out(conference, counts))


async def update_conference(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    patch = await read_body(request, conferences.ConferencePatch)
    async with request.app[POOL].acquire() as conn:
        updated = await conferences.update_conference(conn, caller, conference, patch)
    return _conference(updated)


async def change_status(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    body = await read_body(request, StatusIn)
    async with request.app[POOL].acquire() as conn:
        changed = await conferences.change_status(conn, caller, conference, body.status)
    return _conference(changed)


def _sites(rows: list) -> web.Response:
    return json_response(ConferenceSites(items=[ConferenceSite(**dict(r)) for r in rows]))


async def list_conference_sites(request: web.Request) -> web.Response:
    _, conference = await conference_for(request, "organiser", "technician")
    async with request.app[POOL].acquire() as conn:
        rows = await q.fetch_conference_sites(conn, conference["id"])
    return _sites(rows)


async def set_conference_sites(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    body = await read_body(request, SitesIn)
    async with request.app[POOL].acquire() as conn:
        rows = await conferences.set_sites(conn, caller, conference, body.sites)
    return _sites(rows)


BASE = "/api/v1/conferences"

routes = [
    Route(
        "POST",
        BASE,
        create_conference,
        "Create a conference (times without an offset are read in its time zone)",
        "conferences",
        roles=ORGANISER,
        body=conferences.ConferenceIn,
        response=Conference,
        status=201,
        errors=("already_exists",),
    ),
    Route(
        "GET",
        BASE,
        list_conferences,
        "List conferences (your unit subtree), newest first",
        "conferences",
        roles=ORGANISER,
        query=ConferenceQuery,
        response=ConferenceList,
        errors=("invalid_cursor", "validation_failed"),
    ),
    Route(
        "GET",
        BASE + "/{code}",
        get_conference,
        "One conference, with its site and delegate counts",
        "conferences",
        roles=ORGANISER,
        response=Conference,
        errors=("not_found",),
    ),
    Route(
        "PATCH",
        BASE + "/{code}",
        update_conference,
        "Change a conference's title, schedule, host site, policy, targets or unit",
        "conferences",
        roles=ORGANISER,
        body=conferences.ConferencePatch,
        response=Conference,
        errors=("not_found", "locked"),
    ),
    Route(
        "POST",
        BASE + "/{code}/status",
        change_status,
        "Move the status forward (draft->open->live->closed) by moving the schedule to now",
        "conferences",
        roles=ORGANISER,
        body=StatusIn,
        response=Conference,
        errors=("not_found", "invalid_transition", "locked"),
    ),
    Route(
        "GET",
        BASE + "/{code}/sites",
        list_conference_sites,
        "The participating sites",
        "conferences",
        roles=("organiser", "technician"),
        response=ConferenceSites,
        errors=("not_found",),
    ),
    Route(
        "PUT",
        BASE + "/{code}/sites",
        set_conference_sites,
        "Replace the participating sites (the host site always stays)",
        "conferences",
        roles=ORGANISER,
        body=SitesIn,
        response=ConferenceSites,
        errors=("not_found", "conflict", "locked"),
    ),
]
