"""`diemcau site link-test CODE`: measure a bridge point's line, ask (or take the flags
for) whether sound and picture were fine, and record the test."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from urllib.parse import quote

from diemcau.cli.common import positive_int
from diemcau.cli.say import count, err, t, word
from diemcau.sites import linktest
from diemcau.sites.client import Client

_YES = ("y", "yes", "c", "co", "có", "ok", "1")
_NO = ("n", "no", "k", "khong", "không", "0")


def link_test_verb(
    verbs: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], int],
) -> None:
    lt = verbs.add_parser(
        "link-test",
        parents=[common],
        help=t("đo đường truyền và ghi kết quả", "measure the line and record it"),
    )
    lt.add_argument("code")
    lt.add_argument(
        "--count",
        type=positive_int,
        default=50,
        help=t("số gói (mặc định 50)", "pings (default 50)"),
    )
    lt.add_argument(
        "--interval", type=float, default=0.1, help=t("giây giữa hai gói", "seconds between pings")
    )
    lt.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help=t("giây chờ các gói về muộn", "seconds to wait for late pongs"),
    )
    lt.add_argument(
        "--audio-ok",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=t("âm thanh nghe rõ (hay --no-audio-ok)", "sound was fine (or --no-audio-ok)"),
    )
    lt.add_argument(
        "--video-ok",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=t("hình ảnh rõ (hay --no-video-ok)", "picture was fine (or --no-video-ok)"),
    )
    lt.add_argument(
        "--rehearsal",
        action="store_true",
        help=t("ghi là buổi tổng duyệt", "record as a rehearsal"),
    )
    lt.add_argument("--note")
    lt.add_argument("--no-record", action="store_true", help=t("chỉ đo, không ghi", "measure only"))
    lt.set_defaults(func=run, command=_link_test)


def _ask(question: str) -> bool:
    while True:
        answer = input(f"{question} [c/k, y/n] ").strip().lower()
        if answer in _YES:
            return True
        if answer in _NO:
            return False


def _flags_missing(args: argparse.Namespace) -> bool:
    """Without a terminal to ask on, both verdicts must come as flags: said before
    measuring, so that nobody waits through the pings to learn it."""
    if args.no_record or sys.stdin.isatty():
        return False
    if args.audio_ok is not None and args.video_ok is not None:
        return False
    err(
        t(
            "lỗi: không có màn hình để hỏi; hãy cho biết --audio-ok hoặc --no-audio-ok và "
            "--video-ok hoặc --no-video-ok (hoặc --no-record để chỉ đo)",
            "error: no terminal to ask on; give --audio-ok or --no-audio-ok and "
            "--video-ok or --no-video-ok (or --no-record to measure only)",
        )
    )
    return True


def _verdicts(args: argparse.Namespace) -> tuple[bool, bool]:
    audio, video = args.audio_ok, args.video_ok
    if audio is None:
        audio = _ask(t("Âm thanh nghe rõ?", "Was the sound fine?"))
    if video is None:
        video = _ask(t("Hình ảnh rõ?", "Was the picture fine?"))
    return audio, video


async def _link_test(api: Client, args: argparse.Namespace) -> int:
    if args.interval < 0 or args.timeout <= 0:
        err(
            t(
                "lỗi: --interval phải ≥ 0 và --timeout > 0",
                "error: --interval must be ≥ 0 and --timeout > 0",
            )
        )
        return 2
    if _flags_missing(args):
        return 2
    # Read the site first: an unknown or out-of-scope code is explained by the API's
    # problem document, which a refused websocket handshake cannot carry.
    site = await api.get(f"/api/v1/sites/{quote(args.code)}")
    pings = count(args.count, "gói", "ping")
    err(
        t(
            f"Đo đường truyền {site['code']} ({site['name']}): {pings}",
            f"measuring {site['code']} ({site['name']}): {pings}",
        )
    )
    m = await linktest.measure(api, args.code, args.count, args.interval, args.timeout)
    print("\n".join(linktest.table(m)))
    if args.no_record:
        return 0
    audio, video = _verdicts(args)
    body = {
        **m.result(),
        "audio_ok": audio,
        "video_ok": video,
        "kind": "rehearsal" if args.rehearsal else "link_test",
        "note": args.note,
    }
    recorded = await api.post(f"/api/v1/sites/{quote(args.code)}/link-tests", body)
    verdict = t("ĐẠT", "PASSED") if recorded["passed"] else t("KHÔNG ĐẠT", "FAILED")
    print(f"{verdict}; {t('trạng thái', 'status')}: {word(recorded['site_status'])}")
    return 0 if recorded["passed"] else 3
