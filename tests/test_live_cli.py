"""`diemcau live`: the board's totals and the units below, in Vietnamese number style, as
plain lines when its output is not a terminal; `token create --role viewer` names the
board's URL on stderr and keeps stdout for the token."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.config import Config
from tests.checkin_world import World
from tests.conftest import Run
from tests.factory import Factory
from tests.live_world import build_board, check_in, walk_in


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_board(factory, db)


async def test_live_once_prints_the_totals_and_the_units_below(
    cli: Run,
    client: TestClient,
    world: World,
) -> None:
    await check_in(client, world, "LC-01", "LC-01-0")
    await walk_in(client, world, "TD-01")
    code, out, err = await cli("live", "--conference", "HN1", "--once")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("HN1 — Hội nghị HN1")
    assert "đảng viên: 1/8 · 12,50% · mục tiêu 98,00%" in out
    assert "quần chúng: 0/4 · 0,00% · mục tiêu 90,00%" in out
    assert "vãng lai 1" in out and "đang có mặt 2" in out and "điểm cầu 4" in out
    assert "Việt Nam (VN)" in out  # the root, below the whole conference
    code, out, _ = await cli(
        "live", "--conference", "HN1", "--unit", "LC", "--once", "--lang", "en"
    )
    assert code == 0
    assert "member: 1/6 · 16.67% · target 98.00%" in out
    assert "Tam Đường (LC-TD)" in out and "Hà Giang" not in out


async def test_live_follows_the_board_as_lines_when_piped(
    config: Config, world: World, client: TestClient, tmp_path: Any
) -> None:
    env = {
        "DATABASE_URL": config.database_url or "",
        "DIEMCAU_DATA_DIR": str(tmp_path),
        "DIEMCAU_SECRET_KEY": config.secret_key or "",
        "PATH": "/usr/bin:/bin",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "diemcau",
        "live",
        "--conference",
        "HN1",
        "--every",
        "0.3",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    text = ""

    async def block() -> str:
        """The lines up to the next blank line (a block ends with the unit table)."""
        nonlocal text
        lines = []
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            text += line
            if line.strip() == "" and lines:
                return "".join(lines)
            lines.append(line)

    try:
        first = await block()  # the board as it starts
        await walk_in(client, world, "HG-01")
        second = ""
        while "vãng lai 1" not in second:
            second = await block()
    finally:
        proc.terminate()
        await proc.communicate()
    assert "\x1b[" not in text  # no screen control codes in a pipe
    assert first.startswith("HN1") and "vãng lai 0" in first


async def test_an_unknown_conference_or_unit(cli: Run, world: World) -> None:
    code, _, err = await cli("live", "--conference", "hn1", "--once")
    assert code == 1 and "HN1" in err  # the nearest code is suggested
    code, _, err = await cli("live", "--conference", "HN1", "--unit", "XX", "--once")
    assert code == 1 and "XX" in err
