"""`diemcau conference create|list|show|sites|status`: conferences from the command line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg

from diemcau import conferences
from diemcau.auth import CLI
from diemcau.cli.common import conference, database, load_config
from diemcau.cli.output import Column, Listing, add_format, write_all
from diemcau.cli.say import count, err, number, percent, report_problem, t, when, word
from diemcau.cli.units import print_pairs
from diemcau.delegates import CATEGORIES
from diemcau.errors import Msg, Problem, constraint_problem, validation_failed
from diemcau.queries import conferences as q
from diemcau.validation import parse

SHOWN_SITES = 20  # `conference show` lists this many; `conference sites` lists them all
MOVES = ("open", "live", "closed")  # what `POST .../status` takes (sign-off is its own)


def register(sub: argparse._SubParsersAction) -> None:
    conf = sub.add_parser(
        "conference",
        help=t(
            "hội nghị: tạo, liệt kê, xem, chọn điểm cầu, chuyển trạng thái",
            "conferences: create, list, show, choose their sites, move their status",
        ),
    )
    verbs = conf.add_subparsers(dest="verb", metavar="VERB", required=True)
    _create_verb(verbs)

    listing = verbs.add_parser(
        "list", help=t("liệt kê hội nghị, mới nhất trước", "list conferences, newest first")
    )
    add_format(listing)
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    show = verbs.add_parser(
        "show",
        help=t(
            "xem một hội nghị: lịch, trạng thái, điểm cầu, số đại biểu",
            "show a conference: schedule, status, sites, delegates",
        ),
    )
    show.add_argument("code")
    add_format(show)
    show.set_defaults(func=lambda a: asyncio.run(_show(a)))

    sites = verbs.add_parser(
        "sites",
        help=t(
            "xem hoặc đặt lại (--set a,b,c) các điểm cầu tham gia",
            "show or set (--set a,b,c) the participating sites",
        ),
    )
    sites.add_argument("code")
    sites.add_argument(
        "--set",
        dest="codes",
        help=t("thay bằng các mã này: a,b,c", "replace the set with these codes: a,b,c"),
    )
    add_format(sites)
    sites.set_defaults(func=lambda a: asyncio.run(_sites(a)))

    status = verbs.add_parser(
        "status",
        help=t(
            "chuyển trạng thái tới ngay bây giờ (mở điểm danh, khai mạc, bế mạc)",
            "move the status forward now (open check-in, start, end)",
        ),
    )
    status.add_argument("code")
    status.add_argument("status", choices=MOVES)
    status.set_defaults(func=lambda a: asyncio.run(_status(a)))


def _create_verb(verbs: argparse._SubParsersAction) -> None:
    create = verbs.add_parser("create", help=t("tạo hội nghị", "create a conference"))
    create.add_argument("--code", required=True)
    create.add_argument("--title", required=True)
    when_help = t(
        "ngày và giờ, ví dụ 2026-12-15T08:00 (giờ của --timezone) hoặc 2026-12-15T08:00+07:00",
        "date and time, e.g. 2026-12-15T08:00 (in --timezone) or 2026-12-15T08:00+07:00",
    )
    create.add_argument("--starts-at", required=True, help=when_help)
    create.add_argument("--ends-at", required=True, help=when_help)
    create.add_argument(
        "--checkin-opens-at",
        help=t("mặc định: 60 phút trước --starts-at", "default: 60 minutes before --starts-at"),
    )
    create.add_argument("--timezone", default=conferences.DEFAULT_TIMEZONE)
    create.add_argument("--host-site")
    create.add_argument(
        "--sites",
        default="",
        help=t("mã các điểm cầu tham gia: a,b,c", "participating site codes: a,b,c"),
    )
    create.add_argument(
        "--policy",
        choices=("accept", "reject"),
        default="accept",
        help=t(
            "quét mã tại điểm cầu khác điểm cầu của đại biểu",
            "a scan at another site than the delegate's own",
        ),
    )
    create.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="CATEGORY=RATE",
        help=t(
            "tỷ lệ mục tiêu là phân số: --target member=0.98 --target non_member=0.9",
            "targets are fractions: --target member=0.98 --target non_member=0.9",
        ),
    )
    create.add_argument("--unit", help=t("mã đơn vị chủ trì", "owning unit code"))
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _targets(pairs: list[str]) -> dict[str, Any]:
    """`member=0.98` pairs; a pair without '=' or with another category is refused here,
    the value's range by the API's own rule (a fraction from 0 to 1)."""
    targets: dict[str, Any] = {}
    for pair in pairs:
        name, sign, rate = pair.partition("=")
        if not sign or name.strip() not in CATEGORIES:
            raise validation_failed(
                "targets",
                Msg(
                    f"--target {pair!r}: viết LOẠI=TỶ_LỆ, LOẠI là {', '.join(CATEGORIES)}, ví dụ member=0.98",
                    f"--target {pair!r}: write CATEGORY=RATE, CATEGORY one of {', '.join(CATEGORIES)}, e.g. member=0.98",
                ),
            )
        targets[name.strip()] = _number(rate.strip())
    return targets


def _number(text: str) -> float | str:
    """A rate typed on the command line as the number the API takes (text stays text, for
    the API's own message)."""
    try:
        return float(text)
    except ValueError:
        return text


def _input(args: argparse.Namespace) -> dict[str, Any]:
    data = {
        "code": args.code,
        "title": args.title,
        "starts_at": args.starts_at,
        "ends_at": args.ends_at,
        "timezone": args.timezone,
        "host_site": args.host_site,
        "sites": _codes(args.sites),
        "policy": {"other_site": args.policy},
        "targets": _targets(args.target),
        "unit_code": args.unit,
    }
    if args.checkin_opens_at:
        data["checkin_opens_at"] = args.checkin_opens_at
    return data


async def _run(work: Any) -> int:
    """Run a write; a problem or a named-constraint violation is printed, not raised."""
    try:
        return await work
    except Problem as problem:
        return report_problem(problem)
    except asyncpg.IntegrityConstraintViolationError as exc:
        known = constraint_problem(getattr(exc, "constraint_name", None))
        if known is None:
            raise
        return report_problem(known)


async def _create(args: argparse.Namespace) -> int:
    async def work() -> int:
        data = parse(conferences.ConferenceIn, _input(args))
        async with database(load_config()) as conn:
            made = await conferences.create_conference(conn, CLI, data)
        sites = count(made["sites_count"], "điểm cầu", "site")
        err(
            t(
                f"Đã tạo hội nghị {made['code']} ({word(made['status'])}, {sites}), "
                f"khai mạc {when(made['starts_at'], made['timezone'])}",
                f"conference {made['code']} created ({made['status']}, {sites}), "
                f"starts {when(made['starts_at'], made['timezone'])}",
            )
        )
        print(made["code"])
        return 0

    return await _run(work())


async def _list(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn:

        async def fetch(cursor: str | None) -> dict[str, Any]:
            return await conferences.list_conferences(conn, CLI, cursor, 500)

        columns = [
            Column("code", "mã", "code"),
            Column("status", "trạng thái", "status", show=word),
            Column("starts_at", "khai mạc", "starts at", show=_local_start),
            Column("title", "tên hội nghị", "title"),
        ]
        shown = await write_all(Listing(columns, args.format), fetch)
    err(f"({count(shown, 'hội nghị', 'conference')})")
    return 0


def _local_start(value: Any) -> str:
    # conference_out gives starts_at already in the conference's own zone: keep it there.
    return when(value, value.tzinfo)


async def _show(args: argparse.Namespace) -> int:
    try:
        async with database(load_config()) as conn:
            row = await conference(conn, args.code)
            out = conferences.conference_out(row, await q.fetch_counts(conn, row["id"]))
            out["delegates_by_category"] = await q.fetch_category_counts(conn, row["id"])
            sites = await q.fetch_conference_sites(conn, row["id"])
    except Problem as problem:
        return report_problem(problem)
    if args.format != "table":
        out["sites"] = [r["code"] for r in sites]
        Listing([Column(k, k, k) for k in out], args.format).write([out])
        return 0
    print_pairs(_conference_lines(out))
    _site_lines(out, sites)
    return 0


def _conference_lines(c: dict[str, Any]) -> list[tuple[str, str]]:
    zone = c["timezone"]
    by_category = ", ".join(f"{word(k)} {number(v)}" for k, v in c["delegates_by_category"].items())
    targets = ", ".join(f"{word(k)} {percent(v)}" for k, v in c["targets"].items()) or "-"
    policy = {"accept": t("nhận và ghi là chuyển điểm", "accept, marked moved")}
    return [
        (t("hội nghị", "conference"), f"{c['code']}  {c['title']}"),
        (t("trạng thái", "status"), word(c["status"])),
        (t("mở điểm danh", "check-in opens"), when(c["checkin_opens_at"], zone)),
        (t("khai mạc", "starts"), when(c["starts_at"], zone)),
        (t("bế mạc", "ends"), when(c["ends_at"], zone)),
        (t("múi giờ", "time zone"), zone),
        (t("điểm cầu chính", "host site"), c["host_site"] or "-"),
        (t("đơn vị chủ trì", "owning unit"), c["unit_code"] or "-"),
        (
            t("quét ở điểm cầu khác", "scan at another site"),
            policy.get(c["policy"]["other_site"], t("từ chối", "refuse")),
        ),
        (t("mục tiêu", "targets"), targets),
        (t("đại biểu", "delegates"), f"{number(c['delegates_count'])} ({by_category})"),
        (t("điểm cầu tham gia", "sites"), number(c["sites_count"])),
    ]


def _site_lines(c: dict[str, Any], sites: list[Any]) -> None:
    listing = Listing(SITE_COLUMNS, "table")
    listing.write([dict(r) for r in sites[:SHOWN_SITES]])
    if len(sites) > SHOWN_SITES:
        rest = len(sites) - SHOWN_SITES
        err(
            t(
                f"… và {number(rest)} điểm cầu nữa: diemcau conference sites {c['code']}",
                f"… and {number(rest)} more: diemcau conference sites {c['code']}",
            )
        )


SITE_COLUMNS = [
    Column("code", "mã", "code"),
    Column("unit_code", "đơn vị", "unit"),
    Column("delegates", "đại biểu", "delegates", show=number, right=True),
    Column("name", "tên", "name"),
]


async def _status(args: argparse.Namespace) -> int:
    """The API's `POST .../status`: the matching time is set to now, the status follows."""

    async def work() -> int:
        async with database(load_config()) as conn:
            row = await conference(conn, args.code)
            before = row["status"]
            moved = await conferences.change_status(conn, CLI, row, args.status)
        zone = moved["timezone"]
        times = ", ".join(
            f"{label} {when(moved[key], zone)}"
            for key, label in (
                ("checkin_opens_at", t("mở điểm danh", "check-in opens")),
                ("starts_at", t("khai mạc", "starts")),
                ("ends_at", t("bế mạc", "ends")),
            )
        )
        err(
            t(
                f"Hội nghị {moved['code']}: {word(before)} -> {word(moved['status'])} ({times})",
                f"conference {moved['code']}: {before} -> {moved['status']} ({times})",
            )
        )
        print(moved["status"])
        return 0

    return await _run(work())


async def _sites(args: argparse.Namespace) -> int:
    async def work() -> int:
        async with database(load_config()) as conn:
            row = await conference(conn, args.code)
            if args.codes is not None:
                rows = await conferences.set_sites(conn, CLI, row, _codes(args.codes))
            else:
                rows = await q.fetch_conference_sites(conn, row["id"])
        Listing(SITE_COLUMNS, args.format).write([dict(r) for r in rows])
        err(f"({count(len(rows), 'điểm cầu', 'site')})")
        return 0

    return await _run(work())
