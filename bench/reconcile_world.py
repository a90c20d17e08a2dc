"""The reconciliation bench's world: a conference that has ended, written by COPY.

A unit tree (national > provinces > districts > communes), `sites` bridge points, a
roster of `delegates` (bench.checkin_world.copy_roster), one kiosk per site, and what
the session left behind: about 80% of the roster checked in (3% at another site, 2%
scanned twice, 10% out at the break and most of them back, a few annulled), walk-ins,
refused codes, headcounts at three moments (a few sites without, a few that disagree),
kiosks gone silent, absences.

The scans are judged by the service's own rules (diemcau.checkin.rules and timeline), so
`checkins`, `attendances` and `site_tallies` hold what check-in would have written, and
`diemcau reconcile --verify` finds them in agreement. Written a chunk of delegates at a
time, so 2,500,000 delegates fit in a few hundred MB.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.checkin_world import copy_roster
from bench.common import person, say
from diemcau.checkin import rules, timeline
from diemcau.checkin.records import State, from_micros, micros
from diemcau.checkin.timeline import TALLY_FIELDS, Entry, Tallies
from diemcau.queries.checkins import CHECKIN_COLUMNS

# _scan_row builds check-in records by position, in this order.
assert CHECKIN_COLUMNS == (
    "scan_id", "site_id", "kiosk_id", "delegate_id", "method", "direction", "scanned_at",
    "judged_at", "received_at", "result", "reason", "moved", "reentry", "skewed",
    "first_scanned_at", "first_site_id", "full_name", "category", "qr", "content_digest",
)  # fmt: skip
CHUNK = 100_000
ONE_SECOND = timedelta(seconds=1)
CAME = 0.8  # share of the roster that checks in (each site between 0.6 and 0.97)


@dataclass
class Plan:
    conference_id: int
    code: str
    opens_at: datetime
    starts_at: datetime
    ends_at: datetime
    site_ids: list[int]
    kiosk_of: dict[int, int]  # site id -> kiosk token id
    came: dict[int, float]  # site id -> share of its roster that comes
    tallies: Tallies = field(default_factory=dict)
    checkins: int = 0
    absences: int = 0


async def make_tree(conn: asyncpg.Connection, sites: int) -> list[int]:
    """national > provinces > districts > communes, sites under the communes."""
    provinces = max(1, sites // 700)
    districts = max(provinces, sites // 60)
    communes = max(districts, sites // 4)
    await conn.execute(
        "INSERT INTO units (code, name, level, path) VALUES ('VN', 'Việt Nam', 'national', '/VN/')"
    )
    levels = (
        ("P", provinces, "province", "Tỉnh", None),
        ("D", districts, "district", "Huyện", ("P", provinces)),
        ("C", communes, "commune", "Xã", ("D", districts)),
    )
    for prefix, n, level, word, parent in levels:
        parent_code = (
            "'VN'" if parent is None else f"'{parent[0]}' || lpad((i % {parent[1]})::text, 5, '0')"
        )
        await conn.execute(
            f"""INSERT INTO units (code, name, level, parent_id, path)
                SELECT '{prefix}' || lpad(i::text, 5, '0'), '{word} số ' || i, '{level}', p.id,
                       p.path || '{prefix}' || lpad(i::text, 5, '0') || '/'
                  FROM generate_series(0, $1 - 1) i
                  JOIN units p ON p.code = {parent_code}""",
            n,
        )
    rnd = random.Random(sites)
    capacities = [
        None if rnd.random() < 0.02 else rnd.choice((80, 120, 150, 200, 300)) for _ in range(sites)
    ]
    await conn.execute(
        f"""INSERT INTO sites (code, name, unit_id, level, capacity, status)
            SELECT 'S' || lpad(i::text, 5, '0'), 'Hội trường số ' || i, u.id, 'commune',
                   ($2::int[])[i + 1], 'ready'
              FROM generate_series(0, $1 - 1) i
              JOIN units u ON u.code = 'C' || lpad((i % {communes})::text, 5, '0')""",
        sites,
        capacities,
    )
    return [r["id"] for r in await conn.fetch("SELECT id FROM sites ORDER BY code")]


async def make_conference(conn: asyncpg.Connection, code: str, site_ids: list[int]) -> Plan:
    """A conference that ended an hour ago, every site taking part, one kiosk each."""
    now = datetime.now(UTC).replace(microsecond=0)
    ends = now - timedelta(hours=1)
    starts, opens = ends - timedelta(hours=4), ends - timedelta(hours=5)
    conference_id = await conn.fetchval(
        """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at, status,
                                    targets, unit_id)
           VALUES ($1, 'Hội nghị quán triệt nghị quyết (đo tốc độ đối soát)', $2, $3, $4,
                   'closed', '{"member": 0.98, "non_member": 0.9}',
                   (SELECT id FROM units WHERE code = 'VN'))
           RETURNING id""",
        code,
        starts,
        ends,
        opens,
    )
    await conn.execute(
        "INSERT INTO conference_sites (conference_id, site_id) SELECT $1, id FROM sites",
        conference_id,
    )
    rows = await conn.fetch(
        """WITH t AS (
               INSERT INTO tokens (token_hash, role, label, conference_id, site_id)
               SELECT sha256(convert_to('bench-kiosk-' || $1::bigint || '-' || id, 'UTF8')),
                      'kiosk', 'bench ' || code, $1::bigint, id FROM sites
               RETURNING id, site_id)
           INSERT INTO kiosks (token_id, conference_id, site_id, device_name, first_seen_at,
                               last_seen_at)
           SELECT id, $1, site_id, 'Máy cửa chính', $2, $3 FROM t
           RETURNING token_id, site_id""",
        conference_id,
        opens,
        ends - timedelta(minutes=1),
    )
    rnd = random.Random(conference_id)
    came = {s: min(0.97, max(0.6, rnd.gauss(CAME, 0.08))) for s in site_ids}
    kiosks = {r["site_id"]: r["token_id"] for r in rows}
    return Plan(conference_id, code, opens, starts, ends, site_ids, kiosks, came)


def _scan_row(
    plan: Plan, entry: Entry, delegate: int | None, verdict: rules.Verdict, **extra: Any
) -> tuple:
    """A `checkins` COPY record (conference_id, then CHECKIN_COLUMNS), built positionally:
    two million of them are made."""
    at = from_micros(entry.at)
    first = verdict.first
    return (
        plan.conference_id,
        uuid.UUID(bytes=entry.scan_id),
        entry.site_id,
        plan.kiosk_of[entry.site_id],
        delegate,
        extra.get("method", "qr"),
        "in" if entry.inward else "out",
        at,
        at,
        at + ONE_SECOND,
        verdict.result,
        verdict.reason,
        verdict.result == "accepted" and verdict.moved,
        verdict.reentry,
        False,
        from_micros(first.at) if first else None,
        first.site_id if first else None,
        extra.get("full_name"),
        extra.get("category"),
        extra.get("qr"),
        entry.scan_id,  # any 16 bytes: the digest of what a scan said, not checked here
    )


def _entries(plan: Plan, rnd: random.Random, home: int) -> list[Entry]:
    """One delegate's scans, in the order they happened (and arrived)."""
    span = int((plan.starts_at - plan.opens_at).total_seconds())
    at = micros(plan.opens_at) + rnd.randrange(span * 1_000_000)
    site = home if rnd.random() < 0.97 else rnd.choice(plan.site_ids)
    entries = [Entry(at, True, site, rnd.randbytes(16))]
    if rnd.random() < 0.02:  # the badge scanned again a few minutes later
        entries.append(
            Entry(at + rnd.randrange(60, 600) * 1_000_000, True, site, rnd.randbytes(16))
        )
    if rnd.random() < 0.10:  # out at the break, most of them back
        brk = micros(plan.starts_at) + (7200 + rnd.randrange(600)) * 1_000_000
        entries.append(Entry(brk, False, site, rnd.randbytes(16)))
        if rnd.random() < 0.7:
            entries.append(
                Entry(brk + rnd.randrange(900, 1500) * 1_000_000, True, site, rnd.randbytes(16))
            )
    return entries


def _attend(
    plan: Plan, rnd: random.Random, delegate: int, home: int, category: str, out: dict[str, list]
) -> None:
    """Judge one delegate's scans with the service's rules, as check-in would have."""
    held: list[Entry] = []
    for entry in _entries(plan, rnd, home):
        verdict = rules.decide(held, entry, entry.site_id != home)
        out["checkins"].append(_scan_row(plan, entry, delegate, verdict))
        timeline.bump(
            plan.tallies,
            entry.site_id,
            "accepted_scans" if verdict.result == "accepted" else "refused_scans",
        )
    state = State(category, home, [], held, False)
    timeline.contribute(plan.tallies, held, home, category)
    out["attendances"].append((plan.conference_id, *state.row(delegate)))


def _walk_ins_and_junk(plan: Plan, rnd: random.Random, site: int, out: dict[str, list]) -> None:
    at = plan.opens_at + timedelta(minutes=rnd.randrange(1, 90))
    entry = Entry(micros(at), True, site, rnd.randbytes(16))
    for _ in range(rnd.choice((0, 0, 1, 1, 2))):
        category = rnd.choice(("non_member", "non_member", "guest", "member"))
        entry = Entry(entry.at + 60_000_000, True, site, rnd.randbytes(16))
        out["checkins"].append(
            _scan_row(
                plan,
                entry,
                None,
                rules.Verdict("accepted", "walk_in"),
                method="walk_in",
                full_name=person(rnd.randrange(10**6)),
                category=category,
            )
        )
        timeline.bump(plan.tallies, site, f"walk_ins_{category}")
        timeline.bump(plan.tallies, site, "present")
        timeline.bump(plan.tallies, site, "accepted_scans")
    if rnd.random() < 0.3:  # a photo of a badge from another conference, a torn code
        entry = Entry(entry.at + 60_000_000, True, site, rnd.randbytes(16))
        out["checkins"].append(
            _scan_row(plan, entry, None, rules.Verdict("invalid", "malformed"), qr="rác")
        )
        timeline.bump(plan.tallies, site, "refused_scans")


async def _write(conn: asyncpg.Connection, out: dict[str, list]) -> None:
    from diemcau.queries.checkins import ATTENDANCE_COLUMNS

    await conn.copy_records_to_table(
        "checkins", records=out["checkins"], columns=("conference_id", *CHECKIN_COLUMNS)
    )
    await conn.copy_records_to_table(
        "attendances", records=out["attendances"], columns=("conference_id", *ATTENDANCE_COLUMNS)
    )
    if out["absences"]:
        await conn.copy_records_to_table(
            "absences",
            records=out["absences"],
            columns=("delegate_id", "conference_id", "reason", "note", "makeup_owed", "actor"),
        )


REASONS = ("sick", "on_duty", "on_duty", "travel", "other")


async def write_session(conn: asyncpg.Connection, plan: Plan, seed: int) -> None:
    """Scans, attendances, walk-ins, refusals and absences, a chunk of the roster at a time."""
    rnd = random.Random(seed)
    after = 0
    while True:
        rows = await conn.fetch(
            """SELECT id, site_id, category FROM delegates WHERE conference_id = $1 AND id > $2
                ORDER BY id LIMIT $3""",
            plan.conference_id,
            after,
            CHUNK,
        )
        if not rows:
            break
        after = rows[-1]["id"]
        out: dict[str, list] = {"checkins": [], "attendances": [], "absences": []}
        for r in rows:
            if rnd.random() < plan.came[r["site_id"]]:
                _attend(plan, rnd, r["id"], r["site_id"], r["category"], out)
            elif rnd.random() < 0.3:
                reason = rnd.choice(REASONS)
                out["absences"].append(
                    (r["id"], plan.conference_id, reason, None, reason == "sick", "bench")
                )
        plan.checkins += len(out["checkins"])
        plan.absences += len(out["absences"])
        await _write(conn, out)
        say(f"  {plan.checkins:,} scans written")
    out = {"checkins": [], "attendances": [], "absences": []}
    for site in plan.site_ids:
        _walk_ins_and_junk(plan, rnd, site, out)
    plan.checkins += len(out["checkins"])
    await _write(conn, out)


async def write_tallies(conn: asyncpg.Connection, plan: Plan) -> None:
    """site_tallies as check-in keeps them, from the same judgements."""
    records = [
        (plan.conference_id, site, *values, plan.ends_at - timedelta(minutes=70), n + 1)
        for n, (site, values) in enumerate(sorted(plan.tallies.items()))
    ]
    await conn.copy_records_to_table(
        "site_tallies",
        records=records,
        columns=("conference_id", "site_id", *TALLY_FIELDS, "last_scan_at", "seq"),
    )
    await conn.execute("SELECT setval('live_seq', $1)", len(records) + 1)


async def write_headcounts(conn: asyncpg.Connection, plan: Plan, seed: int) -> None:
    """Three moments at most sites, near what the scans say; some sites off, some without."""
    rnd = random.Random(seed)
    present = {
        r["site_id"]: r["n"]
        for r in await conn.fetch(
            """SELECT site_id, checked_in_member + checked_in_non_member + checked_in_guest
                      + walk_ins_member + walk_ins_non_member + walk_ins_guest AS n
                 FROM site_tallies WHERE conference_id = $1""",
            plan.conference_id,
        )
    }
    records = []
    moments = (
        ("start", plan.starts_at, 1.0),
        ("after_break", plan.starts_at + timedelta(hours=2, minutes=30), 0.93),
        ("end", plan.ends_at, 0.9),
    )
    for site in plan.site_ids:
        if rnd.random() < 0.01:
            continue  # nobody counted
        n = present.get(site, 0)
        if rnd.random() < 0.02:
            n = int(
                n * rnd.choice((0.8, 1.2))
            )  # a hall counted wrong, or people came without scanning
        for moment, at, share in moments:
            total = int(n * share)
            members = int(total * 0.7)
            records.append(
                (plan.conference_id, site, moment, at, members, total - members, 0, "bench")
            )
    await conn.copy_records_to_table(
        "headcounts",
        records=records,
        columns=(
            "conference_id",
            "site_id",
            "moment",
            "counted_at",
            "members",
            "non_members",
            "guests",
            "actor",
        ),
    )


async def silence_kiosks(conn: asyncpg.Connection, plan: Plan, seed: int) -> None:
    """A few kiosks went quiet during the session: some came back, some never did."""
    rnd = random.Random(seed)
    quiet = rnd.sample(plan.site_ids, max(1, len(plan.site_ids) // 200))
    back = quiet[: len(quiet) // 2]
    gone = quiet[len(quiet) // 2 :]
    await conn.copy_records_to_table(
        "kiosk_silences",
        records=[
            (
                plan.kiosk_of[s],
                plan.starts_at + timedelta(minutes=30),
                plan.starts_at + timedelta(minutes=48),
            )
            for s in back
        ],
        columns=("token_id", "silent_from", "silent_until"),
    )
    await conn.execute(
        "UPDATE kiosks SET last_seen_at = $2 WHERE token_id = ANY($1::bigint[])",
        [plan.kiosk_of[s] for s in gone],
        plan.starts_at + timedelta(hours=1),
    )


async def build(conn: asyncpg.Connection, delegates: int, sites: int, code: str = "RECON") -> Plan:
    say(f"{delegates:,} delegates over {sites:,} sites: units and sites")
    site_ids = await make_tree(conn, sites)
    plan = await make_conference(conn, code, site_ids)
    say(f"{code}: roster of {delegates:,} by COPY")
    await copy_roster(conn, plan.conference_id, site_ids, delegates, 1)
    say(f"{code}: the session's scans, judged by the check-in rules")
    await write_session(conn, plan, 2)
    await write_tallies(conn, plan)
    await write_headcounts(conn, plan, 3)
    await silence_kiosks(conn, plan, 4)
    say("VACUUM (ANALYZE) and CHECKPOINT")
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    return plan
