"""Batches of scans, each batch in one transaction.

`ingest` takes the jobs (one per request or websocket message) of one conference that
arrived together, and in one transaction: reads the conference, the stored scans with
the same ids (retries), the delegates and the codes issued to them; locks the
delegates' attendance rows (in id order); applies diemcau.checkin.rules to every scan
in arrival order; and writes the scans, the attendance rows and the site tallies. The
answers leave only after the commit (DESIGN: an acknowledged scan survives any crash).

A job is refused whole (and none of its scans stored) when its kiosk's token was
revoked (401) or one of its scan ids was used for another content or by another kiosk
(409: a scan id belongs to the kiosk that first sent it).

A scan's time is its `scanned_at` corrected by its kiosk's measured clock offset
(diemcau.checkin.clocks); a late one is believed only when its kiosk was out of contact
then (diemcau.checkin.contact). A manual check-in names a delegate its kiosk may see:
any other answers `invalid`, like an unknown id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from diemcau.checkin import contact, identify, timeline
from diemcau.checkin.arrivals import arrivals
from diemcau.checkin.contact import Contacts
from diemcau.checkin.records import (
    Job,
    Pending,
    State,
    content_digest,
    micros,
)
from diemcau.checkin.render import CheckinRow, Renderer
from diemcau.checkin.rules import Verdict, Window, decide, gate, is_late, judged_time
from diemcau.checkin.timeline import Entry, Tallies
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import checkins as q
from diemcau.queries.issued import insert_issued_codes
from diemcau.queries.kiosk_roster import fetch_manual_reach

Outcome = list[dict[str, Any]] | Problem
# A batch of at most this many scans writes them with its attendance rows, in one
# statement (two round trips fewer: the single-scan HTTP path's batches are 5-15 scans);
# a larger one by binary COPY, which PostgreSQL takes for a third less CPU than unnest().
INLINE_SCANS = 32


@dataclass(slots=True)
class Batch:
    conference_id: int
    jobs: list[Job]
    outcomes: list[Outcome | None] = field(default_factory=list)
    # per job: for each scan, the pending scan or the stored row of a retry
    answers: list[list[Pending | CheckinRow]] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    # by id, and by (id, version asked, key id asked)
    delegates: dict[int | tuple[int, int | None, str | None], Any] = field(default_factory=dict)
    states: dict[int, State] = field(default_factory=dict)
    records: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    window: Window | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    keys: dict[str, tuple[bytes, bool]] = field(default_factory=dict)
    contacts: Contacts | None = None  # this worker's unwritten contact with kiosks
    # (kiosk, site) pairs beyond the kiosk's own site whose delegates it may check in
    # by name (a kiosk that took its unit's roster)
    reach: set[tuple[int, int]] = field(default_factory=set)
    # the scans of this batch's ids already stored (retries), by the id's integer
    stored: dict[int, CheckinRow] = field(default_factory=dict)

    async def load_context(self, conn: asyncpg.Connection) -> None:
        kiosks = sorted({job.kiosk.token_id for job in self.jobs})
        ids = [s.scan_id for job in self.jobs for s in job.scans]
        ctx = await q.fetch_context(conn, self.conference_id, kiosks, ids)
        if ctx is None:  # the conference is gone: nothing can be recorded against it
            problem = Problem("not_found", Msg("Không có hội nghị này", "no such conference"))
            self.outcomes = [problem] * len(self.jobs)
            return
        self.window = Window(
            ctx["checkin_opens_at"],
            ctx["ends_at"],
            ctx["signed_off_at"] is not None,
            ctx["policy_other_site"] == "reject",
        )
        self.zone = ZoneInfo(ctx["timezone"])
        self.keys = {
            kid: (bytes(public), retired)
            for kid, public, retired in zip(
                ctx["kids"], ctx["publics"], ctx["retired"], strict=True
            )
        }
        # Keyed by the id's integer: a UUID hashes in Python, an int in C.
        self.stored = {r[1].int: _stored(r) for r in ctx["stored"]}
        revoked = set(ctx["revoked_kiosks"])
        self.outcomes = [
            revoked_kiosk() if j.kiosk.token_id in revoked else None for j in self.jobs
        ]
        self.answers = [[] for _ in self.jobs]

    def admit(self) -> None:
        """Sort retries from new scans; refuse the jobs that reuse a scan id."""
        stored = self.stored
        fresh: dict[int, Pending] = {}
        for i, job in self._live():
            mine: dict[int, Pending] = {}
            clashes: list[tuple[int, bool]] = []
            for n, scan in enumerate(job.scans):
                digest = content_digest(scan)
                key = scan.scan_id.int
                earlier = (stored.get(key) if stored else None) or fresh.get(key)
                earlier = earlier or mine.get(key)
                if earlier is None:
                    earlier = mine[key] = _pending(i, job, scan, digest)
                if _kiosk(earlier) != job.kiosk.token_id:
                    clashes.append((n, True))
                elif _digest(earlier) != digest:
                    clashes.append((n, False))
                self.answers[i].append(earlier)
            if clashes:
                self.outcomes[i] = scan_conflict(clashes)
                continue
            fresh.update(mine)
            self.pending.extend(mine.values())

    async def believe(self, conn: asyncpg.Connection) -> None:
        """Late scans keep their time only if their kiosk was out of contact then."""
        await contact.judge_late(conn, self.pending, self.contacts)

    def _live(self) -> Iterable[tuple[int, Job]]:
        return ((i, job) for i, job in enumerate(self.jobs) if self.outcomes[i] is None)

    async def identify(self, conn: asyncpg.Connection) -> None:
        """Who each scan names, and whether its code is genuine."""
        wanted: set[tuple[int, int | None, str | None]] = set()
        for p in self.pending:
            if p.scan.method == "qr":
                claims = identify.claims_of(p.scan.qr or "", self.conference_id)
                if isinstance(claims, Verdict):
                    p.refusal = claims
                    continue
                p.claims = claims
                wanted.add((claims.delegate_id, claims.version, claims.kid))
            elif p.scan.method == "manual" and p.scan.delegate_id is not None:
                wanted.add((p.scan.delegate_id, None, None))
        for answers in self.answers:
            for a in answers:
                if isinstance(a, CheckinRow) and a.delegate_id is not None:
                    wanted.add((a.delegate_id, None, None))
        await self._load_delegates(conn, wanted)
        await self._load_reach(conn)
        for p in self.pending:
            self._identify_one(p)

    async def _load_delegates(
        self, conn: asyncpg.Connection, wanted: set[tuple[int, int | None, str | None]]
    ) -> None:
        if not wanted:
            return
        ids, versions, kids = zip(*wanted, strict=True)
        for row in await q.fetch_delegates(
            conn, self.conference_id, list(ids), list(versions), list(kids)
        ):
            self.delegates[row["id"]] = row  # any row: the delegate's fields are the same
            self.delegates[(row["id"], row["asked_version"], row["asked_kid"])] = row

    async def _load_reach(self, conn: asyncpg.Connection) -> None:
        """Which kiosks may name delegates of which other sites (manual check-ins)."""
        asked = {
            (p.kiosk.token_id, d["site_id"])
            for p in self.pending
            if (d := self._named(p)) is not None and d["site_id"] != p.kiosk.site_id
        }
        if asked:
            self.reach = await fetch_manual_reach(conn, self.conference_id, sorted(asked))

    def _named(self, p: Pending) -> Any:
        """The delegate a manual check-in names, if there is one."""
        if p.scan.method != "manual" or p.scan.delegate_id is None:
            return None
        return self.delegates.get(p.scan.delegate_id)

    def _identify_one(self, p: Pending) -> None:
        if p.scan.method == "walk_in" or p.refusal is not None:
            return
        if p.claims is not None:
            c = p.claims
            found = identify.identify_code(
                p.scan.qr or "",
                c,
                self.delegates.get((c.delegate_id, c.version, c.kid)),
                self.keys.get(c.kid),
            )
            if found.record is not None:
                self.records.append(found.record)
        else:
            named = self._named(p)
            if named is not None and named["site_id"] != p.kiosk.site_id:
                if (p.kiosk.token_id, named["site_id"]) not in self.reach:
                    named = None  # not for this kiosk to see: answered as an unknown id
            found = identify.identify_manual(named)
        p.delegate, p.refusal = found.delegate, found.refusal

    def decide(self) -> None:
        """Steps 1-4 of the rules for every scan, then the timelines (their rows are
        written with the scans, `write`)."""
        assert self.window is not None
        for p in self.pending:
            home = p.delegate["site_id"] if p.delegate is not None else None
            p.verdict, p.moved = gate(self.window, p.judged, p.refusal, home, p.kiosk.site_id)
            if p.verdict is None and p.scan.method == "walk_in":
                p.verdict = Verdict("accepted", "walk_in")
            elif p.verdict is None:
                p.entry = Entry(
                    micros(p.judged),
                    p.scan.direction == "in",
                    p.kiosk.site_id,
                    p.scan.scan_id.bytes,
                )
        touched = sorted({p.delegate["id"] for p in self.pending if p.entry is not None})
        if not touched:
            return
        self._hold(touched)
        self._run_timelines()

    def _hold(self, delegate_ids: list[int]) -> None:
        """The attendance of these delegates, as read (and locked) with them."""
        for d in delegate_ids:
            row = self.delegates[d]
            if row["held_timeline"] is not None:
                entries = timeline.unpack(row["held_timeline"])
                self.states[d] = State(
                    row["held_category"], row["held_home_site_id"], entries, list(entries), True
                )
            else:
                self.states[d] = State(row["category"], row["site_id"], [], [], False)

    def _run_timelines(self) -> None:
        for p in self.pending:
            if p.entry is None:
                continue
            verdict = decide(self.states[p.delegate["id"]].entries, p.entry, p.moved)
            if verdict.result == "accepted" and verdict.reason is None:
                if not p.entry.inward:
                    verdict.reason = "exit"
                elif verdict.reentry:
                    verdict.reason = "reentry"
            p.verdict = verdict

    def tallies(self) -> Tallies:
        """How much every site's counters move with this batch."""
        total: Tallies = {}
        for state in self.states.values():
            timeline.contribute(total, state.entries, state.home_site_id, state.category)
            timeline.contribute(total, state.initial, state.home_site_id, state.category, -1)
        for p in self.pending:
            assert p.verdict is not None
            site = p.kiosk.site_id
            accepted = p.verdict.result == "accepted"
            timeline.bump(total, site, "accepted_scans" if accepted else "refused_scans")
            if accepted and p.scan.method == "walk_in":
                timeline.bump(total, site, f"walk_ins_{p.scan.category}")
                timeline.bump(total, site, "present")
        return total

    def last_scans(self) -> dict[int, datetime]:
        latest: dict[int, datetime] = {}
        for p in self.pending:
            if p.verdict is not None and p.verdict.result == "accepted":
                site = p.kiosk.site_id
                if site not in latest or latest[site] < p.judged:
                    latest[site] = p.judged
        return latest

    def attendances(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The attendance rows this batch makes, and those it changes (in delegate order,
        the order they were locked in)."""
        made, changed = [], []
        for d in sorted(self.states):
            state = self.states[d]
            if not state.stored:
                if state.entries:
                    made.append(state.row(d))
            elif state.entries != state.initial:
                changed.append(state.row(d))
        return made, changed

    async def write(self, conn: asyncpg.Connection) -> list[CheckinRow]:
        """The scans, the attendance rows and the codes' digests (the tallies come last,
        `write_tallies`)."""
        rows = [p.store() for p in self.pending]
        made, changed = self.attendances()
        inline = rows if len(rows) <= INLINE_SCANS else []
        if made or changed or inline:
            await q.write_rows(conn, self.conference_id, made, changed, inline)
        if rows and not inline:
            await q.insert_checkins(conn, self.conference_id, rows)
        if self.records:
            await insert_issued_codes(conn, sorted(set(self.records)))
        return rows

    async def write_tallies(self, conn: asyncpg.Connection) -> None:
        """The sites' counts and arrivals, with the live board's next `seq`: last in the
        transaction, since the counter's lock is held from there to the commit."""
        change = self.tallies()
        last = self.last_scans()
        sites = sorted(set(change) | set(last))
        if sites:
            await q.add_tallies(
                conn,
                self.conference_id,
                sites,
                [change.get(s, timeline.new_tally()) for s in sites],
                [last.get(s) for s in sites],
                arrivals(self.pending),
            )


async def ingest(
    conn: asyncpg.Connection,
    conference_id: int,
    jobs: list[Job],
    contacts: Contacts | None = None,
) -> list[Outcome]:
    """Decide and store the jobs of one conference together; an outcome per job.
    `contacts` is what this worker heard from kiosks and may not have written yet."""
    batch = Batch(conference_id, jobs, contacts=contacts)
    async with conn.transaction():
        await batch.load_context(conn)
        if batch.window is None:
            return [o for o in batch.outcomes if o is not None]
        batch.admit()
        await batch.believe(conn)
        await batch.identify(conn)
        batch.decide()
        rows = await batch.write(conn)
        renderer = Renderer(batch.zone, batch.window, batch.delegates)
        await renderer.load_sites(conn, [*rows, *_retried(batch)])
        await batch.write_tallies(conn)
    outcomes: list[Outcome] = []
    for i in range(len(jobs)):
        done = batch.outcomes[i]
        if done is not None:
            outcomes.append(done)
            continue
        outcomes.append([renderer.result(_row(a)) for a in batch.answers[i]])
    return outcomes


def _stored(record: tuple[Any, ...]) -> CheckinRow:
    """A stored scan as found. One of another conference was sent by another kiosk (a
    kiosk belongs to one conference), so reusing its id is a conflict, not its answer."""
    return CheckinRow(*record[1:])


def _pending(index: int, job: Job, scan: Any, digest: bytes) -> Pending:
    """A new scan, its time judged by its kiosk's clock (rules.judged_time)."""
    judged, skewed = judged_time(scan.scanned_at, job.received_at, job.offset)
    late = is_late(judged, job.received_at)
    return Pending(index, scan, job.kiosk, digest, job.received_at, judged, skewed, late)


def _row(item: Pending | CheckinRow) -> CheckinRow:
    """The stored row an answer is rendered from: a new scan's, once written."""
    if isinstance(item, CheckinRow):
        return item
    assert item.stored is not None
    return item.stored


def _digest(item: Pending | CheckinRow) -> bytes:
    return item.content_digest if isinstance(item, CheckinRow) else item.digest


def _kiosk(item: Pending | CheckinRow) -> int | None:
    return item.kiosk_id if isinstance(item, CheckinRow) else item.kiosk.token_id


def _retried(batch: Batch) -> list[CheckinRow]:
    return [a for answers in batch.answers for a in answers if isinstance(a, CheckinRow)]


def revoked_kiosk() -> Problem:
    return Problem(
        "authentication_required",
        Msg("Máy điểm danh đã bị thu hồi", "this kiosk was revoked"),
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


OTHER_SCAN = Msg(
    "Mã lượt quét đã dùng cho một lượt quét khác", "this scan_id was used for another scan"
)
OTHER_KIOSK = Msg("Mã lượt quét này do một máy khác gửi", "this scan_id was sent by another kiosk")


def scan_conflict(clashes: list[tuple[int, bool]]) -> Problem:
    """409 naming each clashing scan: (position, whether another kiosk sent its id)."""
    return Problem(
        "scan_conflict",
        Msg(
            "Có mã lượt quét (scan_id) trùng với lượt quét khác; không lượt nào được lưu",
            "a scan_id was already used for another scan; nothing was stored",
        ),
        errors=[
            field_error(f"scans.{n}.scan_id", OTHER_KIOSK if kiosk else OTHER_SCAN)
            for n, kiosk in clashes
        ],
    )
