"""What a batch handles: the kiosk and its job, a scan on its way through the rules, a
delegate's attendance as found and left, and the rows they become."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from diemcau.checkin import timeline
from diemcau.checkin.model import ScanIn
from diemcau.checkin.render import CheckinRow
from diemcau.checkin.rules import Verdict
from diemcau.checkin.timeline import Entry
from diemcau.credentials import Claims

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_STORED_QR = 300
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Kiosk:
    """The kiosk a job comes from (its token), and where it stands."""

    token_id: int
    conference_id: int
    site_id: int


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Job:
    """The scans of one request or websocket message: when it arrived, the kiosk's clock
    when it was sent (`sent_at`, if it said), and the correction its scans take (set by
    the batcher from diemcau.checkin.clocks; None: the kiosk's clock is not measured)."""

    kiosk: Kiosk
    scans: list[ScanIn]
    received_at: datetime = field(default_factory=_now)
    sent_at: datetime | None = None
    offset: timedelta | None = None


def micros(when: datetime) -> int:
    return (when - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


def content_digest(scan: ScanIn) -> bytes:
    """What a scan says, so a reused scan_id with other content is told apart."""
    text = (
        f"{scan.method}\x1f{scan.direction}\x1f{scan.qr}\x1f{scan.delegate_id}"
        f"\x1f{scan.full_name}\x1f{scan.category}\x1f{micros(scan.scanned_at)}"
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def stored_qr(text: str) -> str:
    """A refused code as kept for the record: printable, valid UTF-8, cut short."""
    text = text[:MAX_STORED_QR].encode("utf-8", "replace").decode("utf-8")
    return _UNPRINTABLE.sub("\ufffd", text)


@dataclass(slots=True)
class Pending:
    """A new scan on its way through the rules."""

    job: int
    scan: ScanIn
    kiosk: Kiosk
    digest: bytes
    received: datetime
    judged: datetime
    skewed: bool
    late: bool = False  # arrived late: believed only if its kiosk was out of contact
    claims: Claims | None = None
    delegate: Any = None
    refusal: Verdict | None = None
    entry: Entry | None = None
    moved: bool = False
    verdict: Verdict | None = None
    stored: CheckinRow | None = None  # its `checkins` row, once made (`store`)

    def store(self) -> CheckinRow:
        """Make this scan's row and keep it (the answer is rendered from it)."""
        self.stored = row = self.row()
        return row

    def row(self) -> CheckinRow:
        """The `checkins` row of this scan, once judged."""
        v = self.verdict
        assert v is not None
        scan, person = self.scan, self.delegate
        genuine = person is not None
        return CheckinRow(
            scan.scan_id,
            self.kiosk.site_id,
            self.kiosk.token_id,
            person["id"] if genuine else None,
            scan.method or "qr",
            scan.direction,
            scan.scanned_at,
            self.judged,
            self.received,
            v.result,
            v.reason,
            v.result == "accepted" and self.moved,
            v.reentry,
            self.skewed,
            from_micros(v.first.at) if v.first else None,
            v.first.site_id if v.first else None,
            scan.full_name,
            scan.category,
            None if genuine or scan.qr is None else stored_qr(scan.qr),
            self.digest,
        )


@dataclass(slots=True)
class State:
    """A delegate's attendance as this batch found it and leaves it."""

    category: str
    home_site_id: int
    initial: list[Entry]
    entries: list[Entry]
    stored: bool  # a row exists (and is locked)

    def row(self, delegate_id: int) -> tuple[Any, ...]:
        """The `attendances` row (queries.checkins.ATTENDANCE_COLUMNS order)."""
        entries = self.entries
        first = timeline.first_in(entries)
        counted = entries[first] if first is not None else None
        return (
            delegate_id,
            self.category,
            self.home_site_id,
            counted.site_id if counted else None,
            UUID(bytes=counted.scan_id) if counted else None,
            from_micros(counted.at) if counted else None,
            counted is not None and entries[-1].inward,
            from_micros(entries[-1].at) if entries else None,
            timeline.pack(entries),
        )
