"""Bench: import 40,000 bridge points from one CSV (the bar: under 10 s), then list them.

    python -m bench.import_sites [--sites 40000] [--districts 10] [--communes 70]

Builds a unit tree (one province, districts, ~700 communes), writes a CSV of realistic
Vietnamese sites, and times: the domain function (parse in a thread + one transaction),
split into parse and write; the same file through `POST /api/v1/sites/import` on a real
server, first as inserts then as updates; and listing pages of the 40,000 sites with
filters. Uses its own embedded PostgreSQL in a temp dir unless DATABASE_URL is set.
Writes bench/results/import_sites.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import FAMILY, GIVEN, MIDDLE, bench_database, running_service, say, write_results
from diemcau import auth
from diemcau.db import connect
from diemcau.site_import import parse_sites, write_sites
from diemcau.tabular import CSV, Sheet

PLACES = "Bản Bo, Bình Lư, Nà Tăm, Sơn Bình, Hồ Thầu, Khun Há, Thèn Sin, Tả Lèng, Giang Ma, Nùng Nàng, Phìn Hồ, Sì Lở Lầu, Đông Phong, Pa Tần, Nậm Tăm, Chăn Nưa, Mường Kim, Tà Hừa, Pắc Ta, Hua Nà".split(
    ", "
)
KINDS = (
    "Nhà văn hoá thôn",
    "Hội trường UBND xã",
    "Trụ sở Đảng uỷ xã",
    "Điểm cầu bản",
    "Trường THCS",
)
PROTOCOLS = ("sip", "h323", "webrtc", "meeting_link")
HEADER = (
    "code,name,unit_code,level,address,capacity,technician_name,technician_phone,"
    "endpoint_protocol,endpoint_uri,endpoint_provider"
)


def unit_tree(districts: int, communes: int) -> list[tuple[str, str, str, str | None, str]]:
    rows: list[tuple[str, str, str, str | None, str]] = [
        ("LC", "Tỉnh Lai Châu", "province", None, "/LC/")
    ]
    for d in range(districts):
        dc = f"LC-D{d:02d}"
        rows.append((dc, f"Huyện {PLACES[d % len(PLACES)]} {d}", "district", "LC", f"/LC/{dc}/"))
        for c in range(communes):
            cc = f"{dc}-C{c:03d}"
            name = f"Xã {PLACES[(d + c) % len(PLACES)]} {c}"
            rows.append((cc, name, "commune", dc, f"/LC/{dc}/{cc}/"))
    return rows


def site_row(i: int, commune: str, rng: random.Random) -> str:
    place = rng.choice(PLACES)
    person = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
    protocol = rng.choice(PROTOCOLS)
    uri = {
        "sip": f"sip:s{i}@vnpt.vn",
        "h323": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        "webrtc": f"https://webrtc.vnpt.vn/r/{i}",
        "meeting_link": f"https://meet.gov.vn/j/{i:08d}",
    }[protocol]
    phone = f"09{rng.randrange(10**8):08d}"
    name = f"{rng.choice(KINDS)} {place} {i}"
    address = f"Thôn {place}, {commune}"
    return (
        f'S{i:06d},{name},{commune},commune,"{address}",{rng.randrange(30, 400)},'
        f"{person},{phone},{protocol},{uri},VNPT"
    )


def write_csv(path: Path, n: int, communes: list[str]) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8-sig", newline="\n") as fh:
        fh.write(HEADER + "\n")
        for i in range(n):
            fh.write(site_row(i, communes[i % len(communes)], rng) + "\n")


async def reset(conn: Any, units: list[tuple]) -> None:
    await conn.execute("TRUNCATE link_tests, sites, units, audit_log RESTART IDENTITY CASCADE")
    await conn.executemany(
        """INSERT INTO units (code, name, level, parent_id, path)
           VALUES ($1, $2, $3, (SELECT id FROM units WHERE code = $4), $5)""",
        units,
    )


async def time_domain(conn: Any, csv: Path) -> dict[str, float]:
    started = time.perf_counter()
    parsed = await asyncio.get_running_loop().run_in_executor(None, parse_sites, Sheet(csv, CSV))
    parsed_at = time.perf_counter()
    counts = await write_sites(conn, auth.CLI, parsed)
    done = time.perf_counter()
    return {
        "parse_s": parsed_at - started,
        "write_s": done - parsed_at,
        "total_s": done - started,
        **counts,
    }


async def time_http(base: str, token: str, csv: Path) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    async with aiohttp.ClientSession() as session:
        data = io.BytesIO(await asyncio.to_thread(csv.read_bytes))
        started = time.perf_counter()
        async with session.post(f"{base}/api/v1/sites/import", data=data, headers=headers) as resp:
            body = await resp.json()
        elapsed = time.perf_counter() - started
    if resp.status != 200:
        raise SystemExit(f"import failed: {resp.status} {str(body)[:500]}")
    return {"total_s": elapsed, **body}


async def time_lists(base: str, token: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    cases = [
        ("first page, 100", {}),
        ("first page, 1000", {"limit": "1000"}),
        ("unit=district", {"unit": "LC-D03"}),
        ("q='ban bo'", {"q": "ban bo"}),
        ("q=rare name", {"q": "s039999"}),
        ("status=ready (none)", {"status": "ready"}),
    ]
    out = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for label, params in cases:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                async with session.get(f"{base}/api/v1/sites", params=params) as resp:
                    await resp.read()
                times.append(time.perf_counter() - started)
            out.append(
                {"case": label, "best_ms": min(times) * 1000, "median_ms": sorted(times)[2] * 1000}
            )
        started, pages, cursor = time.perf_counter(), 0, None
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            async with session.get(f"{base}/api/v1/sites", params=params) as resp:
                page = await resp.json()
            pages += 1
            cursor = page["next"]
            if cursor is None:
                break
        out.append(
            {
                "case": f"walk all ({pages} pages of 1000)",
                "best_ms": (time.perf_counter() - started) * 1000,
                "median_ms": None,
            }
        )
    return out


async def run(args: argparse.Namespace, dsn: str, workdir: Path) -> dict[str, Any]:
    units = unit_tree(args.districts, args.communes)
    communes = [u[0] for u in units if u[2] == "commune"]
    csv = workdir / "sites.csv"
    write_csv(csv, args.sites, communes)
    say(f"CSV: {args.sites:,} rows, {csv.stat().st_size / 1e6:.1f} MB, {len(units)} units")
    conn = await connect(dsn)
    try:
        await reset(conn, units)
        say("domain function: first import (inserts) ...")
        domain_insert = await time_domain(conn, csv)
        say("domain function: second import (updates) ...")
        domain_update = await time_domain(conn, csv)
        await reset(conn, units)
        token, _ = await auth.create_token(conn, "organiser", label="bench")
    finally:
        await conn.close()
    async with running_service(dsn, workdir) as base:
        say("HTTP: first import (inserts) ...")
        http_insert = await time_http(base, token, csv)
        say("HTTP: second import (updates) ...")
        http_update = await time_http(base, token, csv)
        say("HTTP: listing ...")
        lists = await time_lists(base, token)
    return {
        "rows": args.sites,
        "units": len(units),
        "csv_mb": round(csv.stat().st_size / 1e6, 2),
        "domain_insert": domain_insert,
        "domain_update": domain_update,
        "http_insert": http_insert,
        "http_update": http_update,
        "lists": lists,
    }


def print_table(result: dict[str, Any]) -> None:
    n = result["rows"]
    print(f"\nImport of {n:,} sites ({result['csv_mb']} MB CSV, {result['units']} units)")
    print(f"{'path':<28}{'parse s':>9}{'write s':>9}{'total s':>9}{'rows/s':>10}")
    for key in ("domain_insert", "domain_update", "http_insert", "http_update"):
        r = result[key]
        parse = f"{r['parse_s']:.2f}" if "parse_s" in r else "-"
        write = f"{r['write_s']:.2f}" if "write_s" in r else "-"
        print(f"{key:<28}{parse:>9}{write:>9}{r['total_s']:>9.2f}{n / r['total_s']:>10,.0f}")
    print(f"\n{'GET /api/v1/sites':<40}{'best ms':>9}{'median ms':>11}")
    for r in result["lists"]:
        median = f"{r['median_ms']:.1f}" if r["median_ms"] is not None else "-"
        print(f"{r['case']:<40}{r['best_ms']:>9.1f}{median:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=40_000)
    parser.add_argument("--districts", type=int, default=10)
    parser.add_argument("--communes", type=int, default=70, help="communes per district")
    args = parser.parse_args()
    with bench_database() as dsn, tempfile.TemporaryDirectory(prefix="diemcau-bench-") as tmp:
        result = asyncio.run(run(args, dsn, Path(tmp)))
    print_table(result)
    write_results("import_sites", result)


if __name__ == "__main__":
    main()
