"""The check-in bench's world, made before anything is timed.

Sites and units, conferences open for check-in now, a roster of delegates copied in,
every delegate's code signed with the conference's key and its digest recorded in
`issued_codes` (what issuance does when it prints a badge), kiosk tokens made by
`auth.create_token`, and the plan: which delegates are scanned, in which order, by which
kiosk.

Scans go in **groups** of about 145 sites. At 10,000 delegates a group is one
conference (a province's roster); one roster holds too few fresh codes for a run of
several seconds at thousands of scans a second, so the small case is a series of such
conferences scanned one after another. At 2,500,000 delegates a group is a block of 145
of the one conference's 40,000 sites. Either way the door traffic at any moment comes
from about 145 sites with two kiosks each, so the two sizes differ only in the roster.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import person, say
from diemcau import auth, credentials, keystore
from diemcau.auth import CLI
from diemcau.checkin.identify import code_digest
from diemcau.config import Config
from diemcau.credentials import Claims

GROUP_SITES = 145
KIOSKS_PER_SITE = 2
CATEGORIES = ["member"] * 7 + ["non_member"] * 2 + ["guest"]
SIGN_CHUNK = 50_000


@dataclass
class Group:
    """About 145 sites of one conference, their kiosks, and the delegates scanned there."""

    conference_id: int
    conference_code: str
    site_ids: list[int]
    kiosks: dict[int, list[str]] = field(default_factory=dict)  # site id -> tokens
    scans: list[tuple[int, int]] = field(default_factory=list)  # (delegate id, site id)


@dataclass
class World:
    delegates: int
    sites: int
    conferences: int
    groups: list[Group]
    codes: dict[int, str]  # delegate id -> code, for the scanned delegates only
    kiosk_count: int = 0


def plan_conferences(delegates: int, scans: int) -> int:
    """How many rosters of `delegates` the plan needs (one above 100,000)."""
    if delegates > 100_000:
        return 1
    return max(1, -(-scans // delegates))


def sites_for(delegates: int) -> int:
    return 145 if delegates <= 100_000 else 40_000


async def make_sites(conn: asyncpg.Connection, sites: int) -> list[int]:
    """Units (one per 10 sites) under one province, and the sites; answers site ids."""
    province = await conn.fetchval(
        "INSERT INTO units (code, name, level, path) VALUES ('VN', 'Việt Nam', 'national', "
        "'/VN/') RETURNING id"
    )
    await conn.execute(
        """INSERT INTO units (code, name, level, parent_id, path)
           SELECT 'U' || lpad(i::text, 5, '0'), 'Xã số ' || i, 'commune', $2,
                  '/VN/U' || lpad(i::text, 5, '0') || '/'
             FROM generate_series(0, ($1 - 1) / 10) i""",
        sites,
        province,
    )
    await conn.execute(
        """INSERT INTO sites (code, name, unit_id, level, capacity)
           SELECT 'S' || lpad(i::text, 5, '0'), 'Hội trường xã số ' || i,
                  (SELECT id FROM units WHERE code = 'U' || lpad((i / 10)::text, 5, '0')),
                  'commune', 200
             FROM generate_series(0, $1 - 1) i""",
        sites,
    )
    return [r["id"] for r in await conn.fetch("SELECT id FROM sites ORDER BY code")]


async def make_conference(conn: asyncpg.Connection, code: str) -> int:
    """A conference open for check-in since an hour ago, ending in eight hours."""
    now = datetime.now(UTC)
    conference_id: int = await conn.fetchval(
        """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at, status)
           VALUES ($1, 'Hội nghị đo tốc độ điểm danh', $2, $3, $4, 'live') RETURNING id""",
        code,
        now - timedelta(minutes=10),
        now + timedelta(hours=8),
        now - timedelta(hours=1),
    )
    await conn.execute(
        "INSERT INTO conference_sites (conference_id, site_id) SELECT $1, id FROM sites",
        conference_id,
    )
    return conference_id


async def copy_roster(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int], delegates: int, seed: int
) -> None:
    """`delegates` rows with realistic names over the sites, by COPY (as an import does)."""
    units = dict(await conn.fetch("SELECT id, unit_id FROM sites"))
    rnd = random.Random(seed)

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(delegates):
            site = site_ids[rnd.randrange(len(site_ids))]
            yield (
                conference_id,
                f"DV{seed:03d}{i:08d}",
                person(rnd.randrange(1_000_000)),
                CATEGORIES[i % 10],
                site,
                units[site],
            )

    await conn.copy_records_to_table(
        "delegates",
        columns=["conference_id", "external_id", "full_name", "category", "site_id", "unit_id"],
        records=rows(),
    )


def sign_chunk(
    private_raw: bytes, kid: str, conference_id: int, chunk: list[tuple[int, int]]
) -> list[tuple[int, str]]:
    """Codes for (delegate id, site id) pairs, version 1 (run in a worker process)."""
    private = Ed25519PrivateKey.from_private_bytes(private_raw)
    return [(d, credentials.sign(Claims(kid, conference_id, d, s, 1), private)) for d, s in chunk]


async def issue_codes(
    conn: asyncpg.Connection, config: Config, conference_id: int, wanted: set[int]
) -> dict[int, str]:
    """Sign every delegate's code in worker processes and record every digest, as
    issuance does for printed badges; answers the codes of the `wanted` delegates."""
    key = await keystore.signing_key(
        conn, keystore.Keystore.from_config(config), conference_id, CLI
    )
    pairs = [
        (r["id"], r["site_id"])
        for r in await conn.fetch(
            "SELECT id, site_id FROM delegates WHERE conference_id = $1", conference_id
        )
    ]
    raw = key.private.private_bytes_raw()
    chunks = [pairs[i : i + SIGN_CHUNK] for i in range(0, len(pairs), SIGN_CHUNK)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2) as pool:
        futures = [
            loop.run_in_executor(pool, sign_chunk, raw, key.kid, conference_id, c) for c in chunks
        ]
        codes: dict[int, str] = {}
        for future in futures:
            done = await future
            await conn.copy_records_to_table(
                "issued_codes",
                columns=["delegate_id", "version", "kid", "digest"],
                records=[(d, 1, key.kid, code_digest(text)) for d, text in done],
            )
            codes.update((d, text) for d, text in done if d in wanted)
    return codes


async def make_kiosks(conn: asyncpg.Connection, group: Group, per_site: list[int]) -> None:
    """`per_site[i]` kiosk tokens at the group's i-th site, made as `diemcau token create`
    does."""
    codes = dict(await conn.fetch("SELECT id, code FROM sites WHERE id = ANY($1)", group.site_ids))
    for site, count in zip(group.site_ids, per_site, strict=True):
        group.kiosks[site] = [
            (
                await auth.create_token(
                    conn,
                    "kiosk",
                    label=f"bench {codes[site]}/{n}",
                    conference=group.conference_code,
                    site=codes[site],
                )
            )[0]
            for n in range(count)
        ]


def kiosks_per_site(groups: list[Group], kiosks: int | None) -> list[list[int]]:
    """Per group, the kiosks at each site: two everywhere, or `kiosks` in all spread as
    evenly as they go over every site of every group (a site may get none)."""
    if kiosks is None:
        return [[KIOSKS_PER_SITE] * len(g.site_ids) for g in groups]
    total = sum(len(g.site_ids) for g in groups)
    base, extra = divmod(kiosks, total)
    out, n = [], 0
    for g in groups:
        out.append([base + (1 if n + i < extra else 0) for i in range(len(g.site_ids))])
        n += len(g.site_ids)
    return out


async def _group_scans(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int], rnd: random.Random
) -> list[tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT id, site_id FROM delegates WHERE conference_id = $1 AND site_id = ANY($2)",
        conference_id,
        site_ids,
    )
    scans = [(r["id"], r["site_id"]) for r in rows]
    rnd.shuffle(scans)  # people arrive in no order
    return scans


async def build(
    conn: asyncpg.Connection, config: Config, delegates: int, scans: int, kiosks: int | None = None
) -> World:
    """The whole world for one roster size; `scans` is how many fresh codes a run may use,
    `kiosks` how many kiosk tokens in all (None: two at each scanned site)."""
    sites = sites_for(delegates)
    say(f"{delegates:,} delegates over {sites:,} sites: sites and units")
    site_ids = await make_sites(conn, sites)
    rnd = random.Random(delegates)
    groups: list[Group] = []
    codes: dict[int, str] = {}
    count = plan_conferences(delegates, scans)
    for n in range(count):
        code = f"BENCH{n:03d}"
        conference_id = await make_conference(conn, code)
        say(f"{code}: roster of {delegates:,} by COPY")
        await copy_roster(conn, conference_id, site_ids, delegates, n)
        blocks = [site_ids[i : i + GROUP_SITES] for i in range(0, len(site_ids), GROUP_SITES)]
        mine: list[Group] = []
        for block in blocks:
            if sum(len(g.scans) for g in groups + mine) >= scans:
                break
            group = Group(conference_id, code, block)
            group.scans = await _group_scans(conn, conference_id, block, rnd)
            mine.append(group)
        wanted = {d for g in mine for d, _ in g.scans}
        say(f"{code}: signing {delegates:,} codes in 2 processes, digests into issued_codes")
        codes.update(await issue_codes(conn, config, conference_id, wanted))
        groups += mine
    spread = kiosks_per_site(groups, kiosks)
    say(f"kiosk tokens: {sum(map(sum, spread)):,} over {sum(map(len, spread)):,} sites")
    for group, per_site in zip(groups, spread, strict=True):
        await make_kiosks(conn, group, per_site)
    # What autovacuum and the checkpointer would do in the hours between a roster import
    # and the session, done now: otherwise they run in the first measured seconds.
    say("VACUUM (ANALYZE) and CHECKPOINT")
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    world = World(delegates, sites, count, groups, codes)
    world.kiosk_count = sum(len(t) for g in groups for t in g.kiosks.values())
    return world


@dataclass
class Scan:
    group: int
    token: str  # a kiosk of the delegate's own site
    body: str  # the scan object as JSON text


def plan(world: World, limit: int, scanned_at: datetime) -> list[Scan]:
    """Up to `limit` scans of distinct delegates, group after group; each by a kiosk of
    the delegate's site (in turn between its kiosks), so the answers are `accepted`.
    A site with no kiosk (more sites than kiosks) has no scan."""
    out: list[Scan] = []
    stamp = scanned_at.isoformat()
    for g, group in enumerate(world.groups):
        turns: dict[int, int] = {}
        for delegate, site in group.scans:
            if len(out) >= limit:
                return out
            if not group.kiosks[site]:
                continue
            n = turns[site] = turns.get(site, -1) + 1
            token = group.kiosks[site][n % len(group.kiosks[site])]
            body = (
                f'{{"scan_id":"{uuid.uuid4()}","scanned_at":"{stamp}",'
                f'"qr":"{world.codes[delegate]}"}}'
            )
            out.append(Scan(g, token, body))
    return out
