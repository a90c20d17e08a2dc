"""The web kiosk page at /kiosk and its files under /kiosk/ (no token: the page asks
for none until it enrolls, and the files hold no data)."""

from __future__ import annotations

from aiohttp import web

from diemcau.handlers.common import asset_response
from diemcau.kiosk.page import INDEX, SERVICE_WORKER, Asset, assets
from diemcau.routing import Route

# Only this origin's scripts, styles, workers and API; camera frames are drawn into a
# canvas (blob:/data: images); no frames, plugins or foreign forms.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=()",
    # Revalidate every time (a 304 costs one round trip): the service worker is what
    # makes the page load offline, and a stale HTTP cache would delay its updates.
    "Cache-Control": "no-cache",
}


def _serve(request: web.Request, name: str, asset: Asset) -> web.Response:
    headers = HEADERS
    if name == SERVICE_WORKER:
        # The worker lives under /kiosk/ and serves /kiosk itself.
        headers = {**HEADERS, "Service-Worker-Allowed": "/kiosk"}
    return asset_response(request, asset, headers)


async def get_kiosk_page(request: web.Request) -> web.Response:
    """The page itself; enrollment codes come in the fragment (#enroll=CODE), never here."""
    return _serve(request, INDEX, assets()[INDEX])


async def get_kiosk_asset(request: web.Request) -> web.Response:
    name = request.match_info["path"]
    found = assets().get(name)
    if found is None or name == INDEX:
        raise web.HTTPNotFound()
    return _serve(request, name, found)


routes = [
    Route(
        "GET",
        "/kiosk",
        get_kiosk_page,
        "The web kiosk page (HTML)",
        "kiosk",
        response_media="text/html",
    ),
    Route(
        "GET",
        "/kiosk/{path:.+}",
        get_kiosk_asset,
        "The web kiosk's scripts, styles, service worker and vendored libraries",
        "kiosk",
        response_media="text/javascript",
        errors=("not_found",),
    ),
]
