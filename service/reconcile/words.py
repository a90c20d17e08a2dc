"""Flags and resolutions as people read them, in Vietnamese or English: the CLI prints
them, and the reports can too (numbers through diemcau.figures)."""

from __future__ import annotations

from typing import Any

from diemcau.errors import Msg
from diemcau.figures import number, percent, ratio
from diemcau.reconcile.model import Flag, Resolution

KINDS = {
    "headcount_mismatch": Msg(
        "Số đếm đầu giờ lệch số điểm danh", "Start headcount differs from the scans"
    ),
    "over_capacity": Msg("Vượt sức chứa", "Over capacity"),
    "no_checkins": Msg("Không có ai điểm danh", "No check-ins"),
    "no_headcount": Msg("Chưa báo số người", "No headcount"),
    "kiosk_silent": Msg("Máy điểm danh mất liên lạc", "A kiosk went silent"),
    "hall_emptied": Msg("Hội trường vơi người", "The hall emptied"),
    "under_target": Msg("Dưới chỉ tiêu", "Under target"),
    "many_moved": Msg("Nhiều người từ điểm cầu khác", "Many from other sites"),
}
ACTIONS = {
    "accept_headcount": Msg("lấy số đếm", "headcount accepted"),
    "accept_scans": Msg("lấy số điểm danh", "scans accepted"),
    "corrected": Msg("hiệu chỉnh", "corrected"),
}
CATEGORY = {
    "member": Msg("đảng viên", "members"),
    "non_member": Msg("quần chúng", "non-members"),
    "guest": Msg("khách mời", "guests"),
}


def _n(value: int | None, lang: str) -> str:
    return "-" if value is None else number(value, 0, lang)


def _counts(d: dict[str, Any], lang: str) -> str:
    return " → ".join(_n(d[m], lang) for m in ("start", "after_break", "end"))


def summary(flag: Flag, lang: str = "vi") -> str:
    """The numbers behind a flag in one line: 'đếm 20, điểm danh 7 + vãng lai 0 (+13)'."""
    d, vi = flag.detail, lang != "en"
    if flag.kind == "headcount_mismatch":
        sign = f"{d['difference']:+d}"
        return (f"đếm {_n(d['headcount'], lang)}, điểm danh {_n(d['checked_in'], lang)} + vãng lai {_n(d['walk_ins'], lang)} ({sign})"
                if vi else f"counted {d['headcount']:,}, scanned {d['checked_in']:,} + {d['walk_ins']:,} walk-ins ({sign})")  # fmt: skip
    if flag.kind == "over_capacity":
        head = "sức chứa" if vi else "capacity"
        came = "điểm danh" if vi else "scanned"
        counted = "đếm" if vi else "counted"
        return f"{head} {_n(d['capacity'], lang)}; {came} {_n(d['attended'], lang)}; {counted} {_counts(d['headcounts'], lang)}"
    if flag.kind == "no_checkins":
        return (f"dự kiến {_n(d['expected'], lang)}, vãng lai {_n(d['walk_ins'], lang)}" if vi
                else f"expected {d['expected']:,}, walk-ins {d['walk_ins']:,}")  # fmt: skip
    if flag.kind == "kiosk_silent":
        unit = "phút" if vi else "min"
        return "; ".join(f"{k['device_name']} {k['minutes']} {unit}" for k in d["kiosks"])
    if flag.kind == "hall_emptied":
        return ("đếm " if vi else "counted ") + _counts(d, lang)
    if flag.kind == "under_target":
        return "; ".join(
            f"{CATEGORY[c].text(lang)} {ratio(v['checked_in'], v['expected'], lang)} < {percent(v['target'], lang, 0)}"
            for c, v in d.items()
        )
    if flag.kind == "many_moved":
        return (f"{_n(d['moved_in'], lang)} người từ nơi khác / {_n(d['checked_in'], lang)} điểm danh" if vi
                else f"{d['moved_in']:,} from other sites of {d['checked_in']:,} checked in")  # fmt: skip
    return ""


def resolution_text(r: Resolution | None, lang: str = "vi") -> str:
    """'hiệu chỉnh 7: đã xem' or '-'."""
    if r is None:
        return "-"
    figure = "" if r.figure is None else " " + number(r.figure, 0, lang)
    return f"{ACTIONS[r.action].text(lang)}{figure}: {r.note}"
