"""The kiosk's local SQLite file: its enrollment, its roster snapshot and its scan queue.

A scan is committed here before the door sees its answer, so a crash or a power cut
loses nothing: the queue is replayed on the next start. The file holds the kiosk token,
so it is created with mode 0600 in a directory of mode 0700.

Tables: `settings` (key -> JSON value: token, conference, site, keys, roster version,
link state...), `roster` (the delegates the kiosk may meet), `scans` (every scan, in
the order it was made; `state` is `pending` until the service answered it, then `done`,
or `set_aside` when the service refused it for good) and `headcounts` (what was counted
in the room, queued the same way).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roster (
    id                 INTEGER PRIMARY KEY,
    external_id        TEXT,
    full_name          TEXT NOT NULL,
    category           TEXT,
    unit_code          TEXT,
    site_code          TEXT,
    credential_version INTEGER NOT NULL,
    revoked            INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id      TEXT NOT NULL UNIQUE,
    body         TEXT NOT NULL,          -- the scan object exactly as it is sent, JSON
    delegate_id  INTEGER,
    direction    TEXT NOT NULL,
    scanned_at   TEXT NOT NULL,
    offline      TEXT NOT NULL,          -- the offline verdict's result
    state        TEXT NOT NULL DEFAULT 'pending',
    result       TEXT,                   -- the service's result object, JSON
    note         TEXT,                   -- why a scan was set aside
    answered_at  TEXT
);
CREATE INDEX IF NOT EXISTS scans_state_idx ON scans (state, seq);
CREATE TABLE IF NOT EXISTS headcounts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    headcount_id TEXT NOT NULL UNIQUE,
    body         TEXT NOT NULL,          -- the headcount exactly as it is sent, JSON
    state        TEXT NOT NULL DEFAULT 'pending',
    result       TEXT,                   -- the service's answer, JSON
    note         TEXT,                   -- why it was set aside
    answered_at  TEXT
);
CREATE INDEX IF NOT EXISTS scans_delegate_idx ON scans (delegate_id, seq);
"""

ROSTER_FIELDS = (
    "id external_id full_name category unit_code site_code credential_version revoked".split()
)


class NotEnrolled(Exception):
    """The file holds no enrollment yet."""


def default_path() -> Path:
    """DIEMCAU_KIOSK_DB, else `kiosk.db` in the per-user data directory of this system."""
    if env := os.environ.get("DIEMCAU_KIOSK_DB"):
        return Path(env)
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "diemcau" / "kiosk.db"


def _create_private(path: Path) -> None:
    """Make the file (and its directory) readable by this user only, before SQLite opens it.

    SQLite gives its -wal and -shm files the database file's mode, so they stay private too.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued scan: its order, its id and its body as JSON text (sent as it is)."""

    seq: int
    scan_id: str
    body: str


class RunLock:
    """At most one `diemcau kiosk run` per file: an advisory lock the kernel drops on exit.

    A second run would send the same queue twice (harmless, but confusing on the screen);
    `status` asks the lock whether a run is alive. Where fcntl is missing (Windows) there
    is no lock and `alive` is None.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        if fcntl is None:
            return True
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def alive(self) -> bool | None:
        """Whether another process holds the lock (a run is going)."""
        if fcntl is None:
            return None
        if not self.acquire():
            return True
        self.release()
        return False


class Store:
    """One open kiosk file. Every write commits at once (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _create_private(path)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a scan the door was shown survives a power cut, not only a crash.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # settings

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, **values: Any) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
            )

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise NotEnrolled(str(self.path))
        return value

    # roster

    def replace_roster(self, delegates: Iterable[Mapping[str, Any]]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM roster")
            self._upsert(delegates)

    def update_roster(self, delegates: Iterable[Mapping[str, Any]], removed: Iterable[int]) -> None:
        # Removals first: a delegate moved between two sites of the scope is in both lists.
        with self.transaction():
            self.db.executemany("DELETE FROM roster WHERE id = ?", [(i,) for i in removed])
            self._upsert(delegates)

    def _upsert(self, delegates: Iterable[Mapping[str, Any]]) -> None:
        marks = ", ".join("?" for _ in ROSTER_FIELDS)
        self.db.executemany(
            f"INSERT OR REPLACE INTO roster ({', '.join(ROSTER_FIELDS)}) VALUES ({marks})",
            ([d.get(f) for f in ROSTER_FIELDS] for d in delegates),
        )

    def delegate(self, delegate_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM roster WHERE id = ?", (delegate_id,)).fetchone()
        return None if row is None else dict(row)

    def roster_size(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM roster").fetchone()[0])

    # scans

    def queue(self, scan: Mapping[str, Any], delegate_id: int | None, offline: str) -> None:
        """Commit one scan to the queue (before anyone is shown its answer)."""
        self.db.execute(
            "INSERT INTO scans (scan_id, body, delegate_id, direction, scanned_at, offline) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                scan["scan_id"],
                json.dumps(scan, ensure_ascii=False, separators=(",", ":")),
                delegate_id,
                scan.get("direction", "in"),
                scan["scanned_at"],
                offline,
            ),
        )

    def pending(self, limit: int, after: int = 0) -> list[Pending]:
        """Queued scans in scan order, after the one numbered `after`."""
        rows = self.db.execute(
            "SELECT seq, scan_id, body FROM scans WHERE state = 'pending' AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [Pending(*row) for row in rows]

    def requeue_answered(self) -> int:
        """Put every answered scan back in the queue, to send it all again (a replay).

        Harmless by design: the service answers a known scan_id with its first answer.
        The earlier answer stays in `result` until the new one replaces it.
        """
        return self.db.execute("UPDATE scans SET state = 'pending' WHERE state = 'done'").rowcount

    def answer(self, results: Iterable[Mapping[str, Any]], answered_at: str) -> None:
        """Record the service's results; their scans leave the queue."""
        with self.transaction():
            self.db.executemany(
                "UPDATE scans SET state = 'done', result = ?, answered_at = ? WHERE scan_id = ?",
                [(json.dumps(r, ensure_ascii=False), answered_at, r["scan_id"]) for r in results],
            )

    def set_aside(self, scan_id: str, note: str) -> None:
        """Take a scan the service refuses for good out of the queue, keeping it for a person."""
        self.db.execute(
            "UPDATE scans SET state = 'set_aside', note = ? WHERE scan_id = ?", (note, scan_id)
        )

    def told(self, scan_id: str) -> tuple[str, dict[str, Any] | None] | None:
        """A scan's offline result and the service's earlier result object, if any."""
        row = self.db.execute(
            "SELECT offline, result FROM scans WHERE scan_id = ?", (scan_id,)
        ).fetchone()
        if row is None:
            return None
        return row[0], (json.loads(row[1]) if row[1] else None)

    def history(self, delegate_id: int) -> list[Mapping[str, Any]]:
        """This device's accepted scans of a delegate, oldest first (the service's word wins)."""
        rows = self.db.execute(
            "SELECT direction, scanned_at, offline, result FROM scans "
            "WHERE delegate_id = ? AND state <> 'set_aside' ORDER BY seq",
            (delegate_id,),
        )
        out: list[Mapping[str, Any]] = []
        for direction, scanned_at, offline, result in rows:
            said = json.loads(result)["result"] if result else offline
            if said == "accepted":
                out.append({"direction": direction, "scanned_at": scanned_at})
        return out

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, count(*) FROM scans GROUP BY state")
        found = {state: n for state, n in rows}
        return {k: found.get(k, 0) for k in ("pending", "done", "set_aside")}

    def set_aside_scans(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT scan_id, scanned_at, note FROM scans WHERE state = 'set_aside' ORDER BY seq"
        )
        return [dict(r) for r in rows]

    # headcounts

    def queue_headcount(self, body: Mapping[str, Any]) -> None:
        """Commit a headcount to the queue (it carries its own `headcount_id`)."""
        self.db.execute(
            "INSERT INTO headcounts (headcount_id, body) VALUES (?, ?)",
            (body["headcount_id"], json.dumps(body, ensure_ascii=False, separators=(",", ":"))),
        )

    def pending_headcounts(self) -> list[tuple[str, dict[str, Any]]]:
        """Queued headcounts, oldest first: (headcount_id, body)."""
        rows = self.db.execute(
            "SELECT headcount_id, body FROM headcounts WHERE state = 'pending' ORDER BY seq"
        )
        return [(hid, json.loads(body)) for hid, body in rows]

    def answer_headcount(self, headcount_id: str, result: Mapping[str, Any], at: str) -> None:
        self.db.execute(
            "UPDATE headcounts SET state = 'done', result = ?, answered_at = ? "
            "WHERE headcount_id = ?",
            (json.dumps(result, ensure_ascii=False), at, headcount_id),
        )

    def set_aside_headcount(self, headcount_id: str, note: str) -> None:
        self.db.execute(
            "UPDATE headcounts SET state = 'set_aside', note = ? WHERE headcount_id = ?",
            (note, headcount_id),
        )

    def unsent(self) -> int:
        """Scans and headcounts still waiting to be sent."""
        return self.counts()["pending"] + self.headcount_counts()["pending"]

    def headcount_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, count(*) FROM headcounts GROUP BY state")
        found = {state: n for state, n in rows}
        return {k: found.get(k, 0) for k in ("pending", "done", "set_aside")}
