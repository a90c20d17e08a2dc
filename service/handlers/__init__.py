"""HTTP handlers: the only modules that import aiohttp.web. Each module lists its routes."""

from __future__ import annotations

from importlib import import_module

from diemcau.routing import Route

# Every handler module with a `routes` list; create_app registers them all.
MODULES = [
    "diemcau.handlers.system",
    "diemcau.handlers.docs",
    "diemcau.handlers.credentials",
    "diemcau.handlers.units",
    "diemcau.handlers.sites",
    "diemcau.handlers.link_test_ws",
    "diemcau.handlers.conferences",
    "diemcau.handlers.delegates",
    "diemcau.handlers.kiosk_sites",
    "diemcau.handlers.kiosk_api",
    "diemcau.handlers.checkins",
    "diemcau.handlers.headcounts",
    "diemcau.handlers.absences",
    "diemcau.handlers.reconcile",
    "diemcau.handlers.kiosk_ws",
    "diemcau.handlers.kiosk_page",
    "diemcau.handlers.live",
]


def all_routes() -> list[Route]:
    found: list[Route] = []
    for name in MODULES:
        found.extend(import_module(name).routes)
    return found
