"""The organiser's commands that the API had and the CLI lacked, and the CLI's manners: a
kiosk's enrollment code with its QR drawn in the terminal, moving a conference's status,
the scans at the doors, deleting a unit, removing a delegate; `-o -`; progress lines
that suit where they go; `site` commands that find the service on PORT and say in words
why they could not; no English left in a Vietnamese help."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from diemcau.cli import build_parser, main, say
from diemcau.cli.kiosk_code import qr_lines
from diemcau.cli.progress import Progress
from diemcau.config import Config
from diemcau.sites.client import settings
from tests.conftest import Run
from tests.factory import Factory, bearer
from tests.scanning import qr_texts


async def _world(factory: Factory, starts_in: timedelta = timedelta(days=7)) -> Any:
    await factory.unit("LC")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.site("S1", unit="LC-TD")
    await factory.site("S2", unit="LC")
    return await factory.conference("HN", sites=["S1", "S2"], starts_in=starts_in)


def _drawn(lines: list[str], dark_ink: bool) -> Image.Image:
    """The terminal drawing back as an image: two pixels a character, eight times over."""
    ink = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}
    image = Image.new("L", (len(lines[0]), 2 * len(lines)), 255)
    for y, line in enumerate(lines):
        for x, char in enumerate(line):
            for half, inked in enumerate(ink[char]):
                dark = inked == 1 if dark_ink else inked == 0
                image.putpixel((x, 2 * y + half), 0 if dark else 255)
    return image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)


def test_the_terminal_qr_reads_back() -> None:
    text = "HTTP://192.168.1.20:8080/K/ABCD2345"
    for dark_ink in (True, False):
        lines = qr_lines(text, dark_ink)
        assert len(lines) == 25 and all(len(line) == 49 for line in lines)
        assert qr_texts(_drawn(lines, dark_ink)) == [text]


async def test_kiosk_code_prints_code_link_and_qr(
    cli: Run, factory: Factory, client: Any, monkeypatch: Any
) -> None:
    await _world(factory)
    code, out, err = await cli(
        "kiosk-code", "--conference", "HN", "--site", "S1", "--url", "http://192.168.1.20:8080"
    )
    assert code == 0, err
    shown, link, *drawing = out.splitlines()
    raw = shown.replace("-", "")
    assert len(shown) == 9 and link == f"http://192.168.1.20:8080/kiosk#enroll={raw}"
    assert qr_texts(_drawn(drawing, dark_ink=False)) == [f"HTTP://192.168.1.20:8080/K/{raw}"]
    assert "S1" in err and "+07:00" in err and "không mở được" not in err
    resp = await client.post("/api/v1/kiosks/enroll", json={"code": raw, "device_name": "Máy 1"})
    assert resp.status == 201 and (await resp.json())["site"]["code"] == "S1"
    # Without --url: this machine, on PORT, and a word that a phone cannot open it.
    monkeypatch.setenv("PORT", "8123")
    code, out, err = await cli("--lang", "en", "kiosk-code", "--conference", "HN", "--site", "S1")
    assert code == 0 and "http://127.0.0.1:8123/kiosk#enroll=" in out
    assert "a phone cannot open http://127.0.0.1:8123" in err
    code, _, err = await cli("--lang", "en", "kiosk-code", "--conference", "HN", "--site", "s1")
    assert code == 1 and "did you mean 'S1'?" in err


async def test_conference_status_moves_forward_now(cli: Run, factory: Factory) -> None:
    await _world(factory)
    code, out, err = await cli("conference", "status", "HN", "open")
    assert (code, out.strip()) == (0, "open") and "nháp -> mở điểm danh" in err
    code, out, _ = await cli("conference", "status", "HN", "live")
    assert (code, out.strip()) == (0, "live")
    code, out, _ = await cli("--lang", "en", "conference", "status", "HN", "closed")
    assert (code, out.strip()) == (0, "closed")
    code, _, err = await cli("--lang", "en", "conference", "status", "HN", "open")
    assert code == 1 and "cannot go from closed to open" in err
    code, _, err = await cli("conference", "status", "HN", "signed_off")
    assert code == 2 and "không hợp lệ" in err  # sign-off is its own act, not a status move


async def test_checkins_lists_the_scans_at_the_doors(
    cli: Run, factory: Factory, client: Any
) -> None:
    await _world(factory, starts_in=timedelta(minutes=30))
    now = datetime.now(UTC)
    for site, scans in (
        ("S1", [{"method": "walk_in", "full_name": "Lò Văn Pâng", "category": "guest"}]),
        (
            "S2",
            [
                {"qr": "DC1.NOTACODE"},
                {"method": "walk_in", "full_name": "Hà Thị Mai", "category": "member"},
            ],
        ),
    ):
        headers = bearer(await factory.token("kiosk", conference="HN", site=site))
        body = {
            "scans": [
                {
                    "scan_id": str(uuid.uuid4()),
                    "scanned_at": (now + timedelta(seconds=i)).isoformat(),
                    **s,
                }
                for i, s in enumerate(scans)
            ]
        }
        resp = await client.post("/api/v1/checkins", json=body, headers=headers)
        assert resp.status == 200, await resp.text()
    code, out, err = await cli("checkins", "--conference", "HN")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["lúc", "quét", "điểm"]
    assert [line.split()[3] for line in lines[1:]] == ["S1", "S2", "S2"]  # site by site
    assert "không hợp lệ" in lines[3] and "+07:00" in lines[1] and err.strip() == "(3 lượt quét)"
    code, out, _ = await cli(
        "checkins", "--conference", "HN", "--site", "S2", "--result", "invalid", "--format", "json"
    )
    (scan,) = [json.loads(line) for line in out.splitlines()]
    assert (scan["site_code"], scan["result"], scan["method"]) == ("S2", "invalid", "qr")
    code, out, _ = await cli("checkins", "--conference", "HN", "--format", "csv", "--max", "2")
    assert out.startswith("\ufeffscanned_at,") and len(out.splitlines()) == 3
    code, _, err = await cli("checkins", "--conference", "HN", "--result", "ok")
    assert code == 2


async def test_unit_delete_refuses_with_the_reason(cli: Run, factory: Factory, client: Any) -> None:
    await _world(factory)
    await factory.unit("LC-SH", parent="LC", level="district")
    code, _, err = await cli("unit", "delete", "LC")
    assert code == 1 and "còn 2 đơn vị trực thuộc, 1 điểm cầu, 1 hội nghị" not in err
    assert "còn 2 đơn vị trực thuộc, 1 điểm cầu" in err
    code, _, err = await cli("--lang", "en", "unit", "delete", "LC-TD")
    assert code == 1 and "unit LC-TD still has 1 sites: delete or move them first" in err
    code, _, err = await cli("unit", "delete", "LC-SH")
    assert code == 0 and "Đã xóa đơn vị LC-SH" in err
    assert await factory.conn.fetchval("SELECT count(*) FROM units WHERE code = 'LC-SH'") == 0
    code, _, err = await cli("--lang", "en", "unit", "delete", "LC-SH")
    assert code == 1 and "no unit 'LC-SH'" in err
    # The API says the same.
    headers = bearer(await factory.token("organiser"))
    resp = await client.delete("/api/v1/units/LC-TD", headers=headers)
    body = await resp.json()
    assert resp.status == 409 and body["code"] == "conflict" and body["sites"] == 1
    await factory.unit("LC-X", parent="LC", level="district")
    assert (await client.delete("/api/v1/units/LC-X", headers=headers)).status == 204
    technician = bearer(await factory.token("technician", unit="LC"))
    assert (await client.delete("/api/v1/units/LC-TD", headers=technician)).status == 403


async def test_roster_remove_follows_the_api_rules(cli: Run, factory: Factory) -> None:
    conference = await _world(factory)
    await factory.delegate(conference["id"], site="S1", external_id="D1", full_name="Lò Thị Mai")
    await factory.delegate(conference["id"], site="S1", external_id="D2")
    await factory.conn.execute(
        """INSERT INTO attendances (conference_id, delegate_id, category, home_site_id, timeline)
           SELECT conference_id, id, category, site_id, '\\x'::bytea
             FROM delegates WHERE external_id = 'D2'"""
    )
    code, _, err = await cli("roster", "remove", "--conference", "HN", "D1")
    assert code == 0 and "Đã xóa đại biểu D1 (Lò Thị Mai) khỏi HN" in err
    code, _, err = await cli("--lang", "en", "roster", "remove", "--conference", "HN", "D2")
    assert code == 1 and "annul the check-in before deleting them" in err
    code, _, err = await cli("--lang", "en", "roster", "remove", "--conference", "HN", "D1")
    assert code == 1 and "conference HN has no delegate 'D1'" in err
    ids = await factory.conn.fetch("SELECT external_id FROM delegates ORDER BY 1")
    assert [r["external_id"] for r in ids] == ["D2"]


async def test_dash_o_writes_to_standard_output(
    cli: Run, factory: Factory, config: Config, tmp_path: Path
) -> None:
    conference = await _world(factory)
    await factory.delegate(conference["id"], site="S1", external_id="D1", full_name="Lò Thị Mai")
    code, out, err = await cli("codes", "--conference", "HN", "-o", "-")
    assert code == 0 and out.startswith("\ufeffexternal_id,full_name,site_code,code\r\n")
    assert "D1,Lò Thị Mai,S1,DC1." in out and "-> stdout" in err
    env = {
        **os.environ,
        "DATABASE_URL": config.database_url or "",
        "DIEMCAU_SECRET_KEY": config.secret_key or "",
    }
    argv = [
        sys.executable,
        "-m",
        "diemcau",
        "badges",
        "--conference",
        "HN",
        "--site",
        "S1",
        "-o",
        "-",
    ]
    done = await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"%PDF") and done.stdout.rstrip().endswith(b"%%EOF")
    code, _, err = await cli("--lang", "en", "badges", "--conference", "HN", "-o", "-")
    assert code == 2 and "-o - needs --site" in err
    code, _, err = await cli("--lang", "en", "passes", "--conference", "HN", "-o", "-")
    assert code == 2 and "-o needs a directory" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_only_on_a_terminal(monkeypatch: Any) -> None:
    clock = [0.0]
    monkeypatch.setattr("diemcau.cli.progress.time.monotonic", lambda: clock[0])
    log = io.StringIO()
    progress = Progress(log, every=5.0)
    for i in range(100):  # 100 updates over 20 s
        clock[0] = i * 0.2
        progress.show(f"{i} rows")
    progress.finish()
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == ["0 rows", "25 rows", "50 rows", "75 rows", "99 rows"]
    screen = _Terminal()
    progress = Progress(screen)
    for line in ("10 rows", "9 rows"):
        progress.show(line)
    progress.finish()
    assert screen.getvalue() == "\r10 rows\r9 rows \n"


async def test_a_roster_import_to_a_log_has_no_carriage_returns(
    cli: Run, factory: Factory, tmp_path: Path
) -> None:
    await _world(factory)
    path = tmp_path / "r.csv"
    path.write_text("external_id,full_name,category,site_code\nD1,Lò Thị Mai,member,S1\n")
    code, _, err = await cli("roster", "import", str(path), "--conference", "HN")
    assert code == 0 and "\r" not in err and "đã đọc" in err and "1 mới" in err


async def test_site_commands_find_the_service_on_port_and_say_why_not(
    cli: Run, monkeypatch: Any
) -> None:
    monkeypatch.delenv("DIEMCAU_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    assert settings(None, "t")[0] == "http://127.0.0.1:8123"
    monkeypatch.delenv("PORT")
    assert settings(None, "t")[0] == "http://127.0.0.1:8080"
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("DIEMCAU_TOKEN", "t")
    code, _, err = await cli("--lang", "en", "site", "list")
    assert code == 1 and f"127.0.0.1:{port} refused the connection" in err, err
    assert "ClientConnectorError" not in err
    code, _, err = await cli("site", "list")
    assert f"127.0.0.1:{port} từ chối kết nối" in err


def _helps(language: str) -> dict[tuple[Any, ...], str]:
    say.set_language(language)
    try:
        found = {}
        stack: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = [((), build_parser())]
        while stack:
            path, parser = stack.pop()
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    stack += [((*path, n), p) for n, p in action.choices.items()]
                if action.help and action.help != argparse.SUPPRESS:
                    found[(path, action.dest)] = action.help
        return found
    finally:
        say.set_language(None)


def test_no_english_left_in_a_vietnamese_help(capsys: Any) -> None:
    vi, en = _helps("vi"), _helps("en")
    same = {k: v for k, v in vi.items() if en.get(k) == v}
    # Only lists of values (levels, protocols, statuses) read the same in both.
    assert all(set(v) <= set("abcdefghijklmnopqrstuvwxyz0123456789_, ") for v in same.values())
    say.set_language("vi")
    try:
        assert (
            say.argparse_ngettext("expected %s argument", "expected %s arguments", 2)
            == "cần %s giá trị"
        )
    finally:
        say.set_language(None)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "show program's version" not in capsys.readouterr().out
