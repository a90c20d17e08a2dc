"""`diemcau roster import FILE --conference C`: a roster from CSV or XLSX, with progress."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TextIO

from diemcau import roster, tabular
from diemcau.auth import CLI
from diemcau.cli.common import database, load_config, report_problem
from diemcau.conferences import not_found
from diemcau.errors import Problem
from diemcau.queries import conferences as q


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("roster", help="import delegate rosters")
    verbs = cmd.add_subparsers(dest="verb", metavar="VERB", required=True)
    imp = verbs.add_parser("import", help="import a roster (CSV UTF-8 or XLSX): all rows or none")
    imp.add_argument("file", type=Path)
    imp.add_argument("--conference", required=True, help="conference code")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=_run)


def vn_number(n: int) -> str:
    """11873 -> '11.873' (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


class ProgressBar:
    """One line on stderr, redrawn: rows parsed / validated / written."""

    STAGES = ("parsed", "validated", "written")

    def __init__(self, out: TextIO | None = None, enabled: bool = True) -> None:
        self.out = out or sys.stderr  # looked up now: tests and callers may swap stderr
        self.enabled = enabled
        self.done = dict.fromkeys(self.STAGES, 0)
        self.total: int | None = None
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.done[stage] = done
        self.total = total or self.total
        if self.enabled:
            self.out.write("\r" + self.line())
            self.out.flush()

    def line(self) -> str:
        parsed = self.done["parsed"]
        bar = ""
        if self.total:
            filled = min(30, int(30 * parsed / max(self.total, 1)))
            bar = "[" + "#" * filled + "." * (30 - filled) + "] "
        elapsed = time.perf_counter() - self.started
        rate = parsed / elapsed if elapsed > 0 else 0.0
        counts = " / ".join(f"{vn_number(self.done[s])} {s}" for s in self.STAGES)
        return f"{bar}{counts}  ({vn_number(int(rate))} rows/s)"

    def finish(self) -> None:
        if self.enabled:
            self.out.write("\n")
            self.out.flush()


def _run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 1
    return asyncio.run(_import(args))


async def _import(args: argparse.Namespace) -> int:
    path: Path = args.file
    kind = tabular.XLSX if path.suffix.lower() in (".xlsx", ".xlsm") else tabular.CSV
    bar = ProgressBar(enabled=not args.quiet)
    try:
        async with database(load_config()) as conn:
            conference = await q.fetch_conference(conn, args.conference)
            if conference is None:
                raise not_found()
            result = await roster.import_roster(conn, CLI, conference, path, kind, bar)
    except Problem as problem:
        bar.finish()
        return report_problem(problem)
    bar.finish()
    print(
        f"{vn_number(result['imported'])} imported, {vn_number(result['updated'])} updated, "
        f"{vn_number(result['unchanged'])} unchanged",
        file=sys.stderr,
    )
    return 0
