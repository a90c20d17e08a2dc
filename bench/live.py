"""The live board under a rush: 2,000 dashboards connected while kiosks check people in
at check-in's own rate, against the real service as a process.

    python -m bench.live                                     # the design point
    python -m bench.live --delegates 200000 --dashboards 400 --seconds 10 --scans 100000

The world is check-in's bench world (bench/checkin_world.py: 40,000 sites in units of
ten, one conference, the roster by COPY with every code signed, two kiosks a scanned
site). Then, against `diemcau serve --workers W`:

1. the board's snapshot of all 40,000 sites: the first GET (the worker reads the board
   from the database), then warm GETs, then a websocket's snapshot;
2. check-in alone: kiosk websockets sending batches (as bench.checkin) for `--seconds`;
3. the dashboards: `--dashboards` websockets over `--clients` processes, each on one
   unit's subtree (ten sites), `--root-dashboards` of them on the whole conference;
4. check-in again with the dashboards connected, while a probe sends walk-ins round
   robin over one site of each watched unit: scan-to-dashboard latency is from the
   probe's sending to each dashboard's first delta showing it.

The service's memory (resident, all its processes) is sampled throughout. Bars (DESIGN):
scan-to-dashboard p99 under 300 ms; a 40,000-site snapshot in under 2 s; the service
under 300 MB; check-in with the dashboards within 10% of without. Table on stdout, JSON
in bench/results/live.json. `--first-paint` also times the dashboard page's first paint
in Chromium (bench/live_page.py), once the page exists.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench import procs
from bench.checkin import SECRET, service_env
from bench.checkin_load import Options, Pg, ws_loads, ws_run
from bench.checkin_world import build, plan
from bench.common import bench_database, free_port, say, write_results
from bench.live_clients import Dashboards, Probe, latencies, run_dashboards, run_probe
from diemcau import auth
from diemcau.config import Config
from diemcau.db import connect

CONFERENCE = "BENCH000"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--delegates", type=int, default=2_500_000, help="roster size (40,000 sites above 100,000)"
    )
    p.add_argument("--dashboards", type=int, default=2000)
    p.add_argument(
        "--root-dashboards", type=int, default=10, help="of them, on the whole conference"
    )
    p.add_argument("--clients", type=int, default=4, help="dashboard client processes")
    p.add_argument("--units", type=int, default=200, help="units the dashboards watch")
    p.add_argument("--seconds", type=float, default=20, help="length of each check-in run")
    p.add_argument("--workers", type=int, default=1, help="service worker processes")
    p.add_argument("--batch", type=int, default=500, help="scans a kiosk batch")
    p.add_argument("--ws-kiosks", type=int, default=8)
    p.add_argument("--probe-rate", type=float, default=20.0, help="probe walk-ins a second")
    p.add_argument("--scans", type=int, default=400_000, help="fresh codes the two runs may use")
    p.add_argument("--first-paint", action="store_true", help="time the dashboard page in Chromium")
    return p.parse_args(argv)


# --- the world ---------------------------------------------------------------------------


async def _build(dsn: str, a: argparse.Namespace) -> tuple[Any, dict[str, str], str]:
    """Check-in's world, one kiosk at each probe site, and an organiser token."""
    conn = await connect(dsn)
    try:
        world = await build(conn, Config(database_url=dsn, secret_key=SECRET), a.delegates, a.scans)
        probes = await conn.fetch(
            """SELECT DISTINCT ON (u.code) u.code AS unit, s.code AS site
                 FROM sites s JOIN units u ON u.id = s.unit_id
                WHERE u.parent_id IS NOT NULL ORDER BY u.code, s.code LIMIT $1""",
            a.units,
        )
        kiosks = {}
        for row in probes:
            kiosks[row["site"]] = (
                await auth.create_token(conn, "kiosk", conference=CONFERENCE, site=row["site"])
            )[0]
        organiser = (await auth.create_token(conn, "organiser", label="bench live"))[0]
        world.watched = [row["unit"] for row in probes]  # type: ignore[attr-defined]
        return world, kiosks, organiser
    finally:
        await conn.close()


# --- measuring ---------------------------------------------------------------------------


class Memory:
    """The service's resident memory (all its processes), sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> float:
        total = 0
        for p in procs.tree(self.pid):
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            mb = self.now()
            self.samples.append(mb)
            self.peak = max(self.peak, mb)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


async def snapshot_times(url: str, token: str) -> dict[str, Any]:
    """The whole board over HTTP, cold then warm, and as a websocket's first message."""
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as http:
        times = []
        for _ in range(6):
            started = time.perf_counter()
            async with http.get(
                f"{url}/api/v1/conferences/{CONFERENCE}/live", headers=headers
            ) as r:
                body = await r.read()
                assert r.status == 200, body[:300]
            times.append(time.perf_counter() - started)
        out["sites"] = body.count(b'"over_capacity"')
        out["bytes"] = len(body)
        out["http_cold_s"] = round(times[0], 3)
        out["http_warm_s"] = round(statistics.median(times[1:]), 3)
        started = time.perf_counter()
        async with http.ws_connect(
            f"{url.replace('http', 'ws', 1)}/ws/conferences/{CONFERENCE}/live",
            headers=headers,
            max_msg_size=0,
        ) as ws:
            await ws.receive()
        out["ws_s"] = round(time.perf_counter() - started, 3)
    return out


def spawn(target: Any, args: tuple[Any, ...]) -> tuple[Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs))
    proc.start()
    return proc, mine


def shares(
    a: argparse.Namespace, url: str, token: str, watched: list[str], probes: list[str]
) -> list[Dashboards]:
    """Each client process's dashboards: a few on the whole conference, the rest on the
    watched units in turn."""
    scopes: list[str | None] = [None] * a.root_dashboards
    scopes += [watched[i % len(watched)] for i in range(a.dashboards - a.root_dashboards)]
    return [
        Dashboards(url, CONFERENCE, token, scopes[i :: a.clients], probes, a.seconds)
        for i in range(a.clients)
    ]


def checkin_run(
    world: Any, pg: Pg, scans: list[Any], a: argparse.Namespace, url: str, server: int
) -> dict[str, Any]:
    opts = Options(
        sizes=[a.delegates],
        workers=[a.workers],
        seconds=a.seconds,
        scans=a.scans,
        connections=64,
        batches=[a.batch],
        ws_kiosks=a.ws_kiosks,
        ws_clients=2,
        compression="deflate",
        ceilings=False,
        profile=False,
        explain=False,
    )
    ws_url = url.replace("http", "ws", 1) + "/ws/kiosk"
    return ws_run(ws_loads(world, scans, a.batch, opts, ws_url), pg, server)


def with_dashboards(
    world: Any,
    pg: Pg,
    scans: list[Any],
    a: argparse.Namespace,
    url: str,
    server: int,
    kiosks: dict[str, str],
    token: str,
) -> dict[str, Any]:
    """Dashboards open, then check-in and the probe together; latencies and figures."""
    mine = shares(a, url, token, world.watched, list(kiosks))
    clients = [spawn(run_dashboards, (share,)) for share in mine]
    for _, pipe in clients:
        assert pipe.recv() == "ready"
    say(f"  {a.dashboards:,} dashboards open; check-in and the probe for {a.seconds:.0f} s")
    prober = spawn(run_probe, (Probe(url, kiosks, a.probe_rate, a.seconds),))
    run = checkin_run(world, pg, scans, a, url, server)
    sent = prober[1].recv()
    prober[0].join()
    seen, opened, failed = [], [], 0
    for n, (proc, pipe) in enumerate(clients):
        pipe.send("stop")
        mine, times, lost = pipe.recv()
        seen += [(n * 100_000 + me, code, count, at) for me, code, count, at in mine]
        opened += times
        failed += lost
        proc.join()
    lat = sorted(latencies(sent, seen))
    run["probe_scans"] = len(sent)
    run["latency_samples"] = len(lat)
    if lat:
        run["scan_to_dashboard_ms"] = {
            "p50": round(lat[len(lat) // 2], 1),
            "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "max": round(lat[-1], 1),
        }
    run["dashboard_open_s"] = {
        "p50": round(statistics.median(opened), 3),
        "max": round(max(opened), 3),
    }
    run["dashboards_failed"] = failed
    return run


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-live-") as tmp, bench_database() as dsn:
        work = Path(tmp)
        pg = Pg(dsn)
        asyncio.run(pg.find_postmaster())
        world, kiosks, token = asyncio.run(_build(dsn, a))
        scans = plan(world, a.scans, datetime.now(UTC) - timedelta(seconds=5))
        half = len(scans) // 2
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv_ = [
            sys.executable,
            "-m",
            "diemcau",
            "serve",
            "--workers",
            str(a.workers),
            "--port",
            str(port),
        ]
        proc = procs.start(argv_, service_env(pg, work), work / "serve.log")
        procs.wait_http(f"{url}/healthz", proc)
        memory = Memory(proc.pid)
        try:
            result = run_all(
                a, world, pg, scans[:half], scans[half:], url, proc.pid, kiosks, token, memory
            )
        finally:
            memory.stop()
            procs.stop(proc)
    report(a, result)


def run_all(
    a: argparse.Namespace,
    world: Any,
    pg: Pg,
    first: list[Any],
    second: list[Any],
    url: str,
    server: int,
    kiosks: dict[str, str],
    token: str,
    memory: Memory,
) -> dict[str, Any]:
    say("the whole board's snapshot")
    result: dict[str, Any] = {"snapshot": asyncio.run(snapshot_times(url, token))}
    result["memory_idle_mb"] = round(memory.now())
    say(f"check-in alone for {a.seconds:.0f} s")
    result["alone"] = checkin_run(world, pg, first, a, url, server)
    result["with_dashboards"] = with_dashboards(world, pg, second, a, url, server, kiosks, token)
    result["memory_peak_mb"] = round(memory.peak)
    if a.first_paint:
        from bench.live_page import first_paint

        result["first_paint"] = first_paint(url, CONFERENCE, token)
    return result


def report(a: argparse.Namespace, r: dict[str, Any]) -> None:
    snap, alone, busy = r["snapshot"], r["alone"], r["with_dashboards"]
    lat = busy.get("scan_to_dashboard_ms", {})
    ratio = busy["accepted_per_s"] / max(1, alone["accepted_per_s"])
    rows = [
        (
            "snapshot of the whole board, first GET",
            f"{snap['http_cold_s']:.2f} s",
            f"{snap['sites']:,} sites, {snap['bytes'] / 1e6:.1f} MB",
        ),
        (
            "snapshot, warm GET (median of 5)",
            f"{snap['http_warm_s']:.3f} s",
            "bar < 2 s: " + ("met" if snap["http_warm_s"] < 2 else "MISSED"),
        ),
        ("snapshot over the websocket", f"{snap['ws_s']:.3f} s", ""),
        ("check-in alone", f"{alone['accepted_per_s']:,}/s", f"p99 {alone['p99_ms']} ms"),
        (
            "check-in with the dashboards",
            f"{busy['accepted_per_s']:,}/s",
            f"{ratio:.2f} of alone; bar ≥ 0.90: " + ("met" if ratio >= 0.9 else "MISSED"),
        ),
        (
            "scan to dashboard p50 / p99 / max",
            f"{lat.get('p50')} / {lat.get('p99')} / {lat.get('max')} ms",
            f"{busy['latency_samples']:,} samples; bar p99 < 300 ms: "
            + ("met" if lat and lat["p99"] < 300 else "MISSED"),
        ),
        (
            "dashboards open (p50 / max to snapshot)",
            f"{busy['dashboard_open_s']['p50']} / {busy['dashboard_open_s']['max']} s",
            f"{a.dashboards:,} sockets, {busy['dashboards_failed']} failed",
        ),
        (
            "service memory, idle / peak",
            f"{r['memory_idle_mb']} / {r['memory_peak_mb']} MB",
            "bar < 300 MB: " + ("met" if r["memory_peak_mb"] < 300 else "MISSED"),
        ),
    ]
    if "first_paint" in r:
        rows.append(("dashboard page, first paint", str(r["first_paint"]), ""))
    width = max(len(x[0]) for x in rows)
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>22}  {note}")
    write_results("live", {"options": vars(a), **r})


if __name__ == "__main__":
    main()
