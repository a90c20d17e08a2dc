"""`diemcau serve` as a user runs it: a real process on its embedded PostgreSQL.

Data survives a restart; SIGTERM stops the embedded server cleanly; a second process on
the same data dir joins it (CLI or another `serve`) and never stops it under the first;
a busy port is a clear error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgdir import embedded_data_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DIEMCAU_DATA_DIR"] = str(data_dir)
    env["DIEMCAU_LOG_LEVEL"] = "WARNING"
    env["DIEMCAU_LANGUAGE"] = "en"  # the messages asserted below are the English ones
    return env


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diemcau", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _get(port: int, path: str, token: str | None = None, method: str = "GET") -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


class Server:
    def __init__(self, data_dir: Path, port: int, *extra: str) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "diemcau", "serve", "--port", str(port), *extra],
            env=_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited early: {self.proc.communicate()[1]}")
            try:
                if _get(self.port, "/healthz") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("serve did not become ready in 60 s")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def _postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with embedded_data_dir() as root:
        yield root / "var"
        # Never leave a server behind, whatever the test did.
        if _postgres_running(root / "var"):
            _cli(root / "var", "migrate")  # joining and leaving stops an orphaned server


def test_data_survives_restart_and_sigterm_stops_postgres(data_dir: Path) -> None:
    port = _free_port()
    server = Server(data_dir, port)
    server.wait_ready()
    # The CLI joins the running embedded server rather than starting a second one.
    created = _cli(data_dir, "token", "create", "--role", "organiser", "--label", "admin")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("dc_") and "\n" not in token
    assert _get(port, "/api/v1/ws-tickets", token, "POST") == 201
    listing = _cli(data_dir, "token", "list")
    assert "admin" in listing.stdout and token not in listing.stdout

    code, err = server.stop(signal.SIGTERM)
    assert code == 0, err
    assert "no access token exists yet" in err  # a new installation says how to get in
    assert f"http://127.0.0.1:{port}/api/docs" in err  # and where the API is described
    assert "embedded PostgreSQL stopped" in err
    assert not _postgres_running(data_dir)

    again = Server(data_dir, port)
    again.wait_ready()
    assert _get(port, "/api/v1/ws-tickets", token, "POST") == 201
    code, err = again.stop(signal.SIGINT)
    assert code == 0
    assert "no access token exists yet" not in err
    assert not _postgres_running(data_dir)


def test_cli_alone_starts_and_stops_the_embedded_server(data_dir: Path) -> None:
    done = _cli(data_dir, "migrate")
    assert done.returncode == 0, done.stderr
    assert "0001_registry.sql" in done.stdout
    assert not _postgres_running(data_dir)
    listing = _cli(data_dir, "token", "list")
    assert listing.returncode == 0 and "role" in listing.stdout


def test_busy_port_is_a_clear_error(data_dir: Path) -> None:
    port = _free_port()
    first = Server(data_dir, port)
    first.wait_ready()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "diemcau", "serve", "--port", str(port)],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert "already in use" in second.stderr
        assert _get(port, "/healthz") == 200
    finally:
        assert first.stop()[0] == 0


def test_two_servers_share_one_data_dir(data_dir: Path) -> None:
    first = Server(data_dir, _free_port())
    first.wait_ready()
    second = Server(data_dir, _free_port())
    second.wait_ready()
    code, err = first.stop()
    assert code == 0
    # The second still holds the embedded server: it must not have been stopped, nor
    # said to be.
    assert "embedded PostgreSQL left running for other diemcau processes" in err
    assert "embedded PostgreSQL stopped" not in err
    assert _postgres_running(data_dir)
    assert _get(second.port, "/healthz") == 200
    code, err = second.stop()
    assert code == 0 and "embedded PostgreSQL stopped" in err
    assert not _postgres_running(data_dir)


def test_killed_server_leaves_nothing_that_blocks_a_restart(data_dir: Path) -> None:
    port = _free_port()
    server = Server(data_dir, port)
    server.wait_ready()
    server.stop(signal.SIGKILL)
    again = Server(data_dir, port)
    again.wait_ready()
    assert again.stop()[0] == 0
    # The dead process's handle was pruned, so the last live one stopped the server.
    assert not _postgres_running(data_dir)


def test_workers_serve_and_stop_together(data_dir: Path) -> None:
    port = _free_port()
    server = Server(data_dir, port, "--workers", "2")
    server.wait_ready()
    assert all(_get(port, "/healthz") == 200 for _ in range(20))
    code, err = server.stop()
    assert code == 0, err
    assert not _postgres_running(data_dir)
