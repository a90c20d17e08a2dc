"""What a kiosk keeps for offline use: its roster snapshot and key set, and the name
search for a manual check-in.

A snapshot covers the kiosk's own site (or, with `scope=unit`, the sites under the
parent of the site's unit) and carries a version: the latest `roster_seq` of those
sites (queries: `roster_versions`, one primary-key read a site). Later the kiosk asks
for what changed since that version: delegates changed or moved in, and the ids that
left (deleted, or moved elsewhere). A national kiosk never pulls the national roster: a
scope of more than MAX_ROSTER delegates is refused, and such a kiosk checks in online.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau import keystore
from diemcau.errors import Msg, Problem, validation_failed
from diemcau.queries import kiosk_roster as q
from diemcau.queries.conferences import fold
from diemcau.text import ascii_number, vn_int

MAX_ROSTER = 100_000
SEARCH_LIMIT = 20
SCOPES = ("site", "unit")


async def scope_sites(
    conn: asyncpg.Connection, conference_id: int, site_id: int, scope: str
) -> list[int]:
    """The participating sites a kiosk's snapshot covers."""
    if scope == "site":
        return [site_id]
    return await q.fetch_unit_scope_sites(conn, conference_id, site_id)


def parse_since(raw: str | None) -> int | None:
    """A version given back by the kiosk; anything we did not hand out is a 422."""
    if raw is None:
        return None
    found = ascii_number(raw)
    if found is None:
        raise validation_failed(
            "since",
            Msg("Phiên bản không đúng; dùng giá trị `version` đã nhận", "use the `version` given"),
        )
    return found


async def etag(
    conn: asyncpg.Connection, conference: Any, site_ids: list[int], scope: str
) -> tuple[str, int]:
    """The snapshot's ETag and version: the roster's latest change and the key set's."""
    version = await q.fetch_version(conn, conference["id"], site_ids)
    keys = await q.fetch_keys_mark(conn, conference["id"])
    return f'"{scope}.{version}.{keys}"', version


async def snapshot(
    conn: asyncpg.Connection,
    conference: Any,
    site_ids: list[int],
    scope: str,
    version: int,
    since: int | None,
) -> dict[str, Any]:
    """The delegates of the scope (all, or changed since `since`) with the key set."""
    full = since is None or since > version  # a version from elsewhere: start over
    if full:
        size = await q.count_delegates(conn, conference["id"], site_ids)
        if size > MAX_ROSTER:
            raise Problem(
                "roster_too_large",
                Msg(
                    f"Phạm vi có {vn_int(size)} đại biểu, quá {vn_int(MAX_ROSTER)}; "
                    "máy này điểm danh trực tuyến",
                    f"the scope holds {size:,} delegates, over {MAX_ROSTER:,}; check in online",
                ),
                size=size,
                limit=MAX_ROSTER,
            )
    after = None if full else since
    rows = await q.fetch_roster(conn, conference["id"], site_ids, after)
    removed = (
        [] if after is None else await q.fetch_removed(conn, conference["id"], site_ids, after)
    )
    return {
        "version": str(version),
        "scope": scope,
        "full": full,
        "delegates": [dict(r) for r in rows],
        "removed": removed,
        # A delegate names their site by code; the door reads the site's name.
        "site_names": await q.fetch_site_names(conn, site_ids),
        "keys": await keystore.jwks(conn, conference),
    }


async def search(
    conn: asyncpg.Connection, conference_id: int, site_id: int, text: str
) -> list[dict[str, Any]]:
    """The site's delegates whose name holds every word of `text`, accents and case aside."""
    words = [w for w in fold(text).split() if w][:8]
    if not words:
        return []
    patterns = [
        "%" + w.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%" for w in words
    ]
    return [
        dict(r) for r in await q.search_site(conn, conference_id, site_id, patterns, SEARCH_LIMIT)
    ]
