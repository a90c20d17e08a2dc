"""Headcounts from the technician's `diemcau site headcount` (HTTP) and from the Python
kiosk's `diemcau kiosk headcount`, which queues them like scans while the service is
away and sends each exactly once when it is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from diemcau.cli import build_parser
from diemcau.kiosk.store import Store
from diemcau.sites import cli as site_cli
from tests.test_kiosk_e2e import Service, enrolled, kiosk, service, world  # noqa: F401


async def site(*argv: str) -> int:
    return await site_cli.run(build_parser().parse_args(["site", *argv]))


async def test_the_technician_reports_and_corrects_a_headcount(
    service: Service,  # noqa: F811
    world: dict[str, Any],  # noqa: F811
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    token = world["tech"]["Authorization"].split()[1]
    monkeypatch.setenv("DIEMCAU_URL", service.url)
    monkeypatch.setenv("DIEMCAU_TOKEN", token)
    args = ("headcount", "LC-01", "--conference", "HN1", "--moment", "start")
    assert await site(*args, "--members", "1200", "--non-members", "35", "--guests", "4") == 0
    out = capsys.readouterr()
    assert "1.239" in out.out and "đầu giờ" in out.out and "Đã báo" in out.err
    assert await site(*args, "--members", "1100", "--non-members", "35", "--note", "đếm lại") == 0
    capsys.readouterr()
    assert await site("headcount", "LC-01", "--conference", "HN1", "--show") == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 2 and "1.135" in shown[0] and "1.239" in shown[1]
    rows = await db.fetch("SELECT members, note FROM headcounts ORDER BY id")
    assert [tuple(r) for r in rows] == [(1200, None), (1100, "đếm lại")]
    assert await site(*args, "--members", "-5", "--non-members", "0") == 1
    assert "422" in capsys.readouterr().err
    assert await site("headcount", "LC-01", "--conference", "HN1", "--moment", "end") == 2


async def test_the_kiosk_queues_a_headcount_while_the_service_is_away(
    service: Service,  # noqa: F811
    world: dict[str, Any],  # noqa: F811
    db: asyncpg.Connection,
    tmp_path: Path,
    capsys: Any,
) -> None:
    path = tmp_path / "kiosk.db"
    await enrolled(service, world, path)
    await service.stop()
    args = ("headcount", "--db", str(path), "--moment", "start", "--members", "80",
            "--non-members", "9", "--guests", "2")  # fmt: skip
    assert await kiosk(*args) == 0  # recorded; the service cannot be reached yet
    assert "91" in capsys.readouterr().err
    with Store(path) as store:
        assert store.headcount_counts() == {"pending": 1, "done": 0, "set_aside": 0}
    assert await db.fetchval("SELECT count(*) FROM headcounts") == 0
    assert await kiosk("sync", "--db", str(path), "--timeout", "1") != 0
    assert "0 lượt quét và 1 lần đếm người chờ gửi" in capsys.readouterr().out
    await service.start()
    assert await kiosk("sync", "--db", str(path), "--timeout", "10") == 0
    with Store(path) as store:
        assert store.headcount_counts() == {"pending": 0, "done": 1, "set_aside": 0}
        body = store.pending_headcounts()
    row = await db.fetchrow("SELECT * FROM headcounts")
    assert (row["members"], row["non_members"], row["guests"], row["actor"][:6]) == (
        80,
        9,
        2,
        "kiosk#",
    )
    # Sent again (a replay of the file): the service answers the stored record, adds nothing.
    with Store(path) as store:
        store.db.execute("UPDATE headcounts SET state = 'pending'")
    assert await kiosk("sync", "--db", str(path), "--timeout", "10") == 0
    assert await db.fetchval("SELECT count(*) FROM headcounts") == 1 and body == []
    assert await kiosk("status", "--db", str(path)) == 0
    assert "Số người đếm" in capsys.readouterr().out
