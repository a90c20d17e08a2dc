"""`/api/docs`: a page people can read for /api/openapi.json (Swagger UI, shipped in the
package under service/static/docs, so a plain `pip install .` serves it).

Everything the page needs comes from this service: its Content-Security-Policy lets the
browser load nothing from anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from diemcau.errors import Msg, Problem
from diemcau.routing import Route

DOCS = Path(__file__).resolve().parent.parent / "static" / "docs"
# The files the page is made of, and their types; nothing else in the folder is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "docs.js": "text/javascript",
    "LICENSE": "text/plain",
    "NOTICE": "text/plain",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain",
}
# Swagger UI sets inline styles and draws icons from data: URLs; scripts and requests
# stay on this origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _file(name: str, content_type: str) -> web.Response:
    return web.Response(
        body=(DOCS / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "public, max-age=3600"},
    )


async def get_docs(request: web.Request) -> web.Response:
    """The documentation page."""
    return _file("index.html", "text/html")


async def get_docs_asset(request: web.Request) -> web.Response:
    """One of the page's files (script, style, licences)."""
    name = request.match_info["name"]
    if name not in ASSETS:
        raise Problem("not_found", Msg("Không có tệp này", f"no file {name!r} in the docs"))
    return _file(name, ASSETS[name])


routes = [
    Route(
        "GET",
        "/api/docs",
        get_docs,
        "This API, to read in a browser (Swagger UI over /api/openapi.json)",
        "system",
        response_media="text/html",
    ),
    Route(
        "GET",
        "/api/docs/{name}",
        get_docs_asset,
        "A file of the documentation page (its script, style and licences)",
        "system",
        response_media="text/plain",
        errors=("not_found",),
    ),
]
