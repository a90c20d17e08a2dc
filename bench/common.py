"""What every bench needs: a throwaway database, a running service, machine facts, output.

A bench never writes into a database it did not create: with `DATABASE_URL` set it makes
a fresh database on that server and drops it afterwards; without, it starts an embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import socket
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from diemcau.app import create_app
from diemcau.config import Config
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.migrate import migrate

RESULTS = Path(__file__).resolve().parent / "results"

FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Lò Tòng Quàng Vàng".split()
MIDDLE = "Văn Thị Đức Minh Thu Ngọc Hữu Quang Thanh Xuân".split()
GIVEN = "An Bình Cường Dũng Giang Hà Hải Hạnh Hoa Hùng Khánh Lan Linh Mai Nam Phong Quân Sơn Tâm Thảo Trang Tuấn Việt Yến".split()

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def say(text: str) -> None:
    """Progress for people, on stderr (stdout carries the table)."""
    print(text, file=sys.stderr, flush=True)


def person(i: int) -> str:
    """A realistic Vietnamese full name, the same for the same i."""
    return (
        f"{FAMILY[i % len(FAMILY)]} {MIDDLE[(i // 7) % len(MIDDLE)]} {GIVEN[(i // 3) % len(GIVEN)]}"
    )


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def _on_server(dsn: str, name: str) -> str:
    base, _, query = dsn.partition("?")
    scheme, _, rest = base.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@contextmanager
def bench_database() -> Iterator[str]:
    """The DSN of a migrated, empty database that is thrown away afterwards."""
    external = os.environ.get("DATABASE_URL")
    if external:
        name = f"diemcau_bench_{secrets.token_hex(4)}"
        asyncio.run(_admin(external, f'CREATE DATABASE "{name}"'))
        dsn = _on_server(external, name)
        try:
            asyncio.run(_migrate(dsn))
            yield dsn
        finally:
            asyncio.run(_admin(external, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-") as tmp:
        say("starting an embedded PostgreSQL ...")
        embedded = EmbeddedPostgres(Path(tmp))
        dsn = embedded.start()
        try:
            asyncio.run(_migrate(dsn))
            yield dsn
        finally:
            embedded.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_service(dsn: str, data_dir: Path) -> AsyncIterator[str]:
    """The real application on a loopback port; yields its base URL."""
    port = free_port()
    app = create_app(Config(database_url=dsn, data_dir=data_dir, secret_key="b" * 32))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model or platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_results(name: str, result: dict[str, Any]) -> Path:
    """bench/results/<name>.json with the machine it ran on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps({**result, "machine": machine()}, indent=2, ensure_ascii=False, default=str)
    )
    print(f"\nwritten {path}")
    return path
