"""Check-in speed: single scans over HTTP (wrk) and batches over WS /ws/kiosk, against the
real service as a process, with the ceilings measured in the same run.

    python -m bench.checkin                                  # 10,000 and 2,500,000
    python -m bench.checkin --sizes 10000 --workers 1 --seconds 5 --scans 30000

For each roster size (bench/checkin_world.py: roster by COPY, every code signed and its
digest in `issued_codes`, two kiosk tokens a site) and each worker count:
  service   `diemcau serve --workers W` (DIEMCAU_LOG_LEVEL=WARNING; synchronous_commit
            as PostgreSQL ships it, on): wrk with one fresh scan a request, then kiosks
            sending batches over the websocket; every run starts from no check-ins
  ceiling   bench/checkin_ceiling.py `json`, same workers: aiohttp answering the same
            JSON without a database, hit by the same wrk script and generator
  client    the same against `bare` (answers without parsing): the generator's ceiling
Accepted scans are counted from the answers and checked against the database. Every run
records the load average and the CPU spent by the client, the service, PostgreSQL and
the rest of the machine. Needs `wrk` (apt-get install wrk). Table on stdout, JSON in
bench/results/checkin.json, progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from bench import procs
from bench.checkin_explain import explain
from bench.checkin_kiosks import (
    codes_needed,
    kiosk_line,
    kiosk_loads,
    kiosk_run,
    kiosk_verdict,
    print_kiosk_table,
)
from bench.checkin_load import (
    Options,
    Pg,
    accepted_in_db,
    reset,
    write_requests,
    wrk,
    ws_loads,
    ws_run,
)
from bench.checkin_report import Run, line, print_table, verdicts
from bench.checkin_world import Scan, World, build, plan
from bench.common import RESULTS, bench_database, free_port, say, write_results
from diemcau.config import Config
from diemcau.db import connect

SECRET = "bench-checkin-secret-key-0123456789abcdef"
WARM_SCANS = 300  # reserved delegates the warm-up requests use, never the measured ones


# --- servers -----------------------------------------------------------------------------


def service_env(pg: Pg, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": pg.dsn,
        "DIEMCAU_SECRET_KEY": SECRET,
        "DIEMCAU_DATA_DIR": str(work / "data"),
        "DIEMCAU_LOG_LEVEL": "WARNING",  # errors still show; nothing per request
    }


def serve(argv: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = procs.start(argv, env, log)
    procs.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


async def warm_up(url: str, scans: list[Scan]) -> dict[str, Any]:
    """A few real requests (pools, caches), answering the first result: the template."""
    first: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for s in scans:
            async with session.post(
                f"{url}/api/v1/checkins",
                data=f'{{"scans":[{s.body}]}}',
                headers={"Authorization": f"Bearer {s.token}", "Content-Type": "application/json"},
            ) as resp:
                body = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"warm-up scan answered {resp.status}: {body}")
                first = first or body["results"][0]
    if first.get("result") != "accepted":
        raise RuntimeError(f"a fresh scan was not accepted: {first}")
    return first


@dataclass
class Stage:
    """What one roster size needs for its runs."""

    world: World
    pg: Pg
    scans: list[Scan]
    warm: list[Scan]
    requests: Path
    work: Path
    template: Path


def run_service(stage: Stage, workers: int, opts: Options) -> list[dict[str, Any]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "diemcau", "serve", "--workers", str(workers)]
    log = stage.work / f"serve-{workers}.log"
    proc = serve([*argv, "--port", str(port)], port, service_env(stage.pg, stage.work), log)
    try:
        template = asyncio.run(warm_up(url, stage.warm))
        stage.template.write_text(json.dumps(template, ensure_ascii=False))
        if opts.kiosks:
            rows = [_counted(stage, partial(_kiosks, stage, opts, port, proc.pid))]
        else:
            rows = [_counted(stage, run) for run in _runs(stage, url, proc.pid, opts)]
    finally:
        procs.stop(proc)
        _keep_log(log, f"checkin-serve-{stage.world.delegates}-{workers}.log")
    return [{"target": "service", "workers": workers, **r} for r in rows]


def _runs(stage: Stage, url: str, server: int, opts: Options) -> list[Callable[[], Run]]:
    """wrk, then the websocket generator for each batch size, against the server at url."""
    ws = url.replace("http", "ws", 1) + "/ws/kiosk"
    runs: list[Callable[[], Run]] = [partial(wrk, url, stage.requests, opts, stage.pg, server)]
    for batch in opts.batches:
        runs.append(partial(_ws, stage, batch, opts, ws, server))
    if opts.profile:
        runs = [partial(_profiled, run, server, opts) for run in runs]
    return runs


def _ws(stage: Stage, batch: int, opts: Options, url: str, server: int) -> Run:
    return ws_run(ws_loads(stage.world, stage.scans, batch, opts, url), stage.pg, server)


def _kiosks(stage: Stage, opts: Options, port: int, server: int) -> Run:
    url = f"ws://127.0.0.1:{port}/ws/kiosk"
    loads = kiosk_loads(stage.world, stage.scans, opts, url)
    row = kiosk_run(loads, stage.pg, server, port)
    kiosk_verdict(row, stage.world.kiosk_count)
    return row


def _counted(stage: Stage, run: Callable[[], Run]) -> Run:
    """A run from no check-ins, with the accepted scans it stored."""
    reset(stage.pg)
    row = run()
    row["accepted_in_db"], row["moved_in_db"] = accepted_in_db(stage.pg)
    say(kiosk_line(row) if row["protocol"] == "kiosks" else line(row))
    return row


def _keep_log(log: Path, name: str) -> None:
    """A server's log kept beside the results if it says more than where it listens and
    that it stopped (it logs at WARNING: anything else is a warning or an error)."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    if any(not line.startswith("diemcau: ") for line in lines):
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / name).write_bytes(log.read_bytes())
        say(f"  the server wrote to its log: see bench/results/{name}")


def _profiled(run: Callable[[], Run], server: int, opts: Options) -> Run:
    spy = _profile(server, opts)
    row = run()
    for p in spy:
        p.wait()
    row["profiled"] = True
    return row


def _profile(server: int, opts: Options) -> list[subprocess.Popen[bytes]]:
    """py-spy on every worker for the run (profiled runs are slower: say so)."""
    spy = Path(sys.executable).with_name("py-spy")
    workers = [p for p in procs.tree(server) if p != server] or [server]
    stamp = datetime.now().strftime("%H%M%S")
    return [
        procs.start(
            [
                str(spy),
                "record",
                "-p",
                str(p),
                "-d",
                str(int(opts.seconds)),
                "-r",
                "100",
                "--gil",  # samples holding the GIL: where the worker's CPU goes
                "-f",
                "raw",
                "--nonblocking",
                "-o",
                str(RESULTS / f"checkin-profile-{stamp}-{p}.txt"),
            ]
        )
        for p in workers
    ]


def run_ceiling(stage: Stage, workers: int, mode: str, opts: Options) -> list[dict[str, Any]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "bench.checkin_ceiling", "--workers", str(workers)]
    argv += ["--mode", mode, "--template", str(stage.template), "--port", str(port)]
    log = stage.work / f"ceiling-{mode}-{workers}.log"
    proc = serve(argv, port, dict(os.environ), log)
    try:
        rows = [run() for run in _runs(stage, url, proc.pid, replace(opts, profile=False))]
    finally:
        procs.stop(proc)
        _keep_log(log, f"checkin-ceiling-{mode}-{stage.world.delegates}-{workers}.log")
    target = "ceiling" if mode == "json" else "client"
    out = [{"target": target, "workers": workers, **r} for r in rows]
    for r in out:
        say(line(r))
    return out


# What the hot lookups read, against the 256 MB cache of the embedded PostgreSQL.
SIZES = """SELECT jsonb_object_agg(relname, round(pg_relation_size(oid) / 1048576.0, 1))
             FROM pg_class WHERE relname IN ('delegates', 'delegates_pkey', 'issued_codes',
                  'issued_codes_pkey', 'delegates_site_idx', 'tokens', 'sites')"""


# --- one roster size ---------------------------------------------------------------------


def _codes(opts: Options) -> int:
    """Fresh codes a run may use: what the kiosks send in the many-kiosk mode."""
    return codes_needed(opts) if opts.kiosks else opts.scans


async def _build(pg: Pg, size: int, opts: Options) -> World:
    conn = await connect(pg.dsn)  # with the service's codecs (audit rows are JSON)
    try:
        config = Config(database_url=pg.dsn, secret_key=SECRET)
        kiosks = opts.kiosks or None
        return await build(conn, config, size, _codes(opts) + WARM_SCANS, kiosks)
    finally:
        await conn.close()


def run_size(size: int, opts: Options, work: Path) -> dict[str, Any]:
    with bench_database() as dsn:
        pg = Pg(dsn)
        asyncio.run(pg.find_postmaster())
        started = time.monotonic()
        world = asyncio.run(_build(pg, size, opts))
        all_scans = plan(world, _codes(opts) + WARM_SCANS, datetime.now(UTC) - timedelta(seconds=5))
        stage = Stage(
            world,
            pg,
            all_scans[WARM_SCANS:],
            all_scans[:WARM_SCANS],
            work / "requests.txt",
            work,
            work / "template.json",
        )
        write_requests(stage.requests, stage.scans)
        setup = time.monotonic() - started
        relations = json.loads(asyncio.run(pg.fetchval(SIZES)))
        if opts.explain:
            out = RESULTS / f"checkin-explain-{size}.txt"
            first = [s for s in stage.scans if s.group == 0][:1000]  # the runs reset it
            out.write_text(asyncio.run(explain(dsn, first, 500)))
            say(f"{size:,}: the plans of one batch's statements in {out}")
        say(
            f"{size:,}: world ready in {setup:.0f} s: {world.conferences} conference(s), "
            f"{len(stage.scans):,} fresh codes in the plan, {world.kiosk_count:,} kiosks"
        )
        rows = []
        for workers in opts.workers:
            say(f"{size:,} delegates, {workers} worker(s): the service")
            rows += run_service(stage, workers, opts)
            if opts.ceilings and not opts.kiosks:
                say(f"{size:,} delegates, {workers} worker(s): the ceiling (aiohttp, no database)")
                rows += run_ceiling(stage, workers, "json", opts)
        if opts.ceilings and not opts.kiosks:
            say(f"{size:,} delegates: the load generators' own ceiling (bare answers)")
            rows += run_ceiling(stage, max(opts.workers), "bare", opts)
    return {
        "delegates": size,
        "sites": world.sites,
        "conferences": world.conferences,
        "kiosks": world.kiosk_count,
        "fresh_codes": len(stage.scans),
        "setup_seconds": round(setup),
        "relation_mb": relations,
        "runs": [{"delegates": size, "kiosks": world.kiosk_count, **r} for r in rows],
    }


# --- output ------------------------------------------------------------------------------


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        "--size",
        help="roster sizes, comma-separated (default 10000,2500000; 2500000 with --kiosks)",
    )
    p.add_argument("--workers", default="1,2", help="service worker counts, comma-separated")
    p.add_argument("--seconds", type=int, default=15, help="length of each run")
    p.add_argument("--scans", type=int, default=300_000, help="fresh codes a run may use")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--batch", default="500", help="websocket batch sizes, comma-separated")
    p.add_argument("--ws-kiosks", type=int, default=8, help="websocket kiosks sending at once")
    p.add_argument("--ws-clients", type=int, default=2, help="websocket client processes")
    p.add_argument("--ws-compression", choices=["deflate", "none"], default="deflate")
    p.add_argument("--no-ceilings", action="store_true", help="the service only")
    p.add_argument("--profile", action="store_true", help="py-spy on the workers (slower)")
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE a batch first")
    p.add_argument("--kiosks", type=int, default=0, help="many-kiosk mode: sockets at once")
    p.add_argument("--kiosk-rate", type=float, default=5000, help="their scans a second")
    p.add_argument("--heartbeat-every", type=float, default=20, help="a kiosk's heartbeat, s")
    p.add_argument("--kiosk-clients", type=int, default=0, help="client processes (0: auto)")
    a = p.parse_args(argv)
    sizes = a.sizes or ("2500000" if a.kiosks else "10000,2500000")
    return Options(
        sizes=[int(s) for s in sizes.split(",")],
        workers=[int(w) for w in a.workers.split(",")],
        seconds=a.seconds,
        scans=a.scans,
        connections=a.connections,
        batches=[int(b) for b in a.batch.split(",")],
        ws_kiosks=a.ws_kiosks,
        ws_clients=a.ws_clients,
        compression=None if a.ws_compression == "none" else a.ws_compression,
        ceilings=not a.no_ceilings,
        profile=a.profile,
        explain=a.explain,
        kiosks=a.kiosks,
        kiosk_rate=a.kiosk_rate,
        heartbeat_every=a.heartbeat_every,
        kiosk_clients=a.kiosk_clients,
    )


def main() -> None:
    opts = parse()
    sizes = []
    for size in opts.sizes:
        with tempfile.TemporaryDirectory(prefix="diemcau-bench-checkin-") as tmp:
            sizes.append(run_size(size, opts, Path(tmp)))
    runs = [r for s in sizes for r in s["runs"]]
    if opts.kiosks:
        print_kiosk_table(runs)
    else:
        verdicts(runs)
        print_table(runs)
    write_results("checkin", {"options": vars(opts), "sizes": sizes})


if __name__ == "__main__":
    main()
