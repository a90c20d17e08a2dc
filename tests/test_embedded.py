"""The embedded PostgreSQL's fallbacks say what to do instead of failing obscurely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diemcau.embedded import EmbeddedError, EmbeddedPostgres


def test_no_postgres_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(EmbeddedError, match="install the 'pgserver' package"):
        EmbeddedPostgres(tmp_path / "var")._start_from_path()


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
        EmbeddedPostgres(tmp_path / "var")._start_from_path()


def test_dead_handles_are_pruned(tmp_path: Path) -> None:
    handles = tmp_path / "handles.json"
    handles.write_text(f"[{os.getpid()}, 999999999]")
    EmbeddedPostgres._prune_dead_handles(handles)
    assert handles.read_text() == f"[{os.getpid()}]"
