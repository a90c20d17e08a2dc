"""What the rehearsal checks once the rush is over, each PASS or FAIL.

The ground truth is the load generator's: the scans it made (stamped by a kiosk), each
of a distinct delegate at their own site, so each must end up acknowledged `accepted`
and counted once at that site, by the delegate's category. Against it: what the
database holds (`checkins` by scan_id, `attendances` by site and category), the
reconciliation the service computes, and what every dashboard shows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.rehearsal_kiosks import Acked
from bench.rehearsal_world import CODE, PlannedScan
from diemcau.db import connect

CATS = ("member", "non_member", "guest")
SILENT_S = 30  # twice the board's heartbeat: a socket quiet this long is stuck
Counts = tuple[int, int, int]


@dataclass
class Verdicts:
    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append((name, ok, detail))

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.rows)

    def print(self) -> None:
        print()
        for name, ok, detail in self.rows:
            print(f"{'PASS' if ok else 'FAIL'}  {name:<58} {detail}")


def truth(scans: list[PlannedScan]) -> dict[str, Counts]:
    """Site code -> checked in by category, from the scans the kiosks made."""
    by: Counter[tuple[str, str]] = Counter((s.site, s.category) for s in scans)
    sites = {s.site for s in scans}
    return {site: tuple(by[(site, c)] for c in CATS) for site in sites}  # type: ignore[misc]


async def database(dsn: str) -> dict[str, Any]:
    conn = await connect(dsn)
    try:
        stored = {
            r["scan_id"]: (r["result"], r["skewed"], r["placed_off_s"])
            for r in await conn.fetch(
                """SELECT scan_id::text, result, skewed,
                          abs(extract(epoch FROM judged_at - received_at)) AS placed_off_s
                     FROM checkins c JOIN conferences f ON f.id = c.conference_id
                    WHERE f.code = $1""",
                CODE,
            )
        }
        rows = await conn.fetch(
            """SELECT s.code, a.category, count(*) AS n
                 FROM attendances a JOIN sites s ON s.id = a.site_id
                 JOIN conferences f ON f.id = a.conference_id
                WHERE f.code = $1 GROUP BY 1, 2""",
            CODE,
        )
    finally:
        await conn.close()
    counted: dict[str, list[int]] = {}
    for r in rows:
        counted.setdefault(r["code"], [0, 0, 0])[CATS.index(r["category"])] = r["n"]
    return {"stored": stored, "counted": {k: tuple(v) for k, v in counted.items()}}


async def reconciliation(base: str, token: str) -> dict[str, Counts]:
    url = f"{base}/api/v1/conferences/{CODE}/reconciliation"
    timeout = aiohttp.ClientTimeout(total=300)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        resp.raise_for_status()
        body = await resp.json()
    return {
        row["site_code"]: tuple(row["checked_in"][c] for c in CATS)  # type: ignore[misc]
        for row in body["sites"]
    }


def differences(want: dict[str, Counts], got: dict[str, Counts], among: set[str]) -> int:
    """Sites of `among` where the counts differ (a missing site counts as zeros)."""
    zero = (0, 0, 0)
    return sum(1 for s in among if tuple(want.get(s, zero)) != tuple(got.get(s, zero)))


def board_differences(boards: list[dict[str, Any]], want: dict[str, Counts]) -> int:
    """Dashboards whose sites or totals differ from `want`."""
    wrong = 0
    for b in boards:
        sites = set(b["sites"])
        totals = tuple(map(sum, zip(*(want.get(s, (0, 0, 0)) for s in sites), strict=False)))
        bad = differences(want, b["sites"], sites) or (
            sites and tuple(b["totals"]) != (totals or (0, 0, 0))
        )
        wrong += bool(bad)
    return wrong


def check_scans(
    v: Verdicts, made: list[PlannedScan], acked: list[Acked], ids: dict[tuple[int, int], str],
    stored: dict[str, tuple[str, bool, float]], unacked: int,
) -> None:  # fmt: skip
    answer = {ids[(k, n)]: result for k, n, *_, result, _ in acked}
    same = sum(1 for scan_id, result in answer.items() if stored.get(scan_id, ("",))[0] == result)
    v.check(
        "every scan made was acknowledged",
        unacked == 0 and len(answer) == len(made),
        f"{len(made):,} made, {len(answer):,} acknowledged, {unacked:,} still owed",
    )
    v.check(
        "every acknowledged scan stored once, with its answer",
        same == len(answer) and len(stored) == len(answer),
        f"{same:,} stored with the same answer; {len(stored):,} rows for the conference",
    )
    accepted = sum(1 for r in answer.values() if r == "accepted")
    v.check(
        "every scan answered accepted (distinct delegates at their site)",
        accepted == len(answer),
        f"{dict(Counter(answer.values()))}",
    )


def check_counts(
    v: Verdicts, want: dict[str, Counts], db: dict[str, Counts], rec: dict[str, Counts],
    boards: list[dict[str, Any]], sites: set[str],
) -> None:  # fmt: skip
    total = sum(map(sum, want.values()))
    v.check(
        "database counts = ground truth",
        differences(want, db, sites) == 0,
        f"{total:,} checked in; {differences(want, db, sites)} sites differ",
    )
    v.check(
        "reconciliation = ground truth",
        differences(want, rec, sites) == 0,
        f"{differences(want, rec, sites)} of {len(rec):,} site rows differ",
    )
    wrong = board_differences(boards, want)
    v.check(
        "every dashboard's final counts = ground truth",
        wrong == 0,
        f"{wrong} of {len(boards):,} dashboards differ",
    )


def check_boards(v: Verdicts, boards: list[dict[str, Any]], seq: int, settle_s: float) -> None:
    away = sum(not b["connected"] for b in boards)
    behind = sum(b["behind"] for b in boards)
    silent = sum(b["silent_s"] > SILENT_S for b in boards)
    roots = [b for b in boards if b["scope"] is None]
    late = sum(b["seq"] < seq for b in roots)
    v.check(
        "no dashboard stuck or behind",
        away == 0 and behind == 0 and silent == 0 and late == 0,
        f"{away} disconnected, {behind} behind, {silent} silent > {SILENT_S} s, "
        f"{late} of {len(roots)} whole-board ones short of seq {seq:,}; settled "
        f"{settle_s:.1f} s after the last answer; "
        f"{sum(b['reconnects'] for b in boards):,} reconnects",
    )


def check_clock(v: Verdicts, skewed: list[str], stored: dict[str, tuple[str, bool, float]]) -> None:
    rows = [stored[s] for s in skewed if s in stored]
    placed = sum(1 for result, flag, off in rows if result == "accepted" and off < 60)
    v.check(
        "the kiosk 10 minutes slow: its scans counted at the real time",
        bool(skewed) and placed == len(skewed),
        f"{placed} of {len(skewed)} accepted and judged within 60 s of arrival; "
        f"{sum(1 for _, flag, _ in rows if flag)} marked skewed",
    )


def check_recovery(v: Verdicts, injected: dict[str, Any], workers: list[dict[str, int]]) -> None:
    """The killed worker and the stopped PostgreSQL came back, and every host has all
    its workers at the end."""
    alive = ", ".join(f"{w['alive']}/{w['configured']}" for w in workers)
    everyone = all(w["alive"] == w["configured"] for w in workers)
    worker, pg = injected["worker"], injected["postgres"]
    if worker is None:
        v.check("every worker alive at the end", everyone, f"alive/configured {alive}")
        return
    v.check(
        "killed worker replaced without a hand",
        everyone,
        f"worker {worker['killed']} killed; back after {worker['back_after_s']} s; "
        f"alive/configured now {alive}",
    )
    v.check(
        "PostgreSQL restarted by the service without a hand",
        pg["new_postmaster"] != pg["stopped"],
        f"back (new postmaster, /healthz 200) after {pg['back_after_s']} s",
    )
