"""What every handler needs: the caller, the language, JSON in and out."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from diemcau import auth, forwarded, suggest, tabular
from diemcau.appkeys import CONFIG, IMPORT_POOL, POOL, TOKEN_CACHE, WEBSOCKETS
from diemcau.auth import Principal
from diemcau.conferences import may_see, not_found
from diemcau.errors import Msg, Problem, field_error
from diemcau.kiosk.page import Asset
from diemcau.queries.conferences import fetch_conference
from diemcau.ratelimit import RateLimiter, retry_after
from diemcau.routing import Route
from diemcau.text import CONTROL_MESSAGE, forbidden_character, shown
from diemcau.validation import parse, parse_json

M = TypeVar("M", bound=BaseModel)

PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def language(request: web.Request) -> str:
    """`?lang=en`, else Accept-Language, else the configured default."""
    lang = request.query.get("lang")
    if lang in ("vi", "en"):
        return lang
    accept = request.headers.get("Accept-Language", "").strip().lower()
    if accept.startswith("en"):
        return "en"
    if accept.startswith("vi"):
        return "vi"
    return request.app[CONFIG].language


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer; pydantic models are serialised by their own rules."""
    if isinstance(data, BaseModel):
        body = data.model_dump_json()
    else:
        body = dumps(data)
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against `model` (413 past the configured body size)."""
    return parse_json(model, await request.read())


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated against `model`; an empty parameter (`?q=`, as a form
    sends a field left blank) is one left out."""
    given = {k: request.query.getone(k) for k in request.query}  # the first of repeats
    return parse(model, {k: v for k, v in given.items() if v != ""})


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def principal(request: web.Request, *roles: str) -> Principal:
    """The authenticated caller, refused with 401/403 unless their role is one of `roles`."""
    found = request.get(PRINCIPAL_KEY)
    if found is None:
        secret = bearer(request)
        if secret is None:
            raise Problem(
                "authentication_required",
                Msg("Thiếu mã truy cập (Authorization: Bearer ...)", "missing bearer token"),
                headers={"WWW-Authenticate": "Bearer"},
            )
        async with request.app[POOL].acquire() as conn:
            found = await auth.authenticate(conn, secret)
        if found is None:
            raise Problem(
                "authentication_required",
                Msg("Mã truy cập không đúng hoặc đã bị thu hồi", "unknown or revoked token"),
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        request[PRINCIPAL_KEY] = found
    if roles and found.role not in roles:
        raise Problem(
            "forbidden",
            Msg(f"Vai trò {found.role} không được phép", f"role {found.role} may not do this"),
        )
    return found


async def cached_principal(request: web.Request, *roles: str) -> Principal:
    """`principal`, with tokens remembered for a few seconds (the check-in hot path)."""
    secret = bearer(request)
    cache = request.app[TOKEN_CACHE]
    found = cache.get(secret) if secret else None
    if found is not None:
        request[PRINCIPAL_KEY] = found
    found = await principal(request, *roles)
    if secret:
        cache.put(secret, found)
    return found


def rate_limit(limiter: RateLimiter, key: object) -> None:
    """429 with Retry-After when `key` has spent its allowance."""
    wait = limiter.take(key)
    if wait:
        raise rate_limited(
            wait,
            Msg("Gửi quá nhanh; hãy đợi rồi gửi lại", "too many requests; wait and send again"),
        )


def rate_limited(wait: float, message: Msg) -> Problem:
    """429 saying when to try again (Retry-After, and `retry_after` in the body)."""
    return Problem(
        "rate_limited",
        message,
        headers={"Retry-After": retry_after(wait)},
        retry_after=int(retry_after(wait)),  # the websocket has no headers to carry it
    )


def client_address(request: web.Request) -> str:
    """The client's address: X-Forwarded-For's when a trusted proxy sent the request."""
    trusted = request.app[CONFIG].trusted_proxies
    hops = request.headers.getall("X-Forwarded-For", []) if trusted else []
    return forwarded.client_address(request.remote, hops, trusted)


@asynccontextmanager
async def upload(request: web.Request) -> AsyncIterator[tabular.Sheet]:
    """Stream the request body to a temporary file; yield it as a sheet to read.

    Imports can be hundreds of megabytes, so the body never sits whole in memory; the
    limit is DIEMCAU_MAX_IMPORT_MB (413 past it). The file is removed afterwards. While
    it is read, a client that goes away cancels the handler: nobody waits for the answer,
    and the import's reader stops (ImportPool.run sets the sheet's stop flag).
    """
    limit = request.app[CONFIG].max_import_mb * 1024 * 1024
    with tempfile.NamedTemporaryFile(prefix="diemcau-import-", suffix=".upload") as fh:
        size = 0
        head = b""
        async for chunk in request.content.iter_chunked(1 << 20):
            size += len(chunk)
            if size > limit:
                raise Problem(
                    "payload_too_large",
                    Msg(
                        f"Tệp lớn hơn {limit // (1024 * 1024)} MiB",
                        f"the file is over {limit // (1024 * 1024)} MiB",
                    ),
                )
            if not head:
                head = chunk[:8]
            fh.write(chunk)
        fh.flush()
        if size == 0:
            raise Problem(
                "validation_failed",
                Msg(
                    "Tệp trống (không có byte nào được gửi)",
                    "the file is empty (no bytes were sent)",
                ),
                errors=[{"field": "body", "message": Msg("Tệp trống", "empty file")}],
            )
        kind = tabular.kind_of(request.headers.get("Content-Type", ""), head)
        async with _cancelled_when_client_leaves(request):
            yield tabular.Sheet(Path(fh.name), kind)


# How often a long import looks whether its client is still there.
CLIENT_CHECK_SECONDS = 0.25


@asynccontextmanager
async def _cancelled_when_client_leaves(request: web.Request) -> AsyncIterator[None]:
    # aiohttp does not cancel a handler when its client disconnects (handler_cancellation
    # is off, as it should be for the check-in path), so an import watches for itself.
    task = asyncio.current_task()
    assert task is not None

    async def watch() -> None:
        while True:
            await asyncio.sleep(CLIENT_CHECK_SECONDS)
            transport = request.transport
            if transport is None or transport.is_closing():
                task.cancel()
                return

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()


async def run_import(request: web.Request, sheet: tabular.Sheet, func: Any, *args: Any) -> Any:
    """`func(sheet, *args)` in the import threads, stopped if the client goes away."""
    return await request.app[IMPORT_POOL].run(sheet.stop, func, sheet, *args)


async def conference_for(request: web.Request, *roles: str) -> tuple[Principal, asyncpg.Record]:
    """The caller and the conference named by `{code}` in the path.

    404 when there is no such conference, and also when the caller's token belongs to
    another conference (a kiosk or viewer token does not learn that others exist).
    """
    caller = await principal(request, *roles)
    async with request.app[POOL].acquire() as conn:
        conference = await fetch_conference(conn, request.match_info["code"])
        # The one scope check for every conference path (an organiser limited to a unit
        # subtree, a technician whose subtree takes no part): conferences.may_see.
        if conference is None or not await may_see(conn, caller, conference):
            if caller.role == "organiser":
                # "did you mean" among the conferences this organiser sees (the same
                # answer whether the code is unknown or out of scope: nothing revealed)
                raise await suggest.not_found(
                    conn, caller, "conferences", request.match_info["code"]
                )
            raise not_found()
    return caller, conference


def origin_allowed(request: web.Request) -> bool:
    """No Origin (not a browser), the origin of the Host reached, or DIEMCAU_PUBLIC_URL."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    public = request.app[CONFIG].public_url
    if public and origin.rstrip("/").lower() == public.lower():
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


async def websocket_caller(request: web.Request, *roles: str) -> Principal:
    """Who opens a websocket: refused (problem+json) before the upgrade, never after.

    Checks a browser's `Origin` first, then the `Authorization` header or a single-use
    `?ticket=` (browsers cannot set headers on a websocket).
    """
    if not origin_allowed(request):
        raise Problem("origin_not_allowed")
    ticket = request.query.get("ticket")
    if ticket and bearer(request) is None:
        async with request.app[POOL].acquire() as conn:
            found = await auth.redeem_ticket(conn, ticket)
        if found is None:
            raise Problem(
                "authentication_required",
                Msg("Vé đã dùng, hết hạn hoặc không đúng", "ticket unknown, used or expired"),
            )
        request[PRINCIPAL_KEY] = found
    return await principal(request, *roles)


async def open_websocket(request: web.Request, **options: Any) -> web.WebSocketResponse:
    """Upgrade, and register the socket so shutdown closes it with GOING_AWAY."""
    ws = web.WebSocketResponse(**options)
    if not ws.can_prepare(request).ok:
        raise Problem("bad_request", Msg("Cần kết nối websocket", "a websocket upgrade is needed"))
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    return ws


def request_text_errors(request: web.Request) -> list[dict[str, Any]]:
    """A `{field, message}` for each path segment and query parameter (name or value)
    carrying a character no field may hold (NUL and other controls, newlines included)."""
    errors = []
    for name, value in request.match_info.items():
        if forbidden_character(value) is not None:
            errors.append(field_error(name, CONTROL_MESSAGE))
    for name, value in request.query.items():
        if forbidden_character(name) is not None or forbidden_character(value) is not None:
            errors.append(field_error(shown(name), CONTROL_MESSAGE))
    return errors


async def refuse_caller(request: web.Request, route: Route | None) -> None:
    """Answer 401/403 as the route itself would, before anything about the request."""
    if route is None or not route.roles:
        return
    if route.websocket:
        await websocket_caller(request, *route.roles)
    else:
        await principal(request, *route.roles)


def asset_response(request: web.Request, asset: Asset, headers: dict[str, str]) -> web.Response:
    """A static page file with `headers`: 304 when the client's ETag matches, gzipped
    when the client takes it and the file was worth compressing (the kiosk page, the
    dashboard)."""
    headers = {**headers, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers={**headers, "Content-Type": asset.media_type})
