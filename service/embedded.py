"""The private PostgreSQL under DIEMCAU_DATA_DIR, for users who have none.

The `pgserver` wheel carries PostgreSQL binaries; without it, `initdb` and `pg_ctl` on PATH
are used. Several diemcau processes on one data dir share one server: each registers a
handle, and the last one to leave stops the server cleanly (a fast shutdown, which
checkpoints). Handles of processes that died without leaving are pruned at start-up, so a
`kill -9` never leaves the server running forever nor stops it under a live process.

The private server is tuned for bulk work (SETTINGS, in `diemcau.conf` included from
postgresql.conf); a server named by DATABASE_URL is never touched.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diemcau.errors import Msg

log = logging.getLogger("diemcau.embedded")

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


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL could not be started; the message says what to do, in
    both languages (`message`; `str()` is the English one, for logs)."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(message.en)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EmbeddedPostgres:
    """A handle on the data dir's PostgreSQL: `start()` joins or starts it, `stop()` leaves."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._lock_path = self.data_dir / "pgdata.lock"
        self._server: object | None = None
        self._own_dsn: str | None = None

    def start(self) -> str:
        """Start (or join) the server and answer its DSN."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pgserver  # noqa: F401
        except ImportError:
            return self._start_from_path()
        return self._start_pgserver()

    def _start_pgserver(self) -> str:
        with _locked(self._lock_path):
            handles = self.pgdata / ".handle_pids.json"
            self._prune_dead_handles(handles)
            server = self._get_pgserver()
            if write_settings(self.pgdata):
                # New settings take effect at a start: restart now if no one else uses the
                # server (always so right after initdb), else at the next start.
                if json.loads(handles.read_text() or "[]") == [os.getpid()]:
                    log.info("restarting the embedded postgresql with diemcau settings")
                    server.cleanup()  # type: ignore[attr-defined]
                    atexit.unregister(server._cleanup)  # type: ignore[attr-defined]
                    server = self._get_pgserver()
        self._server = server
        dsn = str(server.get_uri())  # type: ignore[attr-defined]
        log.info("embedded postgresql ready", extra={"pgdata": str(self.pgdata)})
        return dsn

    def _get_pgserver(self) -> object:
        import pgserver

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return pgserver.get_server(self.pgdata, cleanup_mode="stop")
            except Exception as exc:  # pgserver raises bare subprocess errors
                raise EmbeddedError(
                    Msg(
                        f"không khởi động được PostgreSQL nhúng trong {self.pgdata}: {exc}; "
                        f"xem {self.pgdata / 'log'}",
                        f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}; "
                        f"see {self.pgdata / 'log'}",
                    )
                ) from exc

    @staticmethod
    def _prune_dead_handles(path: Path) -> None:
        if not path.exists():
            return
        try:
            pids = json.loads(path.read_text() or "[]")
        except ValueError:
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))

    def stop(self) -> None:
        """Leave the server; the last process to leave stops it."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
            return
        if self._own_dsn is not None:
            self._leave_path_server()

    # --- fallback: initdb/pg_ctl found on PATH -------------------------------------------

    def _handles(self) -> Path:
        return self.data_dir / "pg_handles.json"

    def _start_from_path(self) -> str:
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
        sockets = self.data_dir / "run"
        sockets.mkdir(exist_ok=True)
        with _locked(self._lock_path):
            if not (self.pgdata / "PG_VERSION").exists():
                self._run(
                    [
                        initdb,
                        "-D",
                        str(self.pgdata),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--locale=C",
                    ]
                )
            changed = write_settings(self.pgdata)
            status = subprocess.run(
                [pg_ctl, "-D", str(self.pgdata), "status"], capture_output=True, check=False
            )
            if status.returncode == 0 and changed and not self._live_handles():
                self._run([pg_ctl, "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])
                status = subprocess.CompletedProcess([], 3)
            if status.returncode != 0:
                self._run(
                    [
                        pg_ctl,
                        "-D",
                        str(self.pgdata),
                        "-w",
                        "-l",
                        str(self.data_dir / "postgresql.log"),
                        "-o",
                        f"-h '' -k {sockets}",
                        "start",
                    ]
                )
            self._add_handle()
        self._own_dsn = f"postgresql://postgres@/postgres?host={sockets}"
        return self._own_dsn

    def _leave_path_server(self) -> None:
        pg_ctl = shutil.which("pg_ctl")
        with _locked(self._lock_path):
            remaining = self._remove_handle()
            if not remaining and pg_ctl:
                self._run([pg_ctl, "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])
        self._own_dsn = None

    def _live_handles(self) -> list[int]:
        self._prune_dead_handles(self._handles())
        return json.loads(self._handles().read_text()) if self._handles().exists() else []

    def _add_handle(self) -> None:
        self._prune_dead_handles(self._handles())
        pids = json.loads(self._handles().read_text()) if self._handles().exists() else []
        self._handles().write_text(json.dumps([*pids, os.getpid()]))

    def _remove_handle(self) -> list[int]:
        self._prune_dead_handles(self._handles())
        pids = json.loads(self._handles().read_text()) if self._handles().exists() else []
        pids = [p for p in pids if p != os.getpid()]
        self._handles().write_text(json.dumps(pids))
        return pids

    @staticmethod
    def _run(cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            name, said = Path(cmd[0]).name, done.stderr.strip()
            raise EmbeddedError(Msg(f"{name} lỗi: {said}", f"{name} failed: {said}"))


def write_settings(pgdata: Path) -> bool:
    """Write SETTINGS into pgdata and include them; True if anything changed on disk."""
    text = "# Written by diemcau at every start; edit SETTINGS in diemcau/embedded.py.\n"
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
