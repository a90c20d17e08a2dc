"""Reconciliation speed: 40,000 sites, 2,500,000 delegates, about 2,000,000 check-ins.

    python -m bench.reconcile                              # the national case (DESIGN: < 2 s)
    python -m bench.reconcile --delegates 100000 --sites 1600
    python -m bench.reconcile --world /var/tmp/recon-world # keep the world for the next run

The world (bench/reconcile_world.py) is written by COPY and judged by the check-in
rules, then VACUUM ANALYZEd: a conference that has ended, with everything a
reconciliation reads. It takes minutes to write; `--world DIR` keeps its embedded
PostgreSQL in DIR and reuses it when the same sizes are asked for again. Each part is
timed `--repeat` times (the median is reported):

- sql: the three statements that read every site's figures (queries/reconcile.py): the
  sites with walk-ins and headcounts, the roster joined to the attribution and absences,
  the exits and re-entries;
- compute: the whole `reconcile.rows.compute` (sql, the typed rows, the flags with their
  fingerprints, the unit and level roll-ups, silences and resolutions): the bar;
- python: compute less the three statements;
- api: the API's JSON document from the result, encoded;
- canonical: the report's canonical content and its SHA-256 (what sign-off does);
- http: `GET .../reconciliation` on a real server on a local port, to the last byte;
- verify: `reconcile --verify`, every site's counters recounted from the scans (not a
  bar; it must find no difference).

Memory: the bench process's resident size before and after, and its peak (it holds the
world's judged scans only while writing them). Writes bench/results/reconcile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import reconcile_world
from bench.common import running_service, say, write_results
from diemcau import auth, reconcile
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.migrate import migrate
from diemcau.queries import reconcile as q
from diemcau.queries.conferences import fetch_conference
from diemcau.reconcile import canonical
from diemcau.reconcile.document import api_document
from diemcau.reconcile.rows import compute, snapshot

CODE = "RECON"


def rss_mb() -> float:
    """Resident memory of this process now, MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return round(pages * resource.getpagesize() / 1e6, 1)


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)


def calibration() -> float:
    """Seconds for 10 million additions in a Python loop: how fast this machine is now
    (about 0.3-0.5 s on a quiet current CPU), to read the other figures against."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


async def timed(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The median seconds of `repeat` runs, and the last run's answer."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3), answer


async def ensure_world(conn: Any, delegates: int, sites: int) -> dict[str, Any]:
    await migrate(conn)
    found = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM delegates) AS delegates,
                  (SELECT count(*) FROM sites) AS sites,
                  (SELECT count(*) FROM checkins) AS checkins""",
    )
    if found["delegates"] == delegates and found["sites"] == sites:
        say(f"reusing the world: {delegates:,} delegates, {sites:,} sites")
        return {"built_s": None, "checkins": found["checkins"]}
    if found["delegates"]:
        raise SystemExit("the --world directory holds another world: give an empty one")
    started = time.perf_counter()
    plan = await reconcile_world.build(conn, delegates, sites, CODE)
    return {"built_s": round(time.perf_counter() - started, 1), "checkins": plan.checkins}


async def measure(dsn: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    conn = await connect(dsn)
    world = await ensure_world(conn, args.delegates, args.sites)
    conference = await fetch_conference(conn, CODE)
    cid = conference["id"]
    out: dict[str, Any] = {"world": world, "rss_before_mb": rss_mb()}

    async def sites() -> Any:
        async with snapshot(conn):
            return await q.fetch_sites(conn, cid, None, None)

    async def people() -> Any:
        async with snapshot(conn):
            return await q.fetch_people(conn, cid)

    async def steps() -> Any:
        async with snapshot(conn):
            return await q.fetch_steps(conn, cid)

    async def whole() -> Any:
        async with snapshot(conn):
            return await compute(conn, conference)

    say("timing each statement, then the whole computation")
    out["sql_sites_s"], rows = await timed(args.repeat, sites)
    out["sql_people_s"], _ = await timed(args.repeat, people)
    out["sql_steps_s"], _ = await timed(args.repeat, steps)
    out["sql_s"] = round(out["sql_sites_s"] + out["sql_people_s"] + out["sql_steps_s"], 3)
    out["compute_s"], rec = await timed(args.repeat, whole)
    out["python_s"] = round(out["compute_s"] - out["sql_s"], 3)
    out["rss_after_compute_mb"] = rss_mb()
    out["sites"], out["flags"] = len(rows), len(rec.flags)
    out["flags_by_kind"] = {
        k: sum(f.kind == k for f in rec.flags) for k in sorted({f.kind for f in rec.flags})
    }

    async def api() -> bytes:
        return orjson.dumps(api_document(rec))

    async def content() -> str:
        return canonical.sha256(canonical.content(rec, rec.computed_at or conference["ends_at"]))

    out["api_s"], body = await timed(args.repeat, api)
    out["api_mb"] = round(len(body) / 1e6, 1)
    out["canonical_s"], _ = await timed(args.repeat, content)
    out["http_s"] = await over_http(conn, dsn, data_dir, args.repeat)
    say("verify: every site's counters recounted from the scans")
    started = time.perf_counter()
    differences = await reconcile.verify(conn, cid)
    out["verify_s"] = round(time.perf_counter() - started, 3)
    out["verify_differences"] = len(differences)
    out["peak_mb"] = peak_mb()
    await conn.close()
    return out


async def over_http(conn: Any, dsn: str, data_dir: Path, repeat: int) -> float:
    token, _ = await auth.create_token(conn, "organiser", label="bench")
    say("GET /api/v1/conferences/RECON/reconciliation on a real server")
    async with running_service(dsn, data_dir) as url, aiohttp.ClientSession() as http:

        async def get() -> int:
            async with http.get(
                f"{url}/api/v1/conferences/{CODE}/reconciliation",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 200, await resp.text()
                return len(await resp.read())

        seconds, _ = await timed(repeat, get)
    return seconds


def table(result: dict[str, Any]) -> str:
    rows = [
        ("sql: sites, walk-ins, headcounts", f"{result['sql_sites_s']} s"),
        ("sql: roster x attribution x absences", f"{result['sql_people_s']} s"),
        ("sql: exits and re-entries", f"{result['sql_steps_s']} s"),
        ("compute (the bar: < 2 s)", f"{result['compute_s']} s"),
        ("  of which Python", f"{result['python_s']} s"),
        ("api document", f"{result['api_s']} s ({result['api_mb']} MB)"),
        ("canonical content + SHA-256", f"{result['canonical_s']} s"),
        ("GET .../reconciliation (http)", f"{result['http_s']} s"),
        ("verify (recount from scans)", f"{result['verify_s']} s, {result['verify_differences']} differences"),
        ("sites / flags", f"{result['sites']:,} / {result['flags']:,}"),
        ("memory: before / after / peak", f"{result['rss_before_mb']} / {result['rss_after_compute_mb']} / {result['peak_mb']} MB"),
        ("calibration (10M additions)", f"{result['calibration_s']} s"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile")
    parser.add_argument("--delegates", type=int, default=2_500_000)
    parser.add_argument("--sites", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--world", type=Path, help="keep (or reuse) the world's PostgreSQL here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-") as tmp:
        place = args.world or Path(tmp) / "world"
        embedded = EmbeddedPostgres(place)
        dsn = embedded.start()
        try:
            result = asyncio.run(measure(dsn, args, Path(tmp)))
        finally:
            embedded.stop()
    result.update(
        delegates=args.delegates, sites_asked=args.sites, repeat=args.repeat,
        calibration_s=calibration(),
    )  # fmt: skip
    print(table(result))
    write_results("reconcile", result)
    return 0 if result["verify_differences"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
