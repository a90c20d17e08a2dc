"""`diemcau reconcile`, `diemcau flag`, `diemcau sign-off`: the organiser's end of a
conference, against the database (like `diemcau conference`).

    diemcau reconcile --conference HN1            # headline, site rows, open flags
    diemcau reconcile --conference HN1 --verify   # the running counters against the scans
    diemcau flag list --conference HN1 [--open]
    diemcau flag resolve --conference HN1 LC-01.headcount_mismatch --action accept_scans \\
        --note "hội trường đếm thiếu"
    diemcau sign-off --conference HN1             # prints the report's SHA-256
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from diemcau import reconcile
from diemcau.auth import CLI
from diemcau.cli.common import add_conference, conference, database, load_config
from diemcau.cli.output import Column, Listing, add_format
from diemcau.cli.say import count, err, language, number, ratio, report_problem, t, when, word
from diemcau.errors import Problem
from diemcau.reconcile import words
from diemcau.reconcile.model import ACTIONS, MOMENTS, Flag, Reconciliation, SiteRow
from diemcau.reconcile.signoff import scope_of
from diemcau.validation import parse

DIFFERENCES = 1  # exit status of --verify when the counters and the scans disagree


def register(sub: argparse._SubParsersAction) -> None:
    rec = sub.add_parser(
        "reconcile",
        help=t("đối soát: số liệu từng điểm cầu và các cờ", "reconciliation: site rows and flags"),
    )
    add_conference(rec)
    rec.add_argument("--unit", help=t("chỉ cây đơn vị này", "only this unit's subtree"))
    rec.add_argument(
        "--verify",
        action="store_true",
        help=t(
            "đếm lại từ các lượt quét và so với bộ đếm (site_tallies)",
            "recount from the scans and compare with the running counters",
        ),
    )
    add_format(rec)
    rec.set_defaults(func=lambda a: asyncio.run(_reconcile(a)))
    _flag_commands(sub)
    sign = sub.add_parser(
        "sign-off",
        help=t(
            "ký xác nhận: khóa sổ hội nghị, in mã băm báo cáo",
            "sign off: lock the conference, print the report hash",
        ),
    )
    add_conference(sign)
    sign.set_defaults(func=lambda a: asyncio.run(_sign_off(a)))


def _flag_commands(sub: argparse._SubParsersAction) -> None:
    flag = sub.add_parser("flag", help=t("cờ đối soát: xem, xử lý", "reconciliation flags"))
    verbs = flag.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help=t("liệt kê các cờ", "list the flags"))
    add_conference(listing)
    listing.add_argument("--open", action="store_true", help=t("chỉ cờ chưa xử lý", "open only"))
    add_format(listing)
    listing.set_defaults(func=lambda a: asyncio.run(_flags(a)))
    resolve = verbs.add_parser("resolve", help=t("xử lý một cờ", "resolve a flag"))
    add_conference(resolve)
    resolve.add_argument("id", help=t("mã cờ: ĐIỂM_CẦU.loại", "flag id: SITE.kind"))
    resolve.add_argument("--action", required=True, choices=ACTIONS)
    resolve.add_argument(
        "--figure", type=int, help=t("con số đã hiệu chỉnh", "the corrected figure")
    )
    resolve.add_argument("--note", required=True, help=t("lý do", "why"))
    resolve.set_defaults(func=lambda a: asyncio.run(_resolve(a)))


async def _reconciliation(conn: Any, args: argparse.Namespace) -> tuple[Any, Reconciliation]:
    row = await conference(conn, args.conference)
    scope = await scope_of(conn, CLI, getattr(args, "unit", None))
    return row, await reconcile.reconciliation(conn, row, scope)


async def _reconcile(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            if args.verify:
                row = await conference(conn, args.conference)
                return _print_differences(await reconcile.verify(conn, row["id"]))
            _, rec = await _reconciliation(conn, args)
    except Problem as problem:
        return report_problem(problem)
    if args.format != "table":
        Listing(SITE_COLUMNS, args.format).write(_site_items(rec.sites))
        return 0
    _headline(rec)
    Listing(SITE_COLUMNS, "table").write(_site_items(rec.sites))
    _print_flags([f for f in rec.flags if f.status == "open"], "table")
    return 0


def _print_differences(found: list[reconcile.Difference]) -> int:
    if not found:
        err(
            t(
                "Không có chênh lệch: bộ đếm khớp với các lượt quét",
                "No difference: the counters match the scans",
            )
        )
        return 0
    columns = [
        Column("site_code", "điểm cầu", "site"),
        Column("field", "trường", "field"),
        Column("stored", "bộ đếm", "counter", show=number, right=True),
        Column("recounted", "đếm lại", "recounted", show=number, right=True),
    ]
    Listing(columns, "table").write([_asdict(d) for d in found])
    err(t(f"{number(len(found))} chênh lệch", f"{number(len(found))} differences"))
    return DIFFERENCES


def _asdict(d: reconcile.Difference) -> dict[str, Any]:
    return {
        "site_code": d.site_code or "-",
        "field": d.field,
        "stored": d.stored,
        "recounted": d.recounted,
    }


def _headline(rec: Reconciliation) -> None:
    """The provinces' lines: members and non-members against the roster, walk-ins apart."""
    total = rec.totals
    c = rec.conference
    err(f"{c.code}  {c.title}  ({word(rec.status)})")
    for category in ("member", "non_member", "guest"):
        came, expected = total.checked_in.get(category), total.expected.get(category)
        if expected or came:
            target = rec.targets.get(category)
            goal = (
                t(f", mục tiêu {number(target * 100, 0)}%", f", target {number(target * 100, 0)}%")
                if target
                else ""
            )
            err(f"  {word(category)}: {ratio(came, expected)}{goal}")
    err(f"  {t('vãng lai', 'walk-ins')}: {number(total.walk_ins.total)}")
    err(
        f"  {count(total.sites, 'điểm cầu', 'site')}, {count(len(rec.open_flags()), 'cờ chưa xử lý', 'open flag')}"
    )
    if rec.signed_off_at is not None:
        err(
            f"  {t('đã ký xác nhận', 'signed off')} {when(rec.signed_off_at, c.timezone)}  sha256 {rec.report_sha256}"
        )


def _site_items(rows: list[SiteRow]) -> list[dict[str, Any]]:
    items = []
    for r in rows:
        heads = {m: (h.total if (h := r.headcounts.get(m)) else None) for m in MOMENTS}
        items.append(
            {
                "site_code": r.site_code,
                "unit_code": r.unit_code,
                "expected": r.expected.total,
                "checked_in": r.checked_in.total,
                "member": ratio(r.checked_in.member, r.expected.member),
                "non_member": ratio(r.checked_in.non_member, r.expected.non_member),
                "walk_ins": r.walk_ins.total,
                "moved_in": r.moved_in,
                "moved_out": r.moved_out,
                "exits": r.exits,
                "headcount_start": heads["start"],
                "headcount_after_break": heads["after_break"],
                "headcount_end": heads["end"],
                "capacity": r.capacity,
            }
        )
    return items


SITE_COLUMNS = [
    Column("site_code", "điểm cầu", "site"),
    Column("unit_code", "đơn vị", "unit"),
    Column("expected", "dự kiến", "expected", show=number, right=True),
    Column("checked_in", "điểm danh", "checked in", show=number, right=True),
    Column("member", "đảng viên", "members", right=True),
    Column("non_member", "quần chúng", "non-members", right=True),
    Column("walk_ins", "vãng lai", "walk-ins", show=number, right=True),
    Column("moved_in", "đến", "moved in", show=number, right=True),
    Column("moved_out", "đi", "moved out", show=number, right=True),
    Column("exits", "ra", "exits", show=number, right=True),
    Column("headcount_start", "đếm đầu", "count start", show=number, right=True),
    Column("headcount_after_break", "sau giải lao", "after break", show=number, right=True),
    Column("headcount_end", "cuối", "end", show=number, right=True),
    Column("capacity", "sức chứa", "capacity", show=number, right=True),
]

FLAG_COLUMNS = [
    Column("id", "mã cờ", "flag"),
    Column("title", "cờ", "what"),
    Column("status", "trạng thái", "status"),
    Column("detail", "số liệu", "numbers"),
    Column("resolution", "xử lý", "resolution"),
]


def _flag_item(flag: Flag) -> dict[str, Any]:
    lang = language()
    return {
        "id": flag.id,
        "kind": flag.kind,
        "site_code": flag.site_code,
        "title": words.KINDS[flag.kind].text(lang),
        "status": t("chưa xử lý", "open") if flag.resolution is None else t("đã xử lý", "resolved"),
        "detail": words.summary(flag, lang) or "-",
        "resolution": words.resolution_text(flag.resolution, lang),
    }


def _print_flags(flags: list[Flag], fmt: str) -> None:
    if fmt == "table" and not flags:
        err(t("Không có cờ nào", "No flags"))
        return
    Listing(FLAG_COLUMNS, fmt).write([_flag_item(f) for f in flags])
    if fmt == "table":
        err(f"({count(len(flags), 'cờ', 'flag')})")


async def _flags(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            _, rec = await _reconciliation(conn, args)
    except Problem as problem:
        return report_problem(problem)
    flags = rec.open_flags() if args.open else rec.flags
    _print_flags(flags, args.format)
    return 0


async def _resolve(args: argparse.Namespace) -> int:
    try:
        data = parse(
            reconcile.ResolveIn, {"action": args.action, "figure": args.figure, "note": args.note}
        )
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            flag = await reconcile.resolve(conn, CLI, row, args.id, data)
    except Problem as problem:
        return report_problem(problem)
    err(t(f"Đã xử lý cờ {flag.id}", f"flag {flag.id} resolved"))
    return 0


async def _sign_off(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.conference)
            done = await reconcile.sign_off(conn, CLI, row)
    except Problem as problem:
        return report_problem(problem)
    at = when(done["signed_off_at"], row["timezone"])
    err(
        t(
            f"Đã ký xác nhận {row['code']} lúc {at}; mã băm báo cáo:",
            f"{row['code']} signed off at {at}; report hash:",
        )
    )
    print(done["report_sha256"])
    return 0
