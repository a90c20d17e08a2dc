"""The kiosk's HTTP calls: enrollment, its own state, and the roster snapshot.

Enrollment needs no token; the other calls carry the kiosk token (only in the
Authorization header). A 401 means the kiosk was revoked: `KioskRevoked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from diemcau.kiosk.connection import KioskRevoked
from diemcau.kiosk.store import Store
from diemcau.sites.client import ApiError, Client, _problem

ROSTER = "/api/v1/kiosk/roster"


def unreachable(base_url: str, exc: Exception) -> ApiError:
    return ApiError(
        0,
        {
            "code": "unreachable",
            "title": f"Không kết nối được {base_url} / cannot reach it",
            "detail": type(exc).__name__,
        },
    )


async def enroll(base_url: str, code: str, device_name: str, lang: str) -> dict[str, Any]:
    """POST /api/v1/kiosks/enroll: `{token, kiosk, conference, site, keys}`."""
    url = base_url.rstrip("/") + "/api/v1/kiosks/enroll"
    body = {"code": code, "device_name": device_name}
    try:
        async with (
            aiohttp.ClientSession(headers={"Accept-Language": lang}) as session,
            session.post(url, json=body) as resp,
        ):
            if resp.status >= 400:
                raise ApiError(resp.status, await _problem(resp))
            answer: dict[str, Any] = await resp.json(content_type=None)
            return answer
    except aiohttp.ClientConnectionError as exc:
        raise unreachable(base_url, exc) from None


async def fetch_kiosk(api: Client) -> dict[str, Any]:
    """GET /api/v1/kiosk: the kiosk, its conference and site, the site's counts."""
    try:
        answer: dict[str, Any] = await api.get("/api/v1/kiosk")
        return answer
    except ApiError as err:
        if err.status == 401:
            raise KioskRevoked("HTTP 401") from None
        raise


@dataclass(frozen=True, slots=True)
class Roster:
    """One roster answer: the snapshot (`full`) or the changes since a version."""

    version: str
    full: bool
    delegates: list[dict[str, Any]]
    removed: list[int]
    keys: dict[str, Any] | None
    etag: str | None


async def fetch_roster(api: Client, since: str | None, etag: str | None) -> Roster | None:
    """The roster, or the changes since `since`; None when it has not changed (304)."""
    params = {"since": since} if since else {}
    headers = {"If-None-Match": etag} if etag else {}
    try:
        async with api.session.get(api.url(ROSTER), params=params, headers=headers) as resp:
            if resp.status == 304:
                return None
            if resp.status == 401:
                raise KioskRevoked("HTTP 401")
            if resp.status >= 400:
                raise ApiError(resp.status, await _problem(resp))
            body = await resp.json(content_type=None)
            etag = resp.headers.get("ETag")
    except aiohttp.ClientConnectionError as exc:
        raise unreachable(api.base_url, exc) from None
    return Roster(
        str(body["version"]),
        bool(body.get("full", not since)),
        list(body.get("delegates") or []),
        [int(i) for i in body.get("removed") or []],
        body.get("keys"),
        etag,
    )


async def refresh_roster(api: Client, store: Store) -> Roster | None:
    """Bring the stored roster (and keys) up to date; a refused scope leaves it empty.

    A scope too big for a snapshot (422 `roster_too_large`) is remembered: the kiosk
    then judges codes by their signature only, and names come from the service.
    """
    try:
        found = await fetch_roster(api, store.get("roster_version"), store.get("roster_etag"))
    except ApiError as err:
        if err.code != "roster_too_large":
            raise
        store.set(roster_state="too_large")
        return None
    if found is None:
        return None
    if found.full:
        store.replace_roster(found.delegates)
    else:
        store.update_roster(found.delegates, found.removed)
    values: dict[str, Any] = {
        "roster_version": found.version,
        "roster_etag": found.etag,
        "roster_state": "ok",
    }
    if found.keys:
        values["keys"] = found.keys
    store.set(**values)
    return found
