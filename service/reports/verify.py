"""`diemcau report --verify FILE`: does this report file say what the database says?

The file names its conference, its stamp (signed or draft, the time, the scope, the
language) and the SHA-256 it printed. Verification then:

1. recomputes the reconciliation from the data as it stands now (the scans, the
   headcounts, the resolutions: `reconcile.rows.compute`, never the signed copy) and
   the SHA-256 of its canonical content at the file's time: it must be the printed one;
2. for a signed report, checks the printed hash and time against the sign-off's record,
   and the record's stored content against its own hash;
3. renders the same report again (from the signed content once signed, else from the
   recomputation) and compares it with the file: CSV and PDF to the byte (the PDF is
   rendered in reportlab's invariant mode), XLSX cell by cell on every sheet.

Any difference is a mismatch, named. A figure changed in the file, a hash edited, a scan
altered in the database after sign-off: each is caught by one of the three.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from openpyxl import load_workbook

from diemcau.errors import Msg, Problem, field_error
from diemcau.queries.conferences import fetch_conference
from diemcau.reconcile import canonical
from diemcau.reconcile.model import Reconciliation
from diemcau.reconcile.rows import compute, snapshot
from diemcau.reports.common import STAMP_COLUMNS, Stamp
from diemcau.reports.render import TAG_RE, parse_tag, render


@dataclass
class Verdict:
    kind: str
    code: str
    stamp: Stamp
    recomputed: str = ""
    problems: list[Msg] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return not self.problems


def kind_of(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK"):
        return "xlsx"
    return "csv"


def _unreadable(why: str) -> Problem:
    return Problem(
        "validation_failed",
        Msg(f"Không đọc được tệp báo cáo: {why}", f"not a diemcau report file: {why}"),
        errors=[field_error("file", Msg("không phải tệp báo cáo diemcau", "not a report file"))],
    )


def read_stamp(data: bytes, kind: str) -> tuple[str, Stamp]:
    """The conference code and the stamp the file carries."""
    if kind == "csv":
        rows = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
        header = next(rows, [])
        first = next(rows, None)
        if first is None or header[-len(STAMP_COLUMNS) :] != list(STAMP_COLUMNS):
            raise _unreadable("no stamp columns" if first else "no rows")
        code, status, sha, at, scope, lang = first[-len(STAMP_COLUMNS) :]
        line = (
            f"diemcau-report/1 code={code} status={status} at={at} scope={scope or '-'} "
            f"lang={lang} sha256={sha}"
        )
        found = TAG_RE.search(line.encode())
    elif kind == "xlsx":
        try:
            book = load_workbook(io.BytesIO(data), read_only=True)
        except Exception as exc:  # a damaged zip or workbook: say so, do not crash
            raise _unreadable(type(exc).__name__) from None
        found = TAG_RE.search((book.properties.keywords or "").encode())
        book.close()
    else:
        found = TAG_RE.search(data)
    if found is None:
        raise _unreadable("no stamp")
    return parse_tag(found)


def _xlsx_cells(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}
    finally:
        book.close()


def _first_difference(
    mine: dict[str, list[tuple[Any, ...]]], theirs: dict[str, list[tuple[Any, ...]]]
) -> str:
    if list(mine) != list(theirs):
        return f"sheets {list(theirs)} != {list(mine)}"
    for name, rows in mine.items():
        other = theirs[name]
        for i in range(max(len(rows), len(other))):
            a = rows[i] if i < len(rows) else ()
            b = other[i] if i < len(other) else ()
            if a != b:
                for j in range(max(len(a), len(b))):
                    x = a[j] if j < len(a) else None
                    y = b[j] if j < len(b) else None
                    if x != y:
                        return f"{name}!R{i + 1}C{j + 1}: {y!r} != {x!r}"
    return ""


def _csv_difference(mine: bytes, theirs: bytes) -> str:
    a, b = mine.decode().splitlines(), theirs.decode("utf-8", errors="replace").splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<none>"
        y = b[i] if i < len(b) else "<none>"
        if x != y:
            return f"line {i + 1}: {y[:120]!r}"
    return ""


def compare(kind: str, data: bytes, rec: Reconciliation, s: Stamp) -> str:
    """'' when the file is the report `rec` and `s` render, else where it differs."""
    again = render(kind, rec, s)
    if kind == "pdf":
        return "" if again == data else "the PDF's bytes differ from the report rendered again"
    if kind == "csv":
        return _csv_difference(again, data)
    return _first_difference(_xlsx_cells(again), _xlsx_cells(data))


async def verify(conn: asyncpg.Connection, data: bytes) -> Verdict:
    kind = kind_of(data)
    code, s = read_stamp(data, kind)
    verdict = Verdict(kind, code, s)
    conference = await fetch_conference(conn, code)
    if conference is None:
        raise Problem("not_found", Msg(f"Không có hội nghị {code}", f"no conference {code}"))
    async with snapshot(conn):
        fresh = await compute(conn, conference)
        signed = await conn.fetchrow(
            "SELECT report_sha256, signed_off_at, content FROM sign_offs WHERE conference_id = $1",
            conference["id"],
        )
    verdict.recomputed = canonical.sha256(canonical.content(fresh, s.at))
    problems = verdict.problems
    if verdict.recomputed != s.sha256:
        problems.append(
            Msg(
                f"số liệu trong cơ sở dữ liệu hiện cho mã băm {verdict.recomputed}, tệp in {s.sha256}",
                f"the database's figures now hash to {verdict.recomputed}; the file prints {s.sha256}",
            )
        )
    basis = fresh
    if s.signed:
        if signed is None:
            problems.append(
                Msg(
                    "tệp ghi đã ký nhưng hội nghị chưa ký xác nhận",
                    "the file says signed, the conference is not signed off",
                )
            )
        else:
            stored = gzip.decompress(signed["content"])
            if canonical.sha256(stored) != signed["report_sha256"]:
                problems.append(
                    Msg(
                        "bản ký lưu trong cơ sở dữ liệu đã bị sửa",
                        "the signed content stored in the database was altered",
                    )
                )
            if signed["report_sha256"] != s.sha256 or signed["signed_off_at"] != s.at:
                problems.append(
                    Msg(
                        "mã băm hoặc thời điểm ký không phải của lần ký xác nhận",
                        "the hash or the time is not the sign-off's",
                    )
                )
            basis = canonical.load(stored, signed["report_sha256"])
    part = basis if s.scope is None else basis.within(s.scope)
    where = compare(kind, data, part, s)
    if where:
        problems.append(
            Msg(
                f"nội dung tệp khác báo cáo lập lại từ cơ sở dữ liệu ({where})",
                f"the file differs from the report rendered again ({where})",
            )
        )
    return verdict
