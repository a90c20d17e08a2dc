"""Fault rehearsal (issue 21, "Done when"): `diemcau serve --workers 2` on its embedded
PostgreSQL under a steady stream of single-scan check-ins, a worker killed with
`kill -9`, then PostgreSQL stopped at once (`pg_ctl stop -m immediate`).

Every scan is sent again, with its own scan_id, until the service answers it, as a
kiosk does. At the end every answered scan must be stored once with the answer it was
given, the counts must equal the ground truth (one accepted check-in per delegate
scanned), and both workers and PostgreSQL must have come back with no hand on them.

    python -m bench.faults [--rate 300] [--seconds 40] [--kill-worker-at 8] [--stop-pg-at 20]

Prints what happened and the checks; writes bench/results/faults.json. Evidence for a
person to read, not a test; figures taken on a shared machine are only indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.checkin_world import Scan, build, plan
from bench.common import free_port, say, write_results
from diemcau.config import Config
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.embedded.server import Binaries

PATIENCE = 120.0


@dataclass
class Rehearsal:
    url: str
    pgdata: Path
    started: float = field(default_factory=time.monotonic)
    answers: dict[str, str] = field(default_factory=dict)  # scan_id -> result
    failures: dict[str, int] = field(default_factory=dict)  # what a try met, how often
    events: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        at = time.monotonic() - self.started
        self.events.append((round(at, 2), what))
        say(f"{at:7.2f} s  {what}")


async def send(r: Rehearsal, http: aiohttp.ClientSession, scan: Scan, scan_id: str) -> None:
    """One scan, again and again until the service answers it."""
    body = f'{{"scans":[{scan.body}]}}'
    headers = {"Authorization": f"Bearer {scan.token}", "Content-Type": "application/json"}
    delay = 0.2
    while True:
        try:
            async with http.post(f"{r.url}/api/v1/checkins", data=body, headers=headers) as resp:
                if resp.status == 200:
                    r.answers[scan_id] = (await resp.json())["results"][0]["result"]
                    return
                kind = str(resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = type(exc).__name__
        r.failures[kind] = r.failures.get(kind, 0) + 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def stream(r: Rehearsal, scans: list[Scan], rate: float) -> None:
    """Scans at `rate` a second, each sent until answered."""
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        tasks = []
        for n, scan in enumerate(scans):
            await asyncio.sleep(max(0.0, r.started + n / rate - time.monotonic()))
            scan_id = json.loads(scan.body)["scan_id"]
            tasks.append(asyncio.create_task(send(r, http, scan, scan_id)))
        r.note(f"all {len(scans):,} scans sent once; waiting for every answer")
        await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE)
        r.note("every scan answered")


async def metrics(http: aiohttp.ClientSession, url: str) -> dict[str, int]:
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    found = {
        s: int(float(v)) for s, v in re.findall(r'diemcau_workers\{state="(\w+)"\} (\S+)', text)
    }
    pid = re.search(r'^diemcau_worker\{pid="(\d+)"', text, re.M)
    if pid is None:
        say(f"/metrics without the answering worker: {text[:300]!r}")
    restarts = re.search(r"^diemcau_worker_restarts_total (\S+)", text, re.M)
    found["pid"] = int(pid[1]) if pid else 0
    found["restarts"] = int(float(restarts[1])) if restarts else 0
    return found


async def kill_a_worker(r: Rehearsal, at: float) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, r.started + at - time.monotonic()))
    # A new connection each time: SO_REUSEPORT spreads connections, not requests.
    fresh = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=5), connector=fresh
    ) as http:
        first: set[int] = set()
        while len(first) < 2:  # connections spread over the workers: see both answer
            pid = (await metrics(http, r.url))["pid"]
            if pid > 1:  # never 0 or -1: os.kill would take this whole process group
                first.add(pid)
            await asyncio.sleep(0.05)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        r.note(f"kill -9 of worker {victim}")
        killed = time.monotonic()
        while time.monotonic() - killed < PATIENCE:
            try:
                seen = await metrics(http, r.url)
            except (aiohttp.ClientError, TimeoutError):
                continue
            if seen["pid"] not in first and seen.get("alive") == 2:
                back = round(time.monotonic() - killed, 2)
                r.note(
                    f"workers 2/2 again (a new worker, pid {seen['pid']}, answers) after {back} s"
                )
                return {"killed": victim, "back_after_s": back, **seen}
            await asyncio.sleep(0.1)
    raise RuntimeError("the killed worker was not replaced")


def postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


async def stop_postgres(r: Rehearsal, at: float) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, r.started + at - time.monotonic()))
    gone = await asyncio.to_thread(Binaries.find().crash, r.pgdata)
    r.note(f"pg_ctl stop -m immediate (postmaster {gone})")
    stopped = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() - stopped < PATIENCE:
            try:
                async with http.get(f"{r.url}/healthz") as resp:
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok and postmaster(r.pgdata) != gone:
                back = round(time.monotonic() - stopped, 2)
                r.note(
                    f"PostgreSQL back (postmaster {postmaster(r.pgdata)}), /healthz 200 after {back} s"
                )
                return {
                    "stopped": gone,
                    "new_postmaster": postmaster(r.pgdata),
                    "back_after_s": back,
                }
            await asyncio.sleep(0.05)
    raise RuntimeError("PostgreSQL did not come back")


async def checks(r: Rehearsal, dsn: str, sent: int) -> dict[str, Any]:
    """What the database holds against what the service answered."""
    conn = await connect(dsn)
    try:
        stored = dict(
            (row["scan_id"], row["result"])
            for row in await conn.fetch("SELECT scan_id::text, result FROM checkins")
        )
        rows = await conn.fetchval("SELECT count(*) FROM checkins")
        counted = await conn.fetchval("SELECT count(*) FROM attendances WHERE site_id IS NOT NULL")
        tallied = await conn.fetchval(
            "SELECT sum(checked_in_member + checked_in_non_member + checked_in_guest) "
            "FROM site_tallies"
        )
    finally:
        await conn.close()
    accepted = sum(1 for v in r.answers.values() if v == "accepted")
    return {
        "scans sent": sent,
        "scans answered": len(r.answers),
        "answered and stored with the same answer": sum(
            1 for k, v in r.answers.items() if stored.get(k) == v
        ),
        "rows in checkins (once each: scan_id is the key)": rows,
        "answered accepted": accepted,
        "delegates checked in (attendances)": counted,
        "checked in by the site tallies": int(tallied or 0),
    }


def start_serve(work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"DIEMCAU_DATA_DIR": str(work / "var"), "DIEMCAU_LOG_LEVEL": "WARNING"}
    env["DIEMCAU_LANGUAGE"] = "en"
    argv = [sys.executable, "-m", "diemcau", "serve", "--port", str(port), "--workers", "2"]
    with open(work / "serve.log", "w") as log:
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_ready(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("serve did not start")


async def rehearse(opts: argparse.Namespace, work: Path, url: str) -> dict[str, Any]:
    embedded = EmbeddedPostgres(work / "var")  # joins the server `serve` started
    dsn = embedded.start()
    try:
        conn = await connect(dsn)
        try:
            total = int(opts.rate * opts.seconds)
            world = await build(
                conn, Config(database_url=dsn, data_dir=work / "var"), 10_000, total
            )
        finally:
            await conn.close()
        scans = plan(world, total, datetime.now(UTC))
        r = Rehearsal(url, embedded.pgdata)
        r.note(f"stream of {len(scans):,} scans at {opts.rate:g}/s starts")
        worker, pg, _ = await asyncio.gather(
            kill_a_worker(r, opts.kill_worker_at),
            stop_postgres(r, opts.stop_pg_at),
            stream(r, scans, opts.rate),
        )
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            final = await metrics(http, url)
        return {
            "events": r.events,
            "failed tries": r.failures,
            "worker": worker,
            "postgres": pg,
            "workers at the end": final,
            "checks": await checks(r, dsn, len(scans)),
        }
    finally:
        embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300, help="scans a second")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--kill-worker-at", type=float, default=8)
    parser.add_argument("--stop-pg-at", type=float, default=20)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="diemcau-faults-"))
    port = free_port()
    serve = start_serve(work, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        result = asyncio.run(rehearse(opts, work, url))
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(PATIENCE)
        log = (work / "serve.log").read_text(errors="replace")
        shutil.rmtree(work, ignore_errors=True)
    said = Counter(json.loads(line)["msg"] for line in log.splitlines() if line.startswith("{"))
    result["serve"] = {
        "exit_status": code,
        "logged": said,
        "said": [line for line in log.splitlines() if line.startswith("diemcau:")][-2:],
    }
    print()
    for key, value in result["checks"].items():
        print(f"{key:<50} {value:>8,}")
    print(f"{'failed tries (retried)':<50} {json.dumps(result['failed tries'])}")
    print(f"{'worker back after (s)':<50} {result['worker']['back_after_s']:>8}")
    print(f"{'PostgreSQL back after (s)':<50} {result['postgres']['back_after_s']:>8}")
    print(
        f"{'workers alive / configured at the end':<50} {result['workers at the end']['alive']}/{result['workers at the end']['configured']}"
    )
    print(f"{'serve exit status':<50} {code:>8}")
    write_results(
        "faults",
        {**result, "options": vars(opts), "at": datetime.now(UTC).isoformat(timespec="seconds")},
    )


if __name__ == "__main__":
    main()
