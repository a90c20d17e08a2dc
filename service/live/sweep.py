"""The sweep: publishing what the board shows besides the tallies.

Check-in stamps the tallies it changes with the conference's next `seq`. Everything else
on the board changes elsewhere, or with the clock alone: a roster import (expected), a
site's record (name, capacity, readiness), the participating sites, a unit's name, a
kiosk falling silent (`kiosk_online`, `link`), the conference's status. Rather than make
every one of those writers (and the clock) speak to the board, the sweep looks: it
computes what the board would show now, compares it with what it last published
(`live_sites`, `live_units`, `live_sweeps.conference`), and publishes the differences
under one new `seq`. So every worker and host shows the same thing at one `seq`, and a
client resuming from N gets these changes like any other.

One sweeper at a time per conference, at most once per `every` seconds, whichever
worker gets there first (`live_sweeps` row lock, skipped when busy). The counter's lock
is taken after everything is read, as in check-in, and held to the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from diemcau.queries import live_sweep as q


@dataclass
class Changes:
    """What one sweep found to publish."""

    sites: list[Any] = field(default_factory=list)  # whole site rows (SITE_WRITE)
    expected: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # counts only
    departed: list[int] = field(default_factory=list)
    units: list[Any] = field(default_factory=list)
    conference: Any = None  # set when it changed

    def __bool__(self) -> bool:
        return bool(
            self.sites
            or self.expected
            or self.departed
            or self.units
            or self.conference is not None
        )


async def sweep(
    conn: asyncpg.Connection, conference_id: int, every: float, *, wait: bool = False
) -> bool:
    """Publish what changed, unless swept less than `every` seconds ago or another
    sweeper is at it (`wait`: wait for it instead, then sweep if still due). True when
    this call swept."""
    await q.ensure_sweep_row(conn, conference_id)
    async with conn.transaction():
        row = await q.claim(conn, conference_id, wait)
        if row is None or (row["age"] is not None and row["age"].total_seconds() < every):
            return False
        found, marks = await _look(conn, conference_id, row)
        seq = None
        if found:
            seq = await q.advance(conn, conference_id)
            await _publish(conn, conference_id, seq, found)
        conference = found.conference if found.conference is not None else row["conference"]
        await q.finish(conn, conference_id, marks, conference, seq if found.conference else None)
    return True


async def _look(
    conn: asyncpg.Connection, conference_id: int, row: Any
) -> tuple[Changes, tuple[int, str]]:
    """Everything that differs from what was published, and the marks of what was looked
    at (the roster's version, the registry's mark)."""
    found = Changes()
    registry = await q.fetch_registry_mark(conn, conference_id)
    same = registry == row["registry"]
    changed = await q.fetch_changed_sites(conn, conference_id, liveness_only=same)
    new = [r["site_id"] for r in changed if r["new"]]
    roster_seq, whole, moved = await q.fetch_roster_marks(conn, conference_id, row["roster_seq"])
    # The conference-wide version moved (a bulk import): count every site.
    recount = None if whole > row["roster_seq"] else sorted(set(moved) | set(new))
    counted = await _expected(conn, conference_id, recount, [r["site_id"] for r in changed])
    in_rows = {r["site_id"] for r in changed}
    for r in changed:
        found.sites.append(_site_row(r, counted.get(r["site_id"])))
    found.expected = {s: n for s, n in counted.items() if s not in in_rows}
    if not same:
        found.departed = await q.fetch_departed(conn, conference_id)
        found.units = list(await q.fetch_changed_units(conn, conference_id))
    facts = await q.fetch_conference_facts(conn, conference_id)
    if facts != row["conference"]:
        found.conference = facts
    return found, (roster_seq, registry)


async def _expected(
    conn: asyncpg.Connection, conference_id: int, recount: list[int] | None, rows: list[int]
) -> dict[int, tuple[int, int, int]]:
    """Expected counts that differ from what was published (every recounted site, zeros
    included), plus the published counts of the other sites whose rows are rewritten."""
    if recount == []:
        counts: dict[int, tuple[int, int, int]] = {}
        wanted: list[int] = []
    else:
        counts = await q.fetch_expected(conn, conference_id, recount)
        wanted = recount if recount is not None else []
    published = await q.fetch_published_expected(
        conn, conference_id, sorted(set(rows) | set(wanted) | set(counts))
    )
    if recount is None:
        wanted = sorted(set(published) | set(counts))
    out = {}
    for site in wanted:
        now = counts.get(site, (0, 0, 0))
        if published.get(site) != now:
            out[site] = now
    for site in rows:  # rewritten whole: carry the published counts along
        if site not in out:
            out[site] = published.get(site, counts.get(site, (0, 0, 0)))
    return out


def _site_row(r: Any, expected: tuple[int, int, int] | None) -> tuple[Any, ...]:
    e = expected or (0, 0, 0)
    return (
        r["site_id"],
        r["code"],
        r["name"],
        r["unit_id"],
        r["capacity"],
        r["status"],
        *e,
        r["kiosk_online"],
        r["link"],
        r["headcount"],
    )


async def _publish(conn: asyncpg.Connection, conference_id: int, seq: int, found: Changes) -> None:
    if found.units:
        await q.publish_units(conn, conference_id, seq, found.units)
    if found.sites:
        await q.publish_sites(conn, conference_id, seq, found.sites)
    if found.expected:
        await q.publish_expected(conn, conference_id, seq, found.expected)
    if found.departed:
        await q.publish_departures(conn, conference_id, seq, found.departed)
