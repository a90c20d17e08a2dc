"""`diemcau site ...`: the technician's commands, over HTTP to a running service.

    diemcau site register --code LC-TD-01 --name "UBND xã Bản Bo" --unit LC-TD --level commune
    diemcau site import sites.xlsx
    diemcau site link-test LC-TD-01 --audio-ok --video-ok
    diemcau site headcount LC-TD-01 --conference HN1 --moment start --members 88 \
        --non-members 7 --guests 2
    diemcau site show LC-TD-01 | list --unit LC-TD --status registered | confirm LC-TD-01

The service's address comes from --url or DIEMCAU_URL (default http://127.0.0.1:$PORT,
port 8080 when PORT is unset),
the token from --token or DIEMCAU_TOKEN (prefer the variable: flags show in `ps`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from diemcau.cli.common import positive_int, refuse_file
from diemcau.cli.output import Column, Listing, add_format, write_all
from diemcau.cli.progress import Progress
from diemcau.cli.say import count, err, imported, language, number, t, when, word
from diemcau.sites.client import ApiError, Client, settings
from diemcau.sites.headcount_cli import headcount_verb
from diemcau.sites.link_test_cli import link_test_verb

Command = Callable[[Client, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction) -> None:
    site = sub.add_parser(
        "site",
        help=t(
            "điểm cầu: đăng ký, nhập, đo đường truyền (qua HTTP)",
            "bridge points: register, import, test the link (over HTTP)",
        ),
    )
    verbs = site.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        help=t(
            "địa chỉ dịch vụ (mặc định DIEMCAU_URL, rồi http://127.0.0.1:$PORT, cổng 8080 khi không có PORT)",
            "service URL (default DIEMCAU_URL, else http://127.0.0.1:$PORT, port 8080 without PORT)",
        ),
    )
    common.add_argument(
        "--token",
        help=t("mã truy cập (mặc định DIEMCAU_TOKEN)", "access token (default DIEMCAU_TOKEN)"),
    )
    _register_verb(verbs, common)
    _import_verb(verbs, common)
    link_test_verb(verbs, common, _run_sync)
    headcount_verb(verbs, common, _run_sync)
    for name, func, helptext in (
        (
            "show",
            _show,
            t(
                "xem một điểm cầu và các lần đo gần nhất",
                "show a bridge point and its latest tests",
            ),
        ),
        (
            "confirm",
            _confirm,
            t("xác nhận điểm cầu đã đo đạt là sẵn sàng", "confirm a tested bridge point as ready"),
        ),
    ):
        verb = verbs.add_parser(name, parents=[common], help=helptext)
        verb.add_argument("code")
        verb.add_argument(
            "--json", action="store_true", help=t("in câu trả lời JSON", "print the JSON answer")
        )
        verb.set_defaults(func=_run_sync, command=func)
    _list_verb(verbs, common)


def _register_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    reg = verbs.add_parser(
        "register", parents=[common], help=t("đăng ký một điểm cầu", "register one bridge point")
    )
    reg.add_argument("--code", required=True)
    reg.add_argument("--name", required=True)
    reg.add_argument("--unit", required=True, help=t("mã đơn vị", "unit code"))
    reg.add_argument("--level", required=True, help="national, province, district, commune, agency")
    reg.add_argument("--address")
    reg.add_argument("--capacity", type=int)
    reg.add_argument("--technician-name")
    reg.add_argument("--technician-phone")
    reg.add_argument("--protocol", help="sip, h323, webrtc, meeting_link")
    reg.add_argument(
        "--uri",
        help=t(
            "địa chỉ kết nối (SIP URI, IP, đường dẫn phòng họp)",
            "endpoint address (SIP URI, IP, meeting link)",
        ),
    )
    reg.add_argument("--provider")
    reg.add_argument(
        "--json", action="store_true", help=t("in câu trả lời JSON", "print the JSON answer")
    )
    reg.set_defaults(func=_run_sync, command=_register)


def _import_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imp = verbs.add_parser(
        "import",
        parents=[common],
        help=t(
            "nhập điểm cầu từ CSV/XLSX (cập nhật theo mã)", "upsert bridge points from CSV/XLSX"
        ),
    )
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--quiet", action="store_true", help=t("không hiện tiến độ", "no progress bar")
    )
    imp.set_defaults(func=_run_sync, command=_import)


def _list_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ls = verbs.add_parser(
        "list", parents=[common], help=t("liệt kê điểm cầu", "list bridge points")
    )
    ls.add_argument("--unit", help=t("cả cây của đơn vị này", "this unit's whole subtree"))
    ls.add_argument("--status", help="registered, tested, ready, connected, degraded, lost")
    ls.add_argument("--level", help="national, province, district, commune, agency")
    ls.add_argument(
        "-q",
        "--query",
        help=t(
            "tìm trong mã, tên, địa chỉ (không cần dấu)",
            "search code, name, address (no diacritics needed)",
        ),
    )
    ls.add_argument(
        "--max",
        type=positive_int,
        help=t(
            "in nhiều nhất chừng này dòng (mặc định: tất cả)", "most rows to print (default: all)"
        ),
    )
    add_format(ls)
    ls.add_argument(
        "--json",
        action="store_const",
        const="json",
        dest="format",
        help=t("như --format json", "the same as --format json"),
    )
    ls.set_defaults(func=_run_sync, command=_list)


def _run_sync(args: argparse.Namespace) -> int:
    return asyncio.run(execute(args.command, args))


async def execute(command: Command, args: argparse.Namespace) -> int:
    """Run one command with a client; print a problem readably and answer the exit status."""
    try:
        base, token = settings(args.url, args.token)
        async with Client(base, token, language()) as api:
            return await command(api, args)
    except ApiError as err:
        err.print()
        return 1


async def run(args: argparse.Namespace) -> int:
    """`diemcau site VERB ...` in the caller's event loop (for tests and embedding)."""
    return await execute(args.command, args)


def _print_site(site: dict[str, Any]) -> None:
    tech, end = site["technician"], site["endpoint"]
    capacity = site.get("capacity")
    rows = [
        (t("điểm cầu", "site"), f"{site['code']}  {site['name']}"),
        (
            t("đơn vị", "unit"),
            f"{site['unit_code']} ({site.get('unit_name', '')}), {word(site['level'])}",
        ),
        (t("trạng thái", "status"), f"{word(site['status'])}, {when(site.get('status_at'))}"),
        (t("địa chỉ", "address"), site.get("address") or "-"),
        (t("sức chứa", "capacity"), "-" if capacity is None else number(capacity)),
        (
            t("kỹ thuật viên", "technician"),
            f"{tech.get('name') or '-'} {tech.get('phone') or ''}".rstrip(),
        ),
        (t("kết nối", "endpoint"), f"{end.get('protocol') or '-'} {end.get('uri') or ''}".rstrip()),
    ]
    last = site.get("last_test")
    if last:
        verdict = t("đạt", "passed") if last["passed"] else t("không đạt", "failed")
        rows.append((t("lần đo cuối", "last test"), f"{verdict}, {when(last['tested_at'])}"))
    width = max(len(label) for label, _ in rows)
    print("\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in rows))


def _site_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": args.code,
        "name": args.name,
        "unit_code": args.unit,
        "level": args.level,
        "address": args.address,
        "capacity": args.capacity,
    }
    if args.technician_name or args.technician_phone:
        body["technician"] = {"name": args.technician_name, "phone": args.technician_phone}
    if args.protocol or args.uri or args.provider:
        body["endpoint"] = {"protocol": args.protocol, "uri": args.uri, "provider": args.provider}
    return body


async def _register(api: Client, args: argparse.Namespace) -> int:
    site = await api.post("/api/v1/sites", _site_body(args))
    if args.json:
        print(json.dumps(site, ensure_ascii=False, indent=2))
    else:
        err(t("Đã đăng ký:", "registered:"))
        _print_site(site)
    return 0


def _upload_bar(progress: Progress) -> Callable[[int, int], None]:
    def show(sent: int, total: int) -> None:
        share = sent / total if total else 1.0
        filled = int(share * 30)
        bar = "#" * filled + "." * (30 - filled)
        kib = f"{number(sent / 1024)}/{number(total / 1024)} KiB"
        progress.show(f"{t('đang gửi', 'sending')} [{bar}] {number(share * 100)}% {kib}")

    return show


async def _import(api: Client, args: argparse.Namespace) -> int:
    refused = refuse_file(args.file)
    if refused is not None:
        return refused
    progress = Progress()
    try:
        counts = await api.upload(
            "/api/v1/sites/import", args.file, None if args.quiet else _upload_bar(progress)
        )
    finally:
        progress.finish()
    print(imported(counts))
    return 0


async def _show(api: Client, args: argparse.Namespace) -> int:
    site = await api.get(f"/api/v1/sites/{quote(args.code)}")
    tests = await api.get(f"/api/v1/sites/{quote(args.code)}/link-tests", limit=5)
    if args.json:
        print(json.dumps({**site, "link_tests": tests["items"]}, ensure_ascii=False, indent=2))
        return 0
    _print_site(site)
    for test in tests["items"]:
        mark = t("đạt", "passed") if test["passed"] else t("KHÔNG ĐẠT", "FAILED")
        print(
            f"    {when(test['tested_at'])}  {test['kind']:<9} {mark:<9}"
            f" rtt {number(test['rtt_ms'], 1)} ms  jitter {number(test['jitter_ms'], 1)} ms"
            f"  {t('mất gói', 'loss')} {number(test['loss_pct'], 2)}%"
        )
    return 0


async def _confirm(api: Client, args: argparse.Namespace) -> int:
    site = await api.post(f"/api/v1/sites/{quote(args.code)}/confirm")
    if args.json:
        print(json.dumps(site, ensure_ascii=False, indent=2))
    else:
        print(f"{site['code']}: {word(site['status'])}")
    return 0


SITE_COLUMNS = [
    Column("code", "mã", "code"),
    Column("status", "trạng thái", "status", show=word),
    Column("unit_code", "đơn vị", "unit"),
    Column("level", "cấp", "level", show=word),
    Column("name", "tên", "name"),
]


async def _list(api: Client, args: argparse.Namespace) -> int:
    filters = {"unit": args.unit, "status": args.status, "level": args.level, "q": args.query}

    async def fetch(cursor: str | None) -> dict[str, Any]:
        return await api.get("/api/v1/sites", **filters, cursor=cursor, limit=1000)

    shown = await write_all(Listing(SITE_COLUMNS, args.format), fetch, args.max)
    err(f"({count(shown, 'điểm cầu', 'site')})")
    return 0
