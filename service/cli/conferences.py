"""`diemcau conference create|list|sites`: conferences from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg

from diemcau import conferences
from diemcau.auth import CLI
from diemcau.cli.common import database, load_config, report_problem
from diemcau.errors import Problem, constraint_problem
from diemcau.queries import conferences as q
from diemcau.validation import parse


def register(sub: argparse._SubParsersAction) -> None:
    conf = sub.add_parser("conference", help="create and list conferences, set their sites")
    verbs = conf.add_subparsers(dest="verb", metavar="VERB", required=True)

    create = verbs.add_parser("create", help="create a conference")
    create.add_argument("--code", required=True)
    create.add_argument("--title", required=True)
    create.add_argument("--starts-at", required=True, help="ISO 8601; no offset: --timezone")
    create.add_argument("--ends-at", required=True)
    create.add_argument("--checkin-opens-at", help="default: 60 minutes before --starts-at")
    create.add_argument("--timezone", default=conferences.DEFAULT_TIMEZONE)
    create.add_argument("--host-site")
    create.add_argument("--sites", default="", help="participating site codes: a,b,c")
    create.add_argument(
        "--policy",
        choices=("accept", "reject"),
        default="accept",
        help="a scan at another site than the delegate's own",
    )
    create.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="CATEGORY=RATE",
        help="e.g. --target member=0.98 --target non_member=0.9",
    )
    create.add_argument("--unit", help="owning unit code")
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))

    listing = verbs.add_parser("list", help="list conferences, newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    sites = verbs.add_parser("sites", help="show or set (--set a,b,c) the participating sites")
    sites.add_argument("code")
    sites.add_argument("--set", dest="codes", help="replace the set with these codes: a,b,c")
    sites.set_defaults(func=lambda a: asyncio.run(_sites(a)))


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _targets(pairs: list[str]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for pair in pairs:
        name, _, rate = pair.partition("=")
        targets[name.strip()] = rate.strip()
    return targets


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
        print(
            f"conference {made['code']} created ({made['status']}, {made['sites_count']} sites)",
            file=sys.stderr,
        )
        print(made["code"])
        return 0

    return await _run(work())


async def _list(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn:
        page = await conferences.list_conferences(conn, CLI, None, args.limit)
    print(f"{'code':<16} {'status':<10} {'starts at':<26} title")
    for c in page["items"]:
        print(f"{c['code']:<16} {c['status']:<10} {c['starts_at'].isoformat():<26} {c['title']}")
    return 0


async def _sites(args: argparse.Namespace) -> int:
    async def work() -> int:
        async with database(load_config()) as conn:
            conference = await q.fetch_conference(conn, args.code)
            if conference is None:
                raise conferences.not_found()
            if args.codes is not None:
                rows = await conferences.set_sites(conn, CLI, conference, _codes(args.codes))
            else:
                rows = await q.fetch_conference_sites(conn, conference["id"])
        for r in rows:
            print(f"{r['code']:<16} {r['unit_code']:<12} {r['delegates']:>8}  {r['name']}")
        return 0

    return await _run(work())
