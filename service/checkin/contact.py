"""When the service was in contact with each kiosk, and whether a late scan's time is
believed (DESIGN, Rules: "An earlier time is believed only when it could be late").

A contact is a moment the service heard from a kiosk and answered it: a batch committed
(at the batch's arrival), a heartbeat recorded, the kiosk websocket opened. Contacts at
most GAP apart make one spell. A scan arriving late (rules.is_late) that claims a moment
t is believed when its kiosk could have been out of contact then; it is not, and is
judged at its arrival and marked skewed, when a spell began at or before t and lasted to
t + LATE_AFTER at least: the kiosk was heard from then, and long enough after to have
sent the scan. A refused batch, or a heartbeat the database did not take, is no contact:
a kiosk whose scans could not be committed is out of contact, as it is offline.

The hot path stays cheap. A scan on time asks nothing. Each worker keeps its own spell of
each kiosk in memory (`Contacts`) and writes the spells that grew at most every
WRITE_EVERY seconds, one statement for all kiosks, keyed by where the spell began. A
late scan reads its kiosk's spells from the database, which holds every worker's (a
killed worker's up to its last write), and joins them with this worker's memory; at
most the last WRITE_EVERY seconds of another worker's contact are unseen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from diemcau.checkin.rules import LATE_AFTER
from diemcau.queries import contacts as q

if TYPE_CHECKING:
    from diemcau.checkin.records import Pending

# Kiosks heartbeat every 15-30 s (docs/checkin.md): one heartbeat lost is still contact,
# two are not.
GAP = timedelta(seconds=45)
WRITE_EVERY = 5.0
Span = tuple[datetime, datetime]
Row = tuple[int, datetime, datetime]  # token id, from, until


def joined(spans: Iterable[Span]) -> list[Span]:
    """Spells joined where they overlap or are at most GAP apart, in time order."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] <= GAP:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def in_contact(spans: list[Span], at: datetime) -> bool:
    """Whether a kiosk with these joined spells was in contact at `at` and at least
    LATE_AFTER after it (so a scan made at `at` should have arrived by then)."""
    try:
        until = at + LATE_AFTER
    except OverflowError:
        return False
    return any(start <= at and until <= end for start, end in spans)


@dataclass(slots=True)
class Spell:
    start: datetime
    end: datetime
    written: datetime | None = None  # the end as last written


class Contacts:
    """This worker's contact with each kiosk: one spell each in memory, written later."""

    def __init__(self) -> None:
        self._spells: dict[int, Spell] = {}
        self._unwritten: list[Row] = []  # spells ended, or writes that failed

    def heard(self, token_id: int, at: datetime) -> None:
        """The kiosk was heard from and answered at `at`."""
        spell = self._spells.get(token_id)
        if spell is not None and spell.start <= at <= spell.end + GAP:
            spell.end = max(spell.end, at)
            return
        if spell is not None and at < spell.start:
            return  # a batch committed late, received before what this spell holds
        if spell is not None and spell.written != spell.end:
            self._unwritten.append((token_id, spell.start, spell.end))
        self._spells[token_id] = Spell(at, at)

    def known(self, token_id: int) -> list[Span]:
        """What this worker knows of the kiosk and may not have written yet."""
        spans = [(s, e) for t, s, e in self._unwritten if t == token_id]
        spell = self._spells.get(token_id)
        return [*spans, (spell.start, spell.end)] if spell is not None else spans

    def due(self, now: datetime) -> list[Row]:
        """The rows to write (one per kiosk and start), marked written; spells idle for
        longer than GAP and written are forgotten (the next contact starts a new one)."""
        grown = self._unwritten
        self._unwritten = []
        for token_id, spell in list(self._spells.items()):
            if spell.written != spell.end:
                grown.append((token_id, spell.start, spell.end))
                spell.written = spell.end
            elif now - spell.end > GAP:
                del self._spells[token_id]
        rows: dict[tuple[int, datetime], datetime] = {}
        for token_id, start, end in grown:  # one row a key: a statement updates it once
            rows[(token_id, start)] = max(end, rows.get((token_id, start), end))
        return sorted((t, s, e) for (t, s), e in rows.items())

    def unwritten(self, rows: list[Row]) -> None:
        """A write failed: these rows go with the next one."""
        self._unwritten.extend(rows)

    async def write(self, conn: asyncpg.Connection, now: datetime) -> int:
        """Write what grew since the last write; answers how many spells."""
        rows = self.due(now)
        if not rows:
            return 0
        try:
            await q.write_contacts(conn, rows)
        except BaseException:
            self.unwritten(rows)
            raise
        return len(rows)


async def judge_late(
    conn: asyncpg.Connection, pending: list[Pending], memory: Contacts | None
) -> None:
    """Judge at their arrival (skewed) the late scans whose kiosk was in contact at the
    time they claim; the others keep their time."""
    late = [p for p in pending if p.late]
    if not late:
        return
    since = min(p.judged for p in late) - GAP
    stored: dict[int, list[Span]] = defaultdict(list)
    for row in await q.fetch_contacts(conn, sorted({p.kiosk.token_id for p in late}), since):
        stored[row["token_id"]].append((row["contact_from"], row["contact_until"]))
    spells: dict[tuple[int, datetime], list[Span]] = {}
    for p in late:
        token = p.kiosk.token_id
        key = (token, p.received)
        if key not in spells:
            mine = memory.known(token) if memory is not None else []
            # The batch's own arrival is contact too: it is being answered.
            spells[key] = joined([*stored[token], *mine, (p.received, p.received)])
        if in_contact(spells[key], p.judged):
            p.judged, p.skewed = p.received, True
