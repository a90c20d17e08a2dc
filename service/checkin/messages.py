"""What the door reads: a short message for each answer, in Vietnamese and English."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from diemcau.credentials import REASONS
from diemcau.errors import Msg
from diemcau.issuance import REFUSALS

_FIXED = {
    ("accepted", None): Msg("Đã điểm danh", "Checked in"),
    ("accepted", "walk_in"): Msg("Đã ghi nhận khách vãng lai", "Walk-in recorded"),
    ("accepted", "exit"): Msg("Đã ghi nhận ra về", "Exit recorded"),
    ("accepted", "no_entry"): Msg(
        "Đã ghi nhận ra về; chưa có lượt vào của đại biểu", "Exit recorded; no entry on record"
    ),
    ("accepted", "reentry"): Msg("Vào lại hội trường", "Re-entry"),
    ("revoked", None): REFUSALS["revoked"],
    ("closed", None): Msg("Đã hết giờ điểm danh", "Check-in is closed"),
    ("closed", "signed_off"): Msg("Hội nghị đã khóa sổ", "The conference is signed off"),
    ("invalid", None): Msg("Mã không hợp lệ", "Not a valid code"),
    ("invalid", "unknown_delegate"): REFUSALS["unknown_delegate"],
    ("invalid", "retired_key"): Msg(
        "Mã ký bằng khóa đã ngừng dùng; cần cấp lại", "Signed with a retired key; reissue it"
    ),
}


def at_local(when: datetime, zone: ZoneInfo) -> str:
    """`08:05 30/11` in the conference's time zone."""
    return f"{when.astimezone(zone):%H:%M %d/%m}"


def message(
    result: str,
    reason: str | None,
    *,
    zone: ZoneInfo,
    moved: bool = False,
    first: tuple[datetime, str] | None = None,
    home_site: str | None = None,
    opens_at: datetime | None = None,
) -> Msg:
    """The message for one answer; `first` is (when, site code) of the entry a duplicate
    names, `home_site` the delegate's own site, `opens_at` when check-in opens."""
    if result == "accepted" and moved and reason is None:
        return Msg(
            f"Đã điểm danh (đăng ký tại {home_site})", f"Checked in (registered at {home_site})"
        )
    if result == "duplicate" and first is not None:
        when, site = at_local(first[0], zone), first[1]
        if reason == "already_out":
            return Msg(f"Đã ra về lúc {when} tại {site}", f"Already out since {when} at {site}")
        return Msg(f"Đã điểm danh lúc {when} tại {site}", f"Already checked in at {when} at {site}")
    if result == "wrong_site":
        return Msg(
            f"Không đúng điểm cầu; đại biểu đăng ký tại {home_site}",
            f"Wrong site; registered at {home_site}",
        )
    if result == "not_open" and opens_at is not None:
        when = at_local(opens_at, zone)
        return Msg(f"Chưa đến giờ điểm danh (mở lúc {when})", f"Check-in opens at {when}")
    if result == "revoked" and reason in REFUSALS:
        return REFUSALS[reason]
    if result == "invalid" and reason in REASONS:
        return REASONS[reason]
    return _FIXED.get((result, reason)) or _FIXED.get((result, None)) or Msg(result, result)
