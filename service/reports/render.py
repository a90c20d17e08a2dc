"""Reading what a report shows and rendering it in one of the three formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from diemcau import reconcile
from diemcau.reconcile.model import Reconciliation, instant
from diemcau.reports.common import Stamp, stamp
from diemcau.reports.csvfile import report_csv
from diemcau.reports.pdffile import report_pdf
from diemcau.reports.xlsxfile import report_xlsx

FORMATS = ("pdf", "xlsx", "csv")
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
# The report's own description of itself, machine-readable, in the XLSX and PDF metadata
# (report.csv carries the same in its last columns): what --verify needs to render the
# file again.
TAG = "diemcau-report/1"
TAG_RE = re.compile(
    rb"diemcau-report/1 code=(?P<code>[A-Za-z0-9_.-]+) status=(?P<status>signed|draft) "
    rb"at=(?P<at>[0-9T:.Z-]+) scope=(?P<scope>[A-Za-z0-9_.-]+) lang=(?P<lang>vi|en) "
    rb"sha256=(?P<sha>[0-9a-f]{64})"
)


def tag(code: str, s: Stamp) -> str:
    return (
        f"{TAG} code={code} status={s.status} at={instant(s.at)} scope={s.scope or '-'} "
        f"lang={s.language} sha256={s.sha256}"
    )


def parse_tag(found: re.Match[bytes]) -> tuple[str, Stamp]:
    scope = found["scope"].decode()
    at = datetime.fromisoformat(found["at"].decode().replace("Z", "+00:00")).astimezone(UTC)
    s = Stamp(
        found["status"].decode(),
        found["sha"].decode(),
        at,
        None if scope == "-" else scope,
        found["lang"].decode(),
    )
    return found["code"].decode(), s


async def report_of(
    conn: asyncpg.Connection, conference: Any, scope: Any = None, language: str = "vi"
) -> tuple[Reconciliation, Stamp]:
    """What a report on `conference` (a unit's part with `scope`, a unit row) shows, and
    its stamp. The hash is the whole conference's, so the whole is read, then cut."""
    whole = await reconcile.reconciliation(conn, conference, None)
    part = whole if scope is None else whole.within(scope["code"])
    return part, stamp(whole, None if scope is None else scope["code"], language)


def render(
    kind: str,
    rec: Reconciliation,
    s: Stamp,
    progress: Callable[[int, int | None], None] | None = None,
) -> bytes:
    """The report file (CPU work: run it in a thread from the event loop). `progress`
    hears of the PDF's parts as they are laid out (done, total)."""
    if kind == "csv":
        return report_csv(rec, s)
    if kind == "xlsx":
        return report_xlsx(rec, s, tag(rec.conference.code, s))
    if kind == "pdf":
        return report_pdf(rec, s, tag(rec.conference.code, s), progress)
    raise ValueError(kind)
