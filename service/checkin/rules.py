"""The rule for one scan (DESIGN, Rules), with no database and no HTTP.

A scan is judged in this order, and the first step that refuses gives the result:

1. a signed-off conference: `closed`, whatever the scan;
2. the code: `invalid` (not a genuine code of this conference) or `revoked` (reissued,
   moved or revoked since it was printed);
3. the window, by the judged time (`judged_time`, then diemcau.checkin.contact: the
   kiosk's `scanned_at` corrected by its clock's measured offset, or the arrival when
   that time is more than 5 minutes ahead, or when the kiosk was in contact then and
   the scan arrives late): `not_open`, `closed`;
4. the site: at a site other than the delegate's own, `wrong_site` when the conference's
   policy says reject, else accepted there and marked `moved`;
5. the delegate's timeline (diemcau.checkin.timeline): `accepted` for the counted entry
   or a re-entry, `duplicate` otherwise; exits likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from diemcau.checkin import timeline
from diemcau.checkin.timeline import Entry

# DESIGN: a scanned_at more than 5 minutes ahead of the service's clock is a wrong kiosk
# clock; the scan is judged at its arrival and marked as skewed.
CLOCK_SKEW = timedelta(minutes=5)
# DESIGN: a correction by the kiosk's measured offset beyond this is marked skewed.
CORRECTION_MARK = timedelta(seconds=30)
# A corrected time stays inside the calendar the rules' arithmetic can use (the bounds
# a scanned_at is validated against).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
# A scan arriving within this of its (corrected) time is on time, whatever the contact:
# a batch's transit, the pipeline ahead of it, a 429's wait. Later, it is late, and its
# time is believed only if the kiosk was out of contact then (diemcau.checkin.contact).
LATE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Window:
    """What the rules need of the conference."""

    opens_at: datetime
    ends_at: datetime
    signed_off: bool
    reject_other_site: bool


@dataclass(slots=True)
class Verdict:
    result: str
    reason: str | None = None
    moved: bool = False
    reentry: bool = False
    checked_in: bool | None = None  # exits only
    first: Entry | None = None  # duplicates: the counted entry (or the latest exit)


def judged_time(
    scanned_at: datetime, received_at: datetime, offset: timedelta | None = None
) -> tuple[datetime, bool]:
    """The time the rules use, and whether it is marked skewed: `scanned_at` corrected by
    the kiosk's measured clock offset (None: not measured), or the arrival when that time
    is more than 5 minutes ahead of it."""
    skewed = False
    if offset:
        try:
            scanned_at = scanned_at + offset
        except OverflowError:
            return received_at, True
        if not EARLIEST <= scanned_at <= LATEST:  # a clock and its `sent_at` wildly apart
            return received_at, True
        skewed = abs(offset) > CORRECTION_MARK
    if scanned_at - received_at > CLOCK_SKEW:
        return received_at, True
    return scanned_at, skewed


def is_late(judged: datetime, received_at: datetime) -> bool:
    """Whether a scan arrived long enough after its time to ask where its kiosk was then."""
    return received_at - judged > LATE_AFTER


def gate(
    window: Window,
    judged: datetime,
    refusal: Verdict | None = None,
    home_site_id: int | None = None,
    here_site_id: int | None = None,
) -> tuple[Verdict | None, bool]:
    """Steps 1-4: a refusing verdict (or None to go on to the timeline) and `moved`.

    `refusal` is the code's own refusal (`invalid`, `revoked`) if it has one; the home
    site is None for a walk-in, who belongs everywhere.
    """
    if window.signed_off:
        return Verdict("closed", "signed_off"), False
    if refusal is not None:
        return refusal, False
    if judged < window.opens_at:
        return Verdict("not_open"), False
    if judged >= window.ends_at:
        return Verdict("closed"), False
    moved = home_site_id is not None and home_site_id != here_site_id
    if moved and window.reject_other_site:
        return Verdict("wrong_site"), False
    return None, moved


def decide(entries: list[Entry], entry: Entry, moved: bool) -> Verdict:
    """Step 5: add a valid scan to the delegate's timeline (in place) and judge it there."""
    index = timeline.insert(entries, entry)
    if index is None:  # the timeline is full: judge as if it were there, keep nothing
        entries = sorted([*entries, entry], key=lambda e: e.at)  # stable: ties after
        index = entries.index(entry)
    first = timeline.first_in(entries)
    prev = entries[index - 1] if index > 0 else None
    if entry.inward:
        if first == index:
            return Verdict("accepted", moved=moved)
        if prev is not None and not prev.inward and first is not None and first < index:
            return Verdict("accepted", moved=moved, reentry=True)
        assert first is not None  # this entry is an `in`
        return Verdict("duplicate", first=entries[first])
    if first is None or first > index:
        return Verdict("accepted", reason="no_entry", checked_in=False)
    if prev is not None and prev.inward:
        return Verdict("accepted", checked_in=True)
    return Verdict("duplicate", reason="already_out", checked_in=True, first=prev)
