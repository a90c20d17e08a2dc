"""A delegate's valid entries and exits, in the order they happened, and what they count.

Scans reach the service in any order (a kiosk offline for an hour uploads late), but the
state they leave must not depend on it (DESIGN, Rules). So the state is a function of
the *set* of valid scans: the timeline keeps them sorted by judged time (a tie goes to
the one that arrived first, which is already in the list), and everything counted is
derived from that list:

- the counted entry is the earliest `in`; the delegate is attributed to its site;
- present: the latest entry is an `in`;
- an exit is an `out` right after an `in`; a re-entry an `in` right after an `out`.

`contribution` says what one delegate adds to the tallies of each site; a scan changes
the tallies by the difference between the contribution after it and before it.
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


def pack(entries: list[Entry]) -> bytes:
    return b"".join(_ENTRY.pack(e.at, e.inward, e.site_id, e.scan_id) for e in entries)


def unpack(blob: bytes) -> list[Entry]:
    return [Entry(*fields) for fields in _ENTRY.iter_unpack(blob)]


def insert(entries: list[Entry], entry: Entry) -> int | None:
    """Put `entry` in its place (after any entry of the same time) and answer its index;
    None when the timeline is full and the entry was left out."""
    if len(entries) >= MAX_ENTRIES:
        return None
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
    tallies.setdefault(site_id, new_tally())[FIELD[field]] += n


def contribution(entries: list[Entry], home_site_id: int, category: str) -> Tallies:
    """What this delegate adds to the tallies of each site."""
    out: Tallies = {}
    first = first_in(entries)
    if first is None:
        return out
    site = entries[first].site_id
    bump(out, site, f"checked_in_{category}")
    if site != home_site_id:
        bump(out, site, "moved_in")
        bump(out, home_site_id, "moved_out")
    if entries[-1].inward:
        bump(out, site, "present")
    for prev, e in zip(entries[first:], entries[first + 1 :], strict=False):
        if prev.inward and not e.inward:
            bump(out, e.site_id, "exits")
        elif e.inward and not prev.inward:
            bump(out, e.site_id, "reentries")
    return out


def add_into(total: Tallies, change: Tallies, sign: int = 1) -> None:
    """total += sign * change, site by site."""
    for site, values in change.items():
        row = total.setdefault(site, new_tally())
        for i, v in enumerate(values):
            row[i] += sign * v
