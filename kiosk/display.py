"""What the door sees: one line per scan, green / amber / red, and the service's corrections.

Colour only on a terminal (and never with NO_COLOR set); the line starts with a mark
(✓, !, ✗) so it reads the same without colour. Text is in one language, Vietnamese by
default (--lang or DIEMCAU_LANGUAGE, as the whole command line), and times are in the
conference's time zone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from diemcau.cli.say import VALUE_WORDS
from diemcau.errors import Msg
from diemcau.kiosk.offline import AMBER, GREEN, RED, Verdict, hhmm

COLOURS = {GREEN: "\033[1;32m", AMBER: "\033[1;33m", RED: "\033[1;31m"}
MARKS = {GREEN: "✓", AMBER: "!", RED: "✗"}
RESET = "\033[0m"
RESULTS = {
    "accepted": Msg("hợp lệ", "accepted"),
    "duplicate": Msg("đã điểm danh", "duplicate"),
    "wrong_site": Msg("sai điểm cầu", "wrong site"),
    "revoked": Msg("mã đã thu hồi", "revoked"),
    "invalid": Msg("mã không hợp lệ", "invalid"),
    "not_open": Msg("chưa mở", "not open"),
    "closed": Msg("đã đóng", "closed"),
}
# The categories as the rest of the command line writes them.
CATEGORIES = {c: Msg(VALUE_WORDS[c], c) for c in ("member", "non_member", "guest")}
WORDS = {
    "in": Msg("VÀO", "IN"),
    "out": Msg("RA", "OUT"),
    "unknown": Msg("đại biểu", "delegate"),
    "service": Msg("Dịch vụ trả lời khác", "The service answered otherwise"),
    "kiosk_said": Msg("máy đã báo", "the kiosk said"),
    "at": Msg("tại", "at"),
}


def tone_of(result: Mapping[str, Any]) -> str:
    """The service's answer in the web kiosk's colours (kiosk/web/judge.js)."""
    if result.get("result") == "duplicate" and result.get("direction") == "out":
        return AMBER
    if result.get("result") != "accepted":
        return RED
    if result.get("moved") or result.get("reentry") or result.get("checked_in") is False:
        return AMBER
    return GREEN


class Printer:
    """Writes the door's lines in one language and one time zone."""

    def __init__(self, lang: str, zone: ZoneInfo, out: TextIO | None = None) -> None:
        self.lang = lang
        self.zone = zone
        self.out = out or sys.stdout
        self.colour = self.out.isatty() and not os.environ.get("NO_COLOR")

    def t(self, msg: Msg) -> str:
        return msg.text(self.lang)

    def line(self, tone: str, text: str) -> None:
        mark = MARKS[tone]
        if self.colour:
            print(f"{COLOURS[tone]}{mark} {text}{RESET}", file=self.out, flush=True)
        else:
            print(f"{mark} {text}", file=self.out, flush=True)

    def say(self, msg: Msg, tone: str = AMBER, *values: object) -> None:
        self.line(tone, self.t(msg).format(*values))

    def who(
        self, person: Mapping[str, Any] | None, walk_in: Mapping[str, Any] | None = None
    ) -> str:
        """`Nguyễn Văn An (đảng viên, LC-01)`, or `đại biểu #12` when the name is unknown."""
        person = person or walk_in
        if not person:
            return ""
        name = person.get("full_name") or f"{self.t(WORDS['unknown'])} #{person.get('id')}"
        bits = [self.t(CATEGORIES[c]) for c in [person.get("category")] if c in CATEGORIES]
        if person.get("site_code"):
            bits.append(str(person["site_code"]))
        return f"{name} ({', '.join(bits)})" if bits else str(name)

    def verdict(
        self, v: Verdict, direction: str, scanned_at: datetime, walk_in: Any = None
    ) -> None:
        """The offline answer to a scan, at once."""
        when = scanned_at.astimezone(self.zone).strftime("%H:%M:%S")
        head = f"{when} {self.t(WORDS[direction])}"
        who = self.who(v.delegate, walk_in)
        self.line(v.tone, " — ".join(p for p in (head, who, self.t(v.message)) if p))

    def correction(self, result: Mapping[str, Any], offline: str) -> None:
        """The service's answer, when it is not what the kiosk told the door."""
        tone = tone_of(result)
        said = result.get("message") or {}
        text = said.get(self.lang) or said.get("vi") or result.get("result", "")
        first = result.get("first")
        if first and first.get("scanned_at"):
            text += f" ({hhmm(first['scanned_at'], self.zone)}"
            text += f" {self.t(WORDS['at'])} {first.get('site_code')})"
        who = self.who(result.get("delegate"), result.get("walk_in"))
        head = self.t(WORDS["service"])
        was = self.t(RESULTS[offline]) if offline in RESULTS else offline
        tail = f"[{self.t(WORDS['kiosk_said'])}: {was}]"
        self.line(tone, " — ".join(p for p in (head, who, text, tail) if p))
