"""`diemcau checkins --conference C [--site S] [--result R]`: the scans at the doors, as
`GET .../sites/{site}/checkins` lists them (refusals included), site by site in code
order, newest first within a site (each site's page walks its own scan index)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, get_args

import asyncpg

from diemcau.checkin.model import ScanResult
from diemcau.cli.badges import conference_sites
from diemcau.cli.common import add_conference, conference, database, load_config, positive_int
from diemcau.cli.output import Column, Listing, add_format
from diemcau.cli.say import count, err, report_problem, t, when
from diemcau.errors import Problem
from diemcau.queries import checkins as q

RESULTS: tuple[str, ...] = get_args(ScanResult.model_fields["result"].annotation)
PAGE = 1000
_RESULT_WORDS = {
    "accepted": "nhận",
    "duplicate": "trùng",
    "wrong_site": "sai điểm cầu",
    "revoked": "đã thu hồi",
    "invalid": "không hợp lệ",
    "not_open": "chưa mở",
    "closed": "đã đóng",
}
_FLAGS = (
    ("moved", "điểm cầu khác", "moved"),
    ("reentry", "vào lại", "re-entry"),
    ("skewed", "lệch giờ", "skewed"),
    ("annulled", "đã hủy", "annulled"),
)


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "checkins",
        help=t(
            "các lượt quét ở cửa (cả lượt bị từ chối), từng điểm cầu, mới nhất trước",
            "the scans at the doors (refusals too), site by site, newest first",
        ),
    )
    add_conference(cmd)
    cmd.add_argument("--site", help=t("một điểm cầu (mặc định: tất cả)", "one site (default: all)"))
    cmd.add_argument(
        "--result",
        choices=RESULTS,
        help=t("chỉ lượt có kết quả này", "only scans with this result"),
    )
    cmd.add_argument(
        "--max",
        type=positive_int,
        help=t(
            "in nhiều nhất chừng này dòng (mặc định: tất cả)", "most rows to print (default: all)"
        ),
    )
    add_format(cmd)
    cmd.set_defaults(func=lambda a: asyncio.run(_checkins(a)))


def _columns(zone: str) -> list[Column]:
    return [
        Column("scanned_at", "lúc quét", "scanned", show=lambda v: when(v, zone)),
        Column("site_code", "điểm cầu", "site"),
        Column("result", "kết quả", "result", show=lambda v: t(_RESULT_WORDS.get(v, v), v)),
        Column(
            "direction", "chiều", "direction", show=lambda v: t("vào" if v == "in" else "ra", v)
        ),
        Column("method", "cách", "method"),
        Column("full_name", "họ và tên", "name"),
        Column("notes", "ghi chú", "notes"),
        Column("kiosk_id", "máy", "kiosk", right=True),
        Column("scan_id", "mã lượt quét", "scan id"),
    ]


def scan_out(row: asyncpg.Record, site_code: str) -> dict[str, Any]:
    """A scan as the API lists it, with its site; `notes` says its flags in words."""
    out = {k: row[k] for k in row.keys() if k != "id"}
    out["scan_id"] = str(row["scan_id"])
    out["site_code"] = site_code
    out["notes"] = ", ".join(t(vi, en) for key, vi, en in _FLAGS if row[key]) or None
    return out


async def _checkins(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            found = await conference(conn, args.conference)
            sites = await conference_sites(conn, found, args.site)
            listing = Listing(_columns(found["timezone"]), args.format)
            for site in sites:
                if not await _site_scans(conn, listing, found["id"], site, args):
                    break
    except Problem as problem:
        return report_problem(problem)
    err(f"({count(listing.count, 'lượt quét', 'scan')})")
    return 0


async def _site_scans(
    conn: asyncpg.Connection, listing: Listing, conference_id: int, site: Any, args: Any
) -> bool:
    """Write one site's scans, page by page; False once --max is reached."""
    before: int | None = None
    while True:
        rows = await q.fetch_site_scans(conn, conference_id, site["id"], args.result, before, PAGE)
        if args.max is not None:
            rows = rows[: args.max - listing.count]
        listing.write([scan_out(r, site["code"]) for r in rows])
        if args.max is not None and listing.count >= args.max:
            return False
        if len(rows) < PAGE:
            return True
        before = rows[-1]["id"]
