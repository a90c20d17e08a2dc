"""The door: a scanned line becomes a scan, judged offline, queued, then shown.

The order is the point: the scan (with its UUID, made once) is committed to the kiosk
file before its answer is printed, so whatever the door saw is in the queue.

Input lines: a code as the scanner reads it, or a walk-in typed at the keyboard as
`+Full Name` (category non-member) or `+category: Full Name` (category `member`,
`non_member`, `guest`, or `đảng viên`, `quần chúng`, `khách mời`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diemcau.credentials import Verifier
from diemcau.delegates import category_of
from diemcau.errors import Msg
from diemcau.kiosk.display import Printer
from diemcau.kiosk.offline import RED, Context, Verdict, Window, judge, judge_walk_in
from diemcau.kiosk.store import Store

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
WALK_IN_DEFAULT = "non_member"
MAX_NAME = 300
BAD_WALK_IN = Msg(
    "Khách vãng lai: gõ +Họ tên hoặc +loại: Họ tên (đảng viên, quần chúng, khách mời)",
    "Walk-in: type +Full name or +category: Full name (member, non_member, guest)",
)


def zone_of(conference: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(conference.get("timezone") or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def conference_id_of(conference: dict[str, Any], keys: dict[str, Any]) -> int | None:
    """The conference's number, which codes carry: from the conference, else its keys."""
    if isinstance(conference.get("id"), int):
        return int(conference["id"])
    ids = {k.get("conference_id") for k in keys.get("keys", [])} - {None}
    return int(ids.pop()) if len(ids) == 1 else None


def context_of(store: Store) -> Context:
    """What the kiosk knows now, from its file."""
    conference = store.require("conference")
    keys = store.require("keys")
    site = store.require("site")
    window = Window(
        datetime.fromisoformat(conference["checkin_opens_at"]),
        datetime.fromisoformat(conference["ends_at"]),
        conference.get("status") == "signed_off",
    )
    return Context(
        verifier=Verifier(keys, conference_id=conference_id_of(conference, keys)),
        site_code=site["code"],
        window=window,
        zone=zone_of(conference),
        other_site=(conference.get("policy") or {}).get("other_site", "accept"),
        site_id=site.get("id") if isinstance(site.get("id"), int) else None,
        roster=store.delegate,
        history=store.history,
    )


def parse_walk_in(text: str) -> tuple[str, str] | None:
    """`+Nguyễn Văn B` or `+khách mời: Nguyễn Văn B` -> (name, category), else None."""
    body = text[1:].strip()
    head, colon, tail = body.partition(":")
    category = category_of(head.strip()) if colon else None
    name = " ".join((tail if category else body).split())
    if not name or len(name) > MAX_NAME or (colon and category is None):
        return None
    return name, category or WALK_IN_DEFAULT


class Door:
    """Judges, queues and shows scans for one kiosk file."""

    def __init__(self, store: Store, printer: Printer, direction: str = "in") -> None:
        self.store = store
        self.printer = printer
        self.direction = direction
        self.ctx = context_of(store)

    def reload(self) -> None:
        """After a refresh: new keys, policy, window or site id."""
        self.ctx = context_of(self.store)
        self.printer.zone = self.ctx.zone

    def line(self, text: str, now: datetime | None = None) -> Verdict | None:
        """One input line: a code, a walk-in, or nothing (an empty line)."""
        text = text.rstrip("\r\n")
        if not text.strip():
            return None
        if text.lstrip().startswith("+"):
            found = parse_walk_in(text.strip())
            if found is None:
                self.printer.say(BAD_WALK_IN, RED)
                return None
            return self.walk_in(*found, now=now)
        return self.code(text.strip(), now=now)

    def code(self, qr: str, now: datetime | None = None) -> Verdict:
        now = now or datetime.now(self.ctx.zone)
        verdict = judge(qr, self.direction, now, self.ctx)
        scan = self._scan(now, qr=qr, method="qr", direction=self.direction)
        self.store.queue(scan, verdict.delegate_id, verdict.result)
        self.printer.verdict(verdict, self.direction, now)
        return verdict

    def walk_in(self, name: str, category: str, now: datetime | None = None) -> Verdict:
        now = now or datetime.now(self.ctx.zone)
        verdict = judge_walk_in(now, self.ctx)
        person = {"full_name": name, "category": category}
        scan = self._scan(now, method="walk_in", direction="in", **person)
        self.store.queue(scan, None, verdict.result)
        self.printer.verdict(verdict, "in", now, walk_in=person)
        return verdict

    def _scan(self, now: datetime, **fields: Any) -> dict[str, Any]:
        scanned_at = now.astimezone(self.ctx.zone).isoformat(timespec="milliseconds")
        return {"scan_id": str(uuid.uuid4()), "scanned_at": scanned_at, **fields}
