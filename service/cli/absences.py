"""`diemcau absence add|import|list|makeup|remove`: who did not come, against the database
(like `diemcau roster`), as the unscoped organiser `organiser cli`.

    diemcau absence add --conference HN1 LC-0001042 --reason ốm --makeup
    diemcau absence import vang.xlsx --conference HN1
    diemcau absence makeup --conference HN1 -o hoc-bu.xlsx     # or .csv, or a table
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from diemcau import absences, tabular
from diemcau.absences.importing import BAD_REASON, reason_of
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
from diemcau.cli.say import count, err, imported, language, report_problem, t, word
from diemcau.errors import Msg, Problem, validation_failed
from diemcau.queries import absences as q
from diemcau.queries.conferences import fetch_delegate_by_external_id
from diemcau.validation import parse

REASON_WORDS = {"sick": "ốm", "on_duty": "công tác", "travel": "đi xa", "other": "khác"}


def register(sub: argparse._SubParsersAction) -> None:
    absence = sub.add_parser(
        "absence",
        help=t(
            "vắng mặt: ghi nhận, nhập tệp, danh sách học bù",
            "absences: record, import, the make-up list",
        ),
    )
    verbs = absence.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help=t("ghi nhận một người vắng", "record one absence"))
    add_conference(add)
    add.add_argument("external_id", help=t("mã đại biểu", "the delegate's external id"))
    add.add_argument(
        "--reason",
        required=True,
        help=t(
            "sick, on_duty, travel, other, hoặc ốm, công tác, đi xa, khác",
            "sick, on_duty, travel, other (or in Vietnamese: ốm, công tác, đi xa, khác)",
        ),
    )
    add.add_argument("--note")
    add.add_argument(
        "--makeup", action="store_true", help=t("phải học bù", "owes a make-up session")
    )
    add.set_defaults(func=lambda a: asyncio.run(_add(a)))
    remove = verbs.add_parser("remove", help=t("bỏ ghi nhận vắng", "remove an absence"))
    add_conference(remove)
    remove.add_argument("external_id")
    remove.set_defaults(func=lambda a: asyncio.run(_remove(a)))
    imp = verbs.add_parser("import", help=t("nhập từ CSV/XLSX", "import from CSV/XLSX"))
    imp.add_argument("file", type=Path)
    add_conference(imp)
    imp.set_defaults(func=lambda a: asyncio.run(_import(a)))
    _list_verbs(verbs)


def _list_verbs(verbs: argparse._SubParsersAction) -> None:
    listing = verbs.add_parser("list", help=t("danh sách người vắng", "list the absences"))
    add_conference(listing)
    listing.add_argument("--site", help=t("chỉ điểm cầu này", "this site only"))
    listing.add_argument("--reason", help="sick, on_duty, travel, other")
    add_format(listing)
    listing.set_defaults(func=lambda a: asyncio.run(_list(a, makeup=None)))
    makeup = verbs.add_parser(
        "makeup", help=t("danh sách phải học bù", "who owes a make-up session")
    )
    add_conference(makeup)
    makeup.add_argument(
        "-o",
        "--output",
        type=Path,
        help=t("ghi ra tệp .csv hoặc .xlsx", "write a .csv or .xlsx file"),
    )
    add_format(makeup)
    makeup.set_defaults(func=lambda a: asyncio.run(_makeup(a)))


COLUMNS = [
    Column("external_id", "mã", "external id"),
    Column("full_name", "họ và tên", "full name"),
    Column("category", "thành phần", "category", show=word),
    Column("site_code", "điểm cầu", "site"),
    Column("reason", "lý do", "reason", show=lambda r: t(REASON_WORDS.get(r, r), r)),
    Column("makeup_owed", "học bù", "make-up", show=lambda v: t("có", "yes") if v else ""),
    Column("note", "ghi chú", "note"),
]


async def _delegate_id(conn: Any, row: Any, external_id: str) -> int:
    found = await fetch_delegate_by_external_id(conn, row["id"], external_id)
    if found is None:
        raise Problem(
            "not_found", Msg(f"Không có đại biểu {external_id}", f"no delegate {external_id}")
        )
    return int(found["id"])


async def _add(args: argparse.Namespace) -> int:
    try:
        reason = reason_of(args.reason)
        if reason is None:
            raise validation_failed("reason", BAD_REASON)
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            body = {
                "delegate_id": await _delegate_id(conn, row, args.external_id),
                "reason": reason,
                "note": args.note,
                "makeup_owed": args.makeup,
            }
            out, new = await absences.record_absence(
                conn, CLI, row, parse(absences.AbsenceIn, body)
            )
    except Problem as problem:
        return report_problem(problem)
    said = t("Đã ghi nhận vắng", "absence recorded") if new else t("Đã sửa", "absence updated")
    err(f"{said}: {out['external_id']} {out['full_name']} ({out['site_code']})")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            delegate = await _delegate_id(conn, row, args.external_id)
            await absences.remove_absence(conn, CLI, row, delegate)
    except Problem as problem:
        return report_problem(problem)
    err(t(f"Đã bỏ ghi nhận vắng của {args.external_id}", f"absence of {args.external_id} removed"))
    return 0


async def _import(args: argparse.Namespace) -> int:
    refused = refuse_file(args.file)
    if refused is not None:
        return refused
    try:
        sheet = tabular.Sheet(args.file, file_kind(args.file))
        parsed = await asyncio.to_thread(absences.parse_absences, sheet)
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            counts = await absences.write_absences(conn, CLI, row, parsed)
    except Problem as problem:
        return report_problem(problem)
    err(imported(counts))
    return 0


async def _list(args: argparse.Namespace, makeup: bool | None) -> int:
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            reason = None if args.reason is None else reason_of(args.reason)
            if args.reason is not None and reason is None:
                raise validation_failed("reason", BAD_REASON)
            query = {"site": args.site, "reason": reason, "makeup_owed": makeup, "limit": 1000}

            async def fetch(cursor: str | None) -> dict[str, Any]:
                filters = parse(absences.AbsenceFilter, {**query, "cursor": cursor})
                return await absences.list_absences(conn, CLI, row, filters)

            shown = await write_all(Listing(COLUMNS, args.format), fetch)
    except Problem as problem:
        return report_problem(problem)
    err(f"({count(shown, 'người', 'delegate')})")
    return 0


async def _makeup(args: argparse.Namespace) -> int:
    if args.output is None:
        args.site, args.reason = None, None
        return await _list(args, makeup=True)
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            rows = await q.fetch_makeup(conn, row["id"], None)
    except Problem as problem:
        return report_problem(problem)
    xlsx = args.output.suffix.lower() == ".xlsx"
    body = absences.makeup_xlsx(rows, language()) if xlsx else absences.makeup_csv(rows)
    args.output.write_bytes(body)
    err(t(f"{count(len(rows), 'người', 'delegate')} phải học bù -> {args.output}",
          f"{count(len(rows), 'người', 'delegate')} owe a make-up session -> {args.output}"))  # fmt: skip
    return 0
