"""`diemcau token create|list|revoke`: access tokens, run on the service's machine."""

from __future__ import annotations

import argparse
import asyncio
import sys

from diemcau import audit, auth
from diemcau.cli.common import database, load_config, report_problem
from diemcau.errors import Problem


def register(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="create, list and revoke access tokens")
    verbs = token.add_subparsers(dest="verb", metavar="VERB", required=True)

    create = verbs.add_parser("create", help="create a token and print it (alone) on stdout")
    create.add_argument("--role", required=True, choices=auth.ROLES)
    create.add_argument("--unit", help="limit to this unit's subtree (required for technician)")
    create.add_argument("--conference", help="conference code (kiosk, viewer)")
    create.add_argument("--site", help="site code (kiosk)")
    create.add_argument("--label", default="", help="who holds it, e.g. 'KT Tam Đường'")
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))

    listing = verbs.add_parser("list", help="list tokens (never their secrets)")
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    revoke = verbs.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=lambda a: asyncio.run(_revoke(a)))


async def _create(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn:
        try:
            async with conn.transaction():
                secret, token_id = await auth.create_token(
                    conn,
                    args.role,
                    label=args.label,
                    unit=args.unit,
                    conference=args.conference,
                    site=args.site,
                )
                scope = {
                    k: getattr(args, k) for k in ("role", "unit", "conference", "site", "label")
                }
                await audit.record(conn, auth.CLI, "create", "token", str(token_id), after=scope)
        except Problem as problem:
            return report_problem(problem)
    print(f"token #{token_id} ({args.role}) created; it is shown only once", file=sys.stderr)
    print(secret)
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn:
        rows = await auth.list_tokens(conn)
    print(f"{'id':>5}  {'role':<10} {'scope':<28} {'label':<20} {'last used':<20} state")
    for r in rows:
        scope = (
            ", ".join(f"{k}={r[k]}" for k in ("unit", "conference", "site") if r[k] is not None)
            or "all"
        )
        used = r["last_used_at"].strftime("%Y-%m-%d %H:%M") if r["last_used_at"] else "never"
        state = "revoked" if r["revoked_at"] else "active"
        print(f"{r['id']:>5}  {r['role']:<10} {scope:<28} {r['label']:<20} {used:<20} {state}")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn, conn.transaction():
        done = await auth.revoke_token(conn, args.id)
        if done:
            await audit.record(conn, auth.CLI, "revoke", "token", str(args.id))
    if not done:
        print(f"error: no active token #{args.id}", file=sys.stderr)
        return 1
    print(f"token #{args.id} revoked", file=sys.stderr)
    return 0
