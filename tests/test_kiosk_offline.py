"""The kiosk's offline check: the answer the door gets before the service has a say.

No database and no network: codes are signed here with a key of our own, exactly as the
service signs them (diemcau.credentials), and the roster and history are plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from diemcau import credentials
from diemcau.credentials import Claims, Verifier
from diemcau.kiosk.offline import AMBER, GREEN, RED, Context, Window, judge, judge_walk_in

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CONF_ID, OUR_SITE_ID, OTHER_SITE_ID = 7, 31, 32
OPENS = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)  # 07:00 in Hà Nội
ENDS = OPENS + timedelta(hours=5)
DURING = OPENS + timedelta(minutes=42)
KEY = Ed25519PrivateKey.generate()
KID = "0A0B0C0D"


def jwks(key: Ed25519PrivateKey = KEY, kid: str = KID, conf: int = CONF_ID) -> dict[str, Any]:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"keys": [credentials.jwk(kid, raw, conference="HN1", conference_id=conf)]}


def code(delegate: int, site: int = OUR_SITE_ID, version: int = 1, **kw: Any) -> str:
    claims = Claims(kw.get("kid", KID), kw.get("conf", CONF_ID), delegate, site, version)
    return credentials.sign(claims, kw.get("key", KEY))


def tampered(text: str, at: int) -> str:
    """The code with one base32 character changed (all of its bits in use there)."""
    new = "B" if text[at] == "A" else "A"
    return text[:at] + new + text[at + 1 :]


ROSTER = {
    1: {"id": 1, "full_name": "Nguyễn Văn An", "category": "member", "site_code": "LC-01",
        "unit_code": "LC", "credential_version": 1, "revoked": False},
    2: {"id": 2, "full_name": "Lò Thị Bình", "category": "non_member", "site_code": "LC-02",
        "unit_code": "LC", "credential_version": 1, "revoked": False},
    3: {"id": 3, "full_name": "Trần Văn Cường", "category": "guest", "site_code": "LC-01",
        "unit_code": "LC", "credential_version": 2, "revoked": False},
    4: {"id": 4, "full_name": "Phạm Thị Dung", "category": "member", "site_code": "LC-01",
        "unit_code": "LC", "credential_version": 1, "revoked": True},
}  # fmt: skip


def context(history: Mapping[int, list[dict[str, Any]]] | None = None, **kw: Any) -> Context:
    seen = history or {}
    return Context(
        verifier=Verifier(jwks(), conference_id=CONF_ID),
        site_code="LC-01",
        window=Window(OPENS, ENDS, kw.get("signed_off", False)),
        zone=ZONE,
        other_site=kw.get("other_site", "accept"),
        site_id=kw.get("site_id"),
        roster=ROSTER.get,
        history=lambda d: seen.get(d, []),
    )


def test_own_delegate_in_the_window_is_green_with_the_name() -> None:
    v = judge(code(1), "in", DURING, context())
    assert (v.result, v.tone, v.moved, v.reentry) == ("accepted", GREEN, False, False)
    assert v.delegate is not None and v.delegate["full_name"] == "Nguyễn Văn An"
    assert v.delegate_id == 1 and v.message.en == "Welcome"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (tampered(code(1), -50), "bad_signature"),  # a signature character changed
        (tampered(code(1), 20), "bad_signature"),  # the delegate number changed
        (code(1).lower(), "lowercase"),
        (code(1)[:60], "malformed"),
        ("", "malformed"),
        ("https://example.org/kiosk#enroll=7KQ4MZ2P".upper(), "malformed"),
        (code(1, conf=8), "wrong_conference"),
        (code(1, kid="FFFFFFFF"), "unknown_key"),
        (code(1, key=Ed25519PrivateKey.generate()), "bad_signature"),
    ],
)
def test_anything_but_a_genuine_code_of_this_conference_is_invalid(text: str, reason: str) -> None:
    v = judge(text, "in", DURING, context())
    assert (v.result, v.tone) == ("invalid", RED)
    assert v.message == credentials.REASONS[reason]
    assert v.delegate is None


def test_a_revoked_delegate_or_an_older_code_is_revoked_and_named() -> None:
    revoked = judge(code(4), "in", DURING, context())
    assert (revoked.result, revoked.tone) == ("revoked", RED)
    assert revoked.delegate is not None and revoked.delegate["full_name"] == "Phạm Thị Dung"
    old = judge(code(3, version=1), "in", DURING, context())  # the roster holds version 2
    assert old.result == "revoked" and old.delegate is not None
    assert old.delegate["full_name"] == "Trần Văn Cường"


def test_a_code_newer_than_the_roster_trusts_the_signature() -> None:
    v = judge(code(1, version=2), "in", DURING, context())
    assert v.result == "accepted"


def test_the_window_follows_the_kiosk_clock() -> None:
    early = judge(code(1), "in", OPENS - timedelta(minutes=1), context())
    assert (early.result, early.tone) == ("not_open", RED)
    assert "07:00" in early.message.vi and "16/03" in early.message.en
    assert early.delegate is not None and early.delegate["id"] == 1
    assert judge(code(1), "in", OPENS, context()).result == "accepted"
    assert judge(code(1), "in", ENDS - timedelta(seconds=1), context()).result == "accepted"
    late = judge(code(1), "in", ENDS, context())
    assert (late.result, late.tone) == ("closed", RED)
    signed = context(signed_off=True)  # closed before anything else, as the service says
    assert judge(code(1), "in", DURING, signed).result == "closed"
    assert judge(code(4), "in", DURING, signed).result == "closed"
    assert judge("JUNK", "in", DURING, signed).result == "closed"


def test_another_sites_delegate_follows_the_policy() -> None:
    moved = judge(code(2, site=OTHER_SITE_ID), "in", DURING, context())
    assert (moved.result, moved.tone, moved.moved) == ("accepted", AMBER, True)
    refused = judge(code(2, site=OTHER_SITE_ID), "in", DURING, context(other_site="reject"))
    assert (refused.result, refused.tone) == ("wrong_site", RED)
    assert refused.delegate is not None and refused.delegate["full_name"] == "Lò Thị Bình"


def test_a_delegate_missing_from_the_roster_is_placed_by_the_codes_site() -> None:
    ours = judge(code(99), "in", DURING, context(site_id=OUR_SITE_ID))
    assert (ours.result, ours.tone, ours.moved) == ("accepted", AMBER, False)
    assert ours.delegate == {"id": 99, "full_name": None}
    moved = judge(code(99, site=OTHER_SITE_ID), "in", DURING, context(site_id=OUR_SITE_ID))
    assert (moved.result, moved.tone, moved.moved) == ("accepted", AMBER, True)
    assert moved.message.en == "Delegate of another site, accepted"
    theirs = context(site_id=OUR_SITE_ID, other_site="reject")
    assert judge(code(99, site=OTHER_SITE_ID), "in", DURING, theirs).result == "wrong_site"
    # With no site number known the kiosk cannot tell: amber, and the service decides.
    unknown = judge(code(99, site=OTHER_SITE_ID), "in", DURING, context(other_site="reject"))
    assert (unknown.result, unknown.tone, unknown.moved) == ("accepted", AMBER, False)


def test_a_second_entry_on_this_device_is_a_duplicate_naming_the_first() -> None:
    first = (OPENS + timedelta(minutes=5)).isoformat()
    seen = {1: [{"direction": "in", "scanned_at": first}]}
    v = judge(code(1), "in", DURING, context(seen))
    assert (v.result, v.tone) == ("duplicate", RED)  # perhaps a colleague's badge
    assert "07:05" in v.message.vi and v.first == {"scanned_at": first, "site_code": "LC-01"}


def test_exits_reentries_and_a_second_exit() -> None:
    at = OPENS.isoformat()
    out = judge(code(1), "out", DURING, context({1: [{"direction": "in", "scanned_at": at}]}))
    assert (out.result, out.tone) == ("accepted", GREEN)
    unseen = judge(code(1), "out", DURING, context())  # no entry seen on this device
    assert (unseen.result, unseen.tone) == ("accepted", AMBER)
    both = {1: [{"direction": "in", "scanned_at": at}, {"direction": "out", "scanned_at": at}]}
    back = judge(code(1), "in", DURING, context(both))
    assert (back.result, back.tone, back.reentry) == ("accepted", AMBER, True)
    assert back.message.en == "Re-entry"
    only_out = context({1: [{"direction": "out", "scanned_at": at}]})
    entry = judge(code(1), "in", DURING, only_out)  # an exit with no entry before it
    assert (entry.result, entry.tone, entry.reentry) == ("accepted", GREEN, False)
    again = judge(code(1), "out", DURING, context(both))
    assert (again.result, again.tone, again.message.en) == (
        "duplicate",
        AMBER,  # the person leaves anyway: the door looks, as the web kiosk
        "Already out since 07:00",
    )


def test_walk_ins_are_recorded_inside_the_window_only() -> None:
    assert judge_walk_in(DURING, context()).result == "accepted"
    assert judge_walk_in(OPENS - timedelta(seconds=1), context()).result == "not_open"
    assert judge_walk_in(DURING, context(signed_off=True)).result == "closed"
