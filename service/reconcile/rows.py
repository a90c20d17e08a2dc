"""A conference's reconciliation, computed: every site's figures from the database in a
few set-based statements over the whole conference (queries/reconcile.py), rolled up the
unit tree and by level, and the flags raised on them.

Run it inside one snapshot (`snapshot()`) when it takes more than one statement: they
then see the same moment, even while late uploads from offline kiosks still arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from diemcau.queries import reconcile as q
from diemcau.reconcile.flags import Context, Silence, raise_flags
from diemcau.reconcile.model import (
    Absences,
    ByCategory,
    Conference,
    Headcount,
    Headcounts,
    LevelRow,
    Reconciliation,
    Resolution,
    SiteRow,
    Tally,
    UnitRow,
)

LEVEL_ORDER = ("national", "province", "district", "commune", "agency")
# The reconciliation's joins and groupings hold a conference's roster in memory: with
# PostgreSQL's default of 4MB each would spill to disk and take several times as long.
WORK_MEM = "256MB"


async def room(conn: asyncpg.Connection) -> None:
    """Memory for this transaction's joins and groupings (call inside a transaction)."""
    await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")


@asynccontextmanager
async def snapshot(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction in which every statement sees the same committed state."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await room(conn)
        yield


def conference_of(row: Any) -> Conference:
    return Conference(
        code=row["code"],
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        checkin_opens_at=row["checkin_opens_at"],
        timezone=row["timezone"],
        host_site=row["host_site"],
        other_site=row["policy_other_site"],
        targets=dict(row["targets"] or {}),
    )


def _headcount(r: Sequence[Any], at: int, moment: str) -> Headcount | None:
    if r[at] is None:
        return None
    return Headcount(r[at], moment, r[at + 1], r[at + 2], r[at + 3], r[at + 4], r[at + 5])


NOBODY = (0,) * 15  # a site with no roster and nobody counted (PEOPLE_SQL's columns)
NO_STEPS = (0, 0, 0)


def site_row(site: Sequence[Any], people: Sequence[Any], steps: Sequence[Any]) -> SiteRow:
    """A site's row from its SITES_SQL, PEOPLE_SQL and STEPS_SQL rows (read by position:
    40,000 of each)."""
    p = people
    return SiteRow(
        site[1], site[2], site[3], site[4], site[5],
        ByCategory(p[1], p[2], p[3]),
        ByCategory(p[4], p[5], p[6]),
        ByCategory(site[7], site[8], site[9]),
        p[7], p[8], steps[1], steps[2], p[9] + site[7] + site[8] + site[9],
        Headcounts(
            _headcount(site, 10, "start"),
            _headcount(site, 16, "after_break"),
            _headcount(site, 22, "end"),
        ),
        Absences(p[10], p[11], p[12], p[13], p[14]),
    )  # fmt: skip


def _ancestors(path: str, scope: str | None) -> list[str]:
    """'/VN/LC/LC-TD/' -> ['VN', 'LC', 'LC-TD']; from `scope` down when one is given (a
    unit above it would show the scope's share of its figures as if they were all)."""
    codes = [code for code in path.split("/") if code]
    return codes[codes.index(scope) :] if scope in codes else codes


def _add(total: list[int], values: Sequence[int]) -> None:
    for i, v in enumerate(values):
        total[i] += v


def _counts(row: SiteRow) -> tuple[int, ...]:
    """Expected, checked in and walk-ins by category, and 1 (a site), flat."""
    return (*row.expected, *row.checked_in, *row.walk_ins, 1)


def _tally(values: Sequence[int]) -> Tally:
    return Tally(
        ByCategory(*values[0:3]), ByCategory(*values[3:6]), ByCategory(*values[6:9]), values[9]
    )


def _sums(rows: list[SiteRow], keys: list[str]) -> dict[str, list[int]]:
    """The flat counts summed per key (a unit path, a level)."""
    sums: dict[str, list[int]] = {}
    for row, key in zip(rows, keys, strict=True):
        total = sums.get(key)
        if total is None:
            sums[key] = list(_counts(row))
        else:
            _add(total, _counts(row))
    return sums


async def roll_up(
    conn: asyncpg.Connection, rows: list[SiteRow], paths: list[str], scope: str | None
) -> tuple[list[UnitRow], list[LevelRow], Tally]:
    """Unit rows (every unit above a participating site, within the scope), level rows
    and the total. Sites are summed per unit first, then units up their paths."""
    by_path = _sums(rows, paths)
    units: dict[str, list[int]] = {}
    for path, values in by_path.items():
        for code in _ancestors(path, scope):
            if code in units:
                _add(units[code], values)
            else:
                units[code] = list(values)
    found = {r["code"]: r for r in await q.fetch_units(conn, sorted(units))}
    unit_rows = [
        UnitRow(code, found[code]["name"], found[code]["level"], found[code]["parent_code"],
                _tally(units[code]))
        for code in sorted(units)
    ]  # fmt: skip
    levels = _sums(rows, [r.level for r in rows])
    level_rows = [LevelRow(lv, _tally(levels[lv])) for lv in LEVEL_ORDER if lv in levels]
    total = [0] * 10
    for values in by_path.values():
        _add(total, values)
    return unit_rows, level_rows, _tally(total)


def _silences(rows: list[Any], codes: dict[int, str]) -> dict[str, list[Silence]]:
    out: dict[str, list[Silence]] = {}
    for r in rows:
        if r["site_id"] in codes:
            silence = Silence(r["token_id"], r["device_name"], r["silent_from"], r["silent_until"])
            out.setdefault(codes[r["site_id"]], []).append(silence)
    return out


def _resolutions(rows: list[Any], codes: dict[int, str]) -> dict[tuple[str, str], Any]:
    return {
        (codes[r["site_id"]], r["kind"]): (
            r["fingerprint"],
            Resolution(r["action"], r["figure"], r["note"], r["actor"], r["at"]),
        )
        for r in rows
        if r["site_id"] in codes
    }


async def compute(
    conn: asyncpg.Connection,
    conference: Any,
    *,
    unit_path: str | None = None,
    scope: str | None = None,
    site_ids: list[int] | None = None,
) -> Reconciliation:
    """The reconciliation of a conference as it stands (of a unit subtree with
    `unit_path`, or of some sites with `site_ids`); run it inside `snapshot()`."""
    cid = conference["id"]
    sites = sorted(await q.fetch_sites(conn, cid, unit_path, site_ids), key=lambda r: r[1])
    people = {r[0]: r for r in await q.fetch_people(conn, cid)}
    steps = {r[0]: r for r in await q.fetch_steps(conn, cid)}
    rows = [site_row(s, people.get(s[0], NOBODY), steps.get(s[0], NO_STEPS)) for s in sites]
    codes = {s[0]: s[1] for s in sites}
    ids = None if unit_path is None and site_ids is None else list(codes)
    window = (conference["checkin_opens_at"], conference["ends_at"])
    silences = _silences(await q.fetch_silences(conn, cid, *window, ids), codes)
    resolutions = _resolutions(await q.fetch_resolutions(conn, cid, ids), codes)
    info = conference_of(conference)
    flags = raise_flags(rows, Context(info.targets, silences), resolutions)
    units, levels, total = await roll_up(conn, rows, [s[6] for s in sites], scope)
    return Reconciliation(
        conference=info,
        status=conference["status"],
        totals=total,
        units=units,
        levels=levels,
        sites=rows,
        flags=flags,
        scope=scope,
        computed_at=datetime.now(UTC),
    )
