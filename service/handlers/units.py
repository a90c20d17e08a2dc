"""The unit tree over HTTP: create, read, list, children, bulk import, readiness, delete."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from diemcau import readiness, units
from diemcau.appkeys import POOL
from diemcau.handlers.common import (
    json_response,
    principal,
    read_body,
    read_query,
    run_import,
    upload,
)
from diemcau.routing import XLSX, Route
from diemcau.tabular import CSV_MEDIA

STAFF = ("organiser", "technician")
IMPORT_MEDIA = (CSV_MEDIA[0], XLSX)


class Page(BaseModel):
    cursor: str | None = Field(None, description="the `next` of the previous page")
    limit: int = Field(100, ge=1, le=1000)


class UnitQuery(Page):
    parent: str | None = Field(None, description="only the direct children of this unit")
    under: str | None = Field(None, description="only this unit and its whole subtree")
    level: Literal["national", "province", "district", "commune", "agency"] | None = None


class ReadinessQuery(BaseModel):
    limit: int = Field(1000, ge=1, le=50_000, description="most sites listed in `missing`")


class ImportResult(BaseModel):
    imported: int = Field(description="new rows")
    updated: int = Field(description="rows that replaced existing ones (same code)")


async def create_unit(request: web.Request) -> web.Response:
    caller = await principal(request, "organiser")
    data = await read_body(request, units.UnitIn)
    async with request.app[POOL].acquire() as conn:
        created = await units.create_unit(conn, caller, data)
    return json_response(units.Unit.model_validate(created), status=201)


async def list_units(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    query = read_query(request, UnitQuery)
    async with request.app[POOL].acquire() as conn:
        page = await units.list_units(conn, caller, **query.model_dump())
    return json_response(units.UnitList.model_validate(page))


async def get_unit(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        found = await units.read_unit(conn, caller, request.match_info["code"])
    return json_response(units.UnitDetail.model_validate(found))


async def delete_unit(request: web.Request) -> web.Response:
    caller = await principal(request, "organiser")
    async with request.app[POOL].acquire() as conn:
        await units.delete_unit(conn, caller, request.match_info["code"])
    return web.Response(status=204)


async def list_unit_children(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    query = read_query(request, Page)
    async with request.app[POOL].acquire() as conn:
        page = await units.list_units(
            conn, caller, parent=request.match_info["code"], **query.model_dump()
        )
    return json_response(units.UnitList.model_validate(page))


async def import_units(request: web.Request) -> web.Response:
    caller = await principal(request, "organiser")
    async with upload(request) as sheet:
        rows, errors = await run_import(request, sheet, units.parse_units)
    async with request.app[POOL].acquire() as conn:
        counts = await units.write_units(conn, caller, rows, errors)
    return json_response(ImportResult.model_validate(counts))


async def get_unit_readiness(request: web.Request) -> web.Response:
    caller = await principal(request, *STAFF)
    query = read_query(request, ReadinessQuery)
    async with request.app[POOL].acquire() as conn:
        found = await readiness.unit_readiness(
            conn, caller, request.match_info["code"], query.limit
        )
    return json_response(readiness.Readiness.model_validate(found))


routes = [
    Route(
        "POST",
        "/api/v1/units",
        create_unit,
        "Create a unit under its parent",
        "units",
        roles=("organiser",),
        body=units.UnitIn,
        response=units.Unit,
        status=201,
        errors=("already_exists",),
    ),
    Route(
        "GET",
        "/api/v1/units",
        list_units,
        "List units (your subtree), in code order",
        "units",
        roles=STAFF,
        query=UnitQuery,
        response=units.UnitList,
        errors=("invalid_cursor", "not_found", "validation_failed"),
    ),
    Route(
        "POST",
        "/api/v1/units/import",
        import_units,
        "Create or rename units from CSV/XLSX (code, name, level, parent_code); all or none",
        "units",
        roles=("organiser",),
        body_media=IMPORT_MEDIA,
        response=ImportResult,
        errors=("import_failed", "payload_too_large", "unsupported_media_type"),
    ),
    Route(
        "GET",
        "/api/v1/units/{code}",
        get_unit,
        "One unit with counts of what lies below it",
        "units",
        roles=STAFF,
        response=units.UnitDetail,
        errors=("not_found",),
    ),
    Route(
        "DELETE",
        "/api/v1/units/{code}",
        delete_unit,
        "Delete a unit nothing names any more (no child unit, site, delegate, conference "
        "or token); 409 says what still does",
        "units",
        roles=("organiser",),
        status=204,
        errors=("not_found", "conflict"),
    ),
    Route(
        "GET",
        "/api/v1/units/{code}/children",
        list_unit_children,
        "The direct children of a unit",
        "units",
        roles=STAFF,
        query=Page,
        response=units.UnitList,
        errors=("invalid_cursor", "not_found", "validation_failed"),
    ),
    Route(
        "GET",
        "/api/v1/units/{code}/readiness",
        get_unit_readiness,
        "Sites registered / tested / ready under a unit, and those not ready yet",
        "units",
        roles=STAFF,
        query=ReadinessQuery,
        response=readiness.Readiness,
        errors=("not_found", "validation_failed"),
    ),
]
