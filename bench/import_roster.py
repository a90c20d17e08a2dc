"""Roster import speed: 10,000 and 2,500,000 rows with Vietnamese names over N sites.

    python -m bench.import_roster                 # both sizes
    python -m bench.import_roster --sizes 10000   # the small one only
    python -m bench.import_roster --check-only    # reading and checking alone, no database

Measures rows/s through the domain function (`roster.import_roster`, a fresh roster, then
the same file again, all rows unchanged) and, for the small roster, through HTTP
(`POST .../delegates/import` on a real server on a local port). Starts its own embedded
PostgreSQL in a temp dir unless DATABASE_URL is set. Writes bench/results/import_roster.json.
`--check-only` times the Python side alone (the file read through tabular, its cells
checked, every row checked into COPY records, in this process), the part that a
change to the checks changes; it reports CPU seconds too, steadier on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import write_results
from diemcau import auth, roster
from diemcau.app import create_app
from diemcau.auth import CLI
from diemcau.cli.roster import ProgressBar
from diemcau.cli.say import number as vn_number
from diemcau.config import Config
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.migrate import migrate
from diemcau.queries.conferences import fetch_conference
from diemcau.roster.checking import Checker, Maps
from diemcau.roster.worker import roster_records, seen_names
from diemcau.tabular import CSV, Sheet

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
HO = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Lò Hà Triệu".split()
DEM = "Văn Thị Hữu Đức Minh Thanh Ngọc Quốc Xuân Thu Thuỳ Kim Bảo Gia".split()
TEN = (
    "An Bình Cường Dũng Giang Hà Hải Hùng Hương Lan Linh Long Mai Nam Ngân Phúc Quân Sơn "
    "Thảo Trang Tuấn Việt Yến Ánh Tuyết Nguyệt Khoa Đạt Hậu Nhung"
).split()
CATEGORIES = ["đảng viên"] * 7 + ["quần chúng"] * 2 + ["khách mời"]


def sites_for(rows: int) -> int:
    return 145 if rows <= 20_000 else 40_000


def write_roster(path: Path, rows: int, sites: int) -> None:
    """A CSV roster as Excel saves it (BOM), with the Vietnamese category words."""
    rnd = random.Random(rows)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(roster.COLUMNS)
        for i in range(rows):
            site = rnd.randrange(sites)
            name = f"{rnd.choice(HO)} {rnd.choice(DEM)} {rnd.choice(TEN)}"
            phone = f"09{rnd.randrange(10**8):08d}" if i % 2 else ""
            email = f"db{i}@example.vn" if i % 5 == 0 else ""
            out.writerow(
                [f"DV{i:08d}", name, rnd.choice(CATEGORIES), f"S{site:05d}", "", phone, email]
            )


async def make_world(conn: Any, code: str, sites: int) -> Any:
    """Units (one per 10 sites), sites, and a conference taking part at all of them."""
    await conn.execute(
        """INSERT INTO units (code, name, level, path) VALUES ('VN', 'Việt Nam', 'national', '/VN/')
           ON CONFLICT DO NOTHING"""
    )
    await conn.execute(
        """INSERT INTO units (code, name, level, parent_id, path)
           SELECT 'U' || lpad(i::text, 5, '0'), 'Xã ' || i, 'commune',
                  (SELECT id FROM units WHERE code = 'VN'), '/VN/U' || lpad(i::text, 5, '0') || '/'
             FROM generate_series(0, $1 / 10) i ON CONFLICT DO NOTHING""",
        sites,
    )
    await conn.execute(
        """INSERT INTO sites (code, name, unit_id, level)
           SELECT 'S' || lpad(i::text, 5, '0'), 'Điểm cầu ' || i,
                  (SELECT id FROM units WHERE code = 'U' || lpad((i / 10)::text, 5, '0')),
                  'commune'
             FROM generate_series(0, $1 - 1) i ON CONFLICT DO NOTHING""",
        sites,
    )
    conference_id = await conn.fetchval(
        """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at)
           VALUES ($1, 'Hội nghị đo tốc độ', now() + interval '2 days',
                   now() + interval '2 days 4 hours', now() + interval '2 days')
           RETURNING id""",
        code,
    )
    await conn.execute(
        """INSERT INTO conference_sites (conference_id, site_id)
           SELECT $1, id FROM sites WHERE code < 'S' || lpad($2::int::text, 5, '0')""",
        conference_id,
        sites,
    )
    return await fetch_conference(conn, code)


async def through_domain(dsn: str, path: Path, rows: int, label: str) -> list[dict[str, Any]]:
    conn = await connect(dsn)
    try:
        conference = await make_world(conn, f"DOMAIN-{rows}", sites_for(rows))
        results = []
        for run in ("fresh", "unchanged"):
            print(f"{label}: {run} import through the domain function", file=sys.stderr)
            bar = ProgressBar()
            started = time.perf_counter()
            result = await roster.import_roster(conn, CLI, conference, Sheet(path, CSV), bar)
            elapsed = time.perf_counter() - started
            bar.finish()
            results.append(_row(label, f"domain, {run}", rows, elapsed, result))
        return results
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def through_http(dsn: str, path: Path, rows: int, label: str) -> dict[str, Any]:
    conn = await connect(dsn)
    try:
        await make_world(conn, "HTTP", sites_for(rows))
        token, _ = await auth.create_token(conn, "organiser", label="bench")
    finally:
        await conn.close()
    app = create_app(Config(database_url=dsn, secret_key="b" * 32))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        print(f"{label}: import through HTTP", file=sys.stderr)
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            resp = await session.post(
                f"http://127.0.0.1:{port}/api/v1/conferences/HTTP/delegates/import",
                data=await asyncio.to_thread(path.read_bytes),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            )
            result = await resp.json()
            elapsed = time.perf_counter() - started
        if resp.status != 200:
            raise RuntimeError(f"HTTP import failed: {resp.status} {result}")
        return _row(label, "HTTP, fresh", rows, elapsed, result)
    finally:
        await runner.cleanup()


def _row(label: str, path: str, rows: int, elapsed: float, result: dict) -> dict[str, Any]:
    return {
        "roster": label,
        "path": path,
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "imported": result["imported"],
        "updated": result["updated"],
        "unchanged": result["unchanged"],
    }


def check_only(path: Path, rows: int, label: str) -> dict[str, Any]:
    """Read and check the file as a new roster's import does, with no database."""
    codes = {f"S{i:05d}": i + 1 for i in range(sites_for(rows))}
    maps = Maps(codes, dict.fromkeys(codes.values(), 1), frozenset(codes), {})
    checker = Checker(maps, 1, names=seen_names(1, path))
    records = roster_records(Sheet(path, CSV), checker)
    print(f"{label}: reading and checking only", file=sys.stderr)
    started, cpu = time.perf_counter(), time.process_time()
    while checker.chunk(records) is not None:
        pass
    elapsed = time.perf_counter() - started
    result = {"imported": checker.rows, "updated": 0, "unchanged": 0}
    row = _row(label, "check only", rows, elapsed, result)
    return row | {"cpu_seconds": round(time.process_time() - cpu, 2)}


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'roster':<12} {'path':<20} {'rows':>12} {'seconds':>9} {'cpu s':>7} {'rows/s':>10}"
        "  bar (60 s)"
    )
    for r in results:
        bar = ""
        if r["rows"] >= 2_500_000 and r["path"] != "check only":  # the bar is the import's
            bar = "met" if r["seconds"] < 60 else "MISSED"
        cpu = f"{r['cpu_seconds']:>7.1f}" if "cpu_seconds" in r else f"{'':>7}"
        print(
            f"{r['roster']:<12} {r['path']:<20} {vn_number(r['rows']):>12} "
            f"{r['seconds']:>9.1f} {cpu} {vn_number(r['rows_per_s']):>10}  {bar}"
        )


def run_checks(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    results = []
    for rows in sizes:
        label = vn_number(rows)
        path = work / f"roster-{rows}.csv"
        print(f"{label}: writing {path.name} ({sites_for(rows)} sites)", file=sys.stderr)
        write_roster(path, rows, sites_for(rows))
        results.append(check_only(path, rows, label))
        path.unlink()
    return results


async def run(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    external = os.environ.get("DATABASE_URL")
    embedded = None if external else EmbeddedPostgres(work / "pg")
    dsn = external or embedded.start()  # type: ignore[union-attr]
    try:
        conn = await connect(dsn)
        await migrate(conn)
        await conn.close()
        results = []
        for rows in sizes:
            label = vn_number(rows)
            path = work / f"roster-{rows}.csv"
            print(f"{label}: writing {path.name} ({sites_for(rows)} sites)", file=sys.stderr)
            write_roster(path, rows, sites_for(rows))
            results += await through_domain(dsn, path, rows, label)
            if rows <= 20_000:
                results.append(await through_http(dsn, path, rows, label))
            path.unlink()
        return results
    finally:
        if embedded is not None:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,2500000", help="roster sizes, comma-separated")
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="time reading and checking the file alone, in this process, with no database",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-roster-") as tmp:
        if args.check_only:
            results = run_checks(sizes, Path(tmp))
        else:
            results = asyncio.run(run(sizes, Path(tmp)))
    print_table(results)
    write_results(
        "import_roster_checks" if args.check_only else "import_roster", {"results": results}
    )


if __name__ == "__main__":
    main()
