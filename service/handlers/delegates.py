"""Delegate rosters over HTTP: bulk import, list with filters, and one-by-one edits."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from diemcau import delegates, roster
from diemcau.appkeys import IMPORT_POOL, POOL
from diemcau.handlers.common import (
    conference_for,
    json_response,
    language,
    read_body,
    read_query,
    upload,
)
from diemcau.routing import XLSX, Route

ORGANISER = ("organiser",)
READERS = ("organiser", "technician")
IMPORT_MEDIA = ("text/csv", XLSX)


class Delegate(BaseModel):
    id: int
    external_id: str
    full_name: str
    category: str
    site_code: str
    unit_code: str | None
    credential_version: int
    revoked: bool
    phone: str | None = None  # organisers only
    email: str | None = None  # organisers only


class DelegateList(BaseModel):
    items: list[Delegate]
    next: str | None


class RowWarning(BaseModel):
    row: int
    field: str
    message: str


class RosterImported(BaseModel):
    imported: int
    updated: int
    unchanged: int
    rows: int
    warnings: list[RowWarning] = Field(
        description="rows imported, but worth a look (a new delegate with the same name and "
        "site as one already in the roster); at most 1,000 listed"
    )
    warning_count: int = Field(description="every warning, listed or not")


def _delegate(data: dict, status: int = 200) -> web.Response:
    # exclude_unset: a technician's answer carries no phone/e-mail keys at all.
    return json_response(Delegate.model_validate(data).model_dump(exclude_unset=True), status)


async def import_delegates(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    async with upload(request) as sheet, request.app[POOL].acquire() as conn:
        result = await roster.import_roster(
            conn, caller, conference, sheet, imports=request.app[IMPORT_POOL]
        )
    result["warnings"] = [_localised(w, language(request)) for w in result["warnings"]]
    return json_response(RosterImported.model_validate(result))


def _localised(warning: dict, lang: str) -> dict:
    return {**warning, "message": warning["message"].text(lang)}


async def list_delegates(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *READERS)
    query = read_query(request, delegates.DelegateFilter)
    async with request.app[POOL].acquire() as conn:
        page = await delegates.list_delegates(conn, caller, conference, query)
    items = [Delegate.model_validate(d).model_dump(exclude_unset=True) for d in page["items"]]
    return json_response({"items": items, "next": page["next"]})


async def create_delegate(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    data = await read_body(request, delegates.DelegateIn)
    async with request.app[POOL].acquire() as conn:
        created = await delegates.create_delegate(conn, caller, conference, data)
    return _delegate(created, 201)


async def get_delegate(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *READERS)
    delegate_id = delegates.delegate_id(request.match_info["id"])
    async with request.app[POOL].acquire() as conn:
        found = await delegates.read_delegate(conn, caller, conference, delegate_id)
    return _delegate(found)


async def update_delegate(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    delegate_id = delegates.delegate_id(request.match_info["id"])
    patch = await read_body(request, delegates.DelegatePatch)
    async with request.app[POOL].acquire() as conn:
        updated = await delegates.update_delegate(conn, caller, conference, delegate_id, patch)
    return _delegate(updated)


async def delete_delegate(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, *ORGANISER)
    delegate_id = delegates.delegate_id(request.match_info["id"])
    async with request.app[POOL].acquire() as conn:
        await delegates.delete_delegate(conn, caller, conference, delegate_id)
    return web.Response(status=204)


BASE = "/api/v1/conferences/{code}/delegates"

routes = [
    Route(
        "POST",
        BASE + "/import",
        import_delegates,
        "Import the roster from CSV (UTF-8) or XLSX: all rows or none; upsert by external_id",
        "delegates",
        roles=ORGANISER,
        body_media=IMPORT_MEDIA,
        response=RosterImported,
        errors=(
            "not_found",
            "import_failed",
            "payload_too_large",
            "unsupported_media_type",
            "locked",
            "conflict",
        ),
    ),
    Route(
        "GET",
        BASE,
        list_delegates,
        "List the roster by id; filters AND-ed; a technician sees the sites of their subtree",
        "delegates",
        roles=READERS,
        query=delegates.DelegateFilter,
        response=DelegateList,
        errors=("not_found", "invalid_cursor", "validation_failed"),
    ),
    Route(
        "POST",
        BASE,
        create_delegate,
        "Add one delegate",
        "delegates",
        roles=ORGANISER,
        body=delegates.DelegateIn,
        response=Delegate,
        status=201,
        errors=("not_found", "already_exists", "locked"),
    ),
    Route(
        "GET",
        BASE + "/{id}",
        get_delegate,
        "One delegate",
        "delegates",
        roles=READERS,
        response=Delegate,
        errors=("not_found",),
    ),
    Route(
        "PATCH",
        BASE + "/{id}",
        update_delegate,
        "Change a delegate; a new site bumps credential_version (the old QR is revoked)",
        "delegates",
        roles=ORGANISER,
        body=delegates.DelegatePatch,
        response=Delegate,
        errors=("not_found", "already_exists", "locked"),
    ),
    Route(
        "DELETE",
        BASE + "/{id}",
        delete_delegate,
        "Remove a delegate from the roster",
        "delegates",
        roles=ORGANISER,
        status=204,
        errors=("not_found", "locked"),
    ),
]
