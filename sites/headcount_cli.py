"""`diemcau site headcount CODE --conference C --moment start --members N --non-members N
--guests N`: what the technician counted in the room, sent to the service (a correction
is simply a new headcount; the latest of each moment counts). With `--show`, the site's
headcounts so far."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from diemcau.cli.say import err, number, t, when
from diemcau.sites.client import Client

MOMENTS = ("start", "after_break", "end")
MOMENT_WORDS = {"start": "đầu giờ", "after_break": "sau giải lao", "end": "cuối giờ"}


def headcount_verb(
    verbs: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
) -> None:
    hc = verbs.add_parser(
        "headcount",
        parents=[common],
        help=t("báo số người đếm được trong hội trường", "report a headcount of the room"),
    )
    hc.add_argument("code", help=t("mã điểm cầu", "site code"))
    hc.add_argument("--conference", required=True, help=t("mã hội nghị", "conference code"))
    hc.add_argument(
        "--moment", choices=MOMENTS, help=t("lúc đếm", "when: start, after_break or end")
    )
    hc.add_argument("--members", type=int, help=t("số đảng viên", "party members"))
    hc.add_argument("--non-members", type=int, help=t("số quần chúng", "non-members"))
    hc.add_argument(
        "--guests", type=int, default=0, help=t("số khách mời (mặc định 0)", "guests (default 0)")
    )
    hc.add_argument("--note", help=t("ghi chú", "a note"))
    hc.add_argument(
        "--at",
        help=t(
            "giờ đếm (mặc định bây giờ), ví dụ 2026-12-15T08:05",
            "when it was counted (default now), e.g. 2026-12-15T08:05",
        ),
    )
    hc.add_argument(
        "--show",
        action="store_true",
        help=t("chỉ xem các lần đếm đã báo", "only show the headcounts reported so far"),
    )
    hc.set_defaults(func=run, command=headcount)


def _path(args: argparse.Namespace) -> str:
    return f"/api/v1/conferences/{quote(args.conference)}/sites/{quote(args.code)}/headcounts"


def _line(h: dict[str, Any]) -> str:
    moment = t(MOMENT_WORDS.get(h["moment"], h["moment"]), h["moment"])
    parts = (
        f"{t('đảng viên', 'members')} {number(h['members'])}",
        f"{t('quần chúng', 'non-members')} {number(h['non_members'])}",
        f"{t('khách mời', 'guests')} {number(h['guests'])}",
    )
    return f"{when(h['counted_at'])}  {moment:<13} {number(h['total']):>7}  ({', '.join(parts)})"


async def headcount(api: Client, args: argparse.Namespace) -> int:
    if args.show:
        found = await api.get(_path(args), limit=1000)
        for h in found["items"]:
            print(_line(h))
        return 0
    missing = [
        f"--{n}"
        for n in ("moment", "members", "non-members")
        if getattr(args, n.replace("-", "_")) is None
    ]
    if missing:
        err(t(f"lỗi: thiếu {', '.join(missing)}", f"error: {', '.join(missing)} needed"))
        return 2
    body: dict[str, Any] = {
        "moment": args.moment,
        "members": args.members,
        "non_members": args.non_members,
        "guests": args.guests,
        "note": args.note,
    }
    if args.at:
        body["counted_at"] = args.at
    done = await api.post(_path(args), body)
    err(t("Đã báo số người:", "headcount reported:"))
    print(_line(done))
    return 0
