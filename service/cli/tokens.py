"""`diemcau token create|list|revoke`: access tokens, run on the service's machine."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any
from urllib.parse import quote

from diemcau import audit, auth
from diemcau.cli.common import database, load_config, report_problem
from diemcau.cli.output import Column, Listing, add_format
from diemcau.cli.say import err, error, t, when
from diemcau.config import Config
from diemcau.errors import Msg, Problem


def register(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser(
        "token",
        help=t("mã truy cập: tạo, liệt kê, thu hồi", "create, list and revoke access tokens"),
    )
    verbs = token.add_subparsers(dest="verb", metavar="VERB", required=True)

    create = verbs.add_parser(
        "create",
        help=t(
            "tạo mã truy cập và in (riêng nó) ra stdout",
            "create a token and print it (alone) on stdout",
        ),
    )
    create.add_argument("--role", required=True, choices=auth.ROLES)
    create.add_argument(
        "--unit",
        help=t(
            "giới hạn trong cây của đơn vị này (bắt buộc với technician)",
            "limit to this unit's subtree (required for technician)",
        ),
    )
    create.add_argument(
        "--conference", help=t("mã hội nghị (kiosk, viewer)", "conference code (kiosk, viewer)")
    )
    create.add_argument("--site", help=t("mã điểm cầu (kiosk)", "site code (kiosk)"))
    create.add_argument(
        "--label",
        default="",
        help=t("người giữ, ví dụ 'KT Tam Đường'", "who holds it, e.g. 'KT Tam Đường'"),
    )
    create.set_defaults(func=lambda a: asyncio.run(_create(a)))

    listing = verbs.add_parser(
        "list",
        help=t(
            "liệt kê mã truy cập (không bao giờ in bí mật)", "list tokens (never their secrets)"
        ),
    )
    add_format(listing)
    listing.set_defaults(func=lambda a: asyncio.run(_list(a)))

    revoke = verbs.add_parser(
        "revoke", help=t("thu hồi một mã truy cập theo số", "revoke a token by its id")
    )
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
    err(
        t(
            f"Đã tạo mã truy cập #{token_id} ({args.role}); mã chỉ hiện một lần này",
            f"token #{token_id} ({args.role}) created; it is shown only once",
        )
    )
    if args.role == "viewer":
        url = dashboard_url(load_config(), args.conference)
        err(
            t(
                f"Bảng trực tiếp (mở rồi dán mã này): {url}",
                f"Live board (open, then paste the token): {url}",
            )
        )
    print(secret)
    return 0


def dashboard_url(config: Config, conference: str) -> str:
    """Where the conference's live board is opened: DIEMCAU_PUBLIC_URL, else the address
    `diemcau serve` listens on (loopback when it listens on every address)."""
    origin = config.public_url
    if not origin:
        host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
        origin = f"http://{host}:{config.port}"
    return f"{origin}/dashboard/{quote(conference, safe='')}"


async def _list(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn:
        rows = await auth.list_tokens(conn)
    items = [_token_item(r) for r in rows]
    Listing(TOKEN_COLUMNS, args.format).write(items)
    return 0


def _token_item(r: Any) -> dict[str, Any]:
    scope = {k: r[k] for k in ("unit", "conference", "site") if r[k] is not None}
    return {
        "id": r["id"],
        "role": r["role"],
        "scope": ", ".join(f"{k}={v}" for k, v in scope.items()),
        "label": r["label"],
        "created_at": r["created_at"],
        "last_used_at": r["last_used_at"],
        "revoked_at": r["revoked_at"],
    }


TOKEN_COLUMNS = [
    Column("id", "số", "id", right=True),
    Column("role", "vai trò", "role"),
    Column("scope", "phạm vi", "scope", show=lambda v: v or t("tất cả", "all")),
    Column("label", "người giữ", "label"),
    Column("created_at", "tạo lúc", "created", show=when),
    Column("last_used_at", "dùng lần cuối", "last used", show=when),
    Column("revoked_at", "thu hồi lúc", "revoked", show=when),
]


async def _revoke(args: argparse.Namespace) -> int:
    async with database(load_config()) as conn, conn.transaction():
        done = await auth.revoke_token(conn, args.id)
        if done:
            await audit.record(conn, auth.CLI, "revoke", "token", str(args.id))
    if not done:
        return error(
            Msg(f"không có mã truy cập #{args.id} nào còn hiệu lực", f"no active token #{args.id}")
        )
    err(t(f"Đã thu hồi mã truy cập #{args.id}", f"token #{args.id} revoked"))
    return 0
