"""The embedded PostgreSQL comes back, for real: after an immediate shutdown or a kill -9
of the postmaster, the `diemcau serve` that owns it starts it again (crash recovery
runs; requests answer 503 meanwhile), and the next request works on the same pool. A
`serve` that joined notices when the owner is gone and takes over. At shutdown a process
says "stopped" only when it stopped the server; one started outside diemcau is left
running, and said so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diemcau.embedded.server import Binaries
from tests.pgdir import embedded_data_dir
from tests.test_serve import Server, _cli, _env, _free_port, _get, _postgres_running

PATIENCE = 90


class LoggedServer(Server):
    """`diemcau serve` with its standard error in a file, to be read while it runs."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.log = data_dir.parent / f"serve-{port}.log"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "diemcau", "serve", "--port", str(port)],
                env=_env(data_dir),
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
            )

    def wait_said(self, words: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while words not in self.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert words in self.log.read_text(), self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(PATIENCE)
        return self.proc.returncode, self.log.read_text()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with embedded_data_dir() as root:
        yield root / "var"
        if _postgres_running(root / "var"):
            Binaries.find().run("pg_ctl", "-D", str(root / "var" / "pgdata"), "-m", "fast", "stop")


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def come_back(server: Server, token: str, gone: int, data_dir: Path) -> list[int]:
    """Wait for a new postmaster and a 200 from /healthz; the statuses seen on the way."""
    seen = []
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            seen.append(_get(server.port, "/healthz"))
        except OSError:
            seen.append(0)
        if seen[-1] == 200 and _postgres_running(data_dir) and postmaster_pid(data_dir) != gone:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the embedded PostgreSQL did not come back: {server.stop()[1]}")


def test_an_immediate_stop_is_recovered_and_the_pool_works_again(data_dir: Path) -> None:
    server = LoggedServer(data_dir, _free_port())
    server.wait_ready()
    token = _cli(data_dir, "token", "create", "--role", "organiser").stdout.strip()
    assert _get(server.port, "/api/v1/ws-tickets", token, "POST") == 201
    gone = Binaries.find().crash(data_dir / "pgdata")
    seen = come_back(server, token, gone, data_dir)
    assert 503 in seen  # while it was down, answered as such
    # The very next request, and the pool's other connections after it, work.
    assert [_get(server.port, "/api/v1/ws-tickets", token, "POST") for _ in range(30)] == [201] * 30
    server_log = (data_dir / "pgdata" / "log").read_text(errors="replace")
    assert "automatic recovery in progress" in server_log  # crash recovery ran
    server.wait_said("embedded postgresql is back")
    code, err = server.stop()
    assert code == 0
    assert "embedded postgresql stopped; starting it again" in err
    assert "embedded PostgreSQL stopped" in err
    assert not _postgres_running(data_dir)


def test_a_joined_server_takes_over_when_the_owner_is_killed(data_dir: Path) -> None:
    owner = Server(data_dir, _free_port())
    owner.wait_ready()
    joined = LoggedServer(data_dir, _free_port())
    joined.wait_ready()
    token = _cli(data_dir, "token", "create", "--role", "organiser").stdout.strip()
    owner.stop(signal.SIGKILL)
    gone = postmaster_pid(data_dir)
    os.kill(gone, signal.SIGKILL)
    come_back(joined, token, gone, data_dir)
    assert _get(joined.port, "/api/v1/ws-tickets", token, "POST") == 201
    joined.wait_said("embedded postgresql is back")
    code, err = joined.stop()
    assert code == 0
    assert "the process that owned the embedded postgresql is gone" in err
    assert "embedded PostgreSQL stopped" in err  # it started this server, so it stops it
    assert not _postgres_running(data_dir)


def test_a_server_started_by_hand_is_left_running(data_dir: Path) -> None:
    assert _cli(data_dir, "migrate").returncode == 0  # makes pgdata, then stops the server
    binaries = Binaries.find()
    binaries.start(data_dir / "pgdata", wait=True)  # what a person would do with pg_ctl
    by_hand = postmaster_pid(data_dir)
    server = Server(data_dir, _free_port())
    server.wait_ready()
    assert _cli(data_dir, "token", "list").returncode == 0
    code, err = server.stop()
    assert code == 0
    assert f"embedded PostgreSQL (pid {by_hand}) was started outside diemcau" in err
    assert "embedded PostgreSQL stopped" not in err
    assert _postgres_running(data_dir) and postmaster_pid(data_dir) == by_hand
    binaries.stop(data_dir / "pgdata")
