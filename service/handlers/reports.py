"""The report files and the scan log over HTTP, for organisers (a unit organiser gets
their subtree's; `?unit=` narrows any organiser's). A report before sign-off is a draft
and says so; after, it carries the signed hash and time.

The scan log streams: CSV chunk by chunk from a server-side cursor; XLSX row by row
into a temporary file (reports.xlsxstream: disk, not memory), then sent. The connection is held for the download's length.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau import reports
from diemcau.appkeys import POOL
from diemcau.handlers.common import language, read_query
from diemcau.handlers.reconcile import ORGANISER, conference_part
from diemcau.reconcile.signoff import scope_of
from diemcau.reports import scanlog
from diemcau.routing import XLSX, Route
from diemcau.units import Code

BASE = "/api/v1/conferences/{code}"
SEND_CHUNK = 1 << 20


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Code | None = Field(None, description="only this unit's subtree (default: your scope)")
    lang: Literal["vi", "en"] | None = Field(
        None, description="the file's language (default: Accept-Language, else Vietnamese)"
    )


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _name(code: str, what: str, unit: str | None, kind: str) -> str:
    part = f"-{unit}" if unit else ""
    return f"{what}-{code}{part}.{kind}"


async def _report(request: web.Request, kind: str) -> web.Response:
    caller, conference = await conference_part(request)
    query = read_query(request, ReportQuery)
    async with request.app[POOL].acquire() as conn:
        scope = await scope_of(conn, caller, query.unit)
        rec, stamp = await reports.report_of(conn, conference, scope, language(request))
    body = await asyncio.to_thread(reports.render, kind, rec, stamp)
    headers = _attachment(_name(conference["code"], "bao-cao", stamp.scope, kind))
    headers["X-Report-SHA256"] = stamp.sha256
    headers["X-Report-Status"] = stamp.status
    if kind == "csv":
        return web.Response(body=body, content_type="text/csv", charset="utf-8", headers=headers)
    return web.Response(body=body, content_type=reports.MEDIA[kind], headers=headers)


async def get_report_csv(request: web.Request) -> web.Response:
    return await _report(request, "csv")


async def get_report_xlsx(request: web.Request) -> web.Response:
    return await _report(request, "xlsx")


async def get_report_pdf(request: web.Request) -> web.Response:
    return await _report(request, "pdf")


async def get_scans_csv(request: web.Request) -> web.StreamResponse:
    caller, conference = await conference_part(request)
    query = read_query(request, ReportQuery)
    async with request.app[POOL].acquire() as conn:
        scope = await scope_of(conn, caller, query.unit)
        name = _name(
            conference["code"], "luot-quet", None if scope is None else scope["code"], "csv"
        )
        response = web.StreamResponse(headers=_attachment(name))
        response.content_type = "text/csv"
        response.charset = "utf-8"
        await response.prepare(request)
        path = None if scope is None else scope["path"]
        await scanlog.write_csv(conn, conference, path, response.write)
    await response.write_eof()
    return response


async def get_scans_xlsx(request: web.Request) -> web.StreamResponse:
    caller, conference = await conference_part(request)
    query = read_query(request, ReportQuery)
    fd, spill = tempfile.mkstemp(prefix="diemcau-scans-", suffix=".xlsx")
    os.close(fd)
    try:
        async with request.app[POOL].acquire() as conn:
            scope = await scope_of(conn, caller, query.unit)
            log = scanlog.XlsxLog(spill, conference["timezone"], language(request))
            path = None if scope is None else scope["path"]
            try:
                async for rows in scanlog.chunks(conn, conference["id"], path):
                    await asyncio.to_thread(log.rows, rows)
            finally:
                await asyncio.to_thread(log.close)
        unit = None if scope is None else scope["code"]
        response = web.StreamResponse(
            headers=_attachment(_name(conference["code"], "luot-quet", unit, "xlsx"))
        )
        response.content_type = XLSX
        response.content_length = await asyncio.to_thread(os.path.getsize, spill)
        await response.prepare(request)
        fh = await asyncio.to_thread(open, spill, "rb")
        try:
            while chunk := await asyncio.to_thread(fh.read, SEND_CHUNK):
                await response.write(chunk)
        finally:
            fh.close()
        await response.write_eof()
        return response
    finally:
        os.unlink(spill)


def _report_route(kind: str, handler: object, media: str) -> Route:
    return Route(
        "GET",
        BASE + f"/report.{kind}",
        handler,  # type: ignore[arg-type]
        f"The report as {kind.upper()}: a draft until sign-off, then signed (hash and time); "
        "a unit organiser's is their subtree's",
        "reconciliation",
        roles=ORGANISER,
        query=ReportQuery,
        response_media=media,
        errors=("not_found", "validation_failed"),
    )


routes = [
    _report_route("csv", get_report_csv, "text/csv"),
    _report_route("xlsx", get_report_xlsx, XLSX),
    _report_route("pdf", get_report_pdf, "application/pdf"),
    Route(
        "GET",
        BASE + "/scans.csv",
        get_scans_csv,
        "Every scan (site, kiosk, scanned_at, received_at, offline, result, annulled), "
        "streamed as CSV, to trace any figure",
        "reconciliation",
        roles=ORGANISER,
        query=ReportQuery,
        response_media="text/csv",
        errors=("not_found", "validation_failed"),
    ),
    Route(
        "GET",
        BASE + "/scans.xlsx",
        get_scans_xlsx,
        "Every scan as XLSX (written row by row to a temporary file, then sent)",
        "reconciliation",
        roles=ORGANISER,
        query=ReportQuery,
        response_media=XLSX,
        errors=("not_found", "validation_failed"),
    ),
]
