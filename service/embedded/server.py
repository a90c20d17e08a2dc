"""The PostgreSQL programs behind the embedded server: where they are, how they are run,
and what `postmaster.pid` says about a running server.

The programs come from the `pgserver` wheel (as root they run as its `pgserver` user,
since PostgreSQL refuses to run as root), or from `initdb` and `pg_ctl` on PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from diemcau.errors import Msg

# PostgreSQL's stock settings (128MB cache, a checkpoint every 1GB of WAL) make a
# 2,500,000-row roster import thrash the cache and write every touched index page again
# after each checkpoint. These stay safe on a 4-8 GB laptop: the cache is 256MB, and WAL
# may grow to 4GB of disk between checkpoints (recycled afterwards).
SETTINGS = {
    "shared_buffers": "256MB",
    "wal_buffers": "16MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "256MB",
}
SETTINGS_FILE = "diemcau.conf"
_INCLUDE = f"include_if_exists = '{SETTINGS_FILE}'  # added by diemcau"

# Crash recovery replays the WAL written since the last checkpoint: with the settings
# above, up to 30 minutes of writes. Starting waits this long before it gives up.
START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 120


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL could not be started; the message says what to do, in
    both languages (`message`; `str()` is the English one, for logs)."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(message.en)


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust kill(0)
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass(frozen=True)
class Postmaster:
    """A running server, as its `postmaster.pid` describes it."""

    pid: int
    socket_dir: Path
    port: int
    status: str  # starting, ready, stopping, standby

    @classmethod
    def read(cls, pgdata: Path) -> Postmaster | None:
        """The live server of this data dir, or None (no file, a stale one, half written)."""
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
            pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
            status = lines[7].strip() if len(lines) > 7 else "starting"
        except (OSError, ValueError, IndexError):
            return None
        if not pid_alive(pid) or not socket_dir:
            return None
        return cls(pid, Path(socket_dir), port, status)

    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"


@dataclass(frozen=True)
class Binaries:
    """The programs and the user they run as (None: this user)."""

    bin_dir: Path
    user: str | None

    @classmethod
    def find(cls) -> Binaries:
        """The pgserver wheel's programs, else initdb and pg_ctl from PATH."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pgserver._commands import POSTGRES_BIN_PATH
        except ImportError:
            return cls.from_path()
        return cls(Path(POSTGRES_BIN_PATH), "pgserver" if os.geteuid() == 0 else None)

    @classmethod
    def from_path(cls) -> Binaries:
        initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
        if not (initdb and pg_ctl):
            raise EmbeddedError(
                Msg(
                    "không có PostgreSQL: cài gói 'pgserver' (pip install pgserver), đặt initdb "
                    "và pg_ctl vào PATH, hoặc đặt DATABASE_URL trỏ tới một máy chủ có sẵn",
                    "no PostgreSQL available: install the 'pgserver' package (pip install "
                    "pgserver), put initdb and pg_ctl on PATH, or set DATABASE_URL to an "
                    "existing server",
                )
            )
        if os.geteuid() == 0:
            raise EmbeddedError(
                Msg(
                    "PostgreSQL trong PATH không chạy dưới quyền root: cài gói 'pgserver' "
                    "(nó chạy PostgreSQL bằng người dùng riêng) hoặc đặt DATABASE_URL",
                    "PostgreSQL from PATH refuses to run as root: install the 'pgserver' "
                    "package (it runs PostgreSQL as its own user) or set DATABASE_URL",
                )
            )
        return cls(Path(pg_ctl).parent, None)

    def prepare(self, pgdata: Path) -> None:
        """Create pgdata (initdb) if it is new; as root, let the `pgserver` user in."""
        pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            _let_user_in(self.user, self.bin_dir, pgdata)
        if (pgdata / "PG_VERSION").exists():
            return
        args = ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"]
        if self.user is None:
            args.append("--locale=C")
        self.run("initdb", "-D", str(pgdata), *args)

    def start(self, pgdata: Path, wait: bool) -> None:
        """pg_ctl start (crash recovery runs first when the server did not stop cleanly);
        `wait`: until it accepts connections, else return once it is launched."""
        options = f"-h '' -k {socket_dir(pgdata, self.user)}"
        waiting = ["-w", "-t", str(START_TIMEOUT_S)] if wait else ["-W"]
        self.run(
            "pg_ctl", "-D", str(pgdata), *waiting, "-l", str(pgdata / "log"), "-o", options, "start"
        )

    def stop(self, pgdata: Path) -> None:
        """A fast shutdown: sessions are ended, a checkpoint is written."""
        self.run("pg_ctl", "-D", str(pgdata), "-w", "-t", str(STOP_TIMEOUT_S), "-m", "fast", "stop")

    def crash(self, pgdata: Path, within: float = 60.0) -> int:
        """`pg_ctl stop -m immediate`, as a crash looks (the rehearsals' and tests' fault):
        answers the stopped postmaster's pid once it is gone. pg_ctl's own wait is not
        used: it waits for postmaster.pid to go, and a watching serve may start a new
        server at once, whose pid file it would take for the old one not stopping."""
        old = Postmaster.read(pgdata)
        if old is None:
            raise EmbeddedError(Msg("PostgreSQL không chạy", "PostgreSQL is not running"))
        self.run("pg_ctl", "-D", str(pgdata), "-W", "-m", "immediate", "stop")
        deadline = time.monotonic() + within
        while pid_alive(old.pid):
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    Msg(f"PostgreSQL {old.pid} chưa dừng", f"PostgreSQL {old.pid} did not stop")
                )
            time.sleep(0.02)
        return old.pid

    def command(self, *args: str) -> list[str]:
        """The command line to run a program as its user (for people to copy, too)."""
        line = [str(self.bin_dir / args[0]), *args[1:]]
        return ["sudo", "-u", self.user, *line] if self.user else line

    def run(self, program: str, *args: str) -> None:
        # Output to files, not pipes: a postmaster started by pg_ctl could inherit a pipe
        # and hold it open, and the call would never return.
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(
                [str(self.bin_dir / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                user=self.user,
                cwd="/",
                timeout=START_TIMEOUT_S + 60,
                check=False,
            )
            out.seek(0)
            said = out.read().decode(errors="replace").strip()
        if done.returncode != 0:
            raise EmbeddedError(Msg(f"{program} lỗi: {said}", f"{program} failed: {said}"))


def socket_dir(pgdata: Path, user: str | None) -> Path:
    """Where the server's Unix socket goes: pgdata itself, unless that path is too long
    for a socket (about 100 bytes); then a private directory under the temp dir."""
    if len(str(pgdata / ".s.PGSQL.5432.lock")) < 100:
        return pgdata
    name = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"diemcau-pg-{name}"
    path.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _let_user_in(user: str, bin_dir: Path, pgdata: Path) -> None:
    """As root: the `pgserver` user exists, owns pgdata and can reach it and the programs."""
    import pwd
    import stat

    from pgserver.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(user)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir)
    read, run = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | run)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def write_settings(pgdata: Path) -> bool:
    """Write SETTINGS into pgdata and include them; True if anything changed on disk."""
    text = "# Written by diemcau at every start; edit SETTINGS in diemcau/embedded/server.py.\n"
    text += "".join(f"{name} = '{value}'\n" for name, value in SETTINGS.items())
    changed = False
    target = pgdata / SETTINGS_FILE
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
        changed = True
    conf = pgdata / "postgresql.conf"
    if _INCLUDE not in conf.read_text():
        with open(conf, "a") as fh:
            fh.write(f"\n{_INCLUDE}\n")
        changed = True
    return changed
