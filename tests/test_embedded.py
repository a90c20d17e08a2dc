"""The embedded PostgreSQL's fallbacks say what to do instead of failing obscurely."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from diemcau.embedded import (
    SETTINGS,
    SETTINGS_FILE,
    EmbeddedError,
    State,
    write_settings,
)
from diemcau.embedded.server import Binaries


def test_no_postgres_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(EmbeddedError, match="install the 'pgserver' package"):
        Binaries.from_path()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root is refused")
def test_path_postgres_as_root_points_to_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("initdb", "pg_ctl"):
        exe = bin_dir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(EmbeddedError, match="refuses to run as root"):
        Binaries.from_path()


def test_dead_users_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "embedded.json"
    path.write_text(f'{{"users": [{os.getpid()}, 999999999], "owner": 999999999}}')
    state = State.load(path)
    assert state.users == [os.getpid()] and state.owner is None  # the owner is gone too
    path.write_text("not json")
    assert State.load(path) == State()


def test_settings_are_written_once_and_included(tmp_path: Path) -> None:
    (tmp_path / "postgresql.conf").write_text("# stock\n")
    assert write_settings(tmp_path) is True
    assert write_settings(tmp_path) is False  # unchanged: no restart needed
    text = (tmp_path / SETTINGS_FILE).read_text()
    assert "shared_buffers = '256MB'" in text and "max_wal_size = '4GB'" in text
    assert (tmp_path / "postgresql.conf").read_text().count(SETTINGS_FILE) == 1


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="a server we did not start")
async def test_embedded_server_runs_with_the_settings(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        shown = {name: await conn.fetchval(f"SHOW {name}") for name in SETTINGS}
    finally:
        await conn.close()
    assert shown == SETTINGS
