"""Liveness, metrics, the OpenAPI document and websocket tickets."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from diemcau import auth
from diemcau.appkeys import METRICS, POOL, ROUTES, WORKER_SEAT
from diemcau.handlers.common import json_response, principal
from diemcau.routing import Route, openapi_document
from diemcau.supervisor import workers_view


class Workers(BaseModel):
    alive: int
    configured: int


class Health(BaseModel):
    status: str = Field(description="`ok`, or `degraded` while a worker is down or the database")
    database: str = Field(description="`ok` or `unreachable` (then the answer is 503)")
    workers: Workers = Field(description="the master's view of this host's worker processes")


class Ticket(BaseModel):
    ticket: str
    expires_at: datetime


async def get_health(request: web.Request) -> web.Response:
    """Liveness, with a one-line database check so a load balancer sees a dead database.

    A worker down (and being restarted) makes the host `degraded` but still 200: the
    worker answering can serve, and taking the host out of a load balancer for it would
    only move its load onto the others.
    """
    view = workers_view(request.app.get(WORKER_SEAT))
    workers = Workers(alive=view.alive, configured=view.configured)
    try:
        async with request.app[POOL].acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except Exception:
        down = Health(status="degraded", database="unreachable", workers=workers)
        return json_response(down, status=503)
    status = "ok" if view.alive >= view.configured else "degraded"
    return json_response(Health(status=status, database="ok", workers=workers))


async def get_metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(
        body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


async def get_openapi(request: web.Request) -> web.Response:
    routes: list[Route] = request.app[ROUTES]
    return json_response(openapi_document(routes))


async def create_ws_ticket(request: web.Request) -> web.Response:
    """A single-use 30-second ticket for `?ticket=` on a websocket URL (browsers can't set headers)."""
    caller = await principal(request)
    async with request.app[POOL].acquire() as conn:
        ticket, expires_at = await auth.issue_ticket(conn, caller)
    return json_response(Ticket(ticket=ticket, expires_at=expires_at), status=201)


ANY_ROLE = auth.ROLES

routes = [
    Route(
        "GET",
        "/healthz",
        get_health,
        "Liveness and database check",
        "system",
        response=Health,
        errors=("service_unavailable",),
    ),
    Route(
        "GET", "/metrics", get_metrics, "Prometheus metrics", "system", response_media="text/plain"
    ),
    Route("GET", "/api/openapi.json", get_openapi, "This document", "system"),
    Route(
        "POST",
        "/api/v1/ws-tickets",
        create_ws_ticket,
        "Single-use websocket ticket (30 s)",
        "auth",
        roles=ANY_ROLE,
        response=Ticket,
        status=201,
    ),
]
