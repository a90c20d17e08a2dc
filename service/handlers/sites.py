"""Bridge points over HTTP: register, read, update, list, import, link tests, confirm."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from diemcau import readiness, registry, site_import, units
from diemcau.appkeys import POOL
from diemcau.handlers.common import (
    json_response,
    principal,
    read_body,
    read_query,
    run_import,
    upload,
)
from diemcau.handlers.units import IMPORT_MEDIA, STAFF, ImportResult, Page
from diemcau.routing import Route

Status = Literal["registered", "tested", "ready", "connected", "degraded", "lost"]


class SiteQuery(Page):
    unit: str | None = Field(None, description="only sites of this unit's whole subtree")
    status: Status | None = None
    level: Literal["national", "province", "district", "commune", "agency"] | None = None
    q: str | None = Field(
        None,
        max_length=200,
        description="words in code, name or address; case and diacritics ignored",
    )


async def create_site(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    data = await read_body(request, registry.SiteIn)
    async with request.app[POOL].acquire() as conn:
        created = await registry.create_site(conn, caller, data)
    return json_response(registry.Site.model_validate(created), status=201)


async def list_sites(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    query = read_query(request, SiteQuery)
    async with request.app[POOL].acquire() as conn:
        unit_path = None
        if query.unit:
            unit_path = (await units.visible_unit(conn, caller, query.unit))["path"]
        page = await registry.list_sites(
            conn,
            caller,
            unit_path=unit_path,
            status=query.status,
            level=query.level,
            query=query.q,
            cursor=query.cursor,
            limit=query.limit,
        )
    return json_response(registry.SiteList.model_validate(page))


async def get_site(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        found = await registry.read_site(conn, caller, request.match_info["code"])
    return json_response(registry.Site.model_validate(found))


async def update_site(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    patch = await read_body(request, registry.SitePatch)
    async with request.app[POOL].acquire() as conn:
        updated = await registry.update_site(conn, caller, request.match_info["code"], patch)
    return json_response(registry.Site.model_validate(updated))


async def import_sites(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    async with upload(request) as sheet:
        # Parse and check off the event loop, before taking a database connection.
        parsed = await run_import(request, sheet, site_import.parse_sites)
    async with request.app[POOL].acquire() as conn:
        counts = await site_import.write_sites(conn, caller, parsed)
    return json_response(ImportResult.model_validate(counts))


async def create_link_test(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    test = await read_body(request, readiness.LinkTestIn)
    async with request.app[POOL].acquire() as conn:
        recorded = await readiness.record_link_test(conn, caller, request.match_info["code"], test)
    return json_response(readiness.LinkTestRecorded.model_validate(recorded), status=201)


async def list_link_tests(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    query = read_query(request, Page)
    async with request.app[POOL].acquire() as conn:
        page = await readiness.list_link_tests(
            conn, caller, request.match_info["code"], query.cursor, query.limit
        )
    return json_response(readiness.LinkTestList.model_validate(page))


async def confirm_site(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        confirmed = await readiness.confirm_site(conn, caller, request.match_info["code"])
    return json_response(registry.Site.model_validate(confirmed))


routes = [
    Route(
        "POST",
        "/api/v1/sites",
        create_site,
        "Register a bridge point in a unit of your subtree",
        "sites",
        roles=STAFF,
        body=registry.SiteIn,
        response=registry.Site,
        status=201,
        errors=("already_exists",),
    ),
    Route(
        "GET",
        "/api/v1/sites",
        list_sites,
        "List bridge points (your subtree) in code order; filters AND-ed",
        "sites",
        roles=STAFF,
        query=SiteQuery,
        response=registry.SiteList,
        errors=("invalid_cursor", "not_found", "validation_failed"),
    ),
    Route(
        "POST",
        "/api/v1/sites/import",
        import_sites,
        "Upsert bridge points by code from CSV/XLSX; all rows or none",
        "sites",
        roles=STAFF,
        body_media=IMPORT_MEDIA,
        response=ImportResult,
        errors=("import_failed", "payload_too_large", "unsupported_media_type"),
    ),
    Route(
        "GET",
        "/api/v1/sites/{code}",
        get_site,
        "One bridge point",
        "sites",
        roles=STAFF,
        response=registry.Site,
        errors=("not_found",),
    ),
    Route(
        "PATCH",
        "/api/v1/sites/{code}",
        update_site,
        "Change a bridge point (a new endpoint resets it to registered)",
        "sites",
        roles=STAFF,
        body=registry.SitePatch,
        response=registry.Site,
        errors=("not_found",),
    ),
    Route(
        "POST",
        "/api/v1/sites/{code}/link-tests",
        create_link_test,
        "Record a link test or rehearsal; a pass moves registered -> tested",
        "sites",
        roles=STAFF,
        body=readiness.LinkTestIn,
        response=readiness.LinkTestRecorded,
        status=201,
        errors=("not_found",),
    ),
    Route(
        "GET",
        "/api/v1/sites/{code}/link-tests",
        list_link_tests,
        "A bridge point's link tests and rehearsals, newest first",
        "sites",
        roles=STAFF,
        query=Page,
        response=readiness.LinkTestList,
        errors=("invalid_cursor", "not_found", "validation_failed"),
    ),
    Route(
        "POST",
        "/api/v1/sites/{code}/confirm",
        confirm_site,
        "Confirm a tested bridge point as ready (its latest test must have passed)",
        "sites",
        roles=STAFF,
        response=registry.Site,
        errors=("not_found", "invalid_transition"),
    ),
]
