"""Access tokens: random, stored hashed, revocable, with a role and a scope.

Roles: `organiser` (optionally limited to a unit subtree), `technician` (a unit subtree),
`kiosk` (one site of one conference), `viewer` (read-only, one conference).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from diemcau.errors import Msg, Problem, validation_failed

ROLES = ("organiser", "technician", "kiosk", "viewer")
TOKEN_PREFIX = "dc_"
TICKET_TTL = timedelta(seconds=30)


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how far their token reaches."""

    token_id: int | None
    role: str
    label: str = ""
    unit_id: int | None = None
    unit_code: str | None = None
    unit_path: str | None = None
    conference_id: int | None = None
    conference_code: str | None = None
    site_id: int | None = None
    site_code: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        ident = f"{self.role}#{self.token_id}" if self.token_id else self.role
        return f"{ident} {self.label}".strip()

    def covers_unit_path(self, path: str) -> bool:
        """True when the unit with this materialised path is inside the token's subtree."""
        if self.role in ("kiosk", "viewer"):
            return False
        return self.unit_path is None or path.startswith(self.unit_path)

    def covers_conference(self, conference_id: int) -> bool:
        """True for any conference for an unscoped organiser, else its own conference."""
        if self.conference_id is not None:
            return self.conference_id == conference_id
        return self.role in ("organiser", "technician")


CLI = Principal(token_id=None, role="organiser", label="cli")

_PRINCIPAL_SQL = """
    SELECT t.id, t.role, t.label, t.unit_id, u.code AS unit_code, u.path AS unit_path,
           t.conference_id, c.code AS conference_code, t.site_id, s.code AS site_code,
           t.last_used_at
      FROM tokens t
      LEFT JOIN units u ON u.id = t.unit_id
      LEFT JOIN conferences c ON c.id = t.conference_id
      LEFT JOIN sites s ON s.id = t.site_id
"""


def _principal(row: asyncpg.Record) -> Principal:
    return Principal(
        token_id=row["id"],
        role=row["role"],
        label=row["label"],
        unit_id=row["unit_id"],
        unit_code=row["unit_code"],
        unit_path=row["unit_path"],
        conference_id=row["conference_id"],
        conference_code=row["conference_code"],
        site_id=row["site_id"],
        site_code=row["site_code"],
    )


async def authenticate(conn: asyncpg.Connection, secret: str) -> Principal | None:
    """The principal for a live token, or None for an unknown or revoked one."""
    row = await conn.fetchrow(
        _PRINCIPAL_SQL + " WHERE t.token_hash = $1 AND t.revoked_at IS NULL", hash_secret(secret)
    )
    if row is None:
        return None
    last = row["last_used_at"]
    if last is None or (datetime.now(last.tzinfo) - last) > timedelta(minutes=1):
        # Touch at most once a minute: "when was this token last used" without a write
        # on every request.
        await conn.execute("UPDATE tokens SET last_used_at = now() WHERE id = $1", row["id"])
    return _principal(row)


class TokenCache:
    """Principals of recently seen tokens, for the check-in path only (a kiosk sends
    thousands of requests; each would otherwise cost a database round trip). A revoked
    kiosk is still refused at once: every check-in batch reads its tokens' state."""

    def __init__(self, ttl: float = 10.0, size: int = 100_000) -> None:
        self.ttl = ttl
        self.size = size
        self._found: dict[bytes, tuple[Principal, float]] = {}

    def get(self, secret: str) -> Principal | None:
        hit = self._found.get(hash_secret(secret))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, secret: str, principal: Principal) -> None:
        if len(self._found) >= self.size:
            self._found.clear()  # crude, and rare: a worker sees a few thousand kiosks
        self._found[hash_secret(secret)] = (principal, time.monotonic() + self.ttl)

    def drop(self, token_id: int) -> None:
        self._found = {k: v for k, v in self._found.items() if v[0].token_id != token_id}


async def _scope_ids(
    conn: asyncpg.Connection, unit: str | None, conference: str | None, site: str | None
) -> dict[str, int | None]:
    ids: dict[str, int | None] = {"unit_id": None, "conference_id": None, "site_id": None}
    lookups = (
        ("unit_id", "units", unit),
        ("conference_id", "conferences", conference),
        ("site_id", "sites", site),
    )
    for key, table, code in lookups:
        if code is None:
            continue
        # Table names come from the fixed tuple above, never from input.
        found = await conn.fetchval(f"SELECT id FROM {table} WHERE code = $1", code)
        if found is None:
            field = key.removesuffix("_id")
            raise validation_failed(field, Msg(f"Không có mã {code!r}", f"no {field} {code!r}"))
        ids[key] = found
    return ids


# What each role's scope is made of (README, Roles): anything else makes no sense.
_SCOPE_PARTS = {
    "organiser": ("unit",),
    "technician": ("unit",),
    "kiosk": ("conference", "site"),
    "viewer": ("conference",),
}
_NEEDS = {
    "technician": ("unit", "a technician token needs --unit"),
    "kiosk": ("site", "a kiosk token needs --conference and --site"),
    "viewer": ("conference", "a viewer token needs --conference"),
}


def _check_scope_shape(role: str, **scope: str | None) -> None:
    """The role is known, has the scope it needs, and nothing its scope is not made of."""
    if role not in ROLES:
        raise validation_failed("role", Msg("Vai trò không hợp lệ", f"role must be one of {ROLES}"))
    given = {part for part, code in scope.items() if code is not None}
    extra = sorted(given - set(_SCOPE_PARTS[role]))
    if extra:
        part = extra[0]
        raise validation_failed(
            part,
            Msg(
                f"Mã vai trò {role} không nhận phạm vi --{part}",
                f"a {role} token takes no --{part}",
            ),
        )
    if role in _NEEDS and not set(_SCOPE_PARTS[role]) <= given:
        field, en = _NEEDS[role]
        raise validation_failed(field, Msg(f"Thiếu phạm vi cho vai trò {role}", en))


async def _check_kiosk_site(conn: asyncpg.Connection, ids: dict[str, int | None]) -> None:
    """A kiosk stands at a site that takes part in its conference."""
    taking_part = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM conference_sites
                           WHERE conference_id = $1 AND site_id = $2)""",
        ids["conference_id"],
        ids["site_id"],
    )
    if not taking_part:
        raise validation_failed(
            "site",
            Msg("Điểm cầu không tham gia hội nghị này", "the site does not take part in it"),
        )


async def create_token(
    conn: asyncpg.Connection,
    role: str,
    *,
    label: str = "",
    unit: str | None = None,
    conference: str | None = None,
    site: str | None = None,
    created_by: int | None = None,
) -> tuple[str, int]:
    """Create a token; answer the secret (shown once, never stored) and its id."""
    _check_scope_shape(role, unit=unit, conference=conference, site=site)
    ids = await _scope_ids(conn, unit, conference, site)
    if role == "kiosk":
        await _check_kiosk_site(conn, ids)
    secret = new_secret()
    async with conn.transaction():
        token_id = await conn.fetchval(
            """INSERT INTO tokens (token_hash, role, label, unit_id, conference_id, site_id, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            hash_secret(secret),
            role,
            label,
            ids["unit_id"],
            ids["conference_id"],
            ids["site_id"],
            created_by,
        )
        if role == "kiosk":
            # Every kiosk token is a kiosk: its device, its liveness, its scans.
            await conn.execute(
                """INSERT INTO kiosks (token_id, conference_id, site_id, device_name)
                   VALUES ($1, $2, $3, $4)""",
                token_id,
                ids["conference_id"],
                ids["site_id"],
                label,
            )
    return secret, token_id


async def list_tokens(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every token with its scope (never the secret: only its hash is stored)."""
    return await conn.fetch(
        """SELECT t.id, t.role, t.label, u.code AS unit, c.code AS conference, s.code AS site,
                  t.created_at, t.last_used_at, t.revoked_at
             FROM tokens t
             LEFT JOIN units u ON u.id = t.unit_id
             LEFT JOIN conferences c ON c.id = t.conference_id
             LEFT JOIN sites s ON s.id = t.site_id
            ORDER BY t.id"""
    )


async def revoke_token(conn: asyncpg.Connection, token_id: int) -> bool:
    """Revoke a token at once; answer False when there is no such live token."""
    done = await conn.execute(
        "UPDATE tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )
    return done.endswith(" 1")


async def issue_ticket(conn: asyncpg.Connection, principal: Principal) -> tuple[str, datetime]:
    """A single-use websocket ticket standing for this token for 30 seconds."""
    if principal.token_id is None:
        raise Problem("forbidden")
    ticket = secrets.token_urlsafe(24)
    expires_at = await conn.fetchval(
        """INSERT INTO ws_tickets (ticket_hash, token_id, expires_at)
           VALUES ($1, $2, now() + $3::interval) RETURNING expires_at""",
        hash_secret(ticket),
        principal.token_id,
        TICKET_TTL,
    )
    # Old tickets are of no use to anyone; sweep them on the way.
    await conn.execute("DELETE FROM ws_tickets WHERE expires_at < now() - interval '1 hour'")
    return ticket, expires_at


async def redeem_ticket(conn: asyncpg.Connection, ticket: str) -> Principal | None:
    """The principal behind a ticket, consuming it; None if unknown, used, or expired."""
    row = await conn.fetchrow(
        "WITH used AS (UPDATE ws_tickets SET used_at = now() "
        " WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING token_id) "
        + _PRINCIPAL_SQL
        + " JOIN used ON used.token_id = t.id WHERE t.revoked_at IS NULL",
        hash_secret(ticket),
    )
    return _principal(row) if row else None
