"""The rehearsal's world, made the way an organiser makes it: the unit tree (by SQL, as
`diemcau unit` would), then over HTTP the sites imported from CSV, the conference open
now, its sites, the roster imported from CSV, and a sample of badge PDFs decoded and
verified with the public keys alone. Then what the load generator needs and a person
would not make by hand: every code signed with the conference's key (as printing every
badge does), two kiosk tokens a site, a viewer token, and the plan: which delegates each
kiosk scans, in which order.

The tree: a root unit (the province, or the nation), `mids` units under it (districts,
or provinces), and a leaf unit for every ten sites under those. Dashboards watch leaves
(ten sites each), mids and the root.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from bench.checkin_world import CATEGORIES, issue_codes
from bench.common import person, say
from bench.lai_chau import decode_sample
from diemcau import auth
from diemcau.config import Config
from diemcau.db import connect

SITES_A_LEAF = 10
CODE = "REHEARSAL"


@dataclass
class Shape:
    sites: int
    delegates: int
    mids: int  # units between the root and the leaves
    root: tuple[str, str, str]  # code, name, level
    mid_level: str


@dataclass
class World:
    conference_id: int
    sites: list[str]  # site codes
    site_ids: dict[str, int]
    leaves: list[str]
    mids: list[str]
    root: str
    kiosks: dict[str, list[str]] = field(default_factory=dict)  # site code -> tokens
    organiser: str = ""
    viewer: str = ""
    codes: dict[int, str] = field(default_factory=dict)  # delegate id -> code (scanned ones)
    delegates: list[tuple[int, str, str]] = field(default_factory=list)  # (id, site, category)
    timings: dict[str, float] = field(default_factory=dict)


def leaf_of(i: int) -> str:
    return f"L{i // SITES_A_LEAF:05d}"


def site_code(i: int) -> str:
    return f"S{i:05d}"


async def make_units(conn: asyncpg.Connection, shape: Shape) -> tuple[str, list[str], list[str]]:
    """The unit tree in three levels; answers (root, mids, leaves)."""
    root, name, level = shape.root
    await conn.execute(
        "INSERT INTO units (code, name, level, path) VALUES ($1, $2, $3, $4)",
        root,
        name,
        level,
        f"/{root}/",
    )
    mids = [f"M{m:03d}" for m in range(shape.mids)]
    await conn.executemany(
        """INSERT INTO units (code, name, level, parent_id, path)
           VALUES ($1, $2, $3, (SELECT id FROM units WHERE code = $4), $5)""",
        [(m, f"Đơn vị {m}", shape.mid_level, root, f"/{root}/{m}/") for m in mids],
    )
    leaves = sorted({leaf_of(i) for i in range(shape.sites)})
    await conn.executemany(
        """INSERT INTO units (code, name, level, parent_id, path)
           VALUES ($1, $2, 'commune', (SELECT id FROM units WHERE code = $3), $4)""",
        [
            (leaf, f"Xã {leaf}", mids[n % len(mids)], f"/{root}/{mids[n % len(mids)]}/{leaf}/")
            for n, leaf in enumerate(leaves)
        ],
    )
    return root, mids, leaves


def sites_csv(n: int) -> bytes:
    lines = ["code,name,unit_code,level,capacity"]
    lines += [
        f"{site_code(i)},Điểm cầu {person(i * 13)} {i},{leaf_of(i)},commune,{120 + i % 5 * 40}"
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def roster_csv(delegates: int, sites: int) -> bytes:
    rnd = random.Random(11873)
    lines = ["external_id,full_name,category,site_code,unit_code"]
    for i in range(delegates):
        s = rnd.randrange(sites)
        lines.append(f"DV{i:08d},{person(i)},{CATEGORIES[i % 10]},{site_code(s)},{leaf_of(s)}")
    return ("\n".join(lines) + "\n").encode()


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> bytes:
    async with http.request(method, url, **kw) as resp:
        body = await resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {url}: {resp.status} {body[:600]!r}")
        return body


def conference(sites: list[str]) -> dict[str, Any]:
    """Open for check-in since an hour ago, started ten minutes ago, ending in eight hours."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "code": CODE,
        "title": "Tổng duyệt hội nghị trực tuyến toàn quốc",
        "checkin_opens_at": (now - timedelta(hours=1)).isoformat(),
        "starts_at": (now - timedelta(minutes=10)).isoformat(),
        "ends_at": (now + timedelta(hours=8)).isoformat(),
        "host_site": sites[0],
        "policy": {"other_site": "accept"},
        "targets": {"member": 0.98, "non_member": 0.9},
    }


async def import_over_http(base: str, token: str, shape: Shape, world: World) -> None:
    """Sites, conference and roster through the API, timed."""
    headers = {"Authorization": f"Bearer {token}"}
    conf = f"{base}/api/v1/conferences/{CODE}"
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=900)
    ) as http:
        began = time.perf_counter()
        csv = {"Content-Type": "text/csv"}
        await call(
            http, "POST", f"{base}/api/v1/sites/import", data=sites_csv(shape.sites), headers=csv
        )
        world.timings["sites_import_s"] = round(time.perf_counter() - began, 2)
        await call(http, "POST", f"{base}/api/v1/conferences", json=conference(world.sites))
        await call(http, "PUT", f"{conf}/sites", json={"sites": world.sites})
        roster = await asyncio.to_thread(roster_csv, shape.delegates, shape.sites)
        say(
            f"roster CSV: {shape.delegates:,} rows, {len(roster) / 1e6:.1f} MB; importing over HTTP"
        )
        began = time.perf_counter()
        await call(http, "POST", f"{conf}/delegates/import", data=roster, headers=csv)
        world.timings["roster_import_s"] = round(time.perf_counter() - began, 2)


async def badge_sample(base: str, token: str, world: World, sample: int) -> dict[str, Any]:
    """`sample` sites' badges.pdf over HTTP; the first page of each decoded and verified."""
    headers = {"Authorization": f"Bearer {token}"}
    picked = world.sites[:: max(1, len(world.sites) // sample)][:sample]
    async with aiohttp.ClientSession(headers=headers) as http:
        began = time.perf_counter()
        pdfs = {}
        for code in picked:
            url = f"{base}/api/v1/conferences/{CODE}/sites/{code}/badges.pdf"
            pdfs[code] = await call(http, "GET", url)
        seconds = time.perf_counter() - began
        jwks = await (await http.get(f"{base}/api/v1/conferences/{CODE}/keys")).json()
    decoded = await asyncio.to_thread(decode_sample, pdfs, jwks, sample)
    return {"sites": len(picked), "badge_pdfs_s": round(seconds, 2), **decoded}


def kiosk_spread(sites: list[str], kiosks: int) -> dict[str, int]:
    """Two kiosks at every site, or with fewer, one at each of `kiosks` sites spread
    evenly over the list (the others scan nothing in the rush)."""
    if kiosks >= 2 * len(sites):
        return dict.fromkeys(sites, 2)
    step = len(sites) / kiosks
    return {sites[int(n * step)]: 1 for n in range(kiosks)}


async def build(
    dsn: str, config: Config, base: str, shape: Shape, scans: int, kiosks: int
) -> World:
    """Everything before the rush; `scans` is how many delegates the rush scans, `kiosks`
    how many kiosks scan them."""
    conn = await connect(dsn)
    try:
        root, mids, leaves = await make_units(conn, shape)
        organiser, _ = await auth.create_token(conn, "organiser", label="rehearsal")
        sites = [site_code(i) for i in range(shape.sites)]
        world = World(0, sites, {}, leaves, mids, root, organiser=organiser)
        await import_over_http(base, organiser, shape, world)
        world.conference_id = await conn.fetchval(
            "SELECT id FROM conferences WHERE code = $1", CODE
        )
        world.site_ids = dict(await conn.fetch("SELECT code, id FROM sites"))
        spread = kiosk_spread(sites, kiosks)
        await _plan_delegates(conn, config, world, scans, set(spread))
        world.viewer, _ = await auth.create_token(conn, "viewer", label="board", conference=CODE)
        say(f"kiosk tokens: {sum(spread.values()):,} over {len(spread):,} sites")
        for code, count in spread.items():
            world.kiosks[code] = [
                (
                    await auth.create_token(
                        conn, "kiosk", label=f"{code}/{n}", conference=CODE, site=code
                    )
                )[0]
                for n in range(count)
            ]
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return world


async def _plan_delegates(
    conn: asyncpg.Connection, config: Config, world: World, scans: int, at: set[str]
) -> None:
    """The delegates of the sites `at` the rush scans (in no order), and every code."""
    by_code = {v: k for k, v in world.site_ids.items()}
    rows = await conn.fetch(
        "SELECT id, site_id, category FROM delegates WHERE conference_id = $1", world.conference_id
    )
    people = [(r["id"], by_code[r["site_id"]], r["category"]) for r in rows]
    people = [p for p in people if p[1] in at]
    random.Random(7).shuffle(people)
    world.delegates = people[:scans]
    say(f"signing {len(rows):,} codes in 2 processes (as printing every badge does)")
    began = time.perf_counter()
    wanted = {d for d, _, _ in world.delegates}
    world.codes = await issue_codes(conn, config, world.conference_id, wanted)
    world.timings["codes_signed_s"] = round(time.perf_counter() - began, 2)


@dataclass
class PlannedScan:
    scan_id: str
    delegate: int
    site: str
    category: str
    kiosk: int  # index into the flat list of kiosks
    prefix: str  # the scan's JSON without its closing scanned_at


def plan(world: World) -> tuple[list[tuple[str, str]], list[PlannedScan]]:
    """The flat list of kiosks (site, token), and every scan with its kiosk: a delegate
    is scanned by a kiosk of their own site, in turn between the site's two kiosks."""
    kiosks = [(site, t) for site, tokens in world.kiosks.items() for t in tokens]
    index = {t: n for n, (_, t) in enumerate(kiosks)}
    turns: dict[str, int] = {}
    out = []
    for delegate, site, category in world.delegates:
        n = turns[site] = turns.get(site, -1) + 1
        token = world.kiosks[site][n % len(world.kiosks[site])]
        scan_id = str(uuid.uuid4())
        prefix = f'{{"scan_id":"{scan_id}","qr":"{world.codes[delegate]}"'
        out.append(PlannedScan(scan_id, delegate, site, category, index[token], prefix))
    return kiosks, out
