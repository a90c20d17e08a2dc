"""`diemcau reconcile --verify`: every site's running counters (`site_tallies`, kept by
check-in scan by scan) recomputed from the stored scans, and any difference named.

The scans are replayed as check-in judges them (diemcau.checkin.timeline), set-based:
a delegate's valid scans in the order they happened (judged time, then arrival; at most
the first 100 to arrive, as a timeline holds), the earliest entry counted at its site,
the category and own site the delegate was counted with (their attendance row), present
when the latest scan is an entry, an exit an `out` right after an `in`, a re-entry an
`in` right after an `out`; walk-ins as recorded; every scan counted accepted or refused.
Annulled scans count for nothing but the scan counts, as in check-in.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from diemcau.checkin.timeline import MAX_ENTRIES, TALLY_FIELDS
from diemcau.queries.reconcile import VALID_SCAN

RECOUNT_SQL = f"""
    WITH kept AS (
        SELECT * FROM (
            SELECT c.delegate_id, c.site_id, c.direction = 'in' AS inward, c.judged_at, c.id,
                   row_number() OVER (PARTITION BY c.delegate_id ORDER BY c.id) AS arrival
              FROM checkins c
             WHERE c.conference_id = $1 AND {VALID_SCAN}) v
         WHERE arrival <= {MAX_ENTRIES}),
    walked AS (
        SELECT k.*, lag(k.inward) OVER w AS prev_in,
               coalesce(bool_or(k.inward) OVER (
                   w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS came
          FROM kept k
        WINDOW w AS (PARTITION BY k.delegate_id ORDER BY k.judged_at, k.id)),
    person AS (
        SELECT w.delegate_id,
               (array_agg(w.site_id ORDER BY w.judged_at, w.id) FILTER (WHERE w.inward))[1]
                   AS here,
               (array_agg(w.inward ORDER BY w.judged_at DESC, w.id DESC))[1] AS last_in
          FROM walked w GROUP BY w.delegate_id),
    counted AS (
        SELECT p.delegate_id, p.here, p.last_in, a.category, a.home_site_id AS home,
               a.site_id AS stored_here, a.present AS stored_present
          FROM person p LEFT JOIN attendances a ON a.delegate_id = p.delegate_id)
    SELECT 'here' AS part, here AS site_id,
           count(*) FILTER (WHERE category = 'member') AS a,
           count(*) FILTER (WHERE category = 'non_member') AS b,
           count(*) FILTER (WHERE category = 'guest') AS c,
           count(*) FILTER (WHERE here <> home) AS d,
           count(*) FILTER (WHERE last_in) AS e
      FROM counted WHERE here IS NOT NULL GROUP BY here
    UNION ALL
    SELECT 'home', home, 0, 0, 0, count(*), 0
      FROM counted WHERE here IS NOT NULL AND here <> home GROUP BY home
    UNION ALL
    SELECT 'steps', site_id, count(*) FILTER (WHERE NOT inward AND prev_in),
           count(*) FILTER (WHERE inward AND NOT prev_in AND came), 0, 0, 0
      FROM walked GROUP BY site_id
    UNION ALL
    SELECT 'walk_ins', site_id, count(*) FILTER (WHERE category = 'member'),
           count(*) FILTER (WHERE category = 'non_member'),
           count(*) FILTER (WHERE category = 'guest'), 0, 0
      FROM checkins
     WHERE conference_id = $1 AND method = 'walk_in' AND result = 'accepted'
       AND annulment_id IS NULL
     GROUP BY site_id
    UNION ALL
    SELECT 'scans', site_id, count(*) FILTER (WHERE result = 'accepted'),
           count(*) FILTER (WHERE result <> 'accepted'), 0, 0, 0
      FROM checkins WHERE conference_id = $1 GROUP BY site_id
    UNION ALL
    SELECT 'attendance', NULL,
           count(*) FILTER (WHERE stored_here IS DISTINCT FROM here
                                  OR stored_present IS DISTINCT FROM (here IS NOT NULL AND last_in)),
           count(*) FILTER (WHERE category IS NULL), 0, 0, 0
      FROM counted
"""


@dataclass(frozen=True, slots=True)
class Difference:
    """A counter that is not what the scans say (`site_code` None: about attendances)."""

    site_code: str | None
    field: str
    stored: int
    recounted: int


def _add(recount: dict[int, dict[str, int]], site: int, values: dict[str, int]) -> None:
    counters = recount.setdefault(site, dict.fromkeys(TALLY_FIELDS, 0))
    for name, n in values.items():
        counters[name] += n


def _recounted(rows: list[asyncpg.Record]) -> tuple[dict[int, dict[str, int]], asyncpg.Record]:
    recount: dict[int, dict[str, int]] = {}
    attendance = None
    parts = {
        "here": (
            "checked_in_member",
            "checked_in_non_member",
            "checked_in_guest",
            "moved_in",
            "present",
        ),
        "home": (None, None, None, "moved_out", None),
        "steps": ("exits", "reentries", None, None, None),
        "walk_ins": ("walk_ins_member", "walk_ins_non_member", "walk_ins_guest", None, None),
        "scans": ("accepted_scans", "refused_scans", None, None, None),
    }
    for r in rows:
        if r["part"] == "attendance":
            attendance = r
            continue
        names = parts[r["part"]]
        values = {n: r[k] for n, k in zip(names, "abcde", strict=True) if n is not None}
        if r["part"] == "walk_ins":
            values["present"] = r["a"] + r["b"] + r["c"]
        _add(recount, r["site_id"], values)
    assert attendance is not None
    return recount, attendance


async def verify(conn: asyncpg.Connection, conference_id: int) -> list[Difference]:
    """Every difference between the stored counters and the scans (none is right)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        recount, attendance = _recounted(await conn.fetch(RECOUNT_SQL, conference_id))
        stored = {
            r["site_id"]: r
            for r in await conn.fetch(
                "SELECT * FROM site_tallies WHERE conference_id = $1", conference_id
            )
        }
        codes = dict(
            await conn.fetch(
                "SELECT id, code FROM sites WHERE id = ANY($1::bigint[])",
                sorted(set(recount) | set(stored)),
            )
        )
    out = []
    for site in sorted(set(recount) | set(stored), key=lambda s: codes.get(s, "")):
        mine = recount.get(site, {})
        theirs = stored.get(site)
        for name in TALLY_FIELDS:
            kept = theirs[name] if theirs is not None else 0
            if kept != mine.get(name, 0):
                out.append(Difference(codes.get(site, str(site)), name, kept, mine.get(name, 0)))
    if attendance["a"]:
        out.append(Difference(None, "attendances_off", 0, attendance["a"]))
    if attendance["b"]:
        out.append(Difference(None, "attendances_missing", 0, attendance["b"]))
    return out
