"""Roster import: a CSV or XLSX file in; every row checked; all rows saved or none.

The path is built for 2,500,000 rows. A worker thread (a worker process for a big file)
reads and checks the rows in chunks (field rules, and site/unit codes against maps loaded
once) while the event loop writes the previous chunk. A conference with no delegates yet gets each clean chunk
copied straight into `delegates` (the unique index catches an external_id the file
repeats; a later bad row still rolls it all back). A roster being re-imported is copied
into a temporary staging table instead, checked for repeated ids with one set-based query,
and written with one UPDATE and one INSERT ... SELECT. Any bad row: nothing is written and
every bad row is reported (row, field, message). Re-importing updates by external_id; a
delegate moved to another site gets a new credential version.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from diemcau import audit, tabular
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable, reload
from diemcau.delegates import (
    CATEGORY_WORDS,
    EMAIL_RE,
    MAX_EMAIL,
    MAX_EXTERNAL_ID,
    category_of,
)
from diemcau.errors import Msg, Problem
from diemcau.phones import normalise_phone
from diemcau.tabular import MAX_ERRORS, import_failed, row_error
from diemcau.units import MAX_NAME

COLUMNS = ("external_id", "full_name", "category", "site_code", "unit_code", "phone", "email")
REQUIRED = ("external_id", "full_name", "category", "site_code")
RECORD_COLUMNS = ("external_id", "full_name", "category", "site_id", "unit_id", "phone", "email")
STAGING_COLUMNS = ("row", *RECORD_COLUMNS)
FRESH_COLUMNS = ("conference_id", *RECORD_COLUMNS)  # straight into `delegates`
CHUNK_ROWS = 20_000
# A file this big is checked in a process of its own (about 50,000 rows of CSV); a
# smaller one in a thread, sparing the process start (about half a second).
PROCESS_BYTES = 4 << 20

# stage ("parsed", "validated", "written"), rows done, rows expected (None if unknown)
Progress = Callable[[str, int, int | None], None]

_EMPTY = Msg("Không được để trống", "must not be empty")
_TOO_LONG = Msg("Quá dài", "too long")
_BAD_CATEGORY = Msg(
    "Loại phải là đảng viên, quần chúng hoặc khách mời (member, non_member, guest)",
    "category must be member, non_member or guest (or đảng viên, quần chúng, khách mời)",
)
_BAD_EMAIL = Msg("Địa chỉ thư điện tử không đúng", "not an e-mail address")
_OUTSIDE_SCOPE = Msg("Đơn vị ngoài phạm vi của bạn", "unit outside your subtree")
_NOT_TAKING_PART = Msg("Điểm cầu không tham gia hội nghị", "the site does not take part")
_EXTRA_CELLS = Msg("Dòng có nhiều ô hơn tiêu đề", "the row has more cells than the header")


@dataclass(frozen=True)
class Maps:
    """What a row's codes are checked against, loaded once per import."""

    sites: dict[str, int]  # participating sites: code -> id
    site_units: dict[int, int]  # site id -> its unit id (a row without unit_code)
    known_sites: frozenset[str]  # every site code, to tell "unknown" from "not taking part"
    units: dict[str, int]  # the units the importer may name
    foreign_units: frozenset[str] = frozenset()  # outside a scoped organiser's subtree


async def load_maps(
    conn: asyncpg.Connection, conference_id: int, principal: Principal | None = None
) -> Maps:
    rows = await conn.fetch(
        """SELECT s.code, s.id, s.unit_id, cs.site_id IS NOT NULL AS taking_part
             FROM sites s
             LEFT JOIN conference_sites cs ON cs.site_id = s.id AND cs.conference_id = $1""",
        conference_id,
    )
    units = await conn.fetch("SELECT code, id, path FROM units")
    ours = [r for r in units if principal is None or principal.covers_unit_path(r["path"])]
    return Maps(
        sites={r["code"]: r["id"] for r in rows if r["taking_part"]},
        site_units={r["id"]: r["unit_id"] for r in rows if r["taking_part"]},
        known_sites=frozenset(r["code"] for r in rows),
        units={r["code"]: r["id"] for r in ours},
        foreign_units=frozenset(r["code"] for r in units) - {r["code"] for r in ours},
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, Sequence[str]]]:
    """(row number, cells in COLUMNS order) from a CSV file, streamed.

    The same numbering and header rules as tabular.read_rows, without cleaning every
    cell up front: at 2,500,000 rows that cleaning alone costs 20 s; the checker strips
    and normalises the fields it keeps.
    """
    return _numbered(tabular.open_csv(path))


def _header(reader: Iterator[list[str]]) -> tabular.Header:
    for raw in reader:
        if any(c.strip() for c in raw):
            return tabular.check_header(raw, COLUMNS, REQUIRED)
    raise import_failed(
        [row_error(0, "", Msg("Tệp trống", "the file is empty: a header row is needed"))]
    )


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, Sequence[str]]]:
    number = 0
    header = _header(reader)
    width = len(header.names)
    where = [header.names.index(c) if c in header.names else width for c in COLUMNS]
    for raw in reader:
        number += 1
        if not raw or (not raw[0].strip() and not "".join(raw).strip()):
            continue  # blank lines are skipped but keep their number, as in Excel
        if len(raw) != width:
            if len(raw) > width and "".join(raw[width:]).strip():
                yield number, ()  # the checker reports it
                continue
            raw = (raw + [""] * width)[:width]
        raw.append("")  # where[] points here for a column the file does not have
        yield number, [raw[i] for i in where]


def _rows(path: Path, kind: str) -> Iterator[tuple[int, Sequence[str]]]:
    return _xlsx_rows(path) if kind == tabular.XLSX else _csv_rows(path)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Sequence[str]]]:
    for number, cells in tabular.read_rows(path, tabular.XLSX, COLUMNS, REQUIRED):
        yield number, [cells.get(c, "") for c in COLUMNS]


def _clean_id(value: str) -> str:
    value = value.strip()
    return value if value.isascii() else unicodedata.normalize("NFC", value)


@dataclass
class Checker:
    """Checks rows one by one into COPY records; keeps the first errors, counts all.

    A record leads with its row number (STAGING_COLUMNS), or with `conference_id` when
    given (FRESH_COLUMNS, for a roster written straight into `delegates`).
    """

    maps: Maps
    conference_id: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    rows: int = 0

    def fail(self, number: int, name: str, message: Msg | str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(row_error(number, name, message))

    def chunk(self, rows: Iterator[tuple[int, Sequence[str]]]) -> bytes | None:
        """The next CHUNK_ROWS records as COPY text (None at the end of the file).

        Encoded here, in the worker thread, so the event loop only ships bytes and the
        server's work overlaps the checking of the next chunk.
        """
        out = []
        check = self.check
        for number, cells in rows:
            out.append(_copy_line(check(number, cells)))
            if len(out) >= CHUNK_ROWS:
                break
        self.rows += len(out)
        return "".join(out).encode() if out else None

    def check(self, number: int, cells: Sequence[str]) -> tuple:
        """One row as a COPY record; a bad field is reported and left NULL."""
        lead = number if self.conference_id is None else self.conference_id
        if not cells:
            self.fail(number, "", _EXTRA_CELLS)
            return (lead, None, None, None, None, None, None, None)
        ext_raw, name_raw, category, site, unit, phone_raw, email_raw = cells
        ext = self._external_id(number, ext_raw)
        name = self._name(number, name_raw)
        kind = CATEGORY_WORDS.get(category) or category_of(category)
        if kind is None:
            self.fail(number, "category", _BAD_CATEGORY)
        site_id, unit_id = self._place(number, site.strip(), unit.strip())
        phone = self._phone(number, phone_raw) if phone_raw else None
        email: str | None = email_raw.strip() or None
        if email is not None and (len(email) > MAX_EMAIL or not EMAIL_RE.match(email)):
            self.fail(number, "email", _BAD_EMAIL)
            email = None
        return (lead, ext, name, kind, site_id, unit_id, phone, email)

    def _external_id(self, number: int, value: str) -> str | None:
        value = _clean_id(value)
        if not value:
            self.fail(number, "external_id", _EMPTY)
            return None
        if len(value) > MAX_EXTERNAL_ID:
            self.fail(number, "external_id", _TOO_LONG)
            return None
        return value

    def _name(self, number: int, value: str) -> str | None:
        value = value.strip()
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)  # NFD from a Mac is stored NFC
        if not value or len(value) > MAX_NAME:
            self.fail(number, "full_name", _EMPTY if not value else _TOO_LONG)
            return None
        return value

    def _place(self, number: int, site: str, unit: str) -> tuple[int | None, int | None]:
        site_id = self.maps.sites.get(site)
        if site_id is None:
            if not site:
                self.fail(number, "site_code", _EMPTY)
            elif site in self.maps.known_sites:
                self.fail(number, "site_code", _NOT_TAKING_PART)
            else:
                self.fail(
                    number, "site_code", Msg(f"Không có điểm cầu {site}", f"no site {site!r}")
                )
        if not unit:
            return site_id, self.maps.site_units.get(site_id) if site_id else None
        unit_id = self.maps.units.get(unit)
        if unit in self.maps.foreign_units:
            self.fail(number, "unit_code", _OUTSIDE_SCOPE)
        elif unit_id is None:
            self.fail(number, "unit_code", Msg(f"Không có đơn vị {unit}", f"no unit {unit!r}"))
        return site_id, unit_id

    def _phone(self, number: int, value: str) -> str | None:
        if not value.strip():
            return None
        try:
            return normalise_phone(value)
        except ValueError as exc:
            vi, _, en = str(exc).partition("|")
            self.fail(number, "phone", Msg(vi, en or vi))
            return None


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(record: tuple) -> str:
    """One record in COPY's text format (tab-separated, \\N for NULL, specials escaped)."""
    cells = []
    for v in record:
        if v is None:
            cells.append("\\N")
        elif type(v) is str:
            cells.append(v.translate(_ESCAPES) if _SPECIAL.search(v) else v)
        else:
            cells.append(str(v))
    return "\t".join(cells) + "\n"


class Checking:
    """Hands out checked chunks of a file, checked in a worker thread.

    `checker` holds the counts and errors so far. The file is read in the thread too, so
    the event loop only waits for bytes.
    """

    def __init__(self, checker: Checker, path: Path, kind: str) -> None:
        self.checker = checker
        self._rows = _rows(path, kind)

    async def next(self) -> bytes | None:
        """The next chunk's COPY records, None at the end of the file."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.checker.chunk, self._rows
        )

    def close(self) -> None:
        pass


class ProcessChecking(Checking):
    """The same, in a process of its own: a big file's checking then takes no GIL from
    the event loop, which would otherwise wait up to 5 ms for it each time it wakes to
    feed the server (a 2,500,000-row import measured 60 s in a thread, 48 s this way)."""

    def __init__(self, checker: Checker, path: Path, kind: str) -> None:
        self.checker = checker
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded server
            initializer=_start_checking,
            initargs=(checker.maps, checker.conference_id, str(path), kind),
        )

    async def next(self) -> bytes | None:
        loop = asyncio.get_running_loop()
        known = len(self.checker.errors)
        records, rows, count, errors = await loop.run_in_executor(self._pool, _check_next, known)
        self.checker.rows, self.checker.error_count = rows, count
        self.checker.errors.extend(errors)
        return records

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_WORK: tuple[Checker, Iterator[tuple[int, Sequence[str]]]] | None = None


def _start_checking(maps: Maps, conference_id: int | None, path: str, kind: str) -> None:
    """In the checking process: open the file once."""
    global _WORK
    _WORK = (Checker(maps, conference_id), _rows(Path(path), kind))


def _check_next(known: int) -> tuple[bytes | None, int, int, list[dict[str, Any]]]:
    """In the checking process: the next chunk, the counts, the errors after `known`."""
    assert _WORK is not None
    checker, rows = _WORK
    records = checker.chunk(rows)
    return records, checker.rows, checker.error_count, checker.errors[known:]


def checking_for(checker: Checker, path: Path, kind: str) -> Checking:
    if path.stat().st_size >= PROCESS_BYTES:
        return ProcessChecking(checker, path, kind)
    return Checking(checker, path, kind)


def _count_lines(path: Path) -> int:
    """About how many rows a CSV holds (for the progress bar only)."""
    lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


async def _stage(
    conn: asyncpg.Connection,
    checking: Checking,
    progress: Progress,
    expected: int | None,
) -> tuple[int, bool]:
    """Check rows off the event loop while the loop writes the previous chunk.

    A fresh roster (`checker.conference_id` set) is copied into `delegates` chunk by chunk
    while the next chunk is checked, so the server's index work overlaps the Python work
    (one core each); after the first bad row or repeated external_id nothing more is
    written, as the import will fail. Otherwise each chunk goes to `roster_staging`.
    Answers (delegates written, whether a chunk repeated an external_id).
    """
    checker = checking.checker
    fresh = checker.conference_id is not None
    pending = asyncio.ensure_future(checking.next())
    written, repeated = 0, False
    try:
        while (records := await pending) is not None:
            clean = checker.error_count == 0  # counted up to this chunk, before the next
            pending = asyncio.ensure_future(checking.next())
            if not fresh:
                await _copy(conn, "roster_staging", STAGING_COLUMNS, records)
            elif clean and not repeated:
                done = await _copy_fresh(conn, records)
                repeated = done is None
                written += done or 0
            # A chunk comes back checked; on a new roster it is written too.
            progress("parsed", checker.rows, expected)
            progress("validated", checker.rows, expected)
            if written:
                progress("written", written, expected)
    finally:
        # Never leave the worker reading the file after a failure: wait for it and drop
        # what it found, so no exception is left unretrieved.
        if not pending.done():
            await asyncio.wait([pending])
        if pending.done() and not pending.cancelled():
            pending.exception()
        checking.close()
    return written, repeated


async def _copy(conn: asyncpg.Connection, table: str, columns: Sequence[str], data: bytes) -> str:
    # A buffer, not a file object, which asyncpg reads through the thread pool: each read
    # then waits for the GIL the checking thread holds. (Not bytes: asyncpg takes those
    # for a path.)
    return await conn.copy_to_table(table, source=memoryview(data), columns=columns)


async def _copy_fresh(conn: asyncpg.Connection, records: bytes) -> int | None:
    """COPY one checked chunk into `delegates`: how many rows, or None on a repeated id.

    COPY rather than INSERT ... SELECT from a staging table: rows go in page by page
    without a second copy. A repeated external_id rolls back this chunk only (a
    savepoint); the caller then stops writing and reports the repeats.
    """
    try:
        async with conn.transaction():
            status = await _copy(conn, "delegates", FRESH_COLUMNS, records)
    except asyncpg.UniqueViolationError:
        return None
    return _count(status)


def _ids_chunk(rows: Iterator[tuple[int, Sequence[str]]]) -> bytes | None:
    """The next CHUNK_ROWS (row, external_id) records, as the checker cleans the id."""
    out = []
    for number, cells in rows:
        if cells:
            ext = _clean_id(cells[0])
            if ext and len(ext) <= MAX_EXTERNAL_ID:
                out.append(_copy_line((number, ext)))
        if len(out) >= CHUNK_ROWS:
            break
    return "".join(out).encode() if out else None


async def _stage_ids(conn: asyncpg.Connection, rows: Iterator) -> None:
    """Read the file again for its external_ids only, into `roster_staging`.

    Only a fresh import that failed needs this: its early chunks went straight into
    `delegates` (and are rolled back), so the repeats are found here instead.
    """
    loop = asyncio.get_running_loop()
    while (records := await loop.run_in_executor(None, _ids_chunk, rows)) is not None:
        await _copy(conn, "roster_staging", ("row", "external_id"), records)


async def _duplicates(conn: asyncpg.Connection) -> tuple[list[dict[str, Any]], int]:
    """Rows whose external_id appeared on an earlier row of the same file."""
    await conn.execute(
        """CREATE TEMP TABLE roster_dups ON COMMIT DROP AS
           SELECT external_id, min(row) AS first, count(*) AS n FROM roster_staging
            WHERE external_id IS NOT NULL GROUP BY external_id HAVING count(*) > 1"""
    )
    total = await conn.fetchval("SELECT coalesce(sum(n - 1), 0) FROM roster_dups")
    if not total:
        return [], 0
    rows = await conn.fetch(
        """SELECT st.row, st.external_id, d.first FROM roster_staging st
             JOIN roster_dups d USING (external_id)
            WHERE st.row <> d.first ORDER BY st.row LIMIT $1""",
        MAX_ERRORS,
    )
    errors = [
        row_error(
            r["row"],
            "external_id",
            Msg(
                f"Mã {r['external_id']} trùng với dòng {r['first']}",
                f"{r['external_id']} repeats row {r['first']}",
            ),
        )
        for r in rows
    ]
    return errors, int(total)


# A column the file leaves out ($2 unit_code, $3 phone, $4 email absent) keeps what is
# stored; an empty cell in a column the file has clears it.
_NEW_UNIT = "CASE WHEN $2 THEN st.unit_id ELSE d.unit_id END"
_NEW_PHONE = "CASE WHEN $3 THEN st.phone ELSE d.phone END"
_NEW_EMAIL = "CASE WHEN $4 THEN st.email ELSE d.email END"
_UPDATE = f"""
    UPDATE delegates d
       SET full_name = st.full_name, category = st.category, site_id = st.site_id,
           unit_id = {_NEW_UNIT}, phone = {_NEW_PHONE}, email = {_NEW_EMAIL},
           credential_version = d.credential_version + (d.site_id <> st.site_id)::int,
           updated_at = now()
      FROM roster_staging st
     WHERE d.conference_id = $1 AND d.external_id = st.external_id
       AND (d.full_name, d.category, d.site_id, d.unit_id, d.phone, d.email)
           IS DISTINCT FROM (st.full_name, st.category, st.site_id, {_NEW_UNIT}, {_NEW_PHONE},
                             {_NEW_EMAIL})
"""
_INSERT = """
    INSERT INTO delegates (conference_id, external_id, full_name, category, site_id, unit_id,
                           phone, email)
    SELECT $1, st.external_id, st.full_name, st.category, st.site_id, st.unit_id, st.phone,
           st.email
      FROM roster_staging st
"""
_NEW_ONLY = """
     WHERE NOT EXISTS (SELECT 1 FROM delegates d
                        WHERE d.conference_id = $1 AND d.external_id = st.external_id)
"""


async def _write(
    conn: asyncpg.Connection, conference_id: int, present: frozenset[str]
) -> tuple[int, int]:
    """Update the delegates already in the roster, insert the new ones: (imported, updated)."""
    # Separate statements rather than INSERT ... ON CONFLICT: that locks and rewrites every
    # existing row even when nothing changed (27 s for an unchanged 2,500,000-row file).
    flags = ("unit_code" in present, "phone" in present, "email" in present)
    updated = _count(await conn.execute(_UPDATE, conference_id, *flags))
    imported = _count(await conn.execute(_INSERT + _NEW_ONLY, conference_id))
    return imported, updated


async def _create_staging(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """CREATE TEMP TABLE roster_staging (row integer, external_id text, full_name text,
               category text, site_id bigint, unit_id bigint, phone text, email text)
           ON COMMIT DROP"""
    )


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def import_roster(
    conn: asyncpg.Connection,
    principal: Principal,
    conference: Any,
    path: Path,
    kind: str,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Import a roster file: {imported, updated, unchanged, rows}; 422 `import_failed`."""
    report = progress or (lambda stage, done, total: None)
    expected = None
    if kind == tabular.CSV:
        expected = await asyncio.get_running_loop().run_in_executor(None, _count_lines, path)
    async with conn.transaction():
        locked = await reload(conn, conference["id"], lock=True)
        ensure_writable(locked)
        await conn.execute("SET LOCAL work_mem = '256MB'")
        await _create_staging(conn)
        fresh = not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM delegates WHERE conference_id = $1)", conference["id"]
        )
        maps = await load_maps(conn, conference["id"], principal)
        checker = Checker(maps, conference["id"] if fresh else None)
        checking = checking_for(checker, path, kind)
        written, repeated_id = await _stage(conn, checking, report, expected)
        duplicates: list[dict[str, Any]] = []
        repeated = 0
        if not fresh:
            duplicates, repeated = await _duplicates(conn)
        elif checker.error_count or repeated_id:
            # The chunks written before the failure are not staged: read the ids again.
            await _stage_ids(conn, _rows(path, kind))
            duplicates, repeated = await _duplicates(conn)
            if not (checker.error_count or repeated):
                # Not a repeat within the file; roster writes hold the conference's lock,
                # so this is not expected, but never report success on a partial write.
                raise Problem(
                    "conflict",
                    Msg(
                        "Danh sách đã thay đổi trong khi nhập; hãy nhập lại",
                        "the roster changed during the import; import again",
                    ),
                )
        if checker.error_count or repeated:
            errors = sorted(checker.errors + duplicates, key=lambda e: (e["row"], e["field"]))
            raise import_failed(errors[:MAX_ERRORS], checker.error_count + repeated)
        if checker.rows == 0:
            raise import_failed([row_error(1, "", Msg("Tệp không có dòng dữ liệu", "no rows"))])
        report("validated", checker.rows, checker.rows)
        if fresh:
            imported, updated = written, 0
        else:
            present = frozenset(tabular.read_header(path, kind, COLUMNS, REQUIRED))
            imported, updated = await _write(conn, conference["id"], present)
        result = {
            "imported": imported,
            "updated": updated,
            "unchanged": checker.rows - imported - updated,
            "rows": checker.rows,
        }
        await audit.record(conn, principal, "import", "delegates", locked["code"], after=result)
    report("written", checker.rows, checker.rows)
    return result
