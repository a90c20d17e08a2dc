"""Credentials bench: signing, QR matrices, PNGs, verification, and the province's badges.

A province-sized roster (11,873 delegates over 145 sites, as in seeds/README.md) is made
directly in the database, then:
  codes/s      sign + encode `DC1.<payload>.<signature>`
  verify/s     the pure offline verifier (what a kiosk does per scan)
  matrices/s   QR version 6-M pixel matrices
  PNGs/s       392 px PNGs (what qr.png serves), phone passes (pass.png)
  badges/s     the whole roster as one PDF per site, wall clock from the database read to
               the last file written, with the process pool (one per core) and with one
               process.

    python -m bench.credentials [--delegates 11873] [--sites 145] [--png-sample 2000]

Uses DATABASE_URL (in a fresh database it creates and drops) or an embedded PostgreSQL
in a temporary directory. Writes bench/results/credentials.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import bench_database, say, write_results
from diemcau import credentials, issuance, keystore, qr
from diemcau.auth import CLI
from diemcau.badges import phone_pass
from diemcau.cli.badges import SiteJob, number, render_jobs, site_jobs
from diemcau.db import connect
from diemcau.keystore import Keystore
from diemcau.queries import credentials as q

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Lò"]
MIDDLE = ["Văn", "Thị", "Đức", "Ngọc", "Minh", "Thị Thu", "Quốc", "Hữu", "Thanh", "Xuân"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hưởng", "Thảo", "Ất", "Ỷ", "Việt", "Nhung", "Phúc"]


async def seed(conn: asyncpg.Connection, delegates: int, sites: int) -> asyncpg.Record:
    """One province, `sites` commune sites, one conference, `delegates` spread evenly."""
    province = await conn.fetchval(
        "INSERT INTO units (code, name, level, path) VALUES ('LC', 'Tỉnh Lai Châu', 'province', "
        "'/LC/') RETURNING id"
    )
    await conn.copy_records_to_table(
        "units",
        columns=["code", "name", "level", "parent_id", "path"],
        records=[
            (f"X{i:03d}", f"Đảng bộ xã số {i}", "commune", province, f"/LC/X{i:03d}/")
            for i in range(sites)
        ],
    )
    await conn.execute(
        """INSERT INTO sites (code, name, unit_id, level, capacity)
           SELECT 'S' || substr(code, 2), 'Hội trường UBND ' || replace(name, 'Đảng bộ ', ''),
                  id, 'commune', 150
             FROM units WHERE level = 'commune'"""
    )
    starts = datetime.now(UTC) + timedelta(days=3)
    conference = await conn.fetchrow(
        """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at)
           VALUES ('BENCH', 'Hội nghị học tập, quán triệt Nghị quyết Đại hội XIV của Đảng',
                   $1::timestamptz, $1::timestamptz + interval '4 hours',
                   $1::timestamptz - interval '1 hour') RETURNING *""",
        starts,
    )
    await conn.execute(
        "INSERT INTO conference_sites SELECT $1, id FROM sites ORDER BY id", conference["id"]
    )
    site_rows = await conn.fetch("SELECT id, unit_id FROM sites ORDER BY id")
    categories = ["member"] * 7 + ["non_member"] * 2 + ["guest"]
    records = []
    for i in range(delegates):
        site = site_rows[i % len(site_rows)]
        name = f"{FAMILY[i % 12]} {MIDDLE[(i // 12) % 10]} {GIVEN[(i // 120) % 12]}"
        records.append(
            (conference["id"], f"DV{i:07d}", name, categories[i % 10], site["id"], site["unit_id"])
        )
    await conn.copy_records_to_table(
        "delegates",
        columns=["conference_id", "external_id", "full_name", "category", "site_id", "unit_id"],
        records=records,
    )
    return conference


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (the render pool)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def rate(label: str, count: int, func: Callable[[], Any]) -> dict[str, Any]:
    say(f"{label} ...")
    cpu, started = cpu_seconds(), time.perf_counter()
    func()
    seconds = time.perf_counter() - started
    return {
        "what": label,
        "count": count,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds() - cpu, 3),
        "per_s": count / seconds,
    }


async def micro(dsn: str, store: Keystore, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Seed the roster, then time signing, verifying, matrices and PNGs."""
    conn = await connect(dsn)
    try:
        say(f"seeding {number(args.delegates)} delegates over {args.sites} sites ...")
        conference = await seed(conn, args.delegates, args.sites)
        key = await keystore.signing_key(conn, store, conference["id"], CLI)
        jwks = await keystore.jwks(conn, conference)
        rows = await q.fetch_badge_delegates(conn, conference["id"])
    finally:
        await conn.close()
    claims = [credentials.Claims(key.kid, conference["id"], r["id"], r["site_id"], 1) for r in rows]
    codes: list[str] = []
    verifier = credentials.Verifier(jwks, conference_id=conference["id"])

    def sign_all() -> None:
        codes.extend(credentials.sign(c, key.private) for c in claims)

    results = [rate("codes (sign + encode)", len(claims), sign_all)]
    sample = codes[: args.png_sample]
    sheet = issuance.site_sheet(conference, {"name": "Hội trường UBND xã số 1", "code": "S001"})
    few = rows[: args.png_sample // 10]
    passes = [(sheet, b) for b in issuance.signed_badges(key, conference["id"], few)[0]]
    return [
        *results,
        rate("verify (offline, JWK set)", len(codes), lambda: list(map(verifier.verify, codes))),
        rate("QR matrices", len(codes), lambda: list(map(qr.packed, codes))),
        rate("QR PNGs (392 px)", len(sample), lambda: list(map(qr.png, sample))),
        rate(
            "phone passes (720 x 1280 PNG)", len(passes), lambda: [phone_pass(*p) for p in passes]
        ),
    ]


async def badge_data(dsn: str, store: Keystore, out: Path) -> tuple[list[Any], list[SiteJob]]:
    """As `diemcau badges` does it: read, sign every site's codes and record their digests."""
    conn = await connect(dsn)
    try:
        conference = await conn.fetchrow("SELECT * FROM conferences WHERE code = 'BENCH'")
        sites = list(await q.fetch_conference_sites(conn, conference["id"]))
        rows = list(await q.fetch_badge_delegates(conn, conference["id"]))
        key = await keystore.signing_key(conn, store, conference["id"], CLI)
        jobs, issued = site_jobs(key, conference, sites, rows, lambda s: out / f"{s['code']}.pdf")
        await issuance.record_codes(conn, issued)
    finally:
        await conn.close()
    return sites, jobs


def progress(done_sites: int, done: int) -> None:
    print(f"\r  {done_sites} sites, {number(done)} badges", end="", file=sys.stderr, flush=True)


def badges_run(dsn: str, store: Keystore, workers: int) -> dict[str, Any]:
    """Every site's PDF, from the database read to the last file on disk, as the
    `diemcau badges` command does it (read, sign and record in the event loop, render
    after it)."""
    plural = "es" if workers > 1 else ""
    say(f"badges, {workers} process{plural} ...")
    with tempfile.TemporaryDirectory(prefix="diemcau-badges-") as out:
        cpu, started = cpu_seconds(), time.perf_counter()
        sites, jobs = asyncio.run(badge_data(dsn, store, Path(out)))
        written = render_jobs(jobs, workers, progress)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        print(file=sys.stderr)
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    return {
        "what": f"badges as {len(sites)} site PDFs, {workers} process{plural}",
        "count": written,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "per_s": written / seconds,
        "pdf_bytes": size,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'what':<46} {'count':>8} {'seconds':>9} {'cpu s':>7} {'per second':>11}"]
    for r in results:
        lines.append(
            f"{r['what']:<46} {number(r['count']):>8} {r['seconds']:>9.2f} "
            f"{r['cpu_seconds']:>7.2f} {number(int(r['per_s'])):>11}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delegates", type=int, default=11_873)
    parser.add_argument("--sites", type=int, default=145)
    parser.add_argument("--png-sample", type=int, default=2_000)
    args = parser.parse_args()
    store = Keystore(secrets.token_bytes(32))
    with bench_database() as dsn:
        results = asyncio.run(micro(dsn, store, args))
        for workers in sorted({os.cpu_count() or 1, 1}, reverse=True):
            results.append(badges_run(dsn, store, workers))
    print(table(results))
    write_results(
        "credentials",
        {
            "results": results,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "delegates": args.delegates,
            "sites": args.sites,
        },
    )


if __name__ == "__main__":
    main()
