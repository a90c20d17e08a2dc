"""What every report file shares: the stamp (signed or draft, the SHA-256, the time), the
site columns of `report.csv` and the `Điểm cầu` sheet, the headline lines in the
provinces' own words, and the Vietnamese (or English) words for the rest.

A report is rendered from a `Reconciliation` and a `Stamp` alone, so that the same
figures and the same stamp give the same file, to the byte for CSV and PDF and to the
cell for XLSX: `diemcau report --verify` renders the file again from the database and
compares (reports.verify).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from diemcau import figures
from diemcau.errors import Msg
from diemcau.reconcile import canonical
from diemcau.reconcile.model import CATEGORIES, Reconciliation, SiteRow, instant

SIGNED = "signed"
DRAFT = "draft"

LEVEL = {
    "national": Msg("Trung ương", "National"),
    "province": Msg("Cấp tỉnh", "Province"),
    "district": Msg("Cấp huyện", "District"),
    "commune": Msg("Cấp xã", "Commune"),
    "agency": Msg("Cơ quan, đơn vị", "Agency"),
}
CATEGORY = {
    "member": Msg("Đảng viên", "Members"),
    "non_member": Msg("Quần chúng", "Non-members"),
    "guest": Msg("Khách mời", "Guests"),
}
MOMENT = {
    "start": Msg("đầu giờ", "start"),
    "after_break": Msg("sau giải lao", "after the break"),
    "end": Msg("cuối giờ", "end"),
}


@dataclass(frozen=True, slots=True)
class Stamp:
    """What a report says of itself: signed (with the time of sign-off) or a draft (with
    the time its figures were read), the SHA-256 of the canonical content of the whole
    conference at that time, and the unit subtree it shows (None: all of it)."""

    status: str
    sha256: str
    at: datetime  # UTC, whole seconds
    scope: str | None
    language: str = "vi"

    @property
    def signed(self) -> bool:
        return self.status == SIGNED


def stamp(whole: Reconciliation, scope: str | None, language: str = "vi") -> Stamp:
    """The stamp of a report on `whole` (the whole conference's reconciliation): the
    signed hash once signed off, else the hash a sign-off now would answer."""
    if whole.signed_off_at is not None and whole.report_sha256 is not None:
        at = whole.signed_off_at.astimezone(UTC)
        return Stamp(SIGNED, whole.report_sha256, at, scope, language)
    at = (whole.computed_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Stamp(DRAFT, canonical.sha256(canonical.content(whole, at)), at, scope, language)


def local(value: datetime, zone: str) -> str:
    """A time for people in the conference's zone: '15/12/2026 08:00:00 (+07)'."""
    here = value.astimezone(ZoneInfo(zone))
    offset = here.strftime("%z")
    return (
        here.strftime("%d/%m/%Y %H:%M:%S")
        + f" ({offset[:3]}{offset[3:] if offset[3:] != '00' else ''})"
    )


def span(starts: datetime, ends: datetime, zone: str, language: str = "vi") -> str:
    """When the session ran, as a report heads it: 'ngày 15/12/2026, 08:00 – 11:30 (UTC+07)'."""
    a, b = starts.astimezone(ZoneInfo(zone)), ends.astimezone(ZoneInfo(zone))
    offset = a.strftime("%z")
    utc = f"UTC{offset[:3]}" + (f":{offset[3:]}" if offset[3:] != "00" else "")
    day = "ngày " if language != "en" else ""
    if a.date() == b.date():
        return f"{day}{a:%d/%m/%Y}, {a:%H:%M} – {b:%H:%M} ({utc})"
    return f"{a:%d/%m/%Y %H:%M} – {b:%d/%m/%Y %H:%M} ({utc})"


def stamp_lines(s: Stamp, zone: str) -> list[str]:
    """The report's own lines about itself, as every file prints them."""
    vi = s.language != "en"
    when = local(s.at, zone)
    if s.signed:
        head = f"Đã ký xác nhận lúc {when}" if vi else f"Signed off at {when}"
    else:
        head = (
            f"BẢN NHÁP, chưa ký xác nhận (số liệu lúc {when})"
            if vi
            else f"DRAFT, not signed off (figures as of {when})"
        )
    return [head, f"SHA-256: {s.sha256}"]


def n(value: int | None, language: str) -> str:
    return "-" if value is None else figures.number(value, 0, language)


def headline(rec: Reconciliation, language: str = "vi") -> list[str]:
    """The provinces' lines: 'Toàn hội nghị có 145 điểm cầu với 11.873 người dự:
    4.502/4.600 đảng viên (97,87%) và 4.225/4.300 quần chúng (98,26%)', then each
    category against its target, then walk-ins."""
    t, vi = rec.totals, language != "en"
    came = t.checked_in.total + t.walk_ins.total
    parts = []
    for c in ("member", "non_member"):
        word = CATEGORY[c].text(language).lower()
        got, exp = t.checked_in.get(c), t.expected.get(c)
        if exp:
            share = figures.percent_of(got, exp, language)
            parts.append(f"{n(got, language)}/{n(exp, language)} {word} ({share})")
        else:
            parts.append(f"{n(got, language)} {word}")
    joined = (" và " if vi else " and ").join(parts)
    where = "Toàn hội nghị" if rec.scope is None else ("Đơn vị" if vi else "Unit") + f" {rec.scope}"
    first = (
        f"{where} có {n(t.sites, language)} điểm cầu với {n(came, language)} người dự: {joined}"
        if vi
        else f"{where}: {n(t.sites, language)} sites, {n(came, language)} attended: {joined}"
    )
    lines = [first + "."]
    for c in CATEGORIES:
        got, exp = t.checked_in.get(c), t.expected.get(c)
        if not exp and not got:
            continue
        line = f"{CATEGORY[c].text(language)}: {figures.ratio(got, exp, language)}"
        target = rec.targets.get(c)
        if target is not None and exp:
            goal = figures.percent(target, language, 0)
            met = got * 10_000 >= round(target * 10_000) * exp
            verdict = ("đạt" if met else "chưa đạt") if vi else ("met" if met else "not met")
            line += (
                f", chỉ tiêu từ {goal} trở lên: {verdict}"
                if vi
                else f", target {goal} or more: {verdict}"
            )
        lines.append(line + ".")
    walk = t.walk_ins.total
    lines.append(
        f"Vãng lai (không có trong danh sách): {n(walk, language)} người."
        if vi
        else f"Walk-ins (not on the roster): {n(walk, language)}."
    )
    return lines


# The site columns of report.csv and of the `Điểm cầu` sheet, in order: the name, the
# heading in Vietnamese and English, and the value of a row (numbers stay numbers).
@dataclass(frozen=True, slots=True)
class Column:
    name: str
    vi: str
    en: str
    value: Callable[[SiteRow], Any]
    kind: str = "int"  # int, rate, text
    width: float = 10

    def heading(self, language: str) -> str:
        return self.en if language == "en" else self.vi


def _hc(moment: str) -> Callable[[SiteRow], int | None]:
    def total(s: SiteRow) -> int | None:
        h = s.headcounts.get(moment)
        return None if h is None else h.total

    return total


def _rate(category: str) -> Callable[[SiteRow], float | None]:
    return lambda s: s.rates[category]


SITE_COLUMNS: tuple[Column, ...] = (
    Column("site_code", "Mã điểm cầu", "Site code", lambda s: s.site_code, "text", 12),
    Column("site_name", "Điểm cầu", "Site", lambda s: s.site_name, "text", 44),
    Column("unit_code", "Đơn vị", "Unit", lambda s: s.unit_code, "text", 10),
    Column("level", "Cấp", "Level", lambda s: s.level, "text", 10),
    Column("capacity", "Sức chứa", "Capacity", lambda s: s.capacity),
    Column("expected_member", "ĐV dự kiến", "Members expected", lambda s: s.expected.member),
    Column(
        "checked_in_member", "ĐV điểm danh", "Members checked in", lambda s: s.checked_in.member
    ),
    Column("rate_member", "Tỷ lệ ĐV", "Member rate", _rate("member"), "rate"),
    Column(
        "expected_non_member", "QC dự kiến", "Non-members expected", lambda s: s.expected.non_member
    ),
    Column(
        "checked_in_non_member",
        "QC điểm danh",
        "Non-members checked in",
        lambda s: s.checked_in.non_member,
    ),
    Column("rate_non_member", "Tỷ lệ QC", "Non-member rate", _rate("non_member"), "rate"),
    Column("expected_guest", "KM dự kiến", "Guests expected", lambda s: s.expected.guest),
    Column("checked_in_guest", "KM điểm danh", "Guests checked in", lambda s: s.checked_in.guest),
    Column("walk_ins", "Vãng lai", "Walk-ins", lambda s: s.walk_ins.total),
    Column("moved_in", "Từ nơi khác đến", "Moved in", lambda s: s.moved_in),
    Column("moved_out", "Dự nơi khác", "Moved out", lambda s: s.moved_out),
    Column("exits", "Lượt ra", "Exits", lambda s: s.exits),
    Column("reentries", "Vào lại", "Re-entries", lambda s: s.reentries),
    Column("present", "Có mặt cuối", "Present", lambda s: s.present),
    Column("headcount_start", "Đếm đầu giờ", "Headcount start", _hc("start")),
    Column(
        "headcount_after_break", "Đếm sau giải lao", "Headcount after break", _hc("after_break")
    ),
    Column("headcount_end", "Đếm cuối giờ", "Headcount end", _hc("end")),
    Column("absent_sick", "Vắng: ốm", "Absent: sick", lambda s: s.absences.sick),
    Column("absent_on_duty", "Vắng: công tác", "Absent: on duty", lambda s: s.absences.on_duty),
    Column("absent_travel", "Vắng: đi xa", "Absent: travel", lambda s: s.absences.travel),
    Column("absent_other", "Vắng: khác", "Absent: other", lambda s: s.absences.other),
    Column("makeup_owed", "Học bù", "Make-up owed", lambda s: s.absences.makeup_owed),
)

# report.csv's last columns: the stamp, on every row, so that any row cut out of the file
# still says which report it belongs to.
STAMP_COLUMNS = (
    "conference_code",
    "report_status",
    "report_sha256",
    "report_at",
    "report_scope",
    "report_language",
)


def stamp_values(code: str, s: Stamp) -> list[str]:
    return [code, s.status, s.sha256, instant(s.at), s.scope or "", s.language]


def level_word(level: str, language: str) -> str:
    found = LEVEL.get(level)
    return level if found is None else found.text(language)
