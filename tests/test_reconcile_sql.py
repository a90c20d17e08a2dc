"""Reconciliation's SQL against the check-in code it mirrors: timelines packed by
diemcau.checkin.timeline and read by queries/reconcile.py give the counts
`timeline.contribute` gives; kiosks' silences are cut to the session."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from diemcau.checkin import timeline
from diemcau.checkin.records import State, micros
from diemcau.checkin.timeline import Entry, Tallies
from diemcau.queries.checkins import ATTENDANCE_COLUMNS
from diemcau.queries.conferences import fetch_conference
from diemcau.reconcile.rows import compute, snapshot
from tests.factory import Factory

SITES = ("S1", "S2", "S3")


async def small_world(factory: Factory, db: asyncpg.Connection) -> tuple[int, dict[str, int]]:
    await factory.unit("VN", level="national")
    for code in SITES:
        await factory.site(code, unit="VN")
    conference = await factory.conference("HN1", sites=list(SITES), starts_in=timedelta(hours=-1))
    ids = dict(await db.fetch("SELECT code, id FROM sites"))
    return conference["id"], ids


def random_timeline(rnd: random.Random, site_ids: list[int]) -> list[Entry]:
    entries: list[Entry] = []
    at = micros(datetime(2026, 12, 15, 1, tzinfo=UTC))
    for _ in range(rnd.randint(1, 6)):
        at += rnd.randint(0, 3) * 60_000_000  # ties now and then
        entry = Entry(at, rnd.random() < 0.6, rnd.choice(site_ids), uuid.uuid4().bytes)
        timeline.insert(entries, entry)
    return entries


async def test_the_sql_reads_timelines_as_check_in_counts_them(
    factory: Factory, db: asyncpg.Connection
) -> None:
    cid, ids = await small_world(factory, db)
    rnd = random.Random(19)
    expected: Tallies = {}
    records = []
    site_ids = list(ids.values())
    for n in range(300):
        home = rnd.choice(site_ids)
        category = rnd.choice(("member", "non_member", "guest"))
        code = next(c for c, i in ids.items() if i == home)
        delegate = await factory.delegate(cid, site=code, external_id=f"D{n}", category=category)
        entries = random_timeline(rnd, site_ids)
        timeline.contribute(expected, entries, home, category)
        records.append((cid, *State(category, home, [], entries, False).row(delegate["id"])))
    await db.copy_records_to_table(
        "attendances", records=records, columns=("conference_id", *ATTENDANCE_COLUMNS)
    )
    conference = await fetch_conference(db, "HN1")
    async with snapshot(db):
        rec = await compute(db, conference)
    by_code = {r.site_code: r for r in rec.sites}
    for code, site in ids.items():
        want = expected.get(site, timeline.new_tally())
        row = by_code[code]
        f = timeline.FIELD
        assert tuple(row.checked_in) == tuple(want[f[f"checked_in_{c}"]] for c in
                                              ("member", "non_member", "guest")), code  # fmt: skip
        assert row.moved_in == want[f["moved_in"]], code
        assert row.moved_out == want[f["moved_out"]], code
        assert row.present == want[f["present"]], code
        assert row.exits == want[f["exits"]], code
        assert row.reentries == want[f["reentries"]], code


async def test_kiosk_silences_are_cut_to_the_session(
    factory: Factory, db: asyncpg.Connection
) -> None:
    await small_world(factory, db)
    conference = await fetch_conference(db, "HN1")
    opens, ends = conference["checkin_opens_at"], conference["ends_at"]

    async def kiosk(site: str, last_seen: datetime | None) -> int:
        token = await factory.token("kiosk", conference="HN1", site=site)
        kid = await db.fetchval("SELECT max(token_id) FROM kiosks")
        await db.execute("UPDATE kiosks SET last_seen_at = $2 WHERE token_id = $1", kid, last_seen)
        assert token
        return int(kid)

    now = datetime.now(UTC)
    # S1: a gap of 8 minutes, 3 of them before check-in opened: 5 minutes in the session.
    k1 = await kiosk("S1", now)
    await db.execute(
        "INSERT INTO kiosk_silences VALUES ($1, $2, $3)",
        k1, opens - timedelta(minutes=3), opens + timedelta(minutes=5),
    )  # fmt: skip
    # S2: 6 minutes, but only 4 of them in the session (cut at the start).
    k2 = await kiosk("S2", now)
    await db.execute(
        "INSERT INTO kiosk_silences VALUES ($1, $2, $3)",
        k2, opens - timedelta(minutes=2), opens + timedelta(minutes=4),
    )  # fmt: skip
    # S3: last seen 20 minutes ago and never again; another S3 kiosk never seen at all;
    # a third one revoked 2 minutes after it was last seen.
    await kiosk("S3", now - timedelta(minutes=20))
    await kiosk("S3", None)
    k3 = await kiosk("S3", now - timedelta(minutes=30))
    await db.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE id = $1", k3, now - timedelta(minutes=28)
    )
    async with snapshot(db):
        rec = await compute(db, conference)
    silent = {f.site_code: f.detail["kiosks"] for f in rec.flags if f.kind == "kiosk_silent"}
    assert sorted(silent) == ["S1", "S3"]
    assert [k["minutes"] for k in silent["S1"]] == [5]
    (gone,) = silent["S3"]
    assert 19 <= gone["minutes"] <= 21 and ends > now
