"""`diemcau demo` as a person runs it, small and fast: the real command, the real `serve`
it starts, kiosks over websockets. The session ends closed; the live board and the
reconciliation count exactly what the simulation's plan says, site by site; the open
flags are the ones the plan made on purpose; a dashboard watching the live websocket
sees the board fill up as the morning goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from diemcau.demo.plan import make_plan, truth
from tests.test_serve import _env as serve_env
from tests.test_serve import _free_port, _postgres_running, data_dir  # noqa: F401 (a fixture)

SIZE = ["--sites", "20", "--delegates", "400", "--seed", "7"]


def _env(dsn: str, folder: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn, "DIEMCAU_DATA_DIR": str(folder),
            "DIEMCAU_LANGUAGE": "en", "DIEMCAU_LOG_LEVEL": "WARNING"}  # fmt: skip


async def _demo(dsn: str, tmp: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "demo", *SIZE, "--port", str(_free_port()), "--exit",
        *extra, env=_env(dsn, tmp), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_demo_ends_closed_with_the_plans_counts_and_flags(
    fresh_database: str, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    proc = await _demo(fresh_database, tmp_path, "--speed", "60", "--summary", str(summary))
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    said = err.decode()
    assert proc.returncode == 0, said
    figures = json.loads(summary.read_text())
    want = truth(make_plan(20, 400, 7))
    assert figures["reconciliation"]["status"] == "closed"
    live = figures["live"]
    for key in ("expected", "checked_in", "walk_ins", "present"):
        assert live["totals"][key] == want["totals"][key], key
    for code, site in want["sites"].items():
        for key in ("expected", "checked_in", "walk_ins", "moved_in", "moved_out", "present"):
            assert live["sites"][code][key] == site[key], (code, key)
    rec = figures["reconciliation"]["totals"]
    assert rec["checked_in"] == want["totals"]["checked_in"]
    assert rec["expected"] == want["totals"]["expected"]
    assert rec["walk_ins"] == want["totals"]["walk_ins"]
    answers, expected = figures["answers"], figures["expected_answers"]
    for result in ("accepted", "duplicate", "reentry", "moved"):
        assert answers.get(result, 0) == expected.get(result, 0), result
    assert answers.get("skewed", 0) > 0  # the slow kiosk's scans, corrected by sent_at
    open_flags = {f["id"] for f in figures["reconciliation"]["flags"] if f["status"] == "open"}
    assert open_flags == set(want["flags"]) and len(open_flags) >= 4
    # What the person at the terminal is told: where to watch, how to join, what is next.
    assert re.search(r"/dashboard/DEMO-LC\b", said)
    assert "/kiosk#enroll=" in said and ".pdf" in said
    assert (tmp_path / "demo").is_dir() and list((tmp_path / "demo").glob("badges-*.pdf"))
    for command in ("diemcau flag resolve", "diemcau sign-off", "diemcau report"):
        assert command in said
    assert out == b""  # the demo speaks on stderr only


async def _lines_until(stream: asyncio.StreamReader, pattern: str, seen: list[str]) -> re.Match:
    while True:
        line = (await asyncio.wait_for(stream.readline(), 120)).decode()
        assert line, "".join(seen)
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found


async def test_a_dashboard_watching_the_demo_sees_the_board_fill_up(
    fresh_database: str, tmp_path: Path
) -> None:
    """The live websocket as the dashboard page reads it (the page itself is another
    branch's), with the viewer token the demo prints."""
    proc = await _demo(fresh_database, tmp_path, "--speed", "12")
    assert proc.stderr is not None
    seen: list[str] = []
    url = (await _lines_until(proc.stderr, r"(http://\S+)/dashboard/(\S+)", seen)).groups()
    token = (await _lines_until(proc.stderr, r"(dc_\S+)", seen)).group(1)
    rest = asyncio.create_task(proc.stderr.read())
    totals: list[int] = []
    statuses: list[str] = []
    async with aiohttp.ClientSession() as http:
        ws_url = url[0].replace("http", "ws", 1) + f"/ws/conferences/{url[1]}/live"
        async with http.ws_connect(ws_url, headers={"Authorization": f"Bearer {token}"}) as ws:
            async for message in ws:
                data: dict[str, Any] = json.loads(message.data)
                if "totals" in data:
                    totals.append(sum(data["totals"]["checked_in"].values()))
                status = (data.get("conference") or {}).get("status")
                if status:
                    statuses.append(status)
                if status == "closed":
                    break
    await asyncio.wait_for(proc.wait(), 120)
    assert proc.returncode == 0, "".join(seen) + (await rest).decode()
    final = sum(truth(make_plan(20, 400, 7))["totals"]["checked_in"].values())
    assert totals[0] < final / 4, totals  # the board opened before the rush
    assert totals[-1] == final
    assert len(set(totals)) >= 5 and totals == sorted(totals)  # it moved, and only up
    assert statuses[-1] == "closed" and "live" in statuses


@pytest.mark.parametrize("args", [["--speed", "0"], ["--sites", "50000"], ["--sites", "3"]])
async def test_demo_refuses_sizes_and_speeds_it_cannot_play(
    fresh_database: str, tmp_path: Path, args: list[str]
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "demo", *args, env=_env(fresh_database, tmp_path),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert b"diemcau demo:" in err


async def test_ctrl_c_stops_the_morning_the_service_and_its_postgresql(
    data_dir: Path,  # noqa: F811
) -> None:
    """No DATABASE_URL: the demo starts the embedded PostgreSQL; Ctrl-C in the terminal
    (SIGINT to the whole foreground group) in the middle of the morning stops the
    simulation, the `serve` it started and that PostgreSQL, and leaves the port free."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "demo", *SIZE, "--port", str(port),
        env=serve_env(data_dir), stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    await _lines_until(proc.stderr, r"checked in \d", seen)  # the morning is under way
    assert _postgres_running(data_dir)
    os.killpg(proc.pid, signal.SIGINT)
    rest = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
    assert await asyncio.wait_for(proc.wait(), 60) == 130, "".join(seen) + rest
    assert "service stopped" in rest and "embedded PostgreSQL stopped" in rest
    assert "Traceback" not in rest
    assert not _postgres_running(data_dir)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing serves the port any more
