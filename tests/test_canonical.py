"""The report's canonical content (docs/reconciliation.md): one byte string per
reconciliation, written the one way, read back whole; and a unit's part worked out from
the whole equals the part computed for that unit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.queries.conferences import fetch_conference
from diemcau.reconcile import canonical
from diemcau.reconcile.model import Reconciliation
from diemcau.reconcile.rows import compute, snapshot
from tests.factory import Factory
from tests.reconcile_world import session

SIGNED = datetime(2026, 12, 15, 7, 0, 1, tzinfo=UTC)


@pytest.fixture
async def rec(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Reconciliation:
    await session(factory, db, client, late=True)
    async with snapshot(db):
        return await compute(db, await fetch_conference(db, "HN1"))


def test_the_content_is_written_one_way(rec: Reconciliation) -> None:
    data = canonical.content(rec, SIGNED)
    shuffled = replace(rec, sites=rec.sites[::-1], units=rec.units[::-1], flags=rec.flags[::-1])
    assert canonical.content(shuffled, SIGNED) == data
    # What the standard library writes for the same value, byte for byte.
    value = json.loads(data)
    assert (
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        == data
    )
    assert value["format"] == "diemcau.reconciliation/1"
    assert value["signed_off_at"] == "2026-12-15T07:00:01Z"
    assert value["conference"]["targets"] == {"member": 0.98, "non_member": 0.9}
    assert [s["site_code"] for s in value["sites"]] == ["HG-01", "LC-01", "LC-02", "LC-03"]
    assert value["sites"][1]["headcounts"]["start"]["members"] == 5
    assert canonical.sha256(data) == hashlib.sha256(data).hexdigest()


def test_the_content_reads_back_whole(rec: Reconciliation) -> None:
    data = canonical.content(rec, SIGNED)
    back = canonical.load(data, canonical.sha256(data))
    assert canonical.content(back, back.signed_off_at or SIGNED) == data
    assert back.sites == rec.sites and back.units == rec.units and back.totals == rec.totals
    assert [f.id for f in back.flags] == [f.id for f in rec.flags]


async def test_a_part_from_the_whole_is_the_part_computed(
    rec: Reconciliation, db: asyncpg.Connection
) -> None:
    conference = await fetch_conference(db, "HN1")
    async with snapshot(db):
        part = await compute(db, conference, unit_path="/VN/LC/", scope="LC")
    cut = rec.within("LC")
    assert cut.sites == part.sites and cut.units == part.units
    assert cut.totals == part.totals and cut.levels == part.levels
    assert cut.flags == part.flags and cut.scope == part.scope == "LC"
