"""A DATABASE_URL that cannot be read, or a database that cannot be reached, is one clear
line on stderr naming DATABASE_URL with its password masked: never a traceback, and never
a piece of the password (asyncpg's own messages quote the parts it failed on)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from diemcau.config import mask_dsn

SECRET = "s3cr3t"
UNREADABLE = [
    # The password 'pa@ss:s3cr3t' holds '@' and ':' unescaped: asyncpg splits at the first
    # '@' and quotes the "port" it then finds, 's3cr3t@db.example'.
    f"postgresql://bob:pa@ss:{SECRET}@db.example/db",
    f"postgresql://bob:{SECRET}@db.example:notaport/db",
    f"postgresql://bob:{SECRET}@[bad/db",
    f"postgresql://bob:{SECRET}@db.example/db?sslmode=bogus",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DIEMCAU_LOG_LEVEL": "WARNING",
        "DIEMCAU_LANGUAGE": "en",
    }
    return subprocess.run(
        [sys.executable, "-m", "diemcau", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], words: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert words in lines[0], lines[0]
    assert "s3cr" not in done.stderr and "cr3t" not in done.stderr, lines[0]


@pytest.mark.parametrize("url", UNREADABLE)
def test_an_unreadable_url_is_one_line_without_the_password(url: str) -> None:
    _one_clear_line(_run(url, "token", "list"), "DATABASE_URL cannot be read")


def test_an_unreachable_database_is_one_line_for_the_cli_and_serve() -> None:
    url = f"postgresql://bob:{SECRET}@127.0.0.1:{_free_port()}/db"
    _one_clear_line(_run(url, "token", "list"), "cannot reach PostgreSQL")
    _one_clear_line(_run(url, "serve", "--port", str(_free_port())), "cannot reach PostgreSQL")


def test_mask_dsn_hides_every_spelling_of_a_password() -> None:
    assert mask_dsn("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert SECRET not in mask_dsn(f"postgresql://u:{SECRET}@x@h/db")
    assert "x@h" not in mask_dsn(f"postgresql://u:{SECRET}@x@h/db")  # all up to the last @
    assert SECRET not in mask_dsn(f"postgresql://:{SECRET}@h/db")
    assert SECRET not in mask_dsn(f"postgresql://u@h/db?sslmode=require&password={SECRET}")
    assert mask_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
