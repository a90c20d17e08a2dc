"""`diemcau unit create|import|list|show|delete`: the unit tree, the organiser's very first
step."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from diemcau import tabular, units
from diemcau.auth import CLI
from diemcau.cli.common import database, file_kind, load_config, refuse_file, report_problem
from diemcau.cli.output import Column, Listing, add_format, write_all
from diemcau.cli.say import count, err, imported, number, t, when, word
from diemcau.errors import Problem
from diemcau.validation import parse


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "unit",
        help=t(
            "cây đơn vị: tạo, nhập, liệt kê, xem, xóa",
            "the unit tree: create, import, list, show, delete",
        ),
    )
    verbs = cmd.add_subparsers(dest="verb", metavar="VERB", required=True)

    create = verbs.add_parser("create", help=t("tạo một đơn vị", "create one unit"))
    create.add_argument("--code", required=True, help=t("mã, ví dụ LC-TD", "code, e.g. LC-TD"))
    create.add_argument(
        "--name",
        required=True,
        help=t("tên, ví dụ 'Huyện Tam Đường'", "name, e.g. 'Huyện Tam Đường'"),
    )
    create.add_argument("--level", required=True, help=", ".join(units.LEVELS))
    create.add_argument("--parent", help=t("mã đơn vị cấp trên", "the parent unit's code"))
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))

    imp = verbs.add_parser(
        "import",
        help=t(
            "nhập đơn vị từ CSV/XLSX (code, name, level, parent_code): tất cả hoặc không",
            "import units from CSV/XLSX (code, name, level, parent_code): all rows or none",
        ),
    )
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=lambda a: asyncio.run(_import(a)))

    listing = verbs.add_parser("list", help=t("liệt kê đơn vị theo mã", "list units in code order"))
    listing.add_argument(
        "--parent",
        help=t("chỉ các đơn vị trực thuộc đơn vị này", "only this unit's direct children"),
    )
    listing.add_argument(
        "--under", help=t("đơn vị này và mọi đơn vị bên dưới", "this unit and its whole subtree")
    )
    listing.add_argument("--level", choices=units.LEVELS)
    add_format(listing)
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    show = verbs.add_parser("show", help=t("xem một đơn vị", "show one unit"))
    show.add_argument("code")
    add_format(show)
    show.set_defaults(func=lambda a: asyncio.run(_show(a)))

    delete = verbs.add_parser(
        "delete",
        help=t(
            "xóa một đơn vị không còn đơn vị con, điểm cầu, đại biểu, hội nghị hay mã truy cập nào",
            "delete a unit no child unit, site, delegate, conference or token names any more",
        ),
    )
    delete.add_argument("code")
    delete.set_defaults(func=lambda a: asyncio.run(_delete(a)))


COLUMNS = [
    Column("code", "mã", "code"),
    Column("level", "cấp", "level", show=word),
    Column("parent_code", "cấp trên", "parent"),
    Column("name", "tên", "name"),
]


async def _create(args: argparse.Namespace) -> int:
    data = {"code": args.code, "name": args.name, "level": args.level, "parent_code": args.parent}
    try:
        unit_in = parse(units.UnitIn, data)
        async with database(load_config()) as conn:
            made = await units.create_unit(conn, CLI, unit_in)
    except Problem as problem:
        return report_problem(problem)
    err(
        t(
            f"Đã tạo đơn vị {made['code']} ({made['name']})",
            f"unit {made['code']} created ({made['name']})",
        )
    )
    print(made["code"])
    return 0


async def _import(args: argparse.Namespace) -> int:
    refused = refuse_file(args.file)
    if refused is not None:
        return refused
    try:
        async with database(load_config()) as conn:
            sheet = tabular.Sheet(args.file, file_kind(args.file))
            counts = await units.import_units(conn, CLI, sheet)
    except Problem as problem:
        return report_problem(problem)
    err(imported(counts))
    return 0


async def _list(args: argparse.Namespace) -> int:
    listing = Listing(COLUMNS, args.format)
    try:
        async with database(load_config()) as conn:

            async def fetch(cursor: str | None) -> dict[str, Any]:
                return await units.list_units(
                    conn, CLI, parent=args.parent, under=args.under, level=args.level,
                    cursor=cursor, limit=1000,
                )  # fmt: skip

            shown = await write_all(listing, fetch)
    except Problem as problem:
        return report_problem(problem)
    err(f"({count(shown, 'đơn vị', 'unit')})")
    return 0


async def _show(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            unit = await units.read_unit(conn, CLI, args.code)
    except Problem as problem:
        return report_problem(problem)
    if args.format != "table":
        Listing([Column(k, k, k) for k in unit], args.format).write([unit])
        return 0
    rows = [
        (t("đơn vị", "unit"), f"{unit['code']}  {unit['name']}"),
        (t("cấp", "level"), word(unit["level"])),
        (t("cấp trên", "parent"), unit["parent_code"] or "-"),
        (t("trực thuộc", "children"), number(unit["children"])),
        (t("mọi đơn vị bên dưới", "units below"), number(unit["descendants"])),
        (t("điểm cầu", "sites"), number(unit["sites"])),
        (t("tạo lúc", "created"), when(unit["created_at"])),
    ]
    print_pairs(rows)
    return 0


async def _delete(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            gone = await units.delete_unit(conn, CLI, args.code)
    except Problem as problem:
        return report_problem(problem)
    err(
        t(
            f"Đã xóa đơn vị {gone['code']} ({gone['name']})",
            f"unit {gone['code']} deleted ({gone['name']})",
        )
    )
    return 0


def print_pairs(rows: list[tuple[str, str]]) -> None:
    """`label: value` lines, the labels padded to one width."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label + ':':<{width + 1}} {value}")
