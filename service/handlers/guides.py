"""`/guides/door` and `/guides/technician`: the printable guides for the people at the
sites (diemcau.guides), and `/guides/files/NAME` for their stylesheet and screenshots.
No token: they hold no data. `?lang=en` for English, Vietnamese otherwise, as the kiosk
page's VI/EN switch."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from diemcau import guides
from diemcau.errors import Msg, Problem
from diemcau.handlers.common import read_query
from diemcau.routing import Route

# Nothing but this origin's stylesheet and images: the guides run no script at all.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class GuideQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: Literal["vi", "en"] = Field("vi", description="the guide's language")


def _serve(request: web.Request, found: guides.Page) -> web.Response:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",  # revalidated (a 304) so a new release shows at once
        "ETag": found.etag,
    }
    if found.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers={**headers, "Content-Type": found.media_type})


async def get_door_guide(request: web.Request) -> web.Response:
    """The door volunteer's guide: enroll, scan, the three colours, walk-ins, exits, offline."""
    lang = read_query(request, GuideQuery).lang
    return _serve(request, guides.page("door", lang))


async def get_technician_guide(request: web.Request) -> web.Response:
    """The technician's guide: register, link test, enroll the kiosk, headcounts."""
    lang = read_query(request, GuideQuery).lang
    return _serve(request, guides.page("technician", lang))


async def get_guide_file(request: web.Request) -> web.Response:
    """The guides' stylesheet or one of their screenshots."""
    name = request.match_info["name"]
    found = guides.asset(name)
    if found is None:
        raise Problem("not_found", Msg("Không có tệp này", f"no file {name!r} in the guides"))
    return _serve(request, found)


routes = [
    Route(
        "GET",
        "/guides/door",
        get_door_guide,
        "The door volunteer's guide, one printable A4 page (HTML)",
        "guides",
        query=GuideQuery,
        response_media="text/html",
    ),
    Route(
        "GET",
        "/guides/technician",
        get_technician_guide,
        "The site technician's guide, one printable A4 page (HTML)",
        "guides",
        query=GuideQuery,
        response_media="text/html",
    ),
    Route(
        "GET",
        "/guides/files/{name}",
        get_guide_file,
        "The guides' stylesheet and screenshots",
        "guides",
        response_media="image/png",
        errors=("not_found",),
    ),
]
