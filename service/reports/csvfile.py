"""`report.csv`: UTF-8, comma-separated, a header of field names first, one row per site
(DESIGN, Contract: report files). Numbers are plain (`11873`, a rate `0.9787`), a missing
headcount or capacity is empty, text cells are formula-safe (text.spreadsheet_safe). The
last columns stamp every row with the report it belongs to (status, SHA-256, time,
scope)."""

from __future__ import annotations

import csv
import io
from typing import Any

from diemcau.reconcile.model import Reconciliation
from diemcau.reports.common import SITE_COLUMNS, STAMP_COLUMNS, Stamp, stamp_values
from diemcau.text import spreadsheet_safe


def plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)


def report_csv(rec: Reconciliation, s: Stamp) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in SITE_COLUMNS] + list(STAMP_COLUMNS))
    tail = stamp_values(rec.conference.code, s)
    for row in rec.sites:
        writer.writerow([plain(c.value(row)) for c in SITE_COLUMNS] + tail)
    return buffer.getvalue().encode("utf-8")
