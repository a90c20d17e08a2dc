"""Bench: the Lai Châu session end to end (issue 3's "done when"), over real HTTP.

    python -m bench.lai_chau [--sites 145] [--delegates 11873] [--sample 10]

145 bridge points imported from CSV; a conference over all of them; a roster of 11,873
delegates imported from one XLSX file (categories written both ways, Vietnamese names);
then every site's badges.pdf fetched over HTTP, and a sample of pages rasterised
(pypdfium2) and decoded (zxing-cpp, QR only) to codes that verify with the JWK set
alone. Needs the test extras (`pip install '.[test]'`). Writes
bench/results/lai_chau.json.
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
import pypdfium2 as pdfium
import zxingcpp
from openpyxl import Workbook

from bench.common import bench_database, person, running_service, say, write_results
from diemcau import auth, credentials
from diemcau.db import connect
from diemcau.tabular import XLSX_MEDIA

CATEGORIES = ("member", "đảng viên", "non_member", "Quần chúng", "guest", "khách mời")


def sites_csv(n: int) -> bytes:
    lines = ["code,name,unit_code,level,capacity"]
    for i in range(n):
        lines.append(
            f"LC-{i:03d},Điểm cầu {person(i * 13)} {i},LC-D{i % 8},commune,{80 + i % 5 * 40}"
        )
    return ("\n".join(lines) + "\n").encode()


def roster_xlsx(delegates: int, sites: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách")
    sheet.append(
        ["STT", "external_id", "full_name", "category", "site_code", "unit_code", "phone", "email"]
    )
    rng = random.Random(11873)
    for i in range(delegates):
        sheet.append(
            [
                i + 1,
                f"DV{i:06d}",
                person(i),
                CATEGORIES[rng.randrange(len(CATEGORIES))],
                f"LC-{i % sites:03d}",
                f"LC-D{(i % sites) % 8}",
                f"09{rng.randrange(10**8):08d}",
                "",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def setup(dsn: str) -> str:
    conn = await connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO units (code, name, level, path) VALUES ('LC', 'Tỉnh Lai Châu', 'province', '/LC/')"
        )
        for d in range(8):
            await conn.execute(
                """INSERT INTO units (code, name, level, parent_id, path)
                   VALUES ($1, $2, 'district', (SELECT id FROM units WHERE code = 'LC'), $3)""",
                f"LC-D{d}",
                f"Huyện {d}",
                f"/LC/LC-D{d}/",
            )
        token, _ = await auth.create_token(conn, "organiser", label="bench")
        return token
    finally:
        await conn.close()


async def call(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with session.request(method, url, **kw) as resp:
        body = await resp.read()
        if resp.status >= 300:
            raise SystemExit(f"{method} {url}: {resp.status} {body[:600]!r}")
        return body


def decode_sample(pdfs: dict[str, bytes], jwks: dict[str, Any], sample: int) -> dict[str, int]:
    verifier = credentials.Verifier(jwks)
    seen = verified = 0
    for code in sorted(pdfs)[:: max(1, len(pdfs) // sample)][:sample]:
        page = pdfium.PdfDocument(pdfs[code])[0].render(scale=150 / 72).to_pil()
        for found in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode):
            seen += 1
            verifier.verify(found.text)
            verified += 1
    return {"codes_decoded": seen, "codes_verified": verified}


async def run(args: argparse.Namespace, dsn: str, workdir: Path) -> dict[str, Any]:
    token = await setup(dsn)
    headers = {"Authorization": f"Bearer {token}"}
    roster = await asyncio.to_thread(roster_xlsx, args.delegates, args.sites)
    say(f"roster XLSX: {args.delegates:,} rows, {len(roster) / 1e6:.1f} MB")
    result: dict[str, Any] = {"sites": args.sites, "delegates": args.delegates}
    async with running_service(dsn, workdir) as base, aiohttp.ClientSession(headers=headers) as s:
        await call(
            s,
            "POST",
            f"{base}/api/v1/sites/import",
            data=sites_csv(args.sites),
            headers={"Content-Type": "text/csv"},
        )
        codes = [f"LC-{i:03d}" for i in range(args.sites)]
        conference = {
            "code": "LC-NQ",
            "title": "Hội nghị trực tuyến học tập, quán triệt Nghị quyết",
            "starts_at": "2026-12-15T07:30:00",
            "ends_at": "2026-12-15T11:30:00",
            "checkin_opens_at": "2026-12-15T06:30:00",
            "host_site": codes[0],
            "policy": {"other_site": "accept"},
            "targets": {"member": 0.98, "non_member": 0.9},
        }
        await call(s, "POST", f"{base}/api/v1/conferences", json=conference)
        await call(s, "PUT", f"{base}/api/v1/conferences/LC-NQ/sites", json={"sites": codes})
        say("importing the roster over HTTP ...")
        started = time.perf_counter()
        await call(
            s,
            "POST",
            f"{base}/api/v1/conferences/LC-NQ/delegates/import",
            data=roster,
            headers={"Content-Type": XLSX_MEDIA},
        )
        result["roster_import_s"] = round(time.perf_counter() - started, 2)
        say(f"  {result['roster_import_s']} s; fetching {args.sites} badge PDFs ...")
        started = time.perf_counter()
        gate = asyncio.Semaphore(2)

        async def fetch(code: str) -> tuple[str, bytes]:
            async with gate:
                return code, await call(
                    s, "GET", f"{base}/api/v1/conferences/LC-NQ/sites/{code}/badges.pdf"
                )

        pdfs = dict(await asyncio.gather(*(fetch(c) for c in codes)))
        result["badges_s"] = round(time.perf_counter() - started, 2)
        result["badge_pdf_mb"] = round(sum(len(p) for p in pdfs.values()) / 1e6, 1)
        jwks = await (await s.get(f"{base}/api/v1/conferences/LC-NQ/keys")).json()
    say(f"  {result['badges_s']} s; decoding a sample of pages ...")
    result.update(await asyncio.to_thread(decode_sample, pdfs, jwks, args.sample))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=145)
    parser.add_argument("--delegates", type=int, default=11_873)
    parser.add_argument(
        "--sample", type=int, default=10, help="site PDFs whose first page is decoded"
    )
    args = parser.parse_args()
    with bench_database() as dsn, tempfile.TemporaryDirectory(prefix="diemcau-bench-") as tmp:
        result = asyncio.run(run(args, dsn, Path(tmp)))
    print(f"\nLai Châu: {args.delegates:,} delegates over {args.sites} sites")
    print(f"{'roster import (XLSX over HTTP)':<40}{result['roster_import_s']:>8.2f} s")
    print(
        f"{'badges.pdf for every site (HTTP)':<40}{result['badges_s']:>8.2f} s  ({result['badge_pdf_mb']} MB)"
    )
    print(
        f"{'sample pages: codes decoded / verified':<40}{result['codes_decoded']:>8} / {result['codes_verified']}"
    )
    write_results("lai_chau", result)


if __name__ == "__main__":
    main()
