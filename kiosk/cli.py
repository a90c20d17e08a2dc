"""`diemcau kiosk ...`: the Python kiosk, for an entrance box with a USB scanner.

    diemcau kiosk enroll 7KQ4-MZ2P --url http://192.168.1.10:8080 --name "Cửa chính"
    diemcau kiosk run                      # codes from the scanner (stdin), one a line
    diemcau kiosk run --file codes.txt --out
    diemcau kiosk walkin "Nguyễn Văn B" --category "khách mời"
    diemcau kiosk headcount --moment start --members 88 --non-members 7 --guests 2
    diemcau kiosk status | sync [--all]

Everything lives in one SQLite file (--db, DIEMCAU_KIOSK_DB, or kiosk.db in the user's
data directory). Exit status: 0 done, 1 not everything sent or an API error, 2 a usage
or file problem, 3 the kiosk was revoked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from diemcau.cli.say import language, t
from diemcau.kiosk import commands
from diemcau.kiosk.commands import REVOKED, TEXT, USAGE
from diemcau.kiosk.connection import KioskRevoked
from diemcau.kiosk.store import NotEnrolled, default_path
from diemcau.sites.client import DEFAULT_URL, ApiError


def register(sub: argparse._SubParsersAction) -> None:
    kiosk = sub.add_parser(
        "kiosk",
        help=t(
            "máy điểm danh: ghép máy, quét, gửi, xem",
            "the entrance kiosk: enroll, scan, sync, status",
        ),
    )
    verbs = kiosk.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        type=Path,
        help=t(
            "tệp của máy (mặc định DIEMCAU_KIOSK_DB)", "the kiosk file (default DIEMCAU_KIOSK_DB)"
        ),
    )
    _enroll_verb(verbs, common)
    _run_verb(verbs, common)
    _sync_verb(verbs, common)
    _walkin_verb(verbs, common)
    _headcount_verb(verbs, common)
    show = verbs.add_parser(
        "status",
        parents=[common],
        help=t("hàng đợi, lần gửi cuối, kết nối", "queue, last sync, link"),
    )
    show.add_argument("--json", action="store_true", help=t("in JSON", "print JSON"))
    show.set_defaults(func=_sync_run, command=commands.show_status)


def _enroll_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    enroll = verbs.add_parser(
        "enroll",
        parents=[common],
        help=t(
            "ghép máy bằng mã ghép máy của kỹ thuật viên",
            "enroll with a technician's enrollment code",
        ),
    )
    enroll.add_argument(
        "code",
        help=t("mã ghép máy 8 ký tự (XXXX-XXXX)", "the 8-character enrollment code (XXXX-XXXX)"),
    )
    enroll.add_argument(
        "--url",
        help=t(
            f"địa chỉ dịch vụ (mặc định DIEMCAU_URL, {DEFAULT_URL})",
            f"service URL (default DIEMCAU_URL, {DEFAULT_URL})",
        ),
    )
    enroll.add_argument(
        "--name", help=t("tên máy (mặc định tên máy tính)", "device name (default the host name)")
    )
    enroll.add_argument(
        "--force",
        action="store_true",
        help=t("ghép lại một tệp đã ghép máy", "enroll an enrolled file again"),
    )
    enroll.set_defaults(func=_sync_run, command=commands.enroll)


def _run_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    run = verbs.add_parser(
        "run",
        parents=[common],
        help=t("quét mã từ máy quét (stdin) hoặc tệp", "scan codes from stdin or a file"),
    )
    run.add_argument("--file", type=Path, help=t("đọc mã từ tệp này", "read codes from this file"))
    run.add_argument(
        "--out",
        action="store_true",
        help=t("chế độ ra: mỗi lượt quét là ra", "exit mode: scans are exits"),
    )
    run.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help=t(
            "số giây gửi tiếp khi hết dữ liệu vào (mặc định 10)",
            "seconds to keep sending at the end of input (default 10)",
        ),
    )
    run.set_defaults(func=_sync_run, command=commands.run)


def _sync_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sync = verbs.add_parser(
        "sync", parents=[common], help=t("gửi hàng đợi rồi dừng", "send the queue, then stop")
    )
    sync.add_argument(
        "--all",
        action="store_true",
        help=t("gửi lại cả lượt quét đã có kết quả", "send answered scans again too"),
    )
    sync.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help=t("số giây thử (mặc định 30)", "seconds to try (default 30)"),
    )
    sync.set_defaults(func=_sync_run, command=commands.sync)


def _walkin_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    walkin = verbs.add_parser(
        "walkin",
        parents=[common],
        help=t("ghi nhận khách vãng lai theo tên", "record a walk-in by name"),
    )
    walkin.add_argument("name", help=t("họ tên", "full name"))
    walkin.add_argument(
        "--category",
        default="non_member",
        help=t(
            "đảng viên, quần chúng (mặc định), khách mời", "member, non_member (default), guest"
        ),
    )
    walkin.set_defaults(func=_sync_run, command=commands.walkin)


def _headcount_verb(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    hc = verbs.add_parser(
        "headcount",
        parents=[common],
        help=t(
            "ghi số người đếm được trong hội trường (gửi như lượt quét)",
            "record a headcount of the room (sent like scans)",
        ),
    )
    hc.add_argument("--moment", required=True, choices=("start", "after_break", "end"))
    hc.add_argument("--members", type=int, required=True, help=t("đảng viên", "party members"))
    hc.add_argument("--non-members", type=int, required=True, help=t("quần chúng", "non-members"))
    hc.add_argument(
        "--guests", type=int, default=0, help=t("khách mời (mặc định 0)", "guests (default 0)")
    )
    hc.add_argument("--note")
    hc.add_argument(
        "--at",
        help=t(
            "giờ đếm, ISO 8601 có múi giờ (mặc định bây giờ)",
            "when, ISO 8601 with an offset (default now)",
        ),
    )
    hc.set_defaults(func=_sync_run, command=commands.headcount)


def _sync_run(args: argparse.Namespace) -> int:
    return asyncio.run(run(args))


async def run(args: argparse.Namespace) -> int:
    """`diemcau kiosk VERB ...` in the caller's event loop (for tests and embedding)."""
    lang = language()
    path = args.db or default_path()
    try:
        return int(await args.command(args, path, lang))
    except NotEnrolled:
        print(TEXT["not_enrolled"].text(lang).format(path), file=sys.stderr)
        return USAGE
    except KioskRevoked:
        print(TEXT["revoked"].text(lang), file=sys.stderr)
        return REVOKED
    except ApiError as err:
        err.print()
        return 1
