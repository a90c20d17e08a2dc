"""The live board's page at /dashboard/{conference} and its files under
/dashboard/assets/ (no token: the page asks for one, and the files hold no data)."""

from __future__ import annotations

from aiohttp import web

from diemcau.dashboard.page import INDEX, assets
from diemcau.handlers.common import asset_response
from diemcau.kiosk.page import Asset
from diemcau.routing import Route

# Only this origin's scripts, styles and API (the websocket included); the chart is SVG
# made in the page; no frames, plugins or foreign forms.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # The token may sit in the address's fragment for a moment; never pass the address on.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=()",
    "Cache-Control": "no-cache",  # revalidated by ETag: a new release shows at the next load
}


def _serve(request: web.Request, asset: Asset) -> web.Response:
    return asset_response(request, asset, HEADERS)


async def get_dashboard_page(request: web.Request) -> web.Response:
    """The page; it reads the conference from its own address and asks the API for the
    board, so an unknown conference is said on the page (the API's 404), not here."""
    return _serve(request, assets()[INDEX])


async def get_dashboard_asset(request: web.Request) -> web.Response:
    name = request.match_info["path"]
    found = assets().get(name)
    if found is None or name == INDEX:
        raise web.HTTPNotFound()
    return _serve(request, found)


routes = [
    Route(
        "GET",
        "/dashboard/{code}",
        get_dashboard_page,
        "The live board's page (HTML): totals, units, sites, arrivals; ?screen=big for a "
        "hall's projector",
        "live",
        response_media="text/html",
    ),
    Route(
        "GET",
        "/dashboard/assets/{path:.+}",
        get_dashboard_asset,
        "The live board page's scripts and styles",
        "live",
        response_media="text/javascript",
        errors=("not_found",),
    ),
]
