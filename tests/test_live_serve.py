"""Two real `diemcau serve` processes on one database (two hosts behind a load balancer,
as far as the board can tell): a scan taken by one reaches a dashboard connected to the
other; both show the same counts at one `seq`; a dashboard whose server was killed
resumes on the other with `since` and misses nothing.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from diemcau.embedded.server import Binaries
from tests.checkin_world import scan
from tests.test_serve import Server, _cli, _free_port, data_dir  # noqa: F401 (a fixture)


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str, within: float = 15) -> dict:
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return message


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> Any:
    async with http.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        answer = await resp.json(content_type=None)
        assert resp.status < 300, answer
        return answer


async def _setup(http: aiohttp.ClientSession, base: str, token: str) -> None:
    """A unit, two sites and a conference whose check-in is open, through the API."""
    await _call(
        http,
        "POST",
        f"{base}/api/v1/units",
        token,
        {"code": "VN", "name": "Việt Nam", "level": "national"},
    )
    for code in ("S1", "S2"):
        await _call(
            http,
            "POST",
            f"{base}/api/v1/sites",
            token,
            {
                "code": code,
                "name": f"Hội trường {code}",
                "unit_code": "VN",
                "level": "commune",
                "capacity": 50,
            },
        )
    now = datetime.now(UTC)
    await _call(
        http,
        "POST",
        f"{base}/api/v1/conferences",
        token,
        {
            "code": "HN",
            "title": "Hội nghị hai máy",
            "checkin_opens_at": (now - timedelta(hours=1)).isoformat(),
            "starts_at": (now + timedelta(minutes=30)).isoformat(),
            "ends_at": (now + timedelta(hours=4)).isoformat(),
        },
    )
    await _call(http, "PUT", f"{base}/api/v1/conferences/HN/sites", token, {"sites": ["S1", "S2"]})


def _token(where: Path, *args: str) -> tuple[str, str]:
    done = _cli(where, "token", "create", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


async def test_a_scan_on_one_server_reaches_a_dashboard_on_another(data_dir: Path) -> None:  # noqa: F811
    one, two = Server(data_dir, _free_port()), None
    try:
        one.wait_ready()
        two = Server(data_dir, _free_port())
        two.wait_ready()
        first, second = f"http://127.0.0.1:{one.port}", f"http://127.0.0.1:{two.port}"
        organiser, _ = _token(data_dir, "--role", "organiser")
        async with aiohttp.ClientSession() as http:
            await _setup(http, first, organiser)
            kiosk, _ = _token(data_dir, "--role", "kiosk", "--conference", "HN", "--site", "S1")
            viewer, said = _token(data_dir, "--role", "viewer", "--conference", "HN")
            # The big screen's URL on stderr, never the token.
            assert "/dashboard/HN?screen=big" in said and viewer not in said
            headers = {"Authorization": f"Bearer {viewer}"}
            ws = await http.ws_connect(f"{second}/ws/conferences/HN/live", headers=headers)
            snap = await _next(ws, "snapshot")
            assert set(snap["sites"]) == {"S1", "S2"}
            body = {"scans": [scan(method="walk_in", full_name="Khách", category="guest")]}
            await _call(http, "POST", f"{first}/api/v1/checkins", kiosk, body)
            delta = await _next(ws, "delta")
            while "S1" not in delta["sites"]:
                delta = await _next(ws, "delta")
            assert delta["sites"]["S1"]["walk_ins"] == 1
            views = [
                await _call(http, "GET", f"{base}/api/v1/conferences/HN/live", viewer)
                for base in (first, second)
            ]
            assert views[0]["seq"] == views[1]["seq"] and views[0]["sites"] == views[1]["sites"]
            # The second server dies; the dashboard comes back on the first with `since`.
            two.stop(signal.SIGKILL)
            await ws.close()
            await _call(
                http,
                "POST",
                f"{first}/api/v1/checkins",
                kiosk,
                {"scans": [scan(method="walk_in", full_name="Khách hai", category="guest")]},
            )
            url = f"{first}/ws/conferences/HN/live?since={delta['seq']}"
            async with http.ws_connect(url, headers=headers) as back:
                resumed = await back.receive_json(timeout=15)
            assert resumed["type"] == "delta" and resumed["sites"]["S1"]["walk_ins"] == 2
    finally:
        if two is not None:
            two.stop()
        one.stop()


def _stop_postgres_at_once(where: Path) -> None:
    """`pg_ctl stop -m immediate` (a crash, as far as anyone can tell): every backend
    ended, notifications in flight lost. The serve that owns the embedded server starts
    it again (diemcau.embedded.watch)."""
    Binaries.find().crash(where / "pgdata")


async def _scan_until_taken(http: aiohttp.ClientSession, base: str, token: str, name: str) -> None:
    """A kiosk retries while the database comes back (503 meanwhile, never 500)."""
    body = {"scans": [scan(method="walk_in", full_name=name, category="guest")]}
    async with asyncio.timeout(60):
        while True:
            async with http.post(
                f"{base}/api/v1/checkins", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                if resp.status < 300:
                    return
                assert resp.status == 503, await resp.text()
            await asyncio.sleep(0.5)


async def test_dashboards_on_both_servers_stay_true_when_postgresql_goes_down_and_comes_back(
    data_dir: Path,  # noqa: F811
) -> None:
    one, two = Server(data_dir, _free_port()), None
    try:
        one.wait_ready()
        two = Server(data_dir, _free_port())
        two.wait_ready()
        first, second = f"http://127.0.0.1:{one.port}", f"http://127.0.0.1:{two.port}"
        organiser, _ = _token(data_dir, "--role", "organiser")
        async with aiohttp.ClientSession() as http:
            await _setup(http, first, organiser)
            kiosk, _ = _token(data_dir, "--role", "kiosk", "--conference", "HN", "--site", "S1")
            viewer, _ = _token(data_dir, "--role", "viewer", "--conference", "HN")
            headers = {"Authorization": f"Bearer {viewer}"}
            boards = [
                await http.ws_connect(f"{base}/ws/conferences/HN/live", headers=headers)
                for base in (first, second)
            ]
            for ws in boards:
                assert (await _next(ws, "snapshot"))["sites"]["S1"]["walk_ins"] == 0
            # PostgreSQL goes down under both servers and the first brings it back: their
            # listeners' connections end, and what is committed before they are back is
            # heard by no one.
            await asyncio.to_thread(_stop_postgres_at_once, data_dir)
            await _scan_until_taken(http, first, kiosk, "Khách sau khởi động lại")
            for ws in boards:  # the sockets stayed open; both boards catch up
                delta = await _next(ws, "delta", within=30)
                while delta["sites"].get("S1", {}).get("walk_ins") != 1:
                    delta = await _next(ws, "delta", within=30)
            await _scan_until_taken(http, second, kiosk, "Khách thứ hai")
            for ws in boards:
                delta = await _next(ws, "delta", within=30)
                while delta["sites"].get("S1", {}).get("walk_ins") != 2:
                    delta = await _next(ws, "delta", within=30)
                await ws.close()
            views = [
                await _call(http, "GET", f"{base}/api/v1/conferences/HN/live", viewer)
                for base in (first, second)
            ]
            assert views[0]["seq"] == views[1]["seq"] and views[0]["sites"] == views[1]["sites"]
    finally:
        if two is not None:
            two.stop()
        one.stop()
