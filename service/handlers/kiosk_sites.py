"""A site's kiosks, for its technician or an organiser: enrollment codes (and their QR),
the list of kiosks, revoking one; and the enrollment itself, for anyone with a code."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field

from diemcau import keystore, kiosks, qr
from diemcau.appkeys import CONFIG, ENROLL_GUARD, KEYSTORE, POOL, TOKEN_CACHE
from diemcau.auth import Principal
from diemcau.errors import Msg, Problem
from diemcau.handlers.common import (
    client_address,
    conference_for,
    json_response,
    language,
    rate_limited,
    read_body,
)
from diemcau.handlers.kiosk_ws import close_kiosk_sockets
from diemcau.queries import credentials as qc
from diemcau.ratelimit import TooManyTries
from diemcau.routing import Route
from diemcau.text import ascii_number, checked_text
from diemcau.units import MAX_NAME
from diemcau.validation import STRICT

STAFF = ("organiser", "technician")
SITE = "/api/v1/conferences/{code}/sites/{site}"


async def conference_site(
    request: web.Request, *roles: str
) -> tuple[Principal, asyncpg.Record, asyncpg.Record]:
    """The caller, the conference and the participating site `{site}` of the path; 404
    when the site does not take part or lies outside the caller's subtree."""
    caller, conference = await conference_for(request, *roles)
    async with request.app[POOL].acquire() as conn:
        site = await qc.fetch_conference_site(conn, conference["id"], request.match_info["site"])
    if site is None or not caller.covers_unit_path(site["unit_path"]):
        raise Problem("not_found", Msg("Điểm cầu không tham gia hội nghị", "no such site"))
    return caller, conference, site


class KioskCode(BaseModel):
    code: str = Field(description="8 characters, shown as XXXX-XXXX; single use")
    expires_at: datetime
    enroll_url: str = Field(description="opens the kiosk page with the code filled in")
    qr_png: str = Field(description="path of the enrollment QR code")


def origin(request: web.Request) -> str:
    """The service's own origin: DIEMCAU_PUBLIC_URL, else the one this request came by."""
    return request.app[CONFIG].public_url or f"{request.scheme}://{request.host}"


async def create_kiosk_code(request: web.Request) -> web.Response:
    caller, conference, site = await conference_site(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        code, expires_at = await kiosks.create_code(conn, caller, conference, site)
        store = request.app[KEYSTORE]
        if store is not None:
            # A kiosk verifies codes offline with the conference's public key: make sure
            # there is one (made and audited here, by the staff asking), before any
            # badge is printed. Without a readable secret, kiosks verify once it is fixed.
            await keystore.signing_key(conn, store, conference["id"], caller)
    path = (
        f"/api/v1/conferences/{conference['code']}/sites/{site['code']}/kiosk-codes/{code}/qr.png"
    )
    out = KioskCode(
        code=kiosks.display_code(code),
        expires_at=expires_at,
        enroll_url=kiosks.enroll_url(origin(request), code),
        qr_png=path,
    )
    return json_response(out, status=201)


async def get_kiosk_code_qr(request: web.Request) -> web.Response:
    _, conference, site = await conference_site(request, *STAFF)
    code = kiosks.normalise_code(request.match_info["kcode"])
    async with request.app[POOL].acquire() as conn:
        live = code is not None and await kiosks.code_is_live(
            conn, conference["id"], site["id"], code
        )
    if not live or code is None:
        raise Problem("not_found", Msg("Mã ghép máy không còn dùng được", "no live code"))
    body = await asyncio.to_thread(qr.png, kiosks.enroll_qr_text(origin(request), code))
    return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "no-store"})


async def open_enroll_link(request: web.Request) -> web.Response:
    """A phone's camera opened the enrollment QR: on to the kiosk page, code in hand (in
    the fragment, so it reaches no log)."""
    code = kiosks.normalise_code(request.match_info["kcode"]) or ""
    raise web.HTTPFound(f"/kiosk#enroll={code}")


def optional_name(value: str) -> str | None:
    """A name as names are kept (diemcau.text.checked_text), or None for an empty one."""
    return checked_text(value, MAX_NAME) or None


EnrollCode = Field(max_length=32, description="the 8-character code (dash and case optional)")


class EnrollIn(BaseModel):
    model_config = STRICT
    code: str = EnrollCode
    device_name: Annotated[str, AfterValidator(optional_name)] | None = Field(
        None,
        description="how the technician will recognise this device; empty or left out: "
        "the site's next number (`Máy 3`, or `Kiosk 3` in English)",
        json_schema_extra={"maxLength": MAX_NAME},
    )


class Enrolled(BaseModel):
    token: str
    kiosk: dict[str, Any]
    conference: dict[str, Any]
    site: dict[str, Any]
    keys: dict[str, Any]


async def take_try(request: web.Request, conn: asyncpg.Connection) -> int:
    """Count a try at a code. Codes are guessable only by brute force: a few wrong ones a
    minute per address, counted in the database (every worker and host alike); the caller
    forgives the try when the code was right, so a success is not counted."""
    try:
        return await request.app[ENROLL_GUARD].take(conn, client_address(request))
    except TooManyTries as exc:
        raise rate_limited(exc.wait, kiosks.TOO_MANY_CODES) from None


async def enroll_kiosk(request: web.Request) -> web.Response:
    body = await read_body(request, EnrollIn)
    async with request.app[POOL].acquire() as conn:
        tried = await take_try(request, conn)
        done = await kiosks.enroll(conn, body.code, body.device_name, language(request))
        await request.app[ENROLL_GUARD].forgive(conn, tried)
    return json_response(Enrolled.model_validate(done), status=201)


class PreviewIn(BaseModel):
    model_config = STRICT
    code: str = EnrollCode


class Preview(BaseModel):
    conference: dict[str, Any]
    site: dict[str, Any]
    expires_at: datetime
    device_name: str = Field(description="the name the kiosk gets if it is given none")


async def preview_enrollment(request: web.Request) -> web.Response:
    # A look at a code tells as much as a try with it: the same guard.
    body = await read_body(request, PreviewIn)
    async with request.app[POOL].acquire() as conn:
        tried = await take_try(request, conn)
        found = await kiosks.preview(conn, body.code, language(request))
        await request.app[ENROLL_GUARD].forgive(conn, tried)
    return json_response(Preview.model_validate(found))


class KioskOut(BaseModel):
    id: int
    device_name: str
    enrolled_at: datetime
    last_seen_at: datetime | None
    online: bool
    queue_length: int | None
    app_version: str | None
    scans: int
    revoked_at: datetime | None


class KioskList(BaseModel):
    items: list[KioskOut]
    next: str | None = None


async def list_site_kiosks(request: web.Request) -> web.Response:
    _, conference, site = await conference_site(request, *STAFF)
    async with request.app[POOL].acquire() as conn:
        items = await kiosks.list_kiosks(conn, conference, site["id"])
    return json_response(KioskList.model_validate({"items": items}))


def kiosk_id(raw: str) -> int:
    found = ascii_number(raw)
    if found is None:
        raise Problem("not_found", Msg("Không có máy điểm danh này", "no such kiosk"))
    return found


async def revoke_site_kiosk(request: web.Request) -> web.Response:
    caller, conference, site = await conference_site(request, *STAFF)
    target = kiosk_id(request.match_info["id"])
    async with request.app[POOL].acquire() as conn:
        done = await kiosks.revoke_kiosk(conn, caller, conference, site, target)
    request.app[TOKEN_CACHE].drop(target)
    await close_kiosk_sockets(request.app, target)
    return json_response(KioskOut.model_validate(done))


routes = [
    Route(
        "POST",
        SITE + "/kiosk-codes",
        create_kiosk_code,
        "A single-use code (24 h) to enroll a kiosk for this site",
        "kiosks",
        roles=STAFF,
        response=KioskCode,
        status=201,
        errors=("not_found", "locked"),
    ),
    Route(
        "GET",
        SITE + "/kiosk-codes/{kcode}/qr.png",
        get_kiosk_code_qr,
        "The enrollment code as a QR code (a phone's camera opens the kiosk page with it)",
        "kiosks",
        roles=STAFF,
        response_media="image/png",
        errors=("not_found",),
    ),
    Route(
        "GET",
        "/K/{kcode}",
        open_enroll_link,
        "Where the enrollment QR leads: a redirect to the kiosk page with the code",
        "kiosks",
        status=302,
    ),
    Route(
        "POST",
        "/api/v1/kiosks/enroll",
        enroll_kiosk,
        "Trade an enrollment code for a kiosk token, with the conference, site and keys",
        "kiosks",
        body=EnrollIn,
        response=Enrolled,
        status=201,
        errors=("enrollment_code_refused", "rate_limited", "locked"),
    ),
    Route(
        "POST",
        "/api/v1/kiosks/enroll/preview",
        preview_enrollment,
        "What an enrollment code would enroll (conference, site, expiry, the kiosk's "
        "numbered name), without using it",
        "kiosks",
        body=PreviewIn,
        response=Preview,
        errors=("enrollment_code_refused", "rate_limited", "locked"),
    ),
    Route(
        "GET",
        SITE + "/kiosks",
        list_site_kiosks,
        "The site's kiosks: device, enrolled, last seen, online, queue, scans",
        "kiosks",
        roles=STAFF,
        response=KioskList,
        errors=("not_found",),
    ),
    Route(
        "POST",
        SITE + "/kiosks/{id}/revoke",
        revoke_site_kiosk,
        "Revoke a kiosk: its next request answers 401, its websocket closes",
        "kiosks",
        roles=STAFF,
        response=KioskOut,
        errors=("not_found",),
    ),
]
