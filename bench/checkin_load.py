"""The check-in bench's load: wrk for single scans, kiosk websockets for batches, and what
each run cost in CPU (bench/checkin.py drives them)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import procs
from bench.checkin_world import Scan, World
from bench.checkin_ws import Load, Record, run_load

HERE = Path(__file__).resolve().parent
WS_WARM_SECONDS = 2.0  # a websocket run's first seconds are left out of its figures


@dataclass
class Options:
    sizes: list[int]
    workers: list[int]
    seconds: float
    scans: int
    connections: int
    batches: list[int]
    ws_kiosks: int
    ws_clients: int
    compression: str | None
    ceilings: bool
    profile: bool
    explain: bool
    kiosks: int = 0  # the many-kiosk mode (bench/checkin_kiosks.py) when above 0
    kiosk_rate: float = 5000.0  # scans a second from all the kiosks together
    heartbeat_every: float = 20.0  # a kiosk's heartbeat period, as the kiosk client
    kiosk_clients: int = 0  # client processes (0: one per 2,500 kiosks, at least 2)


class Pg:
    """The bench database: its DSN and, when it runs here, its postmaster's pid."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.postmaster: int | None = None

    async def find_postmaster(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            pgdata = await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
        pidfile = Path(pgdata) / "postmaster.pid"
        if pidfile.exists():
            self.postmaster = int(pidfile.read_text().split()[0])

    async def fetchval(self, sql: str) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()


def reset(pg: Pg) -> None:
    """No check-in at all: every run starts from the same state (not timed)."""
    asyncio.run(pg.fetchval("TRUNCATE checkins, attendances, site_tallies, live_arrivals"))


def accepted_in_db(pg: Pg) -> tuple[int, int]:
    """Accepted scans stored, and how many of them were `moved` (another site's kiosk)."""
    row = asyncio.run(
        pg.fetchval(
            "SELECT ARRAY[count(*), count(*) FILTER (WHERE moved)] FROM checkins "
            "WHERE result = 'accepted'"
        )
    )
    return int(row[0]), int(row[1])


# The WAL position in bytes and the next transaction id, read without taking one: their
# growth is the WAL written and the writing transactions during a run, exact at once
# (the pg_stat_* views lag by up to seconds).
WAL_AND_XID = """SELECT ARRAY[(pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,
                          pg_snapshot_xmax(pg_current_snapshot())::text::bigint]"""


@contextmanager
def measured(pg: Pg, client: Callable[[], list[int]], server: int) -> Iterator[dict[str, Any]]:
    """CPU seconds of the client, server, PostgreSQL and the rest while the block runs."""
    out: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()]}

    def sample() -> dict[str, float]:
        kids = procs.children()
        parts = {
            "client": procs.cpu_seconds([p for c in client() for p in procs.tree(c, kids)]),
            "server": procs.cpu_seconds(procs.tree(server, kids)),
            "postgres": procs.cpu_seconds(procs.tree(pg.postmaster, kids))
            if pg.postmaster
            else 0.0,
        }
        parts["machine"] = procs.machine_busy()
        return parts

    wal = asyncio.run(pg.fetchval(WAL_AND_XID))
    before, started = sample(), time.monotonic()
    yield out
    after, wall = sample(), time.monotonic() - started
    now = asyncio.run(pg.fetchval(WAL_AND_XID))
    out["wal_bytes"], out["write_transactions"] = now[0] - wal[0], now[1] - wal[1]
    spent = {k: after[k] - before[k] for k in before}
    spent["client"] += out.pop("client_cpu", 0.0)
    spent["others"] = spent["machine"] - spent["client"] - spent["server"] - spent["postgres"]
    out["cores"] = {k: round(v / wall, 2) for k, v in spent.items()}
    out["cpu_seconds"] = {k: round(v, 2) for k, v in spent.items()}


# --- HTTP with wrk ---------------------------------------------------------------------


def write_requests(path: Path, scans: list[Scan]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for s in scans:
            fh.write(f'{s.token}\t{{"scans":[{s.body}]}}\n')


def wrk(url: str, path: Path, opts: Options, pg: Pg, server: int) -> dict[str, Any]:
    threads = 2
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{opts.connections}",
        f"-d{int(opts.seconds)}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "checkin.lua"),
        url,
        "--",
        str(path),
        str(threads),
    ]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        with measured(pg, lambda: [], server) as cpu:
            # wait4 gives wrk's own CPU time; /proc has nothing left of it once it exits.
            _, status, usage = os.wait4(proc.pid, 0)
            cpu["client_cpu"] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out}")
    raw = json.loads(lines[-1])
    seconds = raw["duration_us"] / 1e6
    return {
        "protocol": "http",
        "batch": 1,
        "in_flight": opts.connections,
        "seconds": round(seconds, 1),
        "requests": raw["requests"],
        "accepted": raw["accepted"],
        "accepted_per_s": round(raw["accepted"] / seconds),
        "answers_per_s": round(raw["requests"] / seconds),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": {k: raw[k] for k in ("s4xx", "s429", "s5xx", "timeouts", "read_errors")},
        "repeated": raw["wrapped"] > 0,
        **cpu,
    }


# --- websocket batches -------------------------------------------------------------------


def ws_loads(world: World, scans: list[Scan], batch: int, opts: Options, url: str) -> list[Load]:
    """Each client process's kiosks (a share of `ws_kiosks` per group) and batches.

    A kiosk sends people of every site of its group, so most answers are `accepted`
    with `moved` (a kiosk's own site has about 70 delegates, fewer than a batch)."""
    per = max(1, opts.ws_kiosks // opts.ws_clients)
    kiosks_by_group = [[t[-1] for t in g.kiosks.values()] for g in world.groups]
    loads = [
        Load(
            url,
            [ks[i * per : (i + 1) * per] for ks in kiosks_by_group],
            [],
            opts.seconds,
            opts.compression,
        )
        for i in range(opts.ws_clients)
    ]
    groups: dict[int, list[Scan]] = {}
    for s in scans:
        groups.setdefault(s.group, []).append(s)
    n = 0
    for g, mine in groups.items():
        for i in range(0, len(mine), batch):
            chunk = mine[i : i + batch]
            loads[n % len(loads)].batches.append((g, len(chunk), ",".join(s.body for s in chunk)))
            n += 1
    return loads


def ws_run(loads: list[Load], pg: Pg, server: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for load in loads:
        mine, theirs = ctx.Pipe()
        worker = ctx.Process(target=run_load, args=(load, theirs))
        worker.start()
        pipes.append(mine)
        workers.append(worker)
    for p in pipes:
        if p.recv() != "ready":
            raise RuntimeError("a websocket client did not get ready")
    start = time.monotonic() + 0.5
    with measured(pg, lambda: [w.pid for w in workers if w.pid], server) as cpu:
        for p in pipes:
            p.send(start)
        records: list[Record] = [r for p in pipes for r in p.recv()]
    for w in workers:
        w.join()
    kiosks = sum(len(load.kiosks[0]) for load in loads)  # one batch in flight each
    return {"protocol": "ws", "in_flight": kiosks, **ws_figures(records, start), **cpu}


def ws_figures(records: list[Record], start: float) -> dict[str, Any]:
    """Rates over the batches answered after the warm-up seconds; latency per batch."""
    end = max(r[1] for r in records)
    # A run too short to spare its first seconds (a small plan) is taken whole.
    warm = WS_WARM_SECONDS if end - start > 3 * WS_WARM_SECONDS else 0.0
    window = [r for r in records if r[0] >= start + warm]
    seconds = end - start - warm
    lat = sorted((r[1] - r[0]) * 1000 for r in window) or [0.0]
    errors: dict[str, int] = {}
    for r in records:
        if r[4]:
            errors[r[4]] = errors.get(r[4], 0) + 1
    return {
        "batch": max(r[2] for r in records),
        "seconds": round(seconds, 1),
        "requests": len(records),
        "accepted": sum(r[3] for r in records),
        "accepted_per_s": round(sum(r[3] for r in window) / seconds),
        "answers_per_s": round(sum(r[2] for r in window) / seconds),
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "max_ms": round(lat[-1], 1),
        "errors": errors,
    }
