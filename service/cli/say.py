"""What the command line says to people: one language for every command, numbers and
times written the way a reader of that language expects.

The language is `--lang`, else DIEMCAU_LANGUAGE, else Vietnamese, the same setting the
API uses for its default; messages come from the same `Msg` pairs and problem titles as
the API's. Vietnamese writes 11.873 and 97,87%; English 11,873 and 97.87%, so that
"1.129 rows/s" is never read as one row a second.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diemcau import figures
from diemcau.errors import Msg, Problem

LANGUAGES = ("vi", "en")
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
_chosen: str | None = None


def set_language(language: str | None) -> None:
    """Fix the language for this process (main() does it from --lang); None: the default."""
    global _chosen
    _chosen = language if language in LANGUAGES else None


def language() -> str:
    """--lang, else DIEMCAU_LANGUAGE (when it is one we speak), else Vietnamese."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get("DIEMCAU_LANGUAGE", "")
    return env if env in LANGUAGES else "vi"


def t(vi: str, en: str) -> str:
    """The text in the current language."""
    return en if language() == "en" else vi


def text(message: Msg | str) -> str:
    return message.text(language()) if isinstance(message, Msg) else message


# The values people read in listings (levels, statuses, categories), as Vietnamese says them;
# English shows the value itself, as the API spells it.
VALUE_WORDS = {
    "national": "trung ương",
    "province": "tỉnh",
    "district": "huyện",
    "commune": "xã",
    "agency": "cơ quan",
    "draft": "nháp",
    "open": "mở điểm danh",
    "live": "đang họp",
    "closed": "đã kết thúc",
    "signed_off": "đã khóa sổ",
    "registered": "đã đăng ký",
    "tested": "đã đo đạt",
    "ready": "sẵn sàng",
    "connected": "đang kết nối",
    "degraded": "chập chờn",
    "lost": "mất kết nối",
    "member": "đảng viên",
    "non_member": "quần chúng",
    "guest": "khách mời",
}


def word(value: str) -> str:
    """A level, status or category in the current language."""
    return t(VALUE_WORDS.get(value, value), value)


def imported(counts: dict[str, int]) -> str:
    """An import's outcome: new, updated and (for rosters) unchanged rows."""
    new, updated = number(counts["imported"]), number(counts["updated"])
    vi, en = f"Đã nhập: {new} mới, {updated} cập nhật", f"{new} imported, {updated} updated"
    if "unchanged" in counts:
        same = number(counts["unchanged"])
        vi, en = f"{vi}, {same} không đổi", f"{en}, {same} unchanged"
    return t(vi, en)


def number(value: float, decimals: int = 0) -> str:
    """11873 -> '11.873' (vi) or '11,873' (en); decimals with ',' (vi) or '.' (en)."""
    return figures.number(value, decimals, language())


def percent(fraction: float | None) -> str:
    """0.9787 -> '97,87%' (vi) or '97.87%' (en); None -> '-'."""
    return figures.percent(fraction, language())


def ratio(part: int, whole: int) -> str:
    """4502, 4600 -> '4.502/4.600 (97,87%)' (vi) or '4,502/4,600 (97.87%)' (en)."""
    return figures.ratio(part, whole, language())


def count(n: int, vi: str, en_one: str, en_many: str | None = None) -> str:
    """'1 site', '2 sites', '2 điểm cầu': Vietnamese nouns take no plural."""
    if language() != "en":
        return f"{number(n)} {vi}"
    return f"{number(n)} {en_one if n == 1 else (en_many or en_one + 's')}"


def timezone() -> ZoneInfo:
    """DIEMCAU_TIMEZONE, or Asia/Ho_Chi_Minh when unset (Config refuses a bad one)."""
    name = os.environ.get("DIEMCAU_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def when(value: datetime | str | None, zone: str | ZoneInfo | None = None) -> str:
    """A time as people read it, in `zone` (default DIEMCAU_TIMEZONE), with its offset:
    '2026-12-15 08:00 +07:00'. Accepts the ISO text an API answer carries."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    tz = ZoneInfo(zone) if isinstance(zone, str) else (zone or timezone())
    local = value.astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def err(line: str, stream: TextIO | None = None) -> None:
    """One line for the person at the terminal (stderr: stdout is for data)."""
    print(line, file=stream or sys.stderr)


def error(message: Msg | str) -> int:
    """Print 'lỗi: ...' / 'error: ...' and answer exit status 1."""
    err(f"{t('lỗi', 'error')}: {text(message)}")
    return 1


def problem_lines(body: dict[str, Any]) -> list[str]:
    """A problem document as lines: title, detail, each error with where it is.

    An error with no `row` (or row 0: the header) is about the file as a whole and is
    printed without a row number; one with no field is printed without a field.
    """
    title = body.get("title") or ""
    lines = [f"{t('lỗi', 'error')}: {title}"]
    detail = body.get("detail")
    if detail and detail != title:
        lines.append(f"  {detail}")
    for e in body.get("errors") or []:
        lines.append("  - " + _where(e) + str(e.get("message", "")))
    if body.get("errors_truncated"):
        total = number(int(body.get("error_count") or 0))
        lines.append(
            "  … " + t(f"({total} lỗi, chỉ in một phần)", f"({total} errors, not all shown)")
        )
    return lines


def _where(e: dict[str, Any]) -> str:
    row, field = e.get("row"), e.get("field") or ""
    if row is None or (row == 0 and not field):
        place = t("tệp", "file") if not field else ""
    elif row == 0:
        place = t("dòng tiêu đề", "header")
    else:
        place = t(f"dòng {number(row)}", f"row {number(row)}")
    parts = [p for p in (place, field) if p]
    return (", ".join(parts) + ": ") if parts else ""


# argparse's own words (usage errors, help headings), for a Vietnamese reader; the CLI
# hands `argparse_text` and `argparse_ngettext` to argparse in place of gettext's.
ARGPARSE_VI = {
    "usage: ": "cách dùng: ",
    "options": "tùy chọn",
    "positional arguments": "tham số",
    "show this help message and exit": "in hướng dẫn này rồi thoát",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
    "the following arguments are required: %s": "thiếu tham số bắt buộc: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "giá trị %(value)r không hợp lệ (chọn một trong: %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "giá trị %(value)r không hợp lệ (%(type)s)",
    "unrecognized arguments: %s": "tham số không xác định: %s",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "expected one argument": "cần một giá trị",
    "expected at least one argument": "cần ít nhất một giá trị",
    "expected at most one argument": "cần nhiều nhất một giá trị",
    "expected %s argument": "cần %s giá trị",
    "expected %s arguments": "cần %s giá trị",
    "ambiguous option: %(option)s could match %(matches)s": (
        "tùy chọn %(option)s không rõ: có thể là %(matches)s"
    ),
    "one of the arguments %s is required": "cần một trong các tham số %s",
    "not allowed with argument %s": "không dùng cùng tham số %s",
    "ignored explicit argument %r": "tham số này không nhận giá trị %r",
    "unexpected option string: %s": "tùy chọn không mong đợi: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "không có lệnh %(parser_name)r (chọn một trong: %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "không mở được '%(filename)s': %(error)s",
    'argument "-" with mode %r': 'tham số "-" với chế độ %r',
    "subcommands": "lệnh con",
}


def argparse_text(message: str) -> str:
    return ARGPARSE_VI.get(message, message) if language() == "vi" else message


def argparse_ngettext(singular: str, plural: str, n: int) -> str:
    return argparse_text(singular if n == 1 else plural)


def report_problem(problem: Problem) -> int:
    """Print a problem in the chosen language; answer exit status 1."""
    for line in problem_lines(problem.body(language())):
        err(line)
    return 1
