"""Credentials over HTTP: JWK sets and key rotation, QR images, phone passes, badge sheets,
reissue and revoke."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from diemcau import auth, badges, delegates, issuance, keystore, qr
from diemcau.appkeys import CONFIG, KEYSTORE, POOL, RENDER_POOL
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable
from diemcau.errors import Msg, Problem
from diemcau.handlers.common import conference_for, json_response
from diemcau.keystore import Keystore, KeystoreError
from diemcau.queries import credentials as q
from diemcau.queries.conferences import fetch_delegate
from diemcau.routing import Route

log = logging.getLogger("diemcau.credentials")
T = TypeVar("T")
PREFIX = "/api/v1/conferences/{code}"


class Jwk(BaseModel):
    kty: str
    crv: str
    kid: str
    x: str
    use: str
    alg: str
    conference: str
    conference_id: int
    signing: bool
    created_at: datetime


class JwkSet(BaseModel):
    keys: list[Jwk]


class Rotated(JwkSet):
    signing_kid: str


class Credential(BaseModel):
    delegate_id: int
    credential_version: int
    revoked: bool
    qr: str | None


async def credentials_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the secret (from the environment or the data dir) and check it opens the stored
    keys. A wrong secret is logged plainly; only signing answers 503 until it is fixed, so
    check-ins (public keys only) go on."""
    app[KEYSTORE] = None
    try:
        app[KEYSTORE] = await asyncio.to_thread(Keystore.from_config, app[CONFIG])
    except KeystoreError as exc:
        log.error("signing disabled: %s", exc)
    store = app[KEYSTORE]
    if store is not None:
        async with app[POOL].acquire() as conn:
            if not await keystore.check_secret(conn, store):
                log.error("signing disabled: %s", keystore.secret_mismatch().detail)
    yield


def _store(request: web.Request) -> Keystore:
    store = request.app[KEYSTORE]
    if store is None:
        raise keystore.secret_mismatch()
    return store


async def _off_loop(func: Callable[..., T], *args: Any) -> T:
    """CPU work (QR, PNG, PDF) in the default executor, never on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


# Sites with more badges than this render in a separate process: a district hall of
# thousands would otherwise hold the worker's GIL for seconds while kiosks check in.
PROCESS_RENDER_MIN = 400


async def _render_pdf(
    app: web.Application, sheet: badges.Sheet, items: list[badges.Badge]
) -> bytes:
    if len(items) < PROCESS_RENDER_MIN:
        return await _off_loop(badges.badges_pdf, sheet, items)
    pool = app[RENDER_POOL].get()
    return await asyncio.get_running_loop().run_in_executor(pool, badges.badges_pdf, sheet, items)


def _binary(body: bytes, content_type: str, filename: str | None = None) -> web.Response:
    headers = {"Cache-Control": "no-store"}  # a reissue changes the code
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=body, content_type=content_type, headers=headers)


async def _delegate(
    request: web.Request, *roles: str
) -> tuple[Principal, asyncpg.Record, asyncpg.Record]:
    """The caller, the conference and the delegate `{id}`, checked against the caller's scope."""
    caller, conference = await conference_for(request, *roles)
    delegate_id = delegates.delegate_id(request.match_info["id"])
    async with request.app[POOL].acquire() as conn:
        delegate = await fetch_delegate(conn, conference["id"], delegate_id)
    # Outside the caller's subtree a delegate is missing, not forbidden: no 403/404 oracle.
    if delegate is None or not caller.covers_unit_path(delegate["site_unit_path"]):
        raise delegates.not_found()
    return caller, conference, delegate


async def _current_code(request: web.Request, *roles: str) -> tuple[asyncpg.Record, str]:
    caller, conference, delegate = await _delegate(request, *roles)
    if delegate["revoked"]:
        raise Problem(
            "conflict",
            Msg("Mã của đại biểu đã bị thu hồi; hãy cấp lại", "the code is revoked; reissue it"),
        )
    async with request.app[POOL].acquire() as conn:
        code = await issuance.delegate_code(conn, _store(request), delegate, caller)
    return conference, code


async def get_keys(request: web.Request) -> web.Response:
    """The JWK set. A read writes nothing: before the first code is signed (or a key
    rotated in) the set is empty, and there is no code yet to verify."""
    _, conference = await conference_for(request, *auth.ROLES)
    async with request.app[POOL].acquire() as conn:
        found = await keystore.jwks(conn, conference)
    return json_response(JwkSet.model_validate(found))


async def rotate_key(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, "organiser")
    ensure_writable(conference)
    async with request.app[POOL].acquire() as conn:
        kid = await keystore.rotate(conn, _store(request), conference["id"], caller)
        found = await keystore.jwks(conn, conference)
    return json_response(Rotated(signing_kid=kid, **found), status=201)


async def retire_key(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, "organiser")
    ensure_writable(conference)
    async with request.app[POOL].acquire() as conn:
        await keystore.retire(conn, conference["id"], request.match_info["kid"], caller)
        found = await keystore.jwks(conn, conference)
    return json_response(JwkSet.model_validate(found))


async def get_qr_png(request: web.Request) -> web.Response:
    _, code = await _current_code(request, "organiser")
    return _binary(await _off_loop(qr.png, code), "image/png")


async def get_qr_svg(request: web.Request) -> web.Response:
    _, code = await _current_code(request, "organiser")
    return _binary((await _off_loop(qr.svg, code)).encode(), "image/svg+xml")


async def get_pass_png(request: web.Request) -> web.Response:
    caller, conference, delegate = await _delegate(request, "organiser", "technician")
    if delegate["revoked"]:
        raise Problem("conflict", Msg("Mã đã bị thu hồi", "the code is revoked"))
    async with request.app[POOL].acquire() as conn:
        code = await issuance.delegate_code(conn, _store(request), delegate, caller)
    sheet = badges.Sheet(
        badges.nfc(conference["title"]),
        issuance.conference_date(conference),
        badges.nfc(delegate["site_name"]),
        delegate["site_code"],
    )
    badge = badges.Badge(
        badges.nfc(delegate["full_name"]),
        delegate["category"],
        badges.nfc(delegate["unit_name"] or ""),
        code,
    )
    body = await _off_loop(badges.phone_pass, sheet, badge)
    return _binary(body, "image/png")


async def get_badges_pdf(request: web.Request) -> web.Response:
    caller, conference = await conference_for(request, "organiser", "technician")
    async with request.app[POOL].acquire() as conn:
        site = await q.fetch_conference_site(conn, conference["id"], request.match_info["site"])
        if site is None or not caller.covers_unit_path(site["unit_path"]):
            raise Problem("not_found", Msg("Điểm cầu không tham gia hội nghị", "no such site"))
        rows = await q.fetch_badge_delegates(conn, conference["id"], site["id"])
        key = await keystore.signing_key(conn, _store(request), conference["id"], caller)
    sheet = issuance.site_sheet(conference, site)
    items, issued = await _off_loop(issuance.signed_badges, key, conference["id"], rows)
    async with request.app[POOL].acquire() as conn:
        await issuance.record_codes(conn, issued)
    body = await _render_pdf(request.app, sheet, items)
    name = f"badges-{conference['code']}-{site['code']}.pdf"
    return _binary(body, "application/pdf", name)


async def reissue_credential(request: web.Request) -> web.Response:
    caller, conference, delegate = await _delegate(request, "organiser")
    async with request.app[POOL].acquire() as conn:
        row, code = await issuance.reissue(
            conn, _store(request), conference, delegate["id"], caller
        )
    return json_response(_credential(row, code))


async def revoke_credential(request: web.Request) -> web.Response:
    caller, conference, delegate = await _delegate(request, "organiser")
    async with request.app[POOL].acquire() as conn:
        row = await issuance.revoke(conn, conference, delegate["id"], caller)
    return json_response(_credential(row, None))


def _credential(row: asyncpg.Record, code: str | None) -> Credential:
    return Credential(
        delegate_id=row["id"],
        credential_version=row["credential_version"],
        revoked=row["revoked"],
        qr=code,
    )


_DELEGATE = PREFIX + "/delegates/{id}"
_READ_ERRORS = ("not_found", "secret_key_mismatch")
_DELEGATE_ERRORS = ("not_found", "conflict", "secret_key_mismatch")

routes = [
    Route(
        "GET",
        PREFIX + "/keys",
        get_keys,
        "Public keys for offline verification (JWK set, RFC 8037)",
        "credentials",
        roles=auth.ROLES,
        response=JwkSet,
        errors=_READ_ERRORS,
    ),
    Route(
        "POST",
        PREFIX + "/keys/rotate",
        rotate_key,
        "New signing key; the old ones keep verifying until retired",
        "credentials",
        roles=("organiser",),
        response=Rotated,
        status=201,
        errors=("not_found", "locked", "secret_key_mismatch"),
    ),
    Route(
        "POST",
        PREFIX + "/keys/{kid}/retire",
        retire_key,
        "Retire a key: codes signed with it are refused from now on",
        "credentials",
        roles=("organiser",),
        response=JwkSet,
        errors=("not_found", "conflict", "locked"),
    ),
    Route(
        "GET",
        _DELEGATE + "/qr.png",
        get_qr_png,
        "The delegate's QR code as PNG",
        "credentials",
        roles=("organiser",),
        response_media="image/png",
        errors=_DELEGATE_ERRORS,
    ),
    Route(
        "GET",
        _DELEGATE + "/qr.svg",
        get_qr_svg,
        "The delegate's QR code as SVG",
        "credentials",
        roles=("organiser",),
        response_media="image/svg+xml",
        errors=_DELEGATE_ERRORS,
    ),
    Route(
        "GET",
        _DELEGATE + "/pass.png",
        get_pass_png,
        "The delegate's phone pass (PNG, to send by Zalo or e-mail)",
        "credentials",
        roles=("organiser", "technician"),
        response_media="image/png",
        errors=_DELEGATE_ERRORS,
    ),
    Route(
        "GET",
        PREFIX + "/sites/{site}/badges.pdf",
        get_badges_pdf,
        "Printable A4 badge sheets for one site (8 a page, cut marks)",
        "credentials",
        roles=("organiser", "technician"),
        response_media="application/pdf",
        errors=_READ_ERRORS,
    ),
    Route(
        "POST",
        _DELEGATE + "/reissue",
        reissue_credential,
        "New credential version; the old code answers `revoked`",
        "credentials",
        roles=("organiser",),
        response=Credential,
        errors=("not_found", "conflict", "locked", "secret_key_mismatch"),
    ),
    Route(
        "POST",
        _DELEGATE + "/revoke",
        revoke_credential,
        "Revoke the delegate's code without issuing a new one",
        "credentials",
        roles=("organiser",),
        response=Credential,
        errors=("not_found", "locked"),
    ),
]
