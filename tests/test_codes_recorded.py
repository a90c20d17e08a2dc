"""Codes made by the command line are known at the door as the API's are.

`diemcau codes` (the SMS/Zalo path), `diemcau badges` and `diemcau passes` record each
code's digest in `issued_codes`, as `qr.png`, `pass.png` and `badges.pdf` do: the first
scan of such a code is then a digest lookup, not an Ed25519 verification and a write.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import asyncpg
import pypdfium2 as pdfium
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from diemcau import credentials
from diemcau.checkin import identify
from diemcau.checkin.identify import code_digest
from diemcau.cli import main
from diemcau.config import Config
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory
from tests.scanning import qr_texts


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    monkeypatch.setenv("DATABASE_URL", config.database_url or "")
    monkeypatch.setenv("DIEMCAU_SECRET_KEY", config.secret_key or "")
    monkeypatch.setenv("DIEMCAU_DATA_DIR", str(config.data_dir))


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def recorded(db: asyncpg.Connection, code: str) -> bool:
    """Whether issued_codes holds this very code's digest."""
    claims = credentials.read_claims(code)
    digest = await db.fetchval(
        "SELECT digest FROM issued_codes WHERE delegate_id = $1 AND version = $2 AND kid = $3",
        claims.delegate_id,
        claims.version,
        claims.kid,
    )
    return digest == code_digest(code)


async def test_codes_from_the_cli_are_recorded_and_scan_without_a_signature_check(
    client: TestClient,
    world: World,
    db: asyncpg.Connection,
    config: Config,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = config.data_dir / "codes.csv"
    assert await run("codes", "--conference", "HN1", "-o", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 6
    assert [await recorded(db, r["code"]) for r in rows] == [True] * 6

    def no_signature_check(*args: Any) -> Any:
        raise AssertionError("a recorded code was verified with Ed25519")

    monkeypatch.setattr(identify.credentials, "check_signature", no_signature_check)
    before = await db.fetchval("SELECT count(*) FROM issued_codes")
    mine = next(r["code"] for r in rows if r["site_code"] == "LC-01")
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [scan(mine)]}, headers=world.kiosk("LC-01")
    )
    assert (await resp.json())["results"][0]["result"] == "accepted"
    assert await db.fetchval("SELECT count(*) FROM issued_codes") == before


async def test_badges_and_passes_from_the_cli_are_recorded(
    world: World, db: asyncpg.Connection, config: Config, cli_env: None
) -> None:
    sheets = config.data_dir / "badges"
    assert await run("badges", "--conference", "HN1", "-o", str(sheets), "--workers", "1") == 0
    printed = []
    for pdf in sorted(sheets.iterdir()):
        page = pdfium.PdfDocument(pdf)[0].render(scale=150 / 72).to_pil()
        printed.extend(qr_texts(page))
    assert len(printed) == 6
    assert [await recorded(db, code) for code in printed] == [True] * 6

    await db.execute("TRUNCATE issued_codes")
    passes = config.data_dir / "passes"
    assert await run("passes", "--conference", "HN1", "--site", "LC-02", "-o", str(passes)) == 0
    shown = [qr_texts(Image.open(f))[0] for f in sorted(passes.glob("*/*.png"))]
    assert len(shown) == 3
    assert [await recorded(db, code) for code in shown] == [True] * 3
    assert await db.fetchval("SELECT count(*) FROM issued_codes") == 3
