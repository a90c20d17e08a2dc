"""The Python kiosk against the real service: real PostgreSQL, real HTTP and websockets.

The service runs on a real port and is stopped and started again in the middle of a
test (a new application on the same port, the same database), as a commune hall's link
or the service itself goes away. The invariant: every scan the door was shown lands
exactly once, whatever stopped in between, and sending the queue again changes nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sqlite3
import stat
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import ClientSession, web

from diemcau import issuance
from diemcau.app import create_app
from diemcau.auth import CLI
from diemcau.cli import build_parser
from diemcau.config import Config
from diemcau.keystore import Keystore
from diemcau.kiosk import cli as kiosk_cli
from diemcau.kiosk import commands
from diemcau.kiosk.display import Printer
from diemcau.kiosk.door import Door
from diemcau.kiosk.sender import RECONNECT_MAX
from diemcau.kiosk.store import Store
from tests.factory import Factory, bearer
from tests.kiosk_fake import eventually

BASE = "/api/v1/conferences/HN1"


class Service:
    """The app on a fixed real port, which a test can stop and start again."""

    def __init__(self, config: Config) -> None:
        self.config = config
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(create_app(self.config))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        async with (
            ClientSession() as session,
            session.request(method, self.url + path, headers=headers, **kw) as resp,
        ):
            body = await resp.json(content_type=None)
            assert resp.status < 300, (resp.status, body)
            return body


@pytest.fixture
async def service(config: Config, db: asyncpg.Connection) -> Any:
    running = Service(config)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection, config: Config) -> dict[str, Any]:
    """One conference open for check-in at LC-01 and LC-02, 100 delegates at LC-01."""
    await factory.unit("LC", name="Lai Châu")
    await factory.site("LC-01", unit="LC", name="Hội trường Tỉnh ủy")
    await factory.site("LC-02", unit="LC")
    conf = await factory.conference(
        "HN1", sites=["LC-01", "LC-02"], starts_in=timedelta(minutes=30)
    )
    keys = Keystore(config.secret_key.encode())
    codes = []
    for i in range(100):
        row = await factory.delegate(conf["id"], site="LC-01", unit="LC", full_name=f"Đại biểu {i}")
        codes.append(await issuance.delegate_code(db, keys, row, CLI))
    return {
        "conf": conf,
        "codes": codes,
        "keys": keys,
        "tech": bearer(await factory.token("technician", unit="LC")),
        "org": bearer(await factory.token("organiser")),
    }


async def kiosk(*argv: str) -> int:
    return await kiosk_cli.run(build_parser().parse_args(["kiosk", *argv]))


async def enrolled(
    service: Service, world: dict[str, Any], path: Path, site: str = "LC-01"
) -> None:
    answer = await service.call("POST", f"{BASE}/sites/{site}/kiosk-codes", world["tech"])
    assert await kiosk("enroll", answer["code"], "--url", service.url, "--db", str(path)) == 0


def write_codes(path: Path, codes: list[str]) -> Path:
    path.write_text("\n".join(codes) + "\n", encoding="utf-8")
    return path


async def site_counts(service: Service, store_path: Path) -> dict[str, Any]:
    with Store(store_path) as store:
        token = store.get("token")
    return (await service.call("GET", "/api/v1/kiosk", bearer(token)))["counts"]


def answers(path: Path) -> dict[str, dict[str, Any]]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT scan_id, result FROM scans WHERE result IS NOT NULL").fetchall()
    db.close()
    return {scan_id: json.loads(result) for scan_id, result in rows}


async def test_enrollment_stores_a_private_file_with_the_roster(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    answer = await service.call("POST", f"{BASE}/sites/LC-01/kiosk-codes", world["tech"])
    code = answer["code"]
    assert (
        await kiosk("enroll", code, "--url", service.url, "--db", str(path), "--name", "Cửa A") == 0
    )
    out = capsys.readouterr()
    assert "HN1" in out.out and "LC-01" in out.out and "100" in out.out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Store(path) as store:
        token = store.get("token")
        assert store.roster_size() == 100 and store.get("keys")["keys"]
        assert store.get("site")["code"] == "LC-01" and store.get("conference")["code"] == "HN1"
    assert token and token not in out.out + out.err
    # The code was single use.
    again = tmp_path / "again.db"
    assert await kiosk("enroll", code, "--url", service.url, "--db", str(again)) == 1
    assert "enrollment_code_refused" in capsys.readouterr().err
    assert await kiosk("status", "--db", str(path)) == 0
    shown = capsys.readouterr().out
    assert "Hội trường Tỉnh ủy" in shown and token not in shown


async def test_online_scans_land_and_the_door_sees_them(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    capsys.readouterr()
    codes = world["codes"][:5]
    lines = [*codes, "DC1.NOT.A.CODE", codes[0], "+khách mời: Trần Thị Khách"]
    assert (
        await kiosk("run", "--db", str(path), "--file", str(write_codes(tmp_path / "c", lines)))
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("✓ ") >= 6 and "Đại biểu 0" in out and "Đã điểm danh" in out
    counts = await site_counts(service, path)
    assert sum(counts["checked_in"].values()) == 5 and counts["walk_ins"] == 1
    results = [a["result"] for a in answers(path).values()]
    assert sorted(results) == sorted(["accepted"] * 6 + ["invalid", "duplicate"])
    exits = write_codes(tmp_path / "out", codes[:1])
    assert await kiosk("run", "--db", str(path), "--file", str(exits), "--out") == 0
    assert "✓" in capsys.readouterr().out.splitlines()[1]
    counts = await site_counts(service, path)
    assert counts["exits"] == 1 and counts["present"] == 5  # 4 delegates and the walk-in


async def test_a_conflicting_scan_is_set_aside_and_the_rest_lands(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    codes = world["codes"]
    assert (
        await kiosk("run", "--db", str(path), "--file", str(write_codes(tmp_path / "c", codes[:2])))
        == 0
    )
    # The kiosk file is damaged: an answered scan now says another code under its old id.
    db = sqlite3.connect(path)
    db.execute("UPDATE scans SET body = replace(body, ?, ?) WHERE seq = 1", (codes[0], codes[9]))
    db.commit()
    db.close()
    await service.stop()  # a new scan waits behind it
    third = write_codes(tmp_path / "d", codes[2:3])
    assert await kiosk("run", "--db", str(path), "--file", str(third), "--drain", "0") == 1
    await service.start()
    assert sum((await site_counts(service, path))["checked_in"].values()) == 2
    capsys.readouterr()
    # One batch of three: refused whole (409 naming the first); the other two go again.
    assert await kiosk("sync", "--db", str(path), "--all") == 0
    with Store(path) as store:
        assert store.counts() == {"pending": 0, "done": 2, "set_aside": 1}
        assert store.set_aside_scans()[0]["note"] == "scan_conflict"
    assert sum((await site_counts(service, path))["checked_in"].values()) == 3
    assert await kiosk("status", "--db", str(path)) == 0
    assert "scan_conflict" in capsys.readouterr().out


async def landed(db: asyncpg.Connection) -> tuple[set[str], int]:
    """The scan ids the service stored, and the delegates it counts as checked in."""
    stored = {str(r["scan_id"]) for r in await db.fetch("SELECT scan_id FROM checkins")}
    counted = await db.fetchval("SELECT count(*) FROM attendances WHERE first_scan_id IS NOT NULL")
    return stored, counted


async def test_offline_scans_land_exactly_once_and_replays_change_nothing(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any, db: asyncpg.Connection
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    await service.stop()
    codes = write_codes(tmp_path / "codes", world["codes"])
    assert await kiosk("run", "--db", str(path), "--file", str(codes), "--drain", "0.5") == 1
    out = capsys.readouterr().out
    assert out.count("✓ ") == 101 and "100 lượt quét chờ gửi" in out  # 100 scans and "ready"
    assert await kiosk("status", "--db", str(path), "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["queue"] == {"pending": 100, "done": 0, "set_aside": 0}
    await service.start()
    assert await kiosk("sync", "--db", str(path)) == 0
    first = answers(path)
    assert len(first) == 100 and {a["result"] for a in first.values()} == {"accepted"}
    assert await landed(db) == (set(first), 100)
    assert sum((await site_counts(service, path))["checked_in"].values()) == 100
    capsys.readouterr()
    for _ in range(2):
        # All 100 go back in the queue; exit 0 means the service answered every one again.
        assert await kiosk("sync", "--db", str(path), "--all") == 0
        shown = capsys.readouterr()
        assert "Gửi lại 100 lượt quét" in shown.err
        assert "Dịch vụ trả lời khác" not in shown.out and "Đã gửi hết" in shown.out
        assert answers(path) == first
        assert await landed(db) == (set(first), 100)
        assert sum((await site_counts(service, path))["checked_in"].values()) == 100


async def test_a_killed_kiosk_loses_nothing_of_its_queue(
    service: Service, world: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    await service.stop()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "kiosk", "run", "--db", str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DIEMCAU_LANGUAGE": "en"},
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(("\n".join(world["codes"][:20]) + "\n").encode())
    await proc.stdin.drain()
    shown = 0
    while shown < 20:  # every line the door saw
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        shown += " IN — " in line.decode()
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    with Store(path) as store:
        assert store.counts()["pending"] == 20
    await service.start()
    assert (
        await kiosk("run", "--db", str(path), "--file", str(write_codes(tmp_path / "e", []))) == 0
    )
    assert sum((await site_counts(service, path))["checked_in"].values()) == 20


async def test_the_service_answer_is_shown_when_it_differs(
    service: Service, world: dict[str, Any], tmp_path: Path, db: asyncpg.Connection, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    await service.stop()
    conf = await db.fetchrow("SELECT * FROM conferences WHERE code = 'HN1'")
    first = await db.fetchval("SELECT min(id) FROM delegates")
    await issuance.reissue(db, world["keys"], conf, first, CLI)  # the kiosk cannot know
    codes = write_codes(tmp_path / "c", world["codes"][:1])
    assert await kiosk("run", "--db", str(path), "--file", str(codes), "--drain", "0") == 1
    assert "✓ " in capsys.readouterr().out
    await service.start()
    assert await kiosk("sync", "--db", str(path)) == 0
    out = capsys.readouterr().out
    assert "Dịch vụ trả lời khác" in out and "Đại biểu 0" in out and "máy đã báo: hợp lệ" in out


async def test_a_revoked_kiosk_stops_with_a_clear_message(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "kiosk", "run", "--db", str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "DIEMCAU_LANGUAGE": "vi"},
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write((world["codes"][0] + "\n").encode())
    await proc.stdin.drain()
    with Store(path) as store:
        kiosk_id = store.get("kiosk")["id"]
    for _ in range(200):
        if answers(path):
            break
        await asyncio.sleep(0.05)
    assert answers(path), "the scan was not answered online"
    await service.call("POST", f"{BASE}/sites/LC-01/kiosks/{kiosk_id}/revoke", world["tech"])
    # Wait with stdin still open: its end would stop the kiosk for another reason.
    assert await asyncio.wait_for(proc.wait(), 30) == 3
    assert proc.stdout is not None and proc.stderr is not None
    shown = (await proc.stdout.read() + await proc.stderr.read()).decode()
    assert "đã bị thu hồi" in shown
    proc.stdin.close()
    capsys.readouterr()
    assert await kiosk("sync", "--db", str(path)) == 3  # and so does the next command
    assert "✗ Máy điểm danh này đã bị thu hồi" in capsys.readouterr().out
    assert await kiosk("status", "--db", str(path)) == 0
    assert "máy đã bị thu hồi" in capsys.readouterr().out


async def test_the_roster_follows_reissues_so_the_old_code_is_refused_at_once(
    service: Service, world: dict[str, Any], tmp_path: Path, db: asyncpg.Connection, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    first = await db.fetchval("SELECT min(id) FROM delegates")
    new = await service.call("POST", f"{BASE}/delegates/{first}/reissue", world["org"])
    assert await kiosk("sync", "--db", str(path)) == 0  # fetches the changes since enrollment
    with Store(path) as store:
        assert store.delegate(first)["credential_version"] == new["credential_version"] == 2
        assert store.roster_size() == 100
    capsys.readouterr()
    codes = write_codes(tmp_path / "c", [world["codes"][0], new["qr"]])
    assert await kiosk("run", "--db", str(path), "--file", str(codes)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("✗") and "Đại biểu 0" in out[1] and "thu hồi" in out[1]
    assert out[2].startswith("✓") and "Đại biểu 0" in out[2]
    assert not any("Dịch vụ trả lời khác" in line for line in out)  # the service agreed
    assert sorted(a["result"] for a in answers(path).values()) == ["accepted", "revoked"]


async def test_another_sites_delegate_is_placed_offline_by_the_code(
    service: Service, world: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path, site="LC-02")  # its roster holds no one of LC-01
    with Store(path) as store:
        assert store.roster_size() == 0 and isinstance(store.get("site")["id"], int)
    capsys.readouterr()
    codes = write_codes(tmp_path / "c", world["codes"][:1])
    assert await kiosk("run", "--db", str(path), "--file", str(codes)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("! ") and "điểm cầu khác" in out[1]
    assert not any("Dịch vụ trả lời khác" in line for line in out)
    [answer] = answers(path).values()
    assert (answer["result"], answer["moved"]) == ("accepted", True)


async def test_the_door_hears_the_link_drop_and_return_and_the_kiosk_is_back_in_seconds(
    service: Service, world: dict[str, Any], tmp_path: Path, db: asyncpg.Connection
) -> None:
    """A running kiosk prints one line when its service goes away and one when it is
    back, each with the queue's length; after a long outage (its backoff as high as it
    goes) it reconnects within RECONNECT_MAX seconds of the service's return, not the
    20-odd seconds a 30 s cap allowed."""
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    screen = io.StringIO()
    with Store(path) as store:
        printer = Printer("vi", ZoneInfo("Asia/Ho_Chi_Minh"), screen)
        door = Door(store, printer)
        sender = commands._sender(store, printer, door)
        running = asyncio.create_task(sender.run())
        try:
            await eventually(lambda: store.get("link_state") == "connected")
            await service.stop()
            await eventually(lambda: "Mất kết nối" in screen.getvalue())
            for code in world["codes"][:3]:
                door.code(code)  # answered offline, queued
            sender.backoff.failures = 60  # as after an hour without the service
            await asyncio.sleep(1.0)
            await service.start()
            back_at = time.monotonic()
            await eventually(lambda: "kết nối lại" in screen.getvalue(), RECONNECT_MAX + 6)
            took = time.monotonic() - back_at
            await eventually(lambda: store.counts()["pending"] == 0)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    print(f"\nreconnected {took:.1f} s after the service returned (shared machine)")
    lines = [line for line in screen.getvalue().splitlines() if "kết nối" in line]
    assert lines == [
        "! Mất kết nối với dịch vụ; 0 lượt quét chờ gửi, máy vẫn điểm danh ngoại tuyến",
        "✓ Đã kết nối lại với dịch vụ; 3 lượt quét chờ gửi, đang gửi",
    ]
    assert (await landed(db))[1] == 3
