"""Helpers shared by CLI commands: the config, a database connection, problems as text."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from diemcau import suggest, tabular
from diemcau.auth import CLI
from diemcau.cli.say import error, report_problem, t
from diemcau.config import Config
from diemcau.db import connect, resolve_dsn
from diemcau.errors import Msg, constraint_problem
from diemcau.logs import setup_logging
from diemcau.migrate import migrate
from diemcau.queries.conferences import fetch_conference

__all__ = [
    "add_conference",
    "conference",
    "database",
    "file_kind",
    "load_config",
    "positive_int",
    "refuse_file",
    "report_problem",
]


def load_config() -> Config:
    config = Config.from_env()
    setup_logging("WARNING" if config.log_level == "INFO" else config.log_level)
    return config


@asynccontextmanager
async def database(config: Config) -> AsyncIterator[asyncpg.Connection]:
    """A migrated connection: to DATABASE_URL, or to the embedded server (joined or started)."""
    dsn, embedded = resolve_dsn(config)
    try:
        conn = await connect(dsn)
        try:
            await migrate(conn)
            yield conn
        except asyncpg.IntegrityConstraintViolationError as exc:
            # A business rule the database enforces by name: said as the API says it.
            known = constraint_problem(getattr(exc, "constraint_name", None))
            if known is None:
                raise
            raise known from None
        finally:
            await conn.close()
    finally:
        if embedded is not None:
            embedded.stop()


async def conference(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    """The conference, or a 404 problem suggesting the nearest code."""
    found = await fetch_conference(conn, code)
    if found is None:
        raise await suggest.not_found(conn, CLI, "conferences", code)
    return found


def add_conference(parser: argparse.ArgumentParser) -> None:
    """The `--conference C` every conference command takes."""
    parser.add_argument("--conference", required=True, help=t("mã hội nghị", "conference code"))


def positive_int(raw: str) -> int:
    """An argparse type: a whole number of at least 1 (`--workers 0` is refused)."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            t(f"{raw!r} không phải số nguyên", f"{raw!r} is not a whole number")
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            t(f"phải từ 1 trở lên, không phải {value}", f"must be at least 1, not {value}")
        )
    return value


def refuse_file(path: Path) -> int | None:
    """Exit status 2 (a usage error, as argparse answers), said plainly, for a missing or
    empty file; None when it will do."""
    if not path.is_file():
        error(Msg(f"không có tệp {path}", f"no such file: {path}"))
        return 2
    if path.stat().st_size == 0:
        error(
            Msg(
                f"tệp {path} trống: cần dòng tiêu đề và ít nhất một dòng dữ liệu",
                f"the file {path} is empty: a header and at least one row are needed",
            )
        )
        return 2
    return None


def file_kind(path: Path) -> str:
    """CSV or XLSX, by the file's extension."""
    return tabular.XLSX if path.suffix.lower() in (".xlsx", ".xlsm") else tabular.CSV
