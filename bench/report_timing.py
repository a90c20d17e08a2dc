"""The report files and the scan log, timed on a bench world (bench/reconcile.py calls
it after the reconciliation's own parts).

Each file is made in a fresh process, so that its memory is its own: the process reads
the reconciliation (or streams the scans), writes the file, and answers the seconds, the
file's size, and its peak resident memory (VmHWM) next to what it held once started and
connected (the imports: the part that is not the file's doing).

- `pdf`, `xlsx`, `csv`: `reports.report_of` (the reconciliation, as signed once signed)
  then `reports.render`, the file written; `read_s` and `render_s` apart;
- `scans_csv`, `scans_xlsx`: every scan streamed from a server-side cursor to the file
  (XLSX: rows streamed into the zip, reports.xlsxstream).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

KINDS = ("pdf", "xlsx", "csv", "scans_csv", "scans_xlsx")


def _hwm_mb() -> float:
    """The process's peak resident memory so far (VmHWM), MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) * 1024 / 1e6, 1)
    return 0.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return round(pages * resource.getpagesize() / 1e6, 1)


async def _make(dsn: str, code: str, kind: str, path: Path) -> dict[str, Any]:
    from diemcau import reports
    from diemcau.db import connect
    from diemcau.queries.conferences import fetch_conference
    from diemcau.reports import scanlog

    conn = await connect(dsn)
    try:
        conference = await fetch_conference(conn, code)
        out: dict[str, Any] = {"rss_start_mb": _rss_mb()}
        started = time.perf_counter()
        if kind in ("pdf", "xlsx", "csv"):
            rec, stamp = await reports.report_of(conn, conference)
            out["read_s"] = round(time.perf_counter() - started, 3)
            data = reports.render(kind, rec, stamp)
            path.write_bytes(data)  # noqa: ASYNC240 (a process of its own: nothing waits)
            out["render_s"] = round(time.perf_counter() - started - out["read_s"], 3)
            out["sites"] = len(rec.sites)
            if kind == "pdf":
                out["pages"] = len(re.findall(rb"/Type /Page[^s]", data))
        elif kind == "scans_csv":
            with path.open("wb") as fh:
                out["scans"] = await scanlog.write_csv(conn, conference, None, fh.write)
        else:
            log, rows = scanlog.XlsxLog(str(path), conference["timezone"]), 0
            async for chunk in scanlog.chunks(conn, conference["id"], None):
                log.rows(chunk)
                rows += len(chunk)
            log.close()
            out["scans"] = rows
        out["seconds"] = round(time.perf_counter() - started, 3)
        out["mb"] = round(path.stat().st_size / 1e6, 1)  # noqa: ASYNC240
        out["peak_mb"] = _hwm_mb()
        return out
    finally:
        await conn.close()


def _child(dsn: str, code: str, kind: str, path: str) -> dict[str, Any]:
    return asyncio.run(_make(dsn, code, kind, Path(path)))


def measure(dsn: str, code: str, out_dir: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Each kind in a fresh process; answers {kind: {seconds, mb, rss_start_mb, peak_mb, ...}}."""
    results: dict[str, Any] = {}
    spawn = multiprocessing.get_context("spawn")
    for kind in kinds:
        suffix = {"scans_csv": "csv", "scans_xlsx": "xlsx"}.get(kind, kind)
        path = out_dir / f"{kind}.{suffix}"
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            results[kind] = pool.submit(_child, dsn, code, kind, str(path)).result()
        path.unlink(missing_ok=True)
    return results


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Lines for bench/reconcile.py's table."""
    out = []
    for kind, r in result.items():
        what = {"pdf": "report.pdf", "xlsx": "report.xlsx", "csv": "report.csv",
                "scans_csv": "scan log CSV", "scans_xlsx": "scan log XLSX"}[kind]  # fmt: skip
        parts = f"{r['seconds']} s"
        if "render_s" in r:
            pages = f", {r['pages']:,} pages" if "pages" in r else ""
            parts += f" (read {r['read_s']} s, render {r['render_s']} s{pages})"
        else:
            parts += f" ({r['scans']:,} scans)"
        parts += f", {r['mb']} MB; memory {r['rss_start_mb']} MB started, peak {r['peak_mb']} MB"
        out.append((what, parts))
    return out
