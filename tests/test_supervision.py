"""`diemcau serve --workers 2` keeps its workers, for real: a worker killed with kill -9 is
logged and replaced by one that answers, and /metrics (from whichever worker answers)
shows workers alive against configured; SIGTERM stops everything, and a worker killed
during the shutdown is not started again; a master that cannot keep any worker alive
exits non-zero instead of holding a port nobody answers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from diemcau.supervisor import GIVE_UP_AFTER
from tests.test_serve import _free_port, _get

PATIENCE = 60


class Serve:
    """`diemcau serve --workers 2` on the test database, its log in a file."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.port = _free_port()
        self.log = tmp_path / "serve.log"
        env = os.environ | {"DATABASE_URL": database_url, "DIEMCAU_LOG_LEVEL": "INFO"}
        env["DIEMCAU_LANGUAGE"] = "en"
        env["DIEMCAU_DATA_DIR"] = str(tmp_path / "var")
        argv = ["serve", "--port", str(self.port), "--workers", "2"]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "diemcau", *argv],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def metrics(self) -> dict[str, Any]:
        """Workers configured and alive, restarts, and the pid of the worker that answered."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        found: dict[str, Any] = {}
        for name, value in re.findall(r'^diemcau_workers\{state="(\w+)"\} (\S+)$', text, re.M):
            found[name] = int(float(value))
        restarts = re.search(r"^diemcau_worker_restarts_total (\S+)$", text, re.M)
        found["restarts"] = int(float(restarts[1])) if restarts else None
        answered = re.search(r'^diemcau_worker\{pid="(\d+)",worker="(\d+)"\} 1', text, re.M)
        found["pid"] = int(answered[1]) if answered else None
        return found

    def wait_for(self, check: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited while waiting for {what}: {self.text()}")
            try:
                seen = self.metrics()
                if check(seen):
                    return seen
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"never saw {what}; log: {self.text()[-3000:]}")

    def workers(self) -> set[int]:
        """The pids of both workers, as they answer (connections spread over them)."""
        seen: set[int] = set()
        self.wait_for(lambda m: m.get("alive") == 2, "two workers alive")
        self.wait_for(lambda m: seen.add(m["pid"]) or len(seen) == 2, "both workers answer")
        return seen

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(PATIENCE)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_worker_is_replaced_and_shutdown_restarts_nothing(
    database_url: str, tmp_path: Path
) -> None:
    serve = Serve(database_url, tmp_path)
    try:
        first = serve.workers()
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        seen = serve.wait_for(
            lambda m: m["pid"] not in first and m["alive"] == 2, "a new worker answering"
        )
        assert seen == {"configured": 2, "alive": 2, "restarts": 1, "pid": seen["pid"]}
        assert _get(serve.port, "/healthz") == 200
        died = [e for e in serve.entries() if e.get("msg") == "worker died"]
        assert [(e["pid"], e["signal"], e["restart_in_s"]) for e in died] == [
            (victim, "SIGKILL", 0.0)
        ]
        # A worker killed while the service stops is not started again.
        serve.proc.send_signal(signal.SIGTERM)
        os.kill((first - {victim}).pop(), signal.SIGKILL)
        assert serve.proc.wait(PATIENCE) == 0
        assert not any(_alive(pid) for pid in first | {seen["pid"]})
        messages = [e.get("msg") for e in serve.entries()]
        stopping = messages.index("stopping workers")
        assert "worker started" not in messages[stopping:]
        assert messages.count("worker started") == 3
    finally:
        serve.stop()


async def test_a_starting_worker_takes_no_connection_before_it_serves(
    database_url: str, tmp_path: Path
) -> None:
    """A new worker's startup is held on a lock (its check of the stored keys): all that
    time every connection must be answered by the worker that serves, none left waiting
    in the new one's queue (before, the new worker listened from its first instant)."""
    serve = Serve(database_url, tmp_path)
    holder = await asyncpg.connect(database_url)
    try:
        first = await asyncio.to_thread(serve.workers)
        victim = min(first)
        survivor = (first - {victim}).pop()
        async with holder.transaction():
            await holder.execute("LOCK TABLE conference_keys IN ACCESS EXCLUSIVE MODE")
            os.kill(victim, signal.SIGKILL)
            await _starting_worker_blocked(database_url, holder.get_server_pid())
            answered = [await asyncio.to_thread(serve.metrics) for _ in range(30)]
            assert {m["pid"] for m in answered} == {survivor}
        seen = await asyncio.to_thread(
            serve.wait_for, lambda m: m["pid"] not in first and m["alive"] == 2, "the new worker"
        )
        assert seen["restarts"] == 1
    finally:
        await holder.close()
        serve.stop()


async def _starting_worker_blocked(database_url: str, holder: int) -> None:
    """Until a backend waits on the lock `holder` holds (the new worker's startup).

    Asked on a connection of its own: inside the holder's transaction, pg_stat_activity
    would answer the same snapshot every time.
    """
    watcher = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                holder,
            )
            if waiting:
                return
            await asyncio.sleep(0.1)
    finally:
        await watcher.close()
    raise AssertionError("no new worker ever waited on the lock")


async def test_the_master_exits_non_zero_when_no_worker_can_start(
    fresh_database: str, admin_dsn: str, tmp_path: Path
) -> None:
    serve = Serve(fresh_database, tmp_path)
    try:
        first = await asyncio.to_thread(serve.workers)
        # With its database gone, a worker cannot start: each new one dies at once.
        name = fresh_database.split("?")[0].rsplit("/", 1)[1]
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        code = await asyncio.to_thread(serve.proc.wait, 3 * PATIENCE)
        assert code == 1
        died = [e for e in serve.entries() if e.get("msg") == "worker died"]
        assert len(died) >= 2 * GIVE_UP_AFTER
        assert [e["restart_in_s"] for e in died if e["worker"] == 0][:4] == [0.0, 0.5, 1.0, 2.0]
        assert "no worker stays up" in serve.text()
    finally:
        serve.stop()
