"""Absences over HTTP: one by one, a CSV/XLSX import, the list, and the make-up list as
CSV or XLSX. Organisers (of the delegate's site's subtree) and the site's technicians."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from diemcau import absences
from diemcau.absences.records import not_found
from diemcau.appkeys import POOL
from diemcau.handlers.common import (
    conference_for,
    json_response,
    language,
    read_body,
    read_query,
    run_import,
    upload,
)
from diemcau.queries import absences as q
from diemcau.routing import XLSX, Route
from diemcau.text import ascii_number

STAFF = ("organiser", "technician")
BASE = "/api/v1/conferences/{code}/absences"
IMPORT_MEDIA = ("text/csv", XLSX)


class Absence(BaseModel):
    delegate_id: int
    external_id: str
    full_name: str
    category: str
    site_code: str
    unit_code: str | None
    reason: str
    note: str | None
    makeup_owed: bool
    by: str
    recorded_at: datetime
    updated_at: datetime


class AbsenceList(BaseModel):
    items: list[Absence]
    next: str | None


class Imported(BaseModel):
    imported: int
    updated: int


def _delegate_id(request: web.Request) -> int:
    found = ascii_number(request.match_info["id"])
    if found is None:
        raise not_found()
    return found


async def post_absence(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    data = await read_body(request, absences.AbsenceIn)
    async with request.app[POOL].acquire() as conn:
        out, new = await absences.record_absence(conn, caller, conference, data)
    return json_response(Absence.model_validate(out), status=201 if new else 200)


async def import_absences(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    async with upload(request) as sheet:
        parsed = await run_import(request, sheet, absences.parse_absences)
    async with request.app[POOL].acquire() as conn:
        counts = await absences.write_absences(conn, caller, conference, parsed)
    return json_response(Imported.model_validate(counts))


async def list_absences(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    query = read_query(request, absences.AbsenceFilter)
    async with request.app[POOL].acquire() as conn:
        page = await absences.list_absences(conn, caller, conference, query)
    return json_response(AbsenceList.model_validate(page))


async def get_absence(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        found = await absences.read_absence(conn, caller, conference, _delegate_id(request))
    return json_response(Absence.model_validate(found))


async def delete_absence(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        await absences.remove_absence(conn, caller, conference, _delegate_id(request))
    return web.Response(status=204)


async def _makeup_rows(request: web.Request) -> tuple[str, list]:
    caller, conference = await conference_for(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        rows = await q.fetch_makeup(conn, conference["id"], caller.unit_path)
    return conference["code"], rows


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def get_makeup_csv(request: web.Request) -> web.Response:
    code, rows = await _makeup_rows(request)
    body = await asyncio.to_thread(absences.makeup_csv, rows)
    headers = _attachment(f"hoc-bu-{code}.csv")
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers=headers)


async def get_makeup_xlsx(request: web.Request) -> web.Response:
    code, rows = await _makeup_rows(request)
    body = await asyncio.to_thread(absences.makeup_xlsx, rows, language(request))
    return web.Response(body=body, content_type=XLSX, headers=_attachment(f"hoc-bu-{code}.xlsx"))


routes = [
    Route(
        "POST",
        BASE,
        post_absence,
        "Record a delegate's absence (or replace it): reason, note, whether a make-up "
        "session is owed",
        "absences",
        roles=STAFF,
        body=absences.AbsenceIn,
        response=Absence,
        status=201,
        errors=("not_found", "conflict", "locked"),
    ),
    Route(
        "POST",
        BASE + "/import",
        import_absences,
        "Absences from CSV or XLSX (delegate_id or external_id, reason, note, makeup_owed): "
        "all rows or none",
        "absences",
        roles=STAFF,
        body_media=IMPORT_MEDIA,
        response=Imported,
        errors=("not_found", "import_failed", "unsupported_media_type", "locked"),
    ),
    Route(
        "GET",
        BASE,
        list_absences,
        "A conference's absences in external_id order (within your subtree)",
        "absences",
        roles=STAFF,
        query=absences.AbsenceFilter,
        response=AbsenceList,
        errors=("not_found", "invalid_cursor"),
    ),
    Route(
        "GET",
        BASE + "/makeup.csv",
        get_makeup_csv,
        "Who owes a make-up session, as CSV (UTF-8 with BOM)",
        "absences",
        roles=STAFF,
        response_media="text/csv",
        errors=("not_found",),
    ),
    Route(
        "GET",
        BASE + "/makeup.xlsx",
        get_makeup_xlsx,
        "Who owes a make-up session, as XLSX",
        "absences",
        roles=STAFF,
        response_media=XLSX,
        errors=("not_found",),
    ),
    Route(
        "GET",
        BASE + "/{id}",
        get_absence,
        "One delegate's absence",
        "absences",
        roles=STAFF,
        response=Absence,
        errors=("not_found",),
    ),
    Route(
        "DELETE",
        BASE + "/{id}",
        delete_absence,
        "Remove a delegate's absence (they came after all)",
        "absences",
        roles=STAFF,
        status=204,
        errors=("not_found", "locked"),
    ),
]
