"""The rehearsal (issue 23): a session at scale with faults, and proof that nothing is lost.

    python -m bench.rehearsal                        # the national case of DESIGN
    python -m bench.rehearsal --preset province      # 145 sites, under a minute (CI)
    python -m bench.rehearsal --preset province --hosts 2

`diemcau serve --workers W` on its own embedded PostgreSQL (a temporary data dir); with
`--hosts 2` a second `diemcau serve` on another port on the same database
(`DATABASE_URL`), kiosks and dashboards split between the two. Then:

1. the units (SQL), then over HTTP the sites from CSV, the conference, the roster from
   CSV; a sample of sites' badges.pdf, decoded and verified with the public keys alone;
2. dashboards on the live board's websocket (the whole conference, the mid units, the
   leaves of ten sites), which reconnect with `?since=` when dropped;
3. the rush: kiosk websockets from client processes (bench/rehearsal_kiosks.py, the
   check-in bench's many-kiosk client with an offline queue each), `--rate` scans a
   second for `--seconds`, while the faults come: 5% of the kiosks offline for a period
   (their queues sent when they come back), one kiosk's clock 10 minutes slow, `kill -9`
   of one worker of the first host, `pg_ctl stop -m immediate` of the embedded server
   (the service starts it again by itself);
4. the checks, each PASS or FAIL (bench/rehearsal_checks.py); the exit status is 1 when
   any fails.

Writes bench/results/rehearsal-<preset>[-hosts2].json and a PNG beside it: throughput,
p99 of scan to answer and of scan to dashboard, second by second, faults marked.
Progress on stderr. Needs the test extras (`pip install '.[test]'`: matplotlib, and
zxing-cpp and pypdfium2 for the badges).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import faults, procs
from bench.common import RESULTS, free_port, say, write_results
from bench.rehearsal_chart import draw, series, to_dashboards
from bench.rehearsal_checks import (
    Verdicts,
    board_differences,
    check_boards,
    check_clock,
    check_counts,
    check_recovery,
    check_scans,
    database,
    reconciliation,
    truth,
)
from bench.rehearsal_dashboards import Boards, run_boards
from bench.rehearsal_kiosks import FaultyLoad, Report, run_fleet
from bench.rehearsal_report import (
    MB,
    Costs,
    figures,
    logs,
    marks,
    memory,
    memory_figures,
    report,
)
from bench.rehearsal_world import CODE, PlannedScan, Shape, World, badge_sample, build, plan
from diemcau.config import Config
from diemcau.embedded import EmbeddedPostgres

SECRET = "rehearsal-secret-key-0123456789abcdef"
SKEW_SECONDS = -600.0  # one kiosk's clock, 10 minutes slow
OFFLINE_SHARE = 0.05
# When the faults come, as fractions of the rush: a worker killed, PostgreSQL stopped,
# the offline kiosks' period.
KILL_AT, STOP_PG_AT, OFFLINE = 0.2, 0.5, (0.1, 0.45)
BEGAN = time.monotonic()
PHASES: dict[str, float] = {}  # what was done, seconds since the start


def phase(name: str) -> None:
    PHASES[name] = round(time.monotonic() - BEGAN, 1)
    say(f"[{PHASES[name]:6.1f} s] {name}")


PRESETS: dict[str, dict[str, Any]] = {
    "national": {
        "shape": Shape(40_000, 2_500_000, 63, ("VN", "Việt Nam", "national"), "province"),
        "kiosks": 10_000, "rate": 1_400.0, "seconds": 120.0, "dashboards": 2_000,
        "root_dashboards": 10, "kiosk_clients": 4, "dashboard_clients": 4, "badges": 5,
    },
    "province": {
        "shape": Shape(145, 11_873, 8, ("LC", "Tỉnh Lai Châu", "province"), "district"),
        "kiosks": 290, "rate": 300.0, "seconds": 15.0, "dashboards": 60,
        "root_dashboards": 4, "kiosk_clients": 1, "dashboard_clients": 1, "badges": 2,
    },
}  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="national")
    p.add_argument("--hosts", type=int, choices=(1, 2), default=1, help="diemcau serve services")
    p.add_argument("--workers", type=int, default=2, help="worker processes a host")
    p.add_argument(
        "--no-faults",
        action="store_true",
        help="the rush alone, to measure what the parts cost (the fault checks left out)",
    )
    for name, kind in (("kiosks", int), ("rate", float), ("seconds", float), ("dashboards", int)):
        p.add_argument(f"--{name}", type=kind, help="instead of the preset's")
    for name in ("sites", "delegates"):  # a smaller world of the preset's shape: a smoke run
        p.add_argument(f"--{name}", type=int, help="instead of the preset's")
    a = p.parse_args(argv)
    preset = PRESETS[a.preset]
    for key, value in preset.items():
        if getattr(a, key, None) is None:
            setattr(a, key, value)
    a.shape = replace(a.shape, sites=a.sites or a.shape.sites)
    a.shape = replace(a.shape, delegates=a.delegates or a.shape.delegates)
    if a.workers < 2:
        p.error("--workers must be at least 2: one is killed, the others serve meanwhile")
    return a


# --- the services ------------------------------------------------------------------------


@dataclass
class Hosts:
    work: Path
    urls: list[str] = field(default_factory=list)
    procs: list[Any] = field(default_factory=list)
    dsn: str = ""
    embedded: EmbeddedPostgres | None = None


def start_hosts(a: argparse.Namespace, h: Hosts) -> None:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    base |= {"DIEMCAU_SECRET_KEY": SECRET, "DIEMCAU_LOG_LEVEL": "WARNING"}
    for n in range(a.hosts):
        port = free_port()
        env = base | {"DIEMCAU_DATA_DIR": str(h.work / f"var{n}")}
        if n:  # the others on the first one's PostgreSQL, as hosts behind a balancer
            env["DATABASE_URL"] = h.dsn
        argv = [sys.executable, "-m", "diemcau", "serve", "--port", str(port)]
        proc = procs.start([*argv, "--workers", str(a.workers)], env, h.work / f"serve{n}.log")
        url = f"http://127.0.0.1:{port}"
        procs.wait_http(f"{url}/healthz", proc, 120)
        h.urls.append(url)
        h.procs.append(proc)
        if not n:
            h.embedded = EmbeddedPostgres(h.work / "var0")  # joins the one serve started
            h.dsn = h.embedded.start()
        phase(f"host {n + 1} serving at {url} ({a.workers} workers)")


def stop_one(proc: Any) -> None:
    """SIGTERM to `diemcau serve` alone, as Ctrl-C or systemd would: it stops its workers
    and its embedded PostgreSQL itself. Everything is killed after a minute."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_hosts(h: Hosts) -> list[int | None]:
    """SIGTERM to every host at once (the first host stops the embedded server after its
    workers); their exit statuses."""
    with ThreadPoolExecutor(len(h.procs) or 1) as pool:
        list(pool.map(stop_one, h.procs))
    if h.embedded is not None:
        h.embedded.stop()
    return [proc.returncode for proc in h.procs]


# --- the load ------------------------------------------------------------------------------


def scopes(world: World, count: int, roots: int) -> list[str | None]:
    """`roots` on the whole conference, one on each mid unit, the rest on leaves."""
    out: list[str | None] = [None] * min(roots, count)
    out += world.mids[: max(0, count - len(out))]
    leaves = world.leaves
    out += [leaves[i % len(leaves)] for i in range(count - len(out))]
    return out


def spawn(target: Any, args: tuple[Any, ...]) -> tuple[Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs), daemon=True)
    proc.start()
    return mine, proc


def board_processes(a: argparse.Namespace, world: World, urls: list[str]) -> list[tuple[Any, Any]]:
    every = scopes(world, a.dashboards, a.root_dashboards)
    n = max(1, min(a.dashboard_clients, len(every)))
    out = []
    for c in range(n):
        mine = every[c::n]
        # The whole-board dashboards of 40,000 sites do not note every count (memory).
        record = [s is not None or len(world.sites) <= 1000 for s in mine]
        out.append(spawn(run_boards, (Boards(urls, CODE, world.viewer, mine, record),)))
    return out


@dataclass
class Fleet:
    loads: list[FaultyLoad]
    where: list[list[int]]  # per client process, the global kiosk index of each local one
    skewed: int  # the global index of the slow kiosk


def fleet(a: argparse.Namespace, kiosks: list[tuple[str, str]], scans: list[PlannedScan], urls: list[str]) -> Fleet:  # fmt: skip
    """The kiosks dealt to client processes, each process on one host, with the faults."""
    mine: dict[int, list[str]] = {}
    for s in scans:
        mine.setdefault(s.kiosk, []).append(s.prefix)
    clients = max(a.kiosk_clients, a.hosts)
    offline = set() if a.no_faults else set(range(0, len(kiosks), round(1 / OFFLINE_SHARE)))
    skewed = -1 if a.no_faults else 1 if 1 not in offline else 2
    every = len(kiosks) / a.rate
    loads, where = [], []
    for c in range(clients):
        index = list(range(c, len(kiosks), clients))
        ws = urls[c % len(urls)].replace("http", "ws", 1) + "/ws/kiosk"
        load = FaultyLoad(
            ws, [(kiosks[k][1], mine.get(k, [])) for k in index], every, 20.0, a.seconds, None,
            seed=c, offline={j for j, k in enumerate(index) if k in offline},
            offline_from=OFFLINE[0] * a.seconds, offline_until=OFFLINE[1] * a.seconds,
            skew={j: SKEW_SECONDS for j, k in enumerate(index) if k == skewed},
        )  # fmt: skip
        loads.append(load)
        where.append(index)
    return Fleet(loads, where, skewed)


async def inject(a: argparse.Namespace, h: Hosts, start: float) -> dict[str, Any]:
    """kill -9 of a worker of the first host, then PostgreSQL stopped at once (bench.faults)."""
    if a.no_faults:
        return {"worker": None, "postgres": None, "events": []}
    r = faults.Rehearsal(h.urls[0], h.embedded.pgdata if h.embedded else Path())
    r.started = start
    worker, pg = await asyncio.gather(
        faults.kill_a_worker(r, KILL_AT * a.seconds),
        faults.stop_postgres(r, STOP_PG_AT * a.seconds),
    )
    return {"worker": worker, "postgres": pg, "events": r.events}


async def rush(a: argparse.Namespace, h: Hosts, clients: list[tuple[Any, Any]]) -> dict[str, Any]:  # fmt: skip
    """The kiosk clients (spawned, opening their sockets) sent off together, the faults
    injected meanwhile; what the kiosks report once their queues are empty."""
    opened = 0
    for pipe, _ in clients:
        opened += (await asyncio.to_thread(pipe.recv))[1]
    phase(f"{opened:,} kiosk sockets open; the rush: {a.rate:g} scans/s for {a.seconds:g} s")
    r_memory = memory([p.pid for p in h.procs])
    costs = Costs([p.pid for p in h.procs], h.embedded.pgdata if h.embedded else None)
    costs.start()
    start = time.monotonic() + 1.0
    for pipe, _ in clients:
        pipe.send(start)
    hurt = asyncio.ensure_future(inject(a, h, start))
    reports: list[Report] = [await asyncio.to_thread(pipe.recv) for pipe, _ in clients]
    done = time.monotonic()
    injected = await hurt
    costs.stop.set()
    phase(f"every kiosk's queue empty, {done - start:.1f} s after the rush began")
    return {
        "clients": clients, "reports": reports, "start": start, "done": done,
        "injected": injected, "opened": opened, "costs": costs, "memory_kiosks": r_memory,
    }  # fmt: skip


def ask(boards: list[tuple[Any, Any]], word: str) -> list[Any]:
    for pipe, _ in boards:
        pipe.send(word)
    return [x for pipe, _ in boards for x in pipe.recv()]


async def settle(
    boards: list[tuple[Any, Any]], want: dict[str, Any], url: str, token: str, seconds: float = 30
) -> tuple[list[Any], int, float]:
    """The dashboards' state once they all show `want` and the whole-board ones have
    reached the conference's `seq` as read just before (or after `seconds`): the state,
    that seq, and how long it took. The seq is read first, since the sweep may move it
    on at any moment."""
    began = time.monotonic()
    while True:
        seq = await live_seq(url, token)
        state = await asyncio.to_thread(ask, boards, "state")
        roots_there = all(b["seq"] >= seq for b in state if b["scope"] is None)
        done = board_differences(state, want) == 0 and roots_there
        if done or time.monotonic() - began > seconds:
            return state, seq, time.monotonic() - began
        await asyncio.sleep(0.5)


async def workers_now(urls: list[str]) -> list[dict[str, int]]:
    out = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for url in urls:
            out.append(await faults.metrics(http, url))
    return out


async def live_seq(url: str, token: str) -> int:
    """The conference's change counter now, from the live view over HTTP."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/api/v1/conferences/{CODE}/live", headers=headers) as resp,
    ):
        return int((await resp.json())["seq"])


# --- the run -------------------------------------------------------------------------------


async def rehearse(a: argparse.Namespace, h: Hosts) -> tuple[Verdicts, dict[str, Any]]:
    config = Config(database_url=h.dsn, data_dir=h.work / "var0", secret_key=SECRET)
    began = time.monotonic()
    world = await build(h.dsn, config, h.urls[0], a.shape, int(a.rate * a.seconds), a.kiosks)
    say(f"badges: {a.badges} sites' badges.pdf, first pages decoded and verified")
    badges = await badge_sample(h.urls[-1], world.organiser, world, a.badges)
    prepared = time.monotonic() - began
    phase("world built, badges checked")
    mem = {"built": memory([p.pid for p in h.procs])}
    kiosks, scans = plan(world)
    f = fleet(a, kiosks, scans, h.urls)
    boards = board_processes(a, world, h.urls)
    clients = [spawn(run_fleet, (load,)) for load in f.loads]  # they open while we wait
    for pipe, _ in boards:
        await asyncio.to_thread(pipe.recv)
    phase(f"{a.dashboards:,} dashboards open")
    mem["dashboards"] = memory([p.pid for p in h.procs])
    r = await rush(a, h, clients)
    mem["kiosks"] = r["memory_kiosks"]
    reports: list[Report] = r["reports"]
    by_kiosk, scanned = scans_by_kiosk(scans), global_scanned(f, reports)
    made = [by_kiosk[k][n] for k, n in scanned]
    ids = {(k, n): s.scan_id for (k, n), s in zip(scanned, made, strict=True)}
    acked = [
        (f.where[c][k], n, *rest) for c, rep in enumerate(reports) for k, n, *rest in rep.acked
    ]
    want = truth(made)
    db = await database(h.dsn)
    rec = await reconciliation(h.urls[-1], world.organiser)
    state, seq, settle_s = await settle(boards, want, h.urls[0], world.viewer)
    seen = await asyncio.to_thread(ask, boards, "done")
    phase("checked the database, the reconciliation and the dashboards")
    workers = await workers_now(h.urls)
    v = Verdicts()
    check_scans(v, made, acked, ids, db["stored"], sum(rep.unacked for rep in reports))
    check_counts(v, want, db["counted"], rec, state, set(world.sites))
    check_boards(v, state, seq, settle_s)
    slow = [s.scan_id for (k, _), s in zip(scanned, made, strict=True) if k == f.skewed]
    if not a.no_faults:
        check_clock(v, slow, db["stored"])
    check_recovery(v, r["injected"], workers)
    start = r["start"]
    site_of = {k: site for k, (site, _) in enumerate(kiosks)}
    dash = to_dashboards(acked, site_of, seen)
    result = figures(a, world, r, acked, dash, reports)
    result |= {"prepared_s": round(prepared, 1), "timings": world.timings, "badges": badges}
    result["memory"] = memory_figures(mem, a.dashboards, r["opened"])
    result["memory"]["mb"]["peak"] = round(r["costs"].peak["rss"] / MB)
    result["memory"]["pss_mb"]["peak"] = round(r["costs"].peak["pss"] / MB)
    result["series"] = series(acked, dash, start)
    injected = r["injected"]
    result["faults"] = {
        "marks": marks(injected["events"]),
        "offline": [0.0, 0.0] if a.no_faults else [x * a.seconds for x in OFFLINE],
        "offline_kiosks": sum(len(load.offline) for load in f.loads),
        "events": injected["events"], "worker": injected["worker"], "postgres": injected["postgres"],
    }  # fmt: skip
    result["workers_at_the_end"] = workers
    for pipe, _ in r["clients"]:
        pipe.send("close")
    for _, proc in [*r["clients"], *boards]:
        proc.join(30)
    return v, result


def scans_by_kiosk(scans: list[PlannedScan]) -> dict[int, list[PlannedScan]]:
    out: dict[int, list[PlannedScan]] = {}
    for s in scans:
        out.setdefault(s.kiosk, []).append(s)
    return out


def global_scanned(f: Fleet, reports: list[Report]) -> list[tuple[int, int]]:
    return [(f.where[c][k], n) for c, rep in enumerate(reports) for k, n in rep.scanned]


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    began = time.monotonic()
    h = Hosts(Path(tempfile.mkdtemp(prefix="diemcau-rehearsal-")))
    try:
        start_hosts(a, h)
        v, result = asyncio.run(rehearse(a, h))
    except BaseException:
        stop_hosts(h)
        shutil.rmtree(h.work, ignore_errors=True)
        raise
    name = f"rehearsal-{a.preset}" + ("-hosts2" if a.hosts == 2 else "")
    chart = RESULTS / f"{name}.png"
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(stop_hosts, h)  # the chart is drawn meanwhile
        RESULTS.mkdir(parents=True, exist_ok=True)
        title = f"rehearsal {a.preset}, {a.hosts} host(s): {'PASS' if v.passed else 'FAIL'}"
        draw(result["series"], result["faults"], title, chart)
        exits = stopping.result()
    result["serve_logged"] = logs(h.work)
    shutil.rmtree(h.work, ignore_errors=True)
    phase("services stopped, chart drawn")
    result["serve_exit_status"] = exits
    result["phases_s"] = PHASES
    v.check("every service stopped cleanly at the end", all(c == 0 for c in exits), f"exit {exits}")
    result["wall_s"] = round(time.monotonic() - began, 1)
    result["checks"] = [{"check": n, "pass": ok, "detail": d} for n, ok, d in v.rows]
    report(a, v, result)
    print(f"wall time {result['wall_s']} s")
    options = {k: v for k, v in vars(a).items() if k != "shape"}
    write_results(
        name, {**result, "options": options, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    )
    print(f"written {chart}")
    return 0 if v.passed else 1


if __name__ == "__main__":
    sys.exit(main())
