"""`diemcau serve` raises its own limit on open files: every kiosk socket is one, and a
soft limit of 1,024 (the common default) capped a worker at about that many kiosks. Here
the service starts under a soft limit of 256 and holds 400 connections at once, each
answered; before, accept() failed with EMFILE past 256 and the rest waited unanswered."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.test_serve import _free_port, _get

SOFT = 256
CONNECTIONS = 400
PATIENCE = 60


def _low_soft_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, hard))


def _limit_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line")


def _hold(port: int, count: int) -> list[socket.socket]:
    """`count` keep-alive connections, each with a request sent."""
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        held.append(s)
    return held


def test_serve_holds_more_sockets_than_its_soft_limit(database_url: str, tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard > CONNECTIONS + 100, "hard limit too low"
    port = _free_port()
    env = os.environ | {"DATABASE_URL": database_url, "DIEMCAU_LOG_LEVEL": "WARNING"}
    env["DIEMCAU_DATA_DIR"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "diemcau", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_low_soft_limit,
    )
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + PATIENCE
        while _ready(port) is False and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _limit_of(server.pid) > SOFT
        held = _hold(port, CONNECTIONS)
        answers = [s.recv(64) for s in held]
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
    finally:
        for s in held:
            s.close()
        server.terminate()
        server.wait(PATIENCE)


def _ready(port: int) -> bool:
    try:
        return _get(port, "/healthz") == 200
    except OSError:
        return False
