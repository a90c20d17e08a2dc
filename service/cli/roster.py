"""`diemcau roster import|list|show|remove`: a conference's delegates from the command line."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar, TextIO

from diemcau import delegates, roster, tabular
from diemcau.auth import CLI
from diemcau.cli.common import (
    add_conference,
    conference,
    database,
    file_kind,
    load_config,
    refuse_file,
)
from diemcau.cli.output import Column, Listing, add_format, write_all
from diemcau.cli.progress import Progress
from diemcau.cli.say import count, err, imported, number, report_problem, t, text, when, word
from diemcau.cli.units import print_pairs
from diemcau.errors import Msg, Problem
from diemcau.queries import conferences as q
from diemcau.validation import parse


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "roster",
        help=t(
            "danh sách đại biểu: nhập, liệt kê, xem, xóa một người",
            "delegate rosters: import, list, show, remove one",
        ),
    )
    verbs = cmd.add_subparsers(dest="verb", metavar="VERB", required=True)
    imp = verbs.add_parser(
        "import",
        help=t(
            "nhập danh sách (CSV UTF-8 hoặc XLSX): tất cả hoặc không",
            "import a roster (CSV UTF-8 or XLSX): all rows or none",
        ),
    )
    imp.add_argument("file", type=Path)
    add_conference(imp)
    imp.add_argument(
        "--quiet", action="store_true", help=t("không hiện tiến độ", "no progress bar")
    )
    imp.set_defaults(func=_run)

    ls = verbs.add_parser(
        "list", help=t("liệt kê đại biểu theo mã đại biểu", "list delegates in external_id order")
    )
    add_conference(ls)
    ls.add_argument("--site", help=t("chỉ đại biểu của điểm cầu này", "only this site's delegates"))
    ls.add_argument(
        "--unit",
        help=t("chỉ đại biểu thuộc đơn vị này (cả cây)", "only delegates of this unit's subtree"),
    )
    ls.add_argument("--category", choices=delegates.CATEGORIES)
    ls.add_argument(
        "-q",
        "--query",
        help=t(
            "tên (không cần dấu) hoặc mã đại biểu", "a name (accents optional) or an external id"
        ),
    )
    add_format(ls)
    ls.set_defaults(func=lambda a: asyncio.run(_list(a)))

    show = verbs.add_parser("show", help=t("xem một đại biểu", "show one delegate"))
    add_conference(show)
    show.add_argument(
        "external_id", help=t("mã đại biểu (số thẻ)", "the delegate's external id (card number)")
    )
    add_format(show)
    show.set_defaults(func=lambda a: asyncio.run(_show(a)))

    remove = verbs.add_parser(
        "remove",
        help=t(
            "xóa một đại biểu khỏi danh sách (như API: không xóa người đã điểm danh)",
            "remove a delegate from the roster (as the API: not one who has checked in)",
        ),
    )
    add_conference(remove)
    remove.add_argument(
        "external_id", help=t("mã đại biểu (số thẻ)", "the delegate's external id (card number)")
    )
    remove.set_defaults(func=lambda a: asyncio.run(_remove(a)))


COLUMNS = [
    Column("external_id", "mã đại biểu", "external_id"),
    Column("full_name", "họ và tên", "full name"),
    Column("category", "loại", "category", show=word),
    Column("site_code", "điểm cầu", "site"),
    Column("unit_code", "đơn vị", "unit"),
    Column("revoked", "thu hồi", "revoked", show=lambda v: t("có", "yes") if v else ""),
]


class ProgressBar:
    """One line on stderr (cli.progress: redrawn on a terminal, a line now and then
    elsewhere): rows parsed / checked / written, and the rate."""

    STAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "parsed": ("đã đọc", "parsed"),
        "validated": ("đã kiểm tra", "checked"),
        "written": ("đã ghi", "written"),
    }

    def __init__(self, out: TextIO | None = None, enabled: bool = True) -> None:
        self.progress = Progress(out)
        self.enabled = enabled
        self.done = dict.fromkeys(self.STAGES, 0)
        self.total: int | None = None
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.done[stage] = done
        self.total = total or self.total
        if self.enabled:
            self.progress.show(self.line())

    def line(self) -> str:
        parsed = self.done["parsed"]
        bar = ""
        if self.total:
            filled = min(30, int(30 * parsed / max(self.total, 1)))
            bar = "[" + "#" * filled + "." * (30 - filled) + "] "
        elapsed = time.perf_counter() - self.started
        rate = parsed / elapsed if elapsed > 0 else 0.0
        counts = " / ".join(f"{number(self.done[s])} {t(*w)}" for s, w in self.STAGES.items())
        return f"{bar}{counts}  ({number(rate)} {t('dòng/giây', 'rows/s')})"

    def finish(self) -> None:
        if self.enabled:
            self.progress.finish()


def _run(args: argparse.Namespace) -> int:
    refused = refuse_file(args.file)
    if refused is not None:
        return refused
    return asyncio.run(_import(args))


async def _import(args: argparse.Namespace) -> int:
    bar = ProgressBar(enabled=not args.quiet)
    try:
        async with database(load_config()) as conn:
            found = await conference(conn, args.conference)
            sheet = tabular.Sheet(args.file, file_kind(args.file))
            result = await roster.import_roster(conn, CLI, found, sheet, bar)
    except Problem as problem:
        bar.finish()
        return report_problem(problem)
    bar.finish()
    err(imported(result))
    _warnings(result["warnings"], result["warning_count"])
    return 0


def _warnings(warnings: list[dict[str, Any]], total: int) -> None:
    """Rows imported all the same but worth a look (namesakes), listed like errors."""
    if not total:
        return
    err(count(total, "cảnh báo (vẫn được nhập):", "warning (imported):", "warnings (imported):"))
    for w in warnings:
        row = number(w["row"])
        err(f"  - {t(f'dòng {row}', f'row {row}')}, {w['field']}: {text(w['message'])}")


async def _list(args: argparse.Namespace) -> int:
    listing = Listing(COLUMNS, args.format)
    filters = {"site": args.site, "unit": args.unit, "category": args.category, "q": args.query}
    try:
        async with database(load_config()) as conn:
            found = await conference(conn, args.conference)

            async def fetch(cursor: str | None) -> dict[str, Any]:
                f = parse(delegates.DelegateFilter, {**filters, "cursor": cursor, "limit": 1000})
                return await delegates.list_delegates(conn, CLI, found, f)

            shown = await write_all(listing, fetch)
    except Problem as problem:
        return report_problem(problem)
    err(f"({count(shown, 'đại biểu', 'delegate')})")
    return 0


async def _delegate(conn: Any, found: Any, external_id: str) -> Any:
    """The conference's delegate with this external id, or a 404 problem."""
    row = await q.fetch_delegate_by_external_id(conn, found["id"], external_id)
    if row is None:
        raise Problem(
            "not_found",
            Msg(
                f"Hội nghị {found['code']} không có đại biểu {external_id!r}",
                f"conference {found['code']} has no delegate {external_id!r}",
            ),
        )
    return row


async def _remove(args: argparse.Namespace) -> int:
    """The API's DELETE of a delegate, by external id (a checked-in delegate: 409)."""
    try:
        async with database(load_config()) as conn:
            found = await conference(conn, args.conference)
            row = await _delegate(conn, found, args.external_id)
            await delegates.delete_delegate(conn, CLI, found, row["id"])
    except Problem as problem:
        return report_problem(problem)
    who = f"{row['external_id']} ({row['full_name']})"
    err(
        t(
            f"Đã xóa đại biểu {who} khỏi {found['code']}",
            f"delegate {who} removed from {found['code']}",
        )
    )
    return 0


async def _show(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            found = await conference(conn, args.conference)
            row = await _delegate(conn, found, args.external_id)
    except Problem as problem:
        return report_problem(problem)
    shown = delegates.delegate_out(row, personal=True)
    if args.format != "table":
        Listing([Column(k, k, k) for k in shown], args.format).write([shown])
        return 0
    print_pairs(_delegate_lines(row, found["timezone"]))
    return 0


def _delegate_lines(row: Any, zone: str) -> list[tuple[str, str]]:
    state = t("đã thu hồi", "revoked") if row["revoked"] else t("còn hiệu lực", "valid")
    return [
        (t("đại biểu", "delegate"), f"{row['external_id']}  {row['full_name']}"),
        (t("loại", "category"), word(row["category"])),
        (t("điểm cầu", "site"), f"{row['site_code']}  {row['site_name']}"),
        (t("đơn vị", "unit"), f"{row['unit_code'] or '-'}  {row['unit_name'] or ''}".rstrip()),
        (t("điện thoại", "phone"), row["phone"] or "-"),
        ("e-mail", row["email"] or "-"),
        (
            t("mã QR", "QR code"),
            t(
                f"phiên bản {row['credential_version']}, {state}",
                f"version {row['credential_version']}, {state}",
            ),
        ),
        (t("id trong hệ thống", "id"), str(row["id"])),
        (t("cập nhật lúc", "updated"), when(row["updated_at"], zone)),
    ]
