"""An organiser resolves a flag: accept the headcount, accept the scans, or a corrected
figure, always with a note. Nothing recorded changes (no scan, no headcount); the
resolution is kept with the fingerprint of the numbers it was made for, in the audit
log too, and holds while those numbers stay the same.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from pydantic import AfterValidator, BaseModel, Field

from diemcau import audit, text
from diemcau.auth import Principal
from diemcau.conferences import hold_writable
from diemcau.errors import Msg, Problem, validation_failed
from diemcau.queries import reconcile as q
from diemcau.queries.credentials import fetch_conference_site
from diemcau.reconcile.model import FLAG_KINDS, Flag, Resolution
from diemcau.reconcile.rows import compute, room
from diemcau.registry import MAX_TEXT
from diemcau.validation import FREE_TEXT, STRICT


def required_note(value: str) -> str:
    """A note that must say something (line breaks allowed), as stored."""
    return text.required_text(value, MAX_TEXT, allow_newlines=True)


Note = Annotated[
    str,
    AfterValidator(required_note),
    Field(json_schema_extra={"maxLength": MAX_TEXT, **FREE_TEXT}),
]

MAX_FIGURE = 10_000_000


class ResolveIn(BaseModel):
    """How a flag is settled; `figure` (a number of people) goes with `corrected` only."""

    model_config = STRICT
    action: Literal["accept_headcount", "accept_scans", "corrected"]
    figure: int | None = Field(None, ge=0, le=MAX_FIGURE)
    note: Note = Field(description="why: kept with the flag, in the report and the audit log")


def check_figure(data: ResolveIn) -> None:
    """A figure with `corrected`, and with it only (422 naming `figure`)."""
    if data.action == "corrected" and data.figure is None:
        raise validation_failed(
            "figure", Msg("Cần con số đã hiệu chỉnh", "a corrected figure is needed")
        )
    if data.action != "corrected" and data.figure is not None:
        raise validation_failed(
            "figure",
            Msg("Chỉ ghi con số khi hiệu chỉnh (corrected)", "a figure goes with corrected only"),
        )


def no_such_flag() -> Problem:
    return Problem(
        "not_found",
        Msg(
            "Không có cờ này (hoặc cờ không còn được nêu)", "no such flag (or it is not raised now)"
        ),
    )


def parse_flag_id(flag_id: str) -> tuple[str, str]:
    """'LC-01.headcount_mismatch' -> ('LC-01', 'headcount_mismatch'); 404 otherwise."""
    site, _, kind = flag_id.rpartition(".")
    if not site or kind not in FLAG_KINDS:
        raise no_such_flag()
    return site, kind


async def resolve(
    conn: asyncpg.Connection, caller: Principal, conference: Any, flag_id: str, data: ResolveIn
) -> Flag:
    """Record a resolution of a flag raised now; answers the flag, resolved."""
    site_code, kind = parse_flag_id(flag_id)
    check_figure(data)
    async with conn.transaction():
        row = await hold_writable(conn, conference["id"])
        site = await fetch_conference_site(conn, row["id"], site_code)
        if site is None or not caller.covers_unit_path(site["unit_path"]):
            raise no_such_flag()
        await room(conn)
        rec = await compute(conn, row, site_ids=[site["id"]])
        flag = next((f for f in rec.flags if f.kind == kind), None)
        if flag is None:
            raise no_such_flag()
        done = await q.insert_resolution(
            conn,
            {
                "conference_id": row["id"],
                "site_id": site["id"],
                "kind": kind,
                "fingerprint": flag.fingerprint,
                "detail": flag.detail,
                "action": data.action,
                "figure": data.figure,
                "note": data.note,
                "token_id": caller.token_id,
                "actor": caller.actor,
            },
        )
        after = {"detail": flag.detail, **data.model_dump()}
        before = _resolution_out(flag)
        await audit.record(
            conn, caller, "resolve", "flag", f"{row['code']}/{flag.id}", before, after
        )
    resolution = Resolution(done["action"], done["figure"], done["note"], done["actor"], done["at"])
    return Flag(flag.kind, flag.site_code, flag.detail, flag.fingerprint, resolution)


def _resolution_out(flag: Flag) -> dict[str, Any] | None:
    r = flag.resolution
    if r is None:
        return None
    return {"action": r.action, "figure": r.figure, "note": r.note, "by": r.by}
