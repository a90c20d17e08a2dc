"""`diemcau site ...`: the technician's commands, over HTTP to a running service.

    diemcau site register --code LC-TD-01 --name "UBND xã Bản Bo" --unit LC-TD --level commune
    diemcau site import sites.xlsx
    diemcau site link-test LC-TD-01 --audio-ok --video-ok
    diemcau site show LC-TD-01 | list --unit LC-TD --status registered | confirm LC-TD-01

The service's address comes from --url or DIEMCAU_URL (default http://127.0.0.1:8080),
the token from --token or DIEMCAU_TOKEN (prefer the variable: flags show in `ps`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from diemcau.sites import linktest
from diemcau.sites.client import ApiError, Client, settings

Command = Callable[[Client, argparse.Namespace], Awaitable[int]]
_YES = ("y", "yes", "c", "co", "có", "ok", "1")
_NO = ("n", "no", "k", "khong", "không", "0")


def register(sub: argparse._SubParsersAction) -> None:
    site = sub.add_parser("site", help="register bridge points, import them, test the link")
    verbs = site.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="service URL (default DIEMCAU_URL, http://127.0.0.1:8080)")
    common.add_argument("--token", help="access token (default DIEMCAU_TOKEN)")
    _register_verb(verbs, common)
    _import_verb(verbs, common)
    _link_test_verb(verbs, common)
    for name, func, helptext in (
        ("show", _show, "show a bridge point and its latest tests"),
        ("confirm", _confirm, "confirm a tested bridge point as ready"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=helptext)
        verb.add_argument("code")
        verb.add_argument("--json", action="store_true", help="print the JSON answer")
        verb.set_defaults(func=_run_sync, command=func)
    _list_verb(verbs, common)


def _register_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    reg = verbs.add_parser("register", parents=[common], help="register one bridge point")
    reg.add_argument("--code", required=True)
    reg.add_argument("--name", required=True)
    reg.add_argument("--unit", required=True, help="unit code")
    reg.add_argument("--level", required=True, help="province, district, commune, agency...")
    reg.add_argument("--address")
    reg.add_argument("--capacity", type=int)
    reg.add_argument("--technician-name")
    reg.add_argument("--technician-phone")
    reg.add_argument("--protocol", help="sip, h323, webrtc or meeting_link")
    reg.add_argument("--uri", help="endpoint address (SIP URI, IP, meeting link)")
    reg.add_argument("--provider")
    reg.add_argument("--json", action="store_true", help="print the JSON answer")
    reg.set_defaults(func=_run_sync, command=_register)


def _import_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imp = verbs.add_parser("import", parents=[common], help="upsert bridge points from CSV/XLSX")
    imp.add_argument("file", type=Path)
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=_run_sync, command=_import)


def _link_test_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    lt = verbs.add_parser("link-test", parents=[common], help="measure the line and record it")
    lt.add_argument("code")
    lt.add_argument("--count", type=int, default=50, help="pings (default 50)")
    lt.add_argument("--interval", type=float, default=0.1, help="seconds between pings")
    lt.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for late pongs")
    lt.add_argument("--audio-ok", action=argparse.BooleanOptionalAction, default=None)
    lt.add_argument("--video-ok", action=argparse.BooleanOptionalAction, default=None)
    lt.add_argument("--rehearsal", action="store_true", help="record as a rehearsal")
    lt.add_argument("--note")
    lt.add_argument("--no-record", action="store_true", help="measure only")
    lt.set_defaults(func=_run_sync, command=_link_test)


def _list_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ls = verbs.add_parser("list", parents=[common], help="list bridge points")
    ls.add_argument("--unit")
    ls.add_argument("--status")
    ls.add_argument("--level")
    ls.add_argument("-q", "--query", help="search code, name, address (no diacritics needed)")
    ls.add_argument("--max", type=int, default=1000, help="most rows to print (default 1000)")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(func=_run_sync, command=_list)


def _run_sync(args: argparse.Namespace) -> int:
    return asyncio.run(execute(args.command, args))


async def execute(command: Command, args: argparse.Namespace) -> int:
    """Run one command with a client; print a problem readably and answer the exit status."""
    try:
        base, token = settings(args.url, args.token)
        async with Client(base, token, os.environ.get("DIEMCAU_LANGUAGE", "vi")) as api:
            return await command(api, args)
    except ApiError as err:
        err.print()
        return 1


async def run(args: argparse.Namespace) -> int:
    """`diemcau site VERB ...` in the caller's event loop (for tests and embedding)."""
    return await execute(args.command, args)


def _print_site(site: dict[str, Any]) -> None:
    tech, end = site["technician"], site["endpoint"]
    last = site.get("last_test")
    lines = [
        f"{site['code']}  {site['name']}",
        f"  đơn vị / unit:     {site['unit_code']} ({site.get('unit_name', '')}), {site['level']}",
        f"  trạng thái/status: {site['status']}",
        f"  địa chỉ / address: {site.get('address') or '-'}",
        f"  sức chứa/capacity: {site.get('capacity') if site.get('capacity') is not None else '-'}",
        f"  kỹ thuật / tech:   {tech.get('name') or '-'} {tech.get('phone') or ''}".rstrip(),
        f"  kết nối/endpoint:  {end.get('protocol') or '-'} {end.get('uri') or ''}".rstrip(),
    ]
    if last:
        verdict = "đạt / passed" if last["passed"] else "không đạt / failed"
        lines.append(f"  lần thử cuối/last: {verdict}, {last['tested_at']}")
    print("\n".join(lines))


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
        print("Đã đăng ký / registered:", file=sys.stderr)
        _print_site(site)
    return 0


def _progress_bar(sent: int, total: int) -> None:
    share = sent / total if total else 1.0
    filled = int(share * 30)
    bar = "#" * filled + "." * (30 - filled)
    text = f"\rgửi / sending [{bar}] {linktest.vn_number(share * 100, 0)}% "
    text += f"{linktest.vn_number(sent / 1024, 0)}/{linktest.vn_number(total / 1024, 0)} KiB"
    print(text, end="", file=sys.stderr, flush=True)


async def _import(api: Client, args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"lỗi / error: không có tệp / no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        counts = await api.upload(
            "/api/v1/sites/import", args.file, None if args.quiet else _progress_bar
        )
    finally:
        if not args.quiet:
            print(file=sys.stderr)
    print(
        f"Đã nhập / imported: {counts['imported']} mới / new, "
        f"{counts['updated']} cập nhật / updated"
    )
    return 0


def _ask(question: str) -> bool:
    while True:
        answer = input(f"{question} [c/k, y/n] ").strip().lower()
        if answer in _YES:
            return True
        if answer in _NO:
            return False


def _verdicts(args: argparse.Namespace) -> tuple[bool, bool] | None:
    audio, video = args.audio_ok, args.video_ok
    if audio is None or video is None:
        if not sys.stdin.isatty():
            print(
                "lỗi / error: cần --audio-ok/--no-audio-ok và --video-ok/--no-video-ok "
                "(or run in a terminal to be asked)",
                file=sys.stderr,
            )
            return None
        if audio is None:
            audio = _ask("Âm thanh nghe rõ? / audio ok?")
        if video is None:
            video = _ask("Hình ảnh rõ? / video ok?")
    return audio, video


async def _link_test(api: Client, args: argparse.Namespace) -> int:
    if args.count < 1 or args.interval < 0:
        print("lỗi / error: --count ≥ 1, --interval ≥ 0", file=sys.stderr)
        return 2
    # Read the site first: an unknown or out-of-scope code is explained by the API's
    # problem document, which a refused websocket handshake cannot carry.
    site = await api.get(f"/api/v1/sites/{quote(args.code)}")
    print(
        f"Đo đường truyền / measuring {site['code']} ({site['name']}): {args.count} gói / pings",
        file=sys.stderr,
    )
    m = await linktest.measure(api, args.code, args.count, args.interval, args.timeout)
    print("\n".join(linktest.table(m)))
    if args.no_record:
        return 0
    verdicts = _verdicts(args)
    if verdicts is None:
        return 2
    body = {
        **m.result(),
        "audio_ok": verdicts[0],
        "video_ok": verdicts[1],
        "kind": "rehearsal" if args.rehearsal else "link_test",
        "note": args.note,
    }
    recorded = await api.post(f"/api/v1/sites/{quote(args.code)}/link-tests", body)
    verdict = "ĐẠT / PASSED" if recorded["passed"] else "KHÔNG ĐẠT / FAILED"
    print(f"{verdict}; trạng thái / status: {recorded['site_status']}")
    return 0 if recorded["passed"] else 3


async def _show(api: Client, args: argparse.Namespace) -> int:
    site = await api.get(f"/api/v1/sites/{quote(args.code)}")
    tests = await api.get(f"/api/v1/sites/{quote(args.code)}/link-tests", limit=5)
    if args.json:
        print(json.dumps({**site, "link_tests": tests["items"]}, ensure_ascii=False, indent=2))
        return 0
    _print_site(site)
    for t in tests["items"]:
        mark = "đạt" if t["passed"] else "KHÔNG ĐẠT"
        print(
            f"    {t['tested_at']}  {t['kind']:<9} {mark:<9} rtt {linktest.vn_number(t['rtt_ms'])} ms"
            f"  jitter {linktest.vn_number(t['jitter_ms'])} ms"
            f"  loss {linktest.vn_number(t['loss_pct'], 2)}%"
        )
    return 0


async def _confirm(api: Client, args: argparse.Namespace) -> int:
    site = await api.post(f"/api/v1/sites/{quote(args.code)}/confirm")
    if args.json:
        print(json.dumps(site, ensure_ascii=False, indent=2))
    else:
        print(f"{site['code']}: {site['status']}")
    return 0


async def _list(api: Client, args: argparse.Namespace) -> int:
    filters = {"unit": args.unit, "status": args.status, "level": args.level, "q": args.query}
    printed, cursor = 0, None
    while printed < args.max:
        page = await api.get(
            "/api/v1/sites", **filters, cursor=cursor, limit=min(1000, args.max - printed)
        )
        for s in page["items"]:
            if args.json:
                print(json.dumps(s, ensure_ascii=False))
            else:
                print(f"{s['code']:<20} {s['status']:<11} {s['unit_code']:<14} {s['name']}")
        printed += len(page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    print(f"({printed} điểm cầu / sites)", file=sys.stderr)
    return 0
