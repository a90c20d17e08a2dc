"""`diemcau live --conference C [--unit U]`: the live board's totals and the units below,
refreshed in the terminal, for an organiser on the service's machine without a browser.

It reads the board as the service does (diemcau.live: the same view, moved forward by
`seq`), against the database directly, so it works whether or not `diemcau serve` runs.
On a terminal it redraws every `--every` seconds; otherwise (a pipe, a log file) it
writes a block each time the board changes, and `--once` writes one and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg

from diemcau.cli.common import add_conference, conference, database, load_config
from diemcau.cli.output import Column, Listing
from diemcau.cli.say import error, number, percent, report_problem, t, when, word
from diemcau.errors import Msg, Problem
from diemcau.live.reading import catch_up, read_view
from diemcau.live.sweep import sweep
from diemcau.live.view import View
from diemcau.queries import live as q

SWEEP_EVERY = 5.0


def register(sub: argparse._SubParsersAction) -> None:
    live = sub.add_parser(
        "live",
        help=t(
            "số liệu trực tiếp của hội nghị trong cửa sổ dòng lệnh",
            "the conference's live counts in the terminal",
        ),
    )
    add_conference(live)
    live.add_argument("--unit", help=t("chỉ cây của đơn vị này", "this unit's subtree only"))
    live.add_argument(
        "--every",
        type=float,
        default=2.0,
        help=t("làm mới mỗi N giây (mặc định 2)", "refresh every N seconds (default 2)"),
    )
    live.add_argument(
        "--once", action="store_true", help=t("in một lần rồi thôi", "print once and stop")
    )
    live.set_defaults(func=lambda a: asyncio.run(_live(a)))


async def _live(args: argparse.Namespace) -> int:
    if not 0.2 <= args.every <= 3600:
        return error(Msg("--every phải từ 0,2 đến 3600 giây", "--every must be 0.2 to 3600 s"))
    async with database(load_config()) as conn:
        try:
            found = await conference(conn, args.conference)
            unit = await _unit(conn, args.unit)
        except Problem as problem:
            return report_problem(problem)
        await sweep(conn, found["id"], SWEEP_EVERY, wait=True)
        async with q.snapshot_transaction(conn):
            view = await read_view(conn, found["id"])
        await _follow(conn, view, unit, args)
    return 0


async def _unit(conn: asyncpg.Connection, code: str | None) -> int | None:
    if code is None:
        return None
    row = await q.fetch_unit_by_code(conn, code)
    if row is None:
        raise Problem("not_found", Msg(f"Không có đơn vị {code!r}", f"no unit {code!r}"))
    return int(row["id"])


async def _follow(conn: asyncpg.Connection, view: View, unit: int | None, args: Any) -> None:
    terminal = sys.stdout.isatty()
    shown = -1
    while True:
        if terminal or view.seq != shown:
            lines = board_lines(view, unit)
            if terminal:
                sys.stdout.write("\x1b[H\x1b[2J")
            elif shown >= 0:
                sys.stdout.write("\n")
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            shown = view.seq
        if args.once:
            return
        await asyncio.sleep(args.every)
        await sweep(conn, view.conference_id, SWEEP_EVERY)
        async with q.snapshot_transaction(conn):
            seq = await q.fetch_seq(conn, view.conference_id)
            view = await catch_up(conn, view, seq) or view


def board_lines(view: View, unit: int | None) -> list[str]:
    """The totals of the scope, then one line per unit directly below it."""
    c = view.conference
    scope = view.units.get(unit) if unit is not None else None
    head = f"{c.get('code', '')} — {c.get('title', '')} ({word(str(c.get('status', '')))})"
    if scope is not None:
        head += f" · {scope.name} ({scope.code})"
    totals = view.unit_entry(scope)
    targets = c.get("targets") or {}
    lines = [
        head,
        t(
            f"lúc {when(datetime.now(UTC))}, seq {view.seq}",
            f"at {when(datetime.now(UTC))}, seq {view.seq}",
        ),
    ]
    for category in ("member", "non_member"):
        line = f"  {word(category)}: {_rate(totals, category)}"
        if targets.get(category) is not None:
            line += t(" · mục tiêu ", " · target ") + percent(float(targets[category]))
        lines.append(line)
    lines.append(
        f"  {word('guest')}: {number(totals['checked_in']['guest'])}"
        + t(" · vãng lai ", " · walk-ins ")
        + number(totals["walk_ins"])
        + t(" · đang có mặt ", " · present ")
        + number(totals["present"])
        + t(" · điểm cầu ", " · sites ")
        + number(totals["sites"])
    )
    series = (scope.arrivals if scope is not None else view.arrivals).out(view.zone)
    recent = series["per_minute"][-5:]
    lines.append(
        t("  đến mỗi phút (5 phút gần nhất): ", "  arrivals a minute (last 5): ")
        + (", ".join(number(n) for n in recent) or "-")
    )
    children = [u for u in view.units.values() if u.visible and _below(view, u, unit)]
    if children:
        lines.append("")
        rows = [_unit_row(view, u) for u in sorted(children, key=lambda u: u.code)]
        out = _Capture()
        Listing(UNIT_COLUMNS, "table", out).write(rows)
        lines += out.text.rstrip("\n").split("\n")
    return lines


def _below(view: View, unit: Any, scope: int | None) -> bool:
    """Directly below the scope (the tree's roots when the scope is the conference)."""
    if scope is None:
        return unit.parent_id is None or unit.parent_id not in view.units
    return unit.parent_id == scope


def _rate(entry: dict[str, Any], category: str) -> str:
    done, expected = entry["checked_in"][category], entry["expected"][category]
    rate = percent(done / expected) if expected else "-"
    return f"{number(done)}/{number(expected)} · {rate}"


def _unit_row(view: View, unit: Any) -> dict[str, Any]:
    entry = view.unit_entry(unit)
    return {
        "unit": f"{unit.name} ({unit.code})",
        "member": _rate(entry, "member"),
        "non_member": _rate(entry, "non_member"),
        "walk_ins": number(entry["walk_ins"]),
        "present": number(entry["present"]),
        "sites": number(entry["sites"]),
    }


UNIT_COLUMNS = [
    Column("unit", "đơn vị", "unit"),
    Column("member", "đảng viên", "members", right=True),
    Column("non_member", "quần chúng", "non-members", right=True),
    Column("walk_ins", "vãng lai", "walk-ins", right=True),
    Column("present", "có mặt", "present", right=True),
    Column("sites", "điểm cầu", "sites", right=True),
]


class _Capture:
    """A file-like the listing writes into."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass
