"""Proving the line: link tests and rehearsals, confirmation, and readiness per unit subtree.

A test passes when audio and video are both fine and loss is under 5%. A pass moves a
`registered` site to `tested`; confirmation moves `tested` to `ready` and needs the
site's latest test to have passed (a failed rehearsal after a good test blocks it). A
failed test moves no status: the status says what was last proven and confirmed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, Field

from diemcau import audit
from diemcau.auth import Principal
from diemcau.errors import Msg, Problem
from diemcau.queries import sites as qs
from diemcau.queries import units as qu
from diemcau.registry import STATUSES, FreeText, site_out, visible_site
from diemcau.search import decode_id_cursor, encode_cursor
from diemcau.units import visible_unit
from diemcau.validation import STRICT

MAX_LOSS_PCT = 5.0
# Once in a session (connected/degraded/lost) a site has been through readiness.
PAST_READY = ("ready", "connected", "degraded", "lost")


class LinkTestIn(BaseModel):
    model_config = STRICT
    kind: Literal["link_test", "rehearsal"] = "link_test"
    rtt_ms: float = Field(ge=0, le=600_000)
    jitter_ms: float = Field(ge=0, le=600_000)
    loss_pct: float = Field(ge=0, le=100)
    audio_ok: bool
    video_ok: bool
    note: FreeText | None = None


class LinkTest(BaseModel):
    id: int
    kind: str
    rtt_ms: float
    jitter_ms: float
    loss_pct: float
    audio_ok: bool
    video_ok: bool
    passed: bool
    note: str | None
    tested_at: datetime
    tested_by: str | None


class LinkTestRecorded(LinkTest):
    site_status: str = Field(description="the site's status after this test")


class LinkTestList(BaseModel):
    items: list[LinkTest]
    next: str | None


def passes(test: LinkTestIn) -> bool:
    return test.audio_ok and test.video_ok and test.loss_pct < MAX_LOSS_PCT


async def record_link_test(
    conn: asyncpg.Connection, principal: Principal, code: str, test: LinkTestIn
) -> dict[str, Any]:
    """Record a test of the caller's site; a pass moves `registered` to `tested`."""
    values = {**test.model_dump(), "passed": passes(test)}
    async with conn.transaction():
        site = await visible_site(conn, principal, code, for_update=True)
        made = await qs.insert_link_test(conn, site["id"], values, principal.token_id)
        status = site["status"]
        if values["passed"] and status == "registered":
            status = "tested"
            await qs.set_status(conn, site["id"], status)
        recorded = dict(await qs.fetch_link_test(conn, made["id"]))
        after = {**recorded, "site_status": status}
        await audit.record(
            conn, principal, "link_test", "site", code, {"status": site["status"]}, after
        )
    return after


async def list_link_tests(
    conn: asyncpg.Connection,
    principal: Principal,
    code: str,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A site's tests and rehearsals, newest first."""
    site = await visible_site(conn, principal, code)
    before = decode_id_cursor(cursor)
    rows = await qs.fetch_link_tests(conn, site["id"], before, limit + 1)
    items = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next": encode_cursor(str(items[-1]["id"])) if more else None}


async def confirm_site(conn: asyncpg.Connection, principal: Principal, code: str) -> dict:
    """`tested` -> `ready`, when the latest test passed; 409 `invalid_transition` otherwise."""
    async with conn.transaction():
        site = await visible_site(conn, principal, code, for_update=True)
        last = site["last_test"]
        if site["status"] != "tested":
            raise Problem(
                "invalid_transition",
                Msg(
                    f"Chỉ xác nhận được điểm cầu đã kiểm tra đạt (đang: {site['status']})",
                    f"only a tested site can be confirmed (status: {site['status']})",
                ),
                status_now=site["status"],
            )
        if not (last and last["passed"]):
            raise Problem(
                "invalid_transition",
                Msg(
                    "Lần kiểm tra gần nhất không đạt; hãy kiểm tra lại đường truyền",
                    "the latest link test failed; test the line again",
                ),
                status_now=site["status"],
            )
        await qs.set_status(conn, site["id"], "ready")
        after = site_out(await visible_site(conn, principal, code))
        await audit.record(conn, principal, "confirm", "site", code, site_out(site), after)
    return after


class Counts(BaseModel):
    total: int
    registered: int
    tested: int
    ready: int = Field(description="ready, or past it (in a session)")
    statuses: dict[str, int]


class ChildReadiness(Counts):
    code: str
    name: str
    level: str


class MissingSite(BaseModel):
    code: str
    name: str
    unit_code: str
    status: str
    technician: dict[str, str | None]
    last_test: dict[str, Any] | None


class Readiness(Counts):
    unit: dict[str, str]
    units: list[ChildReadiness] = Field(description="the same counts per direct child unit")
    missing: list[MissingSite] = Field(description="sites not ready yet, in code order")
    missing_truncated: bool


def _counts(by_status: dict[str, int]) -> dict[str, Any]:
    statuses = {s: by_status.get(s, 0) for s in STATUSES}
    return {
        "total": sum(statuses.values()),
        "registered": statuses["registered"],
        "tested": statuses["tested"],
        "ready": sum(statuses[s] for s in PAST_READY),
        "statuses": statuses,
    }


async def unit_readiness(
    conn: asyncpg.Connection, principal: Principal, code: str, limit: int = 1000
) -> dict[str, Any]:
    """How many sites under the unit are registered, tested, ready, and which are not ready."""
    unit = await visible_unit(conn, principal, code)
    rows = await qu.fetch_readiness_counts(conn, unit["path"])
    overall: dict[str, int] = {}
    per_child: dict[str, dict[str, int]] = {}
    for r in rows:
        overall[r["status"]] = overall.get(r["status"], 0) + r["n"]
        if r["child"]:
            child = per_child.setdefault(r["child"], {})
            child[r["status"]] = child.get(r["status"], 0) + r["n"]
    children = [
        {
            "code": c["code"],
            "name": c["name"],
            "level": c["level"],
            **_counts(per_child.get(c["code"], {})),
        }
        for c in await qu.fetch_children(conn, unit["id"])
    ]
    missing = await qs.fetch_not_ready(conn, unit["path"], limit + 1)
    counts = _counts(overall)
    return {
        "unit": {"code": unit["code"], "name": unit["name"], "level": unit["level"]},
        **counts,
        "units": children,
        "missing": [_missing(r) for r in missing[:limit]],
        "missing_truncated": len(missing) > limit,
    }


def _missing(row: asyncpg.Record) -> dict[str, Any]:
    site = site_out(row)
    return {k: site[k] for k in ("code", "name", "unit_code", "status", "technician", "last_test")}
