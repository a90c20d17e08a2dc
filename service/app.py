"""The aiohttp application: `create_app(config)` builds it without any I/O."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
import weakref
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import WSCloseCode, web

from diemcau.appkeys import (
    CONFIG,
    ENROLL_GUARD,
    IMPORT_POOL,
    INGESTOR,
    KIOSK_LIMITER,
    LIVE_SETTINGS,
    METRICS,
    POOL,
    RENDER_POOL,
    ROUTES,
    TOKEN_CACHE,
    WEBSOCKETS,
)
from diemcau.auth import TokenCache
from diemcau.checkin.batcher import Ingestor
from diemcau.config import Config
from diemcau.db import create_pool, database_lost
from diemcau.errors import Msg, Problem, constraint_problem
from diemcau.executors import ImportPool, RenderPool
from diemcau.handlers import all_routes
from diemcau.handlers.common import dumps, language, refuse_caller, request_text_errors
from diemcau.handlers.credentials import credentials_ctx
from diemcau.handlers.kiosk_ws import kiosk_sockets_ctx
from diemcau.handlers.live import live_ctx
from diemcau.kiosks import ENROLL_TRIES
from diemcau.live.watcher import LiveSettings
from diemcau.logs import request_id_var
from diemcau.metrics import Metrics
from diemcau.ratelimit import RateLimiter
from diemcau.routing import Route
from diemcau.text import CONTROL_MESSAGE

log = logging.getLogger("diemcau.http")

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    503: "service_unavailable",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def problem_response(request: web.Request, problem: Problem) -> web.Response:
    body = problem.body(language(request), instance=request.path)
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    return web.Response(
        text=dumps(body),
        status=problem.status,
        content_type="application/problem+json",
        headers=problem.headers,
    )


def _literal_segments(template: str, path: str) -> int:
    """How many segments of `path` a route's template names literally, or -1 when the
    template does not match it (`{name}` takes one segment, `{name:.+}` the rest)."""
    wanted, given = template.split("/"), path.split("/")
    for n, part in enumerate(wanted):
        if part.startswith("{") and ":" in part:
            pattern = part[1:-1].split(":", 1)[1]
            return n if re.fullmatch(pattern, "/".join(given[n:])) else -1
        if n >= len(given) or (part != given[n] and not part.startswith("{")):
            return -1
    return sum(not p.startswith("{") for p in wanted) if len(wanted) == len(given) else -1


def allowed_methods(routes: list[Route], path: str) -> list[str]:
    """The methods of the route a path names, as the OpenAPI document lists them.

    aiohttp's 405 names those of every pattern that matches: `OPTIONS /api/v1/sites/import`
    advertised the GET and PATCH of `/api/v1/sites/{code}`. The most literal match wins.
    """
    scored = [(_literal_segments(r.path, path), r.method) for r in routes]
    best = max((score for score, _ in scored), default=-1)
    return sorted({method for score, method in scored if score == best >= 0})


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> Problem:
    code = _HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal_error")
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        methods = allowed_methods(request.app[ROUTES], request.path)
        headers["Allow"] = ", ".join(methods or sorted(exc.allowed_methods))
    detail = None
    if exc.status == 413:
        detail = Msg("Dữ liệu gửi lên vượt giới hạn cho phép", "the request body is over the limit")
    return Problem(code, detail, headers=headers)


@web.middleware
async def observe(request: web.Request, handler):
    """Request id, access log and metrics around everything else."""
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    token = request_id_var.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = rid
        return response
    except web.HTTPException as exc:
        # A redirect raised by a handler (/K/{code} answers 302) passes `problems` as an
        # exception: it is counted as what it answered, not as a 500.
        status = exc.status
        exc.headers["X-Request-Id"] = rid
        raise
    except asyncio.CancelledError:
        # The client went away first (an import stops then): no answer was sent, and
        # nothing failed. 499 is nginx's number for it.
        status = 499
        raise
    finally:
        elapsed = time.perf_counter() - started
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].observe(request.method, route, status, elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        request_id_var.reset(token)


@web.middleware
async def problems(request: web.Request, handler):
    """Every error becomes problem+json; an unexpected one is logged and answered 500."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(request, problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(request, _from_http_exception(exc, request))
    except asyncpg.IntegrityConstraintViolationError as exc:
        known = constraint_problem(getattr(exc, "constraint_name", None))
        if known is not None:
            return problem_response(request, known)
        log.exception("unmapped constraint violation", extra={"path": request.path})
        return problem_response(request, Problem("internal_error"))
    except Exception as exc:
        if database_lost(exc):
            log.error("database unavailable", extra={"path": request.path, "error": repr(exc)})
            return problem_response(request, Problem("service_unavailable"))
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return problem_response(request, Problem("internal_error"))


@web.middleware
async def clean_text(request: web.Request, handler):
    """NUL or another control character in a path segment or query parameter answers 422
    naming it, on every route (PostgreSQL refuses NUL: it would otherwise be a 500). The
    route's 401/403 come first, as they do for any other bad request."""
    errors = request_text_errors(request)
    if errors:
        routes: list[Route] = request.app[ROUTES]
        matched = request.match_info.handler
        await refuse_caller(request, next((r for r in routes if r.handler is matched), None))
        raise Problem("validation_failed", CONTROL_MESSAGE, errors=errors)
    return await handler(request)


def create_app(config: Config) -> web.Application:
    """The application for this config; the pool opens when the app starts."""
    if not config.database_url:
        raise ValueError("create_app needs config.database_url (the entry point resolves it)")
    app = web.Application(
        middlewares=[observe, problems, clean_text], client_max_size=config.max_body_kb * 1024
    )
    app[CONFIG] = config
    app[METRICS] = Metrics()
    routes = all_routes()
    app[ROUTES] = routes
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app[WEBSOCKETS] = weakref.WeakSet()
    app[TOKEN_CACHE] = TokenCache()
    app[KIOSK_LIMITER] = RateLimiter(config.kiosk_rate, 2 * config.kiosk_rate)
    app[ENROLL_GUARD] = ENROLL_TRIES
    app.on_shutdown.append(_close_websockets)
    app.cleanup_ctx.append(_executors_ctx)
    app.cleanup_ctx.append(_pool_ctx)
    app.cleanup_ctx.append(credentials_ctx)  # after the pool: it checks the stored keys
    app.cleanup_ctx.append(_ingestor_ctx)
    app.cleanup_ctx.append(kiosk_sockets_ctx)
    app[LIVE_SETTINGS] = LiveSettings()
    app.cleanup_ctx.append(live_ctx)
    return app


async def _ingestor_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker's check-in queue; on the way out it commits what it holds."""
    config = app[CONFIG]
    ingestor = Ingestor(app[POOL], parallel=max(2, config.pool_size // 2))
    ingestor.start()
    app[INGESTOR] = ingestor
    yield
    await ingestor.close()


async def _close_websockets(app: web.Application) -> None:
    # Clients reconnect elsewhere on GOING_AWAY (1001); a plain drop looks like a fault.
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[WEBSOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    assert config.database_url
    pool = await create_pool(config.database_url, size=config.pool_size)
    app[POOL] = pool
    app[METRICS].watch_pool(pool)
    yield
    app[METRICS].watch_pool(None)
    await pool.close()


async def _executors_ctx(app: web.Application) -> AsyncIterator[None]:
    app[RENDER_POOL] = RenderPool()
    app[IMPORT_POOL] = ImportPool()
    yield
    app[IMPORT_POOL].shutdown()
    app[RENDER_POOL].shutdown()
