"""`diemcau report` and `diemcau scans`: the report files and the scan log, against the
database (like `diemcau reconcile`).

    diemcau report --conference HN1 --format pdf -o bao-cao.pdf     # or xlsx, csv
    diemcau report --conference HN1 --unit LC --format xlsx -o lc.xlsx
    diemcau report --verify bao-cao.pdf          # match / mismatch against the database
    diemcau scans --conference HN1 --format csv -o luot-quet.csv   # every scan, streamed

Progress goes to stderr: a bar on a terminal, a line every few seconds otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from diemcau import reports
from diemcau.auth import CLI
from diemcau.cli.common import conference, database, load_config
from diemcau.cli.say import err, language, number, report_problem, t, text
from diemcau.errors import Problem
from diemcau.reconcile.signoff import scope_of
from diemcau.reports import scanlog

MISMATCH = 1  # exit status of --verify when the file and the database disagree


class Progress:
    """Work done of a total on stderr: a redrawn bar on a terminal, else a line every
    `every` seconds and at the end, so a log file is not flooded."""

    def __init__(self, what: tuple[str, str], out: TextIO | None = None, every: float = 5.0):
        self.out = out or sys.stderr
        self.tty = self.out.isatty()
        self.what = what
        self.every = every
        self.started = time.perf_counter()
        self.last = float("-inf")
        self.total: int | None = None
        self.done = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total or self.total
        now = time.perf_counter()
        if self.tty:
            self.out.write("\r" + self.line())
            self.out.flush()
        elif now - self.last >= self.every:
            self.last = now
            self.out.write(self.line() + "\n")
            self.out.flush()

    def line(self) -> str:
        bar = ""
        if self.total:
            filled = min(30, int(30 * self.done / max(self.total, 1)))
            bar = "[" + "#" * filled + "." * (30 - filled) + "] "
        of = f"/{number(self.total)}" if self.total else ""
        elapsed = time.perf_counter() - self.started
        return f"{bar}{number(self.done)}{of} {t(*self.what)} ({number(elapsed, 1)} s)"

    def finish(self) -> None:
        if self.tty:
            self.out.write("\r" + self.line() + "\n")
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "report",
        help=t(
            "báo cáo kết quả điểm danh (PDF, XLSX, CSV), hoặc kiểm tra một tệp báo cáo",
            "the attendance report (PDF, XLSX, CSV), or check a report file",
        ),
    )
    cmd.add_argument("--conference", help=t("mã hội nghị", "conference code"))
    cmd.add_argument("--unit", help=t("chỉ cây đơn vị này", "only this unit's subtree"))
    cmd.add_argument("--format", choices=reports.FORMATS, help=t("định dạng", "format"))
    cmd.add_argument("-o", "--output", help=t("tệp ghi ra", "the file to write"))
    cmd.add_argument(
        "--verify",
        metavar="FILE",
        help=t(
            "tính lại mã băm từ cơ sở dữ liệu và so với tệp báo cáo",
            "recompute the hash from the database and check a report file against it",
        ),
    )
    cmd.set_defaults(func=_report)

    scans = sub.add_parser(
        "scans",
        help=t(
            "nhật ký mọi lượt quét của hội nghị (CSV, XLSX), để lần lại từng con số",
            "the log of every scan (CSV, XLSX), to trace any figure",
        ),
    )
    scans.add_argument("--conference", required=True, help=t("mã hội nghị", "conference code"))
    scans.add_argument("--unit", help=t("chỉ cây đơn vị này", "only this unit's subtree"))
    scans.add_argument("--format", choices=("csv", "xlsx"), help=t("định dạng", "format"))
    scans.add_argument("-o", "--output", required=True, help=t("tệp ghi ra", "the file to write"))
    scans.set_defaults(func=lambda a: asyncio.run(_scans(a)))


def _format(args: argparse.Namespace, choices: tuple[str, ...]) -> str | None:
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower().lstrip(".")
    return suffix if suffix in choices else None


def _usage(vi: str, en: str) -> int:
    err(t(vi, en))
    return 2


def _report(args: argparse.Namespace) -> int:
    if args.verify:
        try:
            data = Path(args.verify).read_bytes()
        except OSError as exc:
            err(
                t(
                    f"Không đọc được {args.verify}: {exc.strerror}",
                    f"cannot read {args.verify}: {exc.strerror}",
                )
            )
            return 2
        return asyncio.run(_verify(Path(args.verify), data))
    if not args.conference or not args.output:
        return _usage(
            "cần --conference và -o TỆP (hoặc --verify TỆP)",
            "needs --conference and -o FILE (or --verify FILE)",
        )
    kind = _format(args, reports.FORMATS)
    if kind is None:
        return _usage("cần --format pdf, xlsx hoặc csv", "needs --format pdf, xlsx or csv")
    return asyncio.run(_write_report(args, kind))


async def _write_report(args: argparse.Namespace, kind: str) -> int:
    started = time.perf_counter()
    err(t("Đang đọc số liệu…", "Reading the figures…"))
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            scope = await scope_of(conn, CLI, args.unit)
            rec, stamp = await reports.report_of(conn, row, scope, language())
    except Problem as problem:
        return report_problem(problem)
    bar = Progress(("phần", "parts"))
    data = reports.render(kind, rec, stamp, bar if kind == "pdf" else None)
    if kind == "pdf":
        bar.finish()
    _write(Path(args.output), data)
    state = t("đã ký xác nhận", "signed off") if stamp.signed else t("BẢN NHÁP", "DRAFT")
    err(
        t(
            f"Đã ghi {args.output} ({number(len(data))} byte, {number(len(rec.sites))} điểm cầu, "
            f"{state}) trong {number(time.perf_counter() - started, 1)} s",
            f"Wrote {args.output} ({number(len(data))} bytes, {number(len(rec.sites))} sites, "
            f"{state}) in {number(time.perf_counter() - started, 1)} s",
        )
    )
    print(stamp.sha256)
    return 0


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: a temporary file beside it, then renamed."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)


async def _verify(path: Path, data: bytes) -> int:
    try:
        async with database(load_config()) as conn:
            verdict = await reports.verify(conn, data)
    except Problem as problem:
        return report_problem(problem)
    s = verdict.stamp
    state = t("đã ký xác nhận", "signed off") if s.signed else t("bản nháp", "draft")
    err(f"{path}: {verdict.kind.upper()}, {verdict.code}, {state}, SHA-256 {s.sha256}")
    if verdict.match:
        print(t("KHỚP", "MATCH"))
        err(
            t(
                "Tệp khớp với số liệu trong cơ sở dữ liệu.",
                "The file matches the figures in the database.",
            )
        )
        return 0
    print(t("KHÔNG KHỚP", "MISMATCH"))
    for problem_text in verdict.problems:
        err(f"  - {text(problem_text)}")
    return MISMATCH


async def _scans(args: argparse.Namespace) -> int:
    kind = _format(args, ("csv", "xlsx"))
    if kind is None:
        return _usage("cần --format csv hoặc xlsx", "needs --format csv or xlsx")
    path = Path(args.output)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    bar = Progress(("lượt quét", "scans"))
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            scope = await scope_of(conn, CLI, args.unit)
            unit_path = None if scope is None else scope["path"]
            total = await scanlog.count(conn, row["id"], unit_path)
            bar(0, total)
            if kind == "csv":
                with partial.open("wb") as out:
                    done = await scanlog.write_csv(
                        conn, row, unit_path, out.write, lambda n: bar(n, total)
                    )
            else:
                done = await _scans_xlsx(conn, row, unit_path, partial, bar, total)
    except Problem as problem:
        partial.unlink(missing_ok=True)
        return report_problem(problem)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    bar.finish()
    partial.replace(path)
    err(t(f"Đã ghi {number(done)} lượt quét vào {path}", f"Wrote {number(done)} scans to {path}"))
    return 0


async def _scans_xlsx(
    conn: Any, row: Any, unit_path: str | None, path: Path, bar: Progress, total: int
) -> int:
    log, done = scanlog.XlsxLog(str(path), row["timezone"], language()), 0
    try:
        async for rows in scanlog.chunks(conn, row["id"], unit_path):
            log.rows(rows)
            done += len(rows)
            bar(done, total)
    finally:
        log.close()
    return done
