"""Reading a reconciliation (computed, or as it was signed), and signing a conference off.

Sign-off is allowed once the conference is `closed` and no flag is open. It stores the
report's canonical content with its SHA-256 and sets `conferences.signed_off_at`, which
locks the conference: every later write answers 409 `locked` (a second sign-off too),
and every scan `closed`.
"""

from __future__ import annotations

import gzip
from typing import Any

import asyncpg

from diemcau import audit, units
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable, reload
from diemcau.errors import Msg, Problem, field_error
from diemcau.reconcile import canonical
from diemcau.reconcile.model import Reconciliation
from diemcau.reconcile.rows import compute, room, snapshot


async def fetch_signed(conn: asyncpg.Connection, conference_id: int) -> Reconciliation | None:
    """The reconciliation as it was signed, or None before sign-off."""
    row = await conn.fetchrow(
        "SELECT report_sha256, content FROM sign_offs WHERE conference_id = $1", conference_id
    )
    if row is None:
        return None
    return canonical.load(gzip.decompress(row["content"]), row["report_sha256"])


async def scope_of(conn: asyncpg.Connection, caller: Principal, unit_code: str | None) -> Any:
    """The unit subtree a reading is limited to: the one asked for (404 outside the
    caller's subtree), else a scoped organiser's own unit; None for the whole conference."""
    if unit_code is not None:
        return await units.visible_unit(conn, caller, unit_code)
    if caller.unit_path is not None:
        return {"code": caller.unit_code, "path": caller.unit_path}
    return None


async def reconciliation(
    conn: asyncpg.Connection, conference: Any, scope: Any = None
) -> Reconciliation:
    """The conference's reconciliation, or a unit's part of it (`scope`: a unit row with
    `code` and `path`): as signed once it is signed off, else computed now in one
    snapshot."""
    if conference["signed_off_at"] is not None:
        signed = await fetch_signed(conn, conference["id"])
        if signed is not None:
            return signed if scope is None else signed.within(scope["code"])
    async with snapshot(conn):
        if scope is None:
            return await compute(conn, conference)
        return await compute(conn, conference, unit_path=scope["path"], scope=scope["code"])


def not_closed(status: str) -> Problem:
    return Problem(
        "invalid_transition",
        Msg(
            f"Chỉ ký xác nhận được khi hội nghị đã kết thúc (trạng thái hiện tại: {status})",
            f"sign-off needs the conference closed (it is {status})",
        ),
        errors=[field_error("status", Msg("Hội nghị chưa kết thúc", "not closed yet"))],
        current=status,
        allowed=[],
    )


def flags_open(ids: list[str]) -> Problem:
    shown = ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")
    return Problem(
        "flags_open",
        Msg(
            f"Còn {len(ids)} cờ chưa xử lý: {shown}",
            f"{len(ids)} flags are still open: {shown}",
        ),
        errors=[
            field_error("flags", Msg(f"Cờ {i} chưa xử lý", f"flag {i} is open")) for i in ids[:1000]
        ],
        flags=ids,
    )


async def sign_off(conn: asyncpg.Connection, caller: Principal, conference: Any) -> dict[str, Any]:
    """Lock the conference; answers `{report_sha256, signed_off_at}`."""
    async with conn.transaction():
        # The conference row's lock keeps every other writer of the conference (headcounts,
        # absences, resolutions, the roster) waiting until the figures are signed.
        row = await reload(conn, conference["id"], lock=True)
        ensure_writable(row)
        if row["status"] != "closed":
            raise not_closed(row["status"])
        await room(conn)
        rec = await compute(conn, row)
        still_open = [f.id for f in rec.open_flags()]
        if still_open:
            raise flags_open(still_open)
        at = await conn.fetchval("SELECT date_trunc('second', now())")
        data = canonical.content(rec, at)
        digest = canonical.sha256(data)
        await conn.execute(
            """INSERT INTO sign_offs (conference_id, signed_off_at, report_sha256, content,
                                      token_id, actor)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            row["id"],
            at,
            digest,
            gzip.compress(data, 6),
            caller.token_id,
            caller.actor,
        )
        await conn.execute(
            """UPDATE conferences SET signed_off_at = $2, status = 'signed_off',
                      updated_at = now() WHERE id = $1""",
            row["id"],
            at,
        )
        after = {
            "report_sha256": digest,
            "signed_off_at": at.isoformat(),
            "sites": len(rec.sites),
            "flags": len(rec.flags),
        }
        await audit.record(conn, caller, "sign_off", "conference", row["code"], None, after)
    return {"report_sha256": digest, "signed_off_at": at}
