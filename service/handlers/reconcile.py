"""Reconciliation over HTTP: the rows and flags, resolving a flag, signing off.

The reconciliation of 40,000 sites is a large document: it is written with orjson
straight from the typed result; the pydantic models below describe it for the OpenAPI
document only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau import reconcile, suggest
from diemcau.appkeys import POOL
from diemcau.auth import Principal
from diemcau.conferences import may_read_part
from diemcau.handlers.common import (
    conference_for,
    json_response,
    principal,
    read_body,
    read_query,
)
from diemcau.queries.conferences import fetch_conference
from diemcau.reconcile.document import Renderer, api_document
from diemcau.reconcile.signoff import scope_of
from diemcau.routing import Route
from diemcau.units import Code

ORGANISER = ("organiser",)
BASE = "/api/v1/conferences/{code}"


class Counts(BaseModel):
    member: int
    non_member: int
    guest: int


class Rates(BaseModel):
    member: float | None = Field(
        description="checked in / expected, 4 decimals; null: none expected"
    )
    non_member: float | None
    guest: float | None


class HeadcountRow(BaseModel):
    id: int
    moment: str
    counted_at: datetime
    members: int
    non_members: int
    guests: int
    total: int
    note: str | None


class Headcounts(BaseModel):
    start: HeadcountRow | None
    after_break: HeadcountRow | None
    end: HeadcountRow | None


class AbsenceCounts(BaseModel):
    sick: int
    on_duty: int
    travel: int
    other: int


class SiteRow(BaseModel):
    site_code: str
    site_name: str
    unit_code: str
    level: str
    expected: Counts
    checked_in: Counts = Field(description="delegates counted here, by the roster's category now")
    walk_ins: int
    walk_ins_by_category: Counts
    moved_in: int
    moved_out: int
    exits: int
    reentries: int
    present: int = Field(description="latest accepted scan an entry, walk-ins included")
    headcounts: Headcounts = Field(description="the latest headcount of each moment, or null")
    capacity: int | None
    rates: Rates
    absences: AbsenceCounts
    makeup_owed: int


class TallyRow(BaseModel):
    sites: int
    expected: Counts
    checked_in: Counts
    walk_ins: int
    walk_ins_by_category: Counts
    rates: Rates


class UnitRow(TallyRow):
    unit_code: str
    unit_name: str
    level: str
    parent_code: str | None


class LevelRow(TallyRow):
    level: str


class Totals(TallyRow):
    targets: dict[str, float]


class Resolution(BaseModel):
    action: str
    figure: int | None
    note: str
    by: str
    at: datetime


class Flag(BaseModel):
    id: str = Field(description="`<site code>.<kind>`")
    kind: str
    site_code: str
    detail: dict[str, Any] = Field(description="the numbers behind the flag")
    status: str = Field(description="open or resolved")
    resolution: Resolution | None


class ReconciliationOut(BaseModel):
    conference: dict[str, Any]
    status: str
    scope: str | None = Field(description="the unit subtree the rows are limited to")
    computed_at: datetime | None
    signed_off_at: datetime | None
    report_sha256: str | None
    totals: Totals
    levels: list[LevelRow]
    units: list[UnitRow]
    sites: list[SiteRow]
    flags: list[Flag]
    open_flags: int


class ReconciliationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Code | None = Field(None, description="only this unit's subtree (default: your scope)")


class SignedOff(BaseModel):
    report_sha256: str = Field(description="SHA-256 of the report's canonical content")
    signed_off_at: datetime


def _json(value: Any) -> web.Response:
    return web.Response(body=orjson.dumps(value), content_type="application/json")


async def conference_part(request: web.Request) -> tuple[Principal, Any]:
    """The organiser and the conference `{code}` whose figures they may read, theirs or
    one taking in sites of their subtree (conferences.may_read_part); 404 otherwise."""
    caller = await principal(request, *ORGANISER)
    code = request.match_info["code"]
    async with request.app[POOL].acquire() as conn:
        conference = await fetch_conference(conn, code)
        if conference is None or not await may_read_part(conn, caller, conference):
            raise await suggest.not_found(conn, caller, "conferences", code)
    return caller, conference


async def get_reconciliation(request: web.Request) -> web.Response:
    caller, conference = await conference_part(request)
    query = read_query(request, ReconciliationQuery)
    async with request.app[POOL].acquire() as conn:
        scope = await scope_of(conn, caller, query.unit)
        rec = await reconcile.reconciliation(conn, conference, scope)
    return _json(api_document(rec))


async def resolve_flag(request: web.Request) -> web.Response:
    caller, conference = await conference_part(request)
    data = await read_body(request, reconcile.ResolveIn)
    async with request.app[POOL].acquire() as conn:
        flag = await reconcile.resolve(conn, caller, conference, request.match_info["id"], data)
    return _json(Renderer(conference["timezone"]).flag(flag))


async def sign_off(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    async with request.app[POOL].acquire() as conn:
        done = await reconcile.sign_off(conn, caller, conference)
    zone = Renderer(conference["timezone"])
    body = {
        "report_sha256": done["report_sha256"],
        "signed_off_at": zone.time(done["signed_off_at"]),
    }
    return json_response(SignedOff.model_validate(body))


routes = [
    Route(
        "GET",
        BASE + "/reconciliation",
        get_reconciliation,
        "Per-site rows, unit and level roll-ups, totals against the targets, and the flags "
        "(as signed, once signed off)",
        "reconciliation",
        roles=ORGANISER,
        query=ReconciliationQuery,
        response=ReconciliationOut,
        errors=("not_found",),
    ),
    Route(
        "POST",
        BASE + "/reconciliation/flags/{id}/resolve",
        resolve_flag,
        "Resolve a flag: accept the headcount, accept the scans, or a corrected figure, with "
        "a note (audited; no scan or headcount changes)",
        "reconciliation",
        roles=ORGANISER,
        body=reconcile.ResolveIn,
        response=Flag,
        errors=("not_found", "locked"),
    ),
    Route(
        "POST",
        BASE + "/sign-off",
        sign_off,
        "Sign the conference off once closed with no flag open: locks it, answers the report hash",
        "reconciliation",
        roles=ORGANISER,
        response=SignedOff,
        errors=("not_found", "locked", "invalid_transition", "flags_open"),
    ),
]
