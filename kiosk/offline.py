"""The offline check: what the door is told at once, before the service has a say.

The steps and their order are the service's (diemcau.checkin.rules): a signed-off
conference, the code, the window, the site, then the delegate's entries and exits. The
kiosk knows the conference's keys, its roster snapshot, its own earlier scans, the
conference's policy for other sites and its window, and its own clock. From these it
guesses the service's answer with the same result words (`accepted`, `duplicate`,
`wrong_site`, `revoked`, `invalid`, `not_open`, `closed`). The guess can be wrong where
only the service knows better (a scan at another kiosk, a revocation after the last
roster refresh); the sender prints the service's answer when it differs.

Tones, as the web kiosk shows them (kiosk/web/judge.js): green an accepted scan; amber
an accepted one the door should look at (another site's delegate, someone not in the
roster snapshot, a re-entry, an exit with no entry seen here), and a second exit (the
person leaves anyway); red every other result, a duplicate entry included (a second
entry with one badge may be a colleague's badge).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from diemcau.credentials import Claims, InvalidCredential, Verifier
from diemcau.errors import Msg

GREEN, AMBER, RED = "green", "amber", "red"

MESSAGES = {
    "accepted": Msg("Mời vào", "Welcome"),
    "exit": Msg("Đã ghi nhận ra", "Exit recorded"),
    "exit_unseen": Msg(
        "Đã ghi nhận ra (máy này chưa thấy vào)", "Exit recorded (no entry seen here)"
    ),
    "reentry": Msg("Vào lại", "Re-entry"),
    "walk_in": Msg("Khách vãng lai đã ghi nhận", "Walk-in recorded"),
    "moved": Msg("Đại biểu điểm cầu khác, vẫn ghi nhận", "Delegate of another site, accepted"),
    "unlisted": Msg(
        "Mã hợp lệ nhưng không có trong danh sách của máy", "Valid code, not in this roster"
    ),
    "wrong_site": Msg("Đại biểu của điểm cầu khác", "Delegate of another site"),
    "revoked": Msg("Mã đã bị thu hồi hoặc cấp lại", "This code was revoked or reissued"),
    "closed": Msg("Đã hết giờ điểm danh", "Check-in is closed"),
}


@dataclass(frozen=True, slots=True)
class Window:
    """The conference's check-in window, and whether it was signed off."""

    opens_at: datetime
    ends_at: datetime
    signed_off: bool = False


@dataclass(slots=True)
class Context:
    """What the kiosk knows when it judges a scan."""

    verifier: Verifier
    site_code: str
    window: Window
    zone: ZoneInfo
    other_site: str = "accept"  # the conference's policy: "accept" or "reject"
    site_id: int | None = None  # the number codes carry (`site.id` from the service)
    # delegate id -> roster row (id, full_name, category, site_code, ...), or None
    roster: Callable[[int], Mapping[str, Any] | None] = lambda _id: None
    # delegate id -> this device's accepted scans, oldest first: [{direction, scanned_at}]
    history: Callable[[int], list[Mapping[str, Any]]] = lambda _id: []


@dataclass(frozen=True, slots=True)
class Verdict:
    """The offline answer: the service's result word, a tone for the door, who it was."""

    result: str
    tone: str
    message: Msg
    delegate: Mapping[str, Any] | None = None
    claims: Claims | None = None
    moved: bool = False
    reentry: bool = False
    first: Mapping[str, Any] | None = None

    @property
    def delegate_id(self) -> int | None:
        return None if self.claims is None else self.claims.delegate_id


def hhmm(moment: str | datetime, zone: ZoneInfo) -> str:
    """A time for people, in the conference's zone: 07:42."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(zone).strftime("%H:%M")


def window_verdict(now: datetime, ctx: Context) -> Verdict | None:
    """`not_open` / `closed` by the kiosk's clock, or None inside the window."""
    w = ctx.window
    if w.signed_off or now >= w.ends_at:
        return Verdict("closed", RED, MESSAGES["closed"])
    if now < w.opens_at:
        at = hhmm(w.opens_at, ctx.zone)
        day = w.opens_at.astimezone(ctx.zone).strftime("%d/%m")
        return Verdict(
            "not_open",
            RED,
            Msg(f"Chưa mở điểm danh (mở lúc {at} {day})", f"Check-in opens at {at} on {day}"),
        )
    return None


def judge(qr: str, direction: str, now: datetime, ctx: Context) -> Verdict:
    """The offline answer to one scanned code."""
    try:
        claims = ctx.verifier.verify(qr)
    except InvalidCredential as exc:
        # As the service does: once signed off, every scan is `closed`, codes unread.
        if ctx.window.signed_off:
            return Verdict("closed", RED, MESSAGES["closed"])
        return Verdict("invalid", RED, exc.message)
    row = ctx.roster(claims.delegate_id)
    person = _person(claims, row)
    refused = _refusal(claims, row, now, ctx)
    if refused is not None:
        return _naming(refused, person, claims)
    other = _other_site(claims, row, ctx)
    if other and ctx.other_site == "reject":
        return Verdict("wrong_site", RED, MESSAGES["wrong_site"], person, claims)
    return _admit(claims, person, direction, other, row is None, ctx)


def _person(claims: Claims, row: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if row is None:
        return {"id": claims.delegate_id, "full_name": None}
    keep = ("id", "full_name", "category", "unit_code", "site_code", "external_id")
    return {k: row.get(k) for k in keep}


def _naming(verdict: Verdict, person: Mapping[str, Any], claims: Claims) -> Verdict:
    return Verdict(verdict.result, verdict.tone, verdict.message, person, claims)


def _refusal(
    claims: Claims, row: Mapping[str, Any] | None, now: datetime, ctx: Context
) -> Verdict | None:
    """A revoked or superseded code, or a scan outside the window."""
    # A code older than the roster's version was reissued (or its delegate moved); a newer
    # one means the snapshot is stale, and the signature is trusted until the service says.
    stale = row is not None and (row["revoked"] or claims.version < row["credential_version"])
    if stale and not ctx.window.signed_off:
        return Verdict("revoked", RED, MESSAGES["revoked"])
    return window_verdict(now, ctx)


def _other_site(claims: Claims, row: Mapping[str, Any] | None, ctx: Context) -> bool:
    """Whether the code's delegate belongs to another site than this kiosk's."""
    if row is not None and row.get("site_code"):
        return bool(row["site_code"] != ctx.site_code)
    # Not in the snapshot, and no site number to compare (a service older than site.id):
    # the kiosk cannot tell, so it neither refuses nor calls it a move; amber, and the
    # service decides.
    return ctx.site_id is not None and claims.site_id != ctx.site_id


def _admit(
    claims: Claims,
    person: Mapping[str, Any],
    direction: str,
    other: bool,
    unlisted: bool,
    ctx: Context,
) -> Verdict:
    """Accepted, duplicate, exit or re-entry, from this device's own earlier scans."""
    seen = ctx.history(claims.delegate_id)
    last = seen[-1] if seen else None
    if direction == "out":
        return _exit(claims, person, last, ctx)
    if last is not None and last["direction"] == "in":
        first = next(s for s in seen if s["direction"] == "in")
        at = hhmm(first["scanned_at"], ctx.zone)
        msg = Msg(f"Đã điểm danh lúc {at}", f"Already checked in at {at}")
        where = {"scanned_at": first["scanned_at"], "site_code": ctx.site_code}
        return Verdict("duplicate", RED, msg, person, claims, first=where)
    # The last accepted scan here was an exit: an entry before it makes this a re-entry.
    reentry = any(s["direction"] == "in" for s in seen)
    if other:
        return Verdict("accepted", AMBER, MESSAGES["moved"], person, claims, True, reentry)
    if unlisted:
        return Verdict("accepted", AMBER, MESSAGES["unlisted"], person, claims, False, reentry)
    if reentry:
        return Verdict("accepted", AMBER, MESSAGES["reentry"], person, claims, False, True)
    return Verdict("accepted", GREEN, MESSAGES["accepted"], person, claims)


def _exit(
    claims: Claims, person: Mapping[str, Any], last: Mapping[str, Any] | None, ctx: Context
) -> Verdict:
    """An exit: after an entry here green, with none seen amber, after an exit an amber
    duplicate ("already out")."""
    if last is None:
        return Verdict("accepted", AMBER, MESSAGES["exit_unseen"], person, claims)
    if last["direction"] == "out":
        at = hhmm(last["scanned_at"], ctx.zone)
        msg = Msg(f"Đã ghi nhận ra lúc {at}", f"Already out since {at}")
        return Verdict("duplicate", AMBER, msg, person, claims)  # leaving anyway: look
    return Verdict("accepted", GREEN, MESSAGES["exit"], person, claims)


def judge_walk_in(now: datetime, ctx: Context) -> Verdict:
    """A walk-in is recorded whenever the window is open."""
    return window_verdict(now, ctx) or Verdict("accepted", GREEN, MESSAGES["walk_in"])
