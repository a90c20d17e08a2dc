"""A delegate's valid entries and exits, in the order they happened, and what they count.

Scans reach the service in any order (a kiosk offline for an hour uploads late), but the
state they leave must not depend on it (DESIGN, Rules). So the state is a function of
the *set* of valid scans: the timeline keeps them sorted by judged time (a tie goes to
the one that arrived first, which is already in the list), and everything counted is
derived from that list:

- the counted entry is the earliest `in`; the delegate is attributed to its site;
- present: the latest entry is an `in`;
- an exit is an `out` right after an `in`; a re-entry an `in` right after an `out`.

`contribute` adds what one delegate counts at each site to the tallies; a scan changes
them by what the delegate counts after it less what they counted before.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass

# The counters of one site (site_tallies columns, in this order).
TALLY_FIELDS = (
    "checked_in_member",
    "checked_in_non_member",
    "checked_in_guest",
    "walk_ins_member",
    "walk_ins_non_member",
    "walk_ins_guest",
    "moved_in",
    "moved_out",
    "present",
    "exits",
    "reentries",
    "accepted_scans",
    "refused_scans",
)
FIELD = {name: i for i, name in enumerate(TALLY_FIELDS)}
# A badge scanned hundreds of times (a scanner stuck on repeat) must not grow a row
# without end: past this many entries a delegate's further scans are stored and
# answered, but no longer enter the timeline.
MAX_ENTRIES = 100

Tallies = dict[int, list[int]]  # site id -> counters in TALLY_FIELDS order


@dataclass(frozen=True, slots=True)
class Entry:
    """One valid scan of a delegate: when (judged, microseconds since the epoch), which
    way, at which site, and which scan it was."""

    at: int
    inward: bool
    site_id: int
    scan_id: bytes


_ENTRY = struct.Struct(">q?q16s")
# Where reconciliation's SQL reads an entry (queries/reconcile.py): its size, the
# direction byte (1: in) and the site (8 bytes, big-endian).
ENTRY_SIZE = _ENTRY.size
INWARD_OFFSET = 8
SITE_OFFSET = 9


def pack(entries: list[Entry]) -> bytes:
    return b"".join(_ENTRY.pack(e.at, e.inward, e.site_id, e.scan_id) for e in entries)


def unpack(blob: bytes) -> list[Entry]:
    return [Entry(*fields) for fields in _ENTRY.iter_unpack(blob)]


def insert(entries: list[Entry], entry: Entry) -> int | None:
    """Put `entry` in its place (after any entry of the same time) and answer its index;
    None when the timeline is full and the entry was left out."""
    if len(entries) >= MAX_ENTRIES:
        return None
    if not entries or entries[-1].at <= entry.at:  # most scans: the latest so far
        entries.append(entry)
        return len(entries) - 1
    index = bisect.bisect_right(entries, entry.at, key=lambda e: e.at)
    entries.insert(index, entry)
    return index


def first_in(entries: list[Entry]) -> int | None:
    """The index of the counted entry (the earliest `in`), or None."""
    for i, e in enumerate(entries):
        if e.inward:
            return i
    return None


def new_tally() -> list[int]:
    return [0] * len(TALLY_FIELDS)


def bump(tallies: Tallies, site_id: int, field: str, n: int = 1) -> None:
    row = tallies.get(site_id)
    if row is None:  # not setdefault: that makes a new row for every call
        row = tallies[site_id] = new_tally()
    row[FIELD[field]] += n


def contribute(
    total: Tallies, entries: list[Entry], home_site_id: int, category: str, sign: int = 1
) -> None:
    """Add (sign 1) or take away (sign -1) what this delegate counts at each site."""
    first = first_in(entries)
    if first is None:
        return
    site = entries[first].site_id
    bump(total, site, f"checked_in_{category}", sign)
    if site != home_site_id:
        bump(total, site, "moved_in", sign)
        bump(total, home_site_id, "moved_out", sign)
    if entries[-1].inward:
        bump(total, site, "present", sign)
    for prev, e in zip(entries[first:], entries[first + 1 :], strict=False):
        if prev.inward and not e.inward:
            bump(total, e.site_id, "exits", sign)
        elif e.inward and not prev.inward:
            bump(total, e.site_id, "reentries", sign)
