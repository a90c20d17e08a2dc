"""Issuing delegates' codes (sign, reissue, revoke) and the database-side check of a code.

`check_credential` is what check-in calls: the pure verifier's rules (diemcau.credentials)
plus what only the database knows: the key is not retired, and the delegate exists, is
not revoked and holds this credential version (a reissue or a move to another site bumps
it, so an old code answers `revoked`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from diemcau import audit, badges, credentials, delegates
from diemcau.auth import Principal
from diemcau.checkin.identify import code_digest
from diemcau.conferences import ensure_writable, reload
from diemcau.credentials import Claims, InvalidCredential
from diemcau.errors import Msg, Problem
from diemcau.keystore import Keystore, SigningKey, signing_key
from diemcau.queries import credentials as q
from diemcau.queries.conferences import fetch_delegate
from diemcau.queries.issued import insert_issued_codes

log = logging.getLogger("diemcau.issuance")

# A delegate, conference or site row: an asyncpg Record, or a dict in tests and benches.
Row: TypeAlias = Mapping[str, Any]
# Codes just signed, with what each says: what `record_codes` keeps.
Issued: TypeAlias = list[tuple[Claims, str]]

REFUSALS = {
    "unknown_delegate": Msg("Không có đại biểu này trong hội nghị", "no such delegate"),
    "revoked": Msg("Mã đã bị thu hồi", "this code was revoked"),
    "superseded": Msg("Mã đã được cấp lại; mã cũ không còn dùng được", "a newer code was issued"),
}


class CredentialRefused(Exception):
    """A code check-in must refuse: `code` is `invalid` or `revoked` (the scan result).

    `reason` says why (one of credentials.REASONS or REFUSALS); for `revoked` the claims
    and the delegate come along so the kiosk can show who it was.
    """

    def __init__(
        self,
        code: str,
        reason: str,
        claims: Claims | None = None,
        delegate: asyncpg.Record | None = None,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.claims = claims
        self.delegate = delegate

    @property
    def message(self) -> Msg:
        return REFUSALS.get(self.reason) or credentials.REASONS[self.reason]


def claims_for(key: SigningKey, delegate: Row) -> Claims:
    return Claims(
        kid=key.kid,
        conference_id=delegate["conference_id"],
        delegate_id=delegate["id"],
        site_id=delegate["site_id"],
        version=delegate["credential_version"],
    )


def cannot_code(delegate_id: int) -> Problem:
    return Problem(
        "conflict",
        Msg(
            f"Không tạo được mã cho đại biểu {delegate_id}: số hiệu vượt giới hạn của mã QR",
            f"no code can be made for delegate {delegate_id}: a number is past the code's limit",
        ),
    )


async def delegate_code(
    conn: asyncpg.Connection, store: Keystore, delegate: Row, caller: Principal
) -> str:
    """The delegate's current code, signed with the conference's signing key (and
    recorded, so that check-in knows it by its digest); 409 when the delegate's numbers
    do not fit a code."""
    key = await signing_key(conn, store, delegate["conference_id"], caller)
    claims = claims_for(key, delegate)
    if not credentials.fits(claims):
        raise cannot_code(delegate["id"])
    code = credentials.sign(claims, key.private)
    await record_codes(conn, [(claims, code)])
    return code


# Digests recorded a statement at a time: a national roster's codes are millions.
RECORD_CHUNK = 50_000


async def record_codes(conn: asyncpg.Connection, issued: Issued) -> None:
    """Remember the digests of codes just made, whichever path made them (the API's QR,
    pass and badge sheet; the CLI's codes, badges and passes): at the door, a scanned code
    is then a hash and a lookup instead of an Ed25519 verification and a write
    (diemcau.checkin.identify)."""
    rows = sorted({(c.delegate_id, c.version, c.kid, code_digest(text)) for c, text in issued})
    for start in range(0, len(rows), RECORD_CHUNK):
        await insert_issued_codes(conn, rows[start : start + RECORD_CHUNK])


def _state(row: Row) -> dict[str, Any]:
    return {"credential_version": row["credential_version"], "revoked": row["revoked"]}


async def _locked_delegate(conn: asyncpg.Connection, conference_id: int, delegate_id: int) -> Row:
    """The delegate, locked, after the conference row: every writer of a roster holds
    that lock first, so roster changes take their `roster_seq` in commit order and a
    kiosk's `?since=` misses none (a second writer waits for the first to commit)."""
    ensure_writable(await reload(conn, conference_id, lock=True))
    row = await conn.fetchrow(
        "SELECT * FROM delegates WHERE conference_id = $1 AND id = $2 FOR UPDATE",
        conference_id,
        delegate_id,
    )
    if row is None:
        raise delegates.not_found()
    return row


async def reissue(
    conn: asyncpg.Connection,
    store: Keystore,
    conference: Row,
    delegate_id: int,
    caller: Principal,
) -> tuple[asyncpg.Record, str]:
    """A new credential version (and not revoked any more); answers the row and its code."""
    ensure_writable(conference)
    async with conn.transaction():
        before = await _locked_delegate(conn, conference["id"], delegate_id)
        if before["credential_version"] >= credentials.U16:
            raise Problem("conflict", Msg("Đã cấp lại quá nhiều lần", "too many reissues"))
        after = await conn.fetchrow(
            """UPDATE delegates SET credential_version = credential_version + 1,
                      revoked = false, updated_at = now()
                WHERE id = $1 RETURNING *""",
            delegate_id,
        )
        await audit.record(
            conn, caller, "reissue", "delegate", str(delegate_id), _state(before), _state(after)
        )
    code = await delegate_code(conn, store, after, caller)
    return after, code


async def revoke(
    conn: asyncpg.Connection, conference: Row, delegate_id: int, caller: Principal
) -> asyncpg.Record:
    """Refuse the delegate's code from now on, without issuing a new one."""
    ensure_writable(conference)
    async with conn.transaction():
        before = await _locked_delegate(conn, conference["id"], delegate_id)
        after = await conn.fetchrow(
            "UPDATE delegates SET revoked = true, updated_at = now() WHERE id = $1 RETURNING *",
            delegate_id,
        )
        if not before["revoked"]:
            await audit.record(
                conn, caller, "revoke", "delegate", str(delegate_id), _state(before), _state(after)
            )
    return after


async def check_credential(
    conn: asyncpg.Connection, conference_id: int, text: str
) -> tuple[Claims, asyncpg.Record]:
    """The claims and the delegate of a valid code of this conference.

    Raises CredentialRefused("invalid", reason) for anything that is not a valid code of
    this conference (bad shape, lower case, unknown or retired key, bad signature, another
    conference, unknown delegate), and CredentialRefused("revoked", ...) for a delegate who
    is revoked or whose credential was reissued or moved since this code was made.
    """
    try:
        signed = credentials.parse(text)
        if signed.claims.conference_id != conference_id:
            raise InvalidCredential("wrong_conference")
        key = await q.fetch_live_key(conn, conference_id, signed.claims.kid)
        if key is None:
            raise InvalidCredential("unknown_key")
        public = Ed25519PublicKey.from_public_bytes(bytes(key["public_key"]))
        claims = credentials.check_signature(signed, public)
    except InvalidCredential as exc:
        raise CredentialRefused("invalid", exc.reason) from None
    delegate = await fetch_delegate(conn, conference_id, claims.delegate_id)
    if delegate is None:
        raise CredentialRefused("invalid", "unknown_delegate", claims)
    if delegate["revoked"]:
        raise CredentialRefused("revoked", "revoked", claims, delegate)
    if delegate["credential_version"] != claims.version or delegate["site_id"] != claims.site_id:
        raise CredentialRefused("revoked", "superseded", claims, delegate)
    return claims, delegate


def conference_date(conference: Row) -> str:
    """`Ngày dd/mm/yyyy` in the conference's time zone, as printed on badges."""
    zone = ZoneInfo(conference.get("timezone") or "Asia/Ho_Chi_Minh")
    starts: datetime = conference["starts_at"]
    return f"Ngày {starts.astimezone(zone):%d/%m/%Y}"


def site_sheet(conference: Row, site: Row) -> badges.Sheet:
    """What every badge of one site shares."""
    return badges.Sheet(
        badges.nfc(conference["title"]),
        conference_date(conference),
        badges.nfc(site["name"]),
        site["code"],
    )


def _coded(key: SigningKey, conference_id: int, rows: list[Row]) -> list[tuple[Row, Claims]]:
    """Each delegate with what their badge says, leaving out those no code can carry."""
    every = (
        (r, Claims(key.kid, conference_id, r["id"], r["site_id"], r["credential_version"]))
        for r in rows
    )
    return [(r, claims) for r, claims in every if credentials.fits(claims)]


def signed_codes(
    key: SigningKey, conference_id: int, rows: list[Row]
) -> list[tuple[Row, Claims, str]]:
    """Each delegate with their claims and a freshly signed code (CPU work: call it off
    the event loop).

    A delegate whose numbers do not fit a code is left out and logged: one such delegate
    must not take the whole site's sheet or file down (their own QR answers 409 and says
    why).
    """
    coded = _coded(key, conference_id, rows)
    if len(coded) < len(rows):
        left_out = sorted({r["id"] for r in rows} - {r["id"] for r, _ in coded})
        log.warning("codes left out: no code fits delegates %s", left_out)
    return [(row, claims, credentials.sign(claims, key.private)) for row, claims in coded]


def signed_badges(
    key: SigningKey, conference_id: int, rows: list[Row]
) -> tuple[list[badges.Badge], Issued]:
    """Badges with freshly signed codes, and those codes for `record_codes` (CPU work:
    call it off the event loop)."""
    signed = signed_codes(key, conference_id, rows)
    made = [badge(row, code) for row, _, code in signed]
    return made, [(claims, code) for _, claims, code in signed]


def badge(row: Row, code: str) -> badges.Badge:
    """What one delegate's badge or pass shows."""
    return badges.Badge(
        badges.nfc(row["full_name"]), row["category"], badges.nfc(row["unit_name"]), code
    )


def site_badges_pdf(key: SigningKey, conference: Row, site: Row, rows: list[Row]) -> bytes:
    """One site's badge sheets, signed and rendered (CPU work: call it off the event loop)."""
    made, _ = signed_badges(key, conference["id"], rows)
    return badges.badges_pdf(site_sheet(conference, site), made)
