"""Typed keys for what the application holds."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from diemcau.auth import TokenCache
    from diemcau.checkin.batcher import Ingestor
    from diemcau.checkin.sockets import KioskSockets
    from diemcau.config import Config
    from diemcau.executors import ImportPool, RenderPool
    from diemcau.keystore import Keystore
    from diemcau.live.hub import Hub
    from diemcau.live.watcher import LiveSettings
    from diemcau.metrics import Metrics
    from diemcau.ratelimit import FailureGuard, RateLimiter
    from diemcau.routing import Route
    from diemcau.supervisor import Seat

CONFIG: web.AppKey[Config] = web.AppKey("config")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
ROUTES: web.AppKey[list[Route]] = web.AppKey("routes")
# Open websockets, closed with GOING_AWAY when the worker shuts down.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
# None when the secret could not be loaded: signing answers 503, verifying goes on.
KEYSTORE: web.AppKey[Keystore | None] = web.AppKey("keystore")
# Badge PDFs of big sites render here (a process, so the worker's GIL stays free).
RENDER_POOL: web.AppKey[RenderPool] = web.AppKey("render_pool")
# Check-in: the worker's queue of scans (group commit), the kiosks' rate limits, the
# cache of kiosk tokens (revocation is checked again inside every check-in batch).
INGESTOR: web.AppKey[Ingestor] = web.AppKey("ingestor")
KIOSK_LIMITER: web.AppKey[RateLimiter] = web.AppKey("kiosk_limiter")
# Wrong enrollment codes per client address, counted in the database (kiosks.ENROLL_GUARD).
ENROLL_GUARD: web.AppKey[FailureGuard] = web.AppKey("enroll_guard")
TOKEN_CACHE: web.AppKey[TokenCache] = web.AppKey("token_cache")
KIOSK_SOCKETS: web.AppKey[KioskSockets] = web.AppKey("kiosk_sockets")
# Uploaded files are read and checked here, never in the default executor QR codes use.
IMPORT_POOL: web.AppKey[ImportPool] = web.AppKey("import_pool")
# The live board: the worker's hub of views and watchers, and its timings (tests
# shorten them before the app starts).
LIVE: web.AppKey[Hub] = web.AppKey("live")
LIVE_SETTINGS: web.AppKey[LiveSettings] = web.AppKey("live_settings")
# A supervised worker's place (`serve --workers N`): its number and the master's board of
# workers, which /metrics and /healthz report. Absent when the process serves alone.
WORKER_SEAT: web.AppKey[Seat] = web.AppKey("worker_seat")
