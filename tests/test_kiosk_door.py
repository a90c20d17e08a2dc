"""The kiosk file and the door, without a service: what is kept, and in which order.

The invariant: a scan is committed to the kiosk's SQLite file before the door is shown
its answer, and a file reopened (a restarted kiosk) holds every scan not yet answered.
"""

from __future__ import annotations

import io
import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from diemcau.kiosk.display import Printer, tone_of
from diemcau.kiosk.door import Door, parse_walk_in
from diemcau.kiosk.offline import AMBER, GREEN, RED
from diemcau.kiosk.store import RunLock, Store
from tests.test_kiosk_offline import CONF_ID, DURING, ENDS, OPENS, ROSTER, ZONE, code, jwks


def enrolled(path: Path, **conference: Any) -> Store:
    store = Store(path)
    store.set(
        token="dc_secret",
        url="http://127.0.0.1:9",
        conference={
            "code": "HN1",
            "title": "Hội nghị",
            "checkin_opens_at": OPENS.isoformat(),
            "ends_at": ENDS.isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "status": "live",
            "policy": {"other_site": "accept"},
            **conference,
        },
        site={"code": "LC-01", "name": "Hội trường", "unit_code": "LC"},
        keys=jwks(),
    )
    store.replace_roster(ROSTER.values())
    return store


class Committed(io.StringIO):
    """A terminal that checks, at every line it is shown, that the scans are on disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.seen: list[int] = []

    def write(self, text: str) -> int:
        if text.strip():
            other = sqlite3.connect(self.path)  # another connection sees committed rows only
            self.seen.append(other.execute("SELECT count(*) FROM scans").fetchone()[0])
            other.close()
        return super().write(text)


def test_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "kiosk.db"
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_each_scan_is_committed_before_it_is_shown(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    screen = Committed(store.path)
    door = Door(store, Printer("vi", ZONE, screen))
    door.line(code(1) + "\r\n", now=DURING)
    door.line("GARBAGE", now=DURING)
    door.line("+Nguyễn Văn Khách", now=DURING)
    door.line("   ", now=DURING)
    assert screen.seen == [1, 2, 3]
    lines = screen.getvalue().splitlines()
    assert lines[0].startswith("✓ 07:42:00 VÀO — Nguyễn Văn An (đảng viên, LC-01)")
    assert lines[1].startswith("✗") and "định dạng" in lines[1]
    assert "\033[" not in screen.getvalue()  # not a terminal: no colour


def test_a_reopened_file_keeps_the_queue_in_order(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    door = Door(store, Printer("en", ZONE, io.StringIO()))
    for delegate in (1, 2, 3):
        door.code(code(delegate, version=2 if delegate == 3 else 1), now=DURING)
    ids = [p.scan_id for p in store.pending(10)]
    store.close()
    again = Store(tmp_path / "k.db")
    assert [p.scan_id for p in again.pending(10)] == ids
    assert len(set(ids)) == 3
    assert [p.scan_id for p in again.pending(10, after=again.pending(1)[0].seq)] == ids[1:]


def test_answers_leave_the_queue_and_the_services_word_wins(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    door = Door(store, Printer("vi", ZONE, io.StringIO()))
    assert door.code(code(1), now=DURING).result == "accepted"
    scan_id = store.pending(1)[0].scan_id
    # The service says someone was checked in first elsewhere: this device's next scan of
    # the same badge is then no duplicate of an accepted one here.
    store.answer([{"scan_id": scan_id, "result": "duplicate"}], "2026-03-16T00:43:00+00:00")
    assert store.counts() == {"pending": 0, "done": 1, "set_aside": 0}
    assert door.code(code(1), now=DURING + timedelta(minutes=1)).result == "accepted"
    assert door.code(code(1), now=DURING + timedelta(minutes=2)).result == "duplicate"
    assert store.requeue_answered() == 1
    assert store.counts()["pending"] == 3


def test_set_aside_scans_leave_the_queue_but_stay_in_the_file(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    Door(store, Printer("vi", ZONE, io.StringIO())).code(code(1), now=DURING)
    scan_id = store.pending(1)[0].scan_id
    store.set_aside(scan_id, "scan_conflict")
    assert store.pending(10) == [] and store.counts()["set_aside"] == 1
    assert store.set_aside_scans()[0]["note"] == "scan_conflict"


def test_the_site_number_places_codes_off_the_roster(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db", policy={"other_site": "reject"})
    door = Door(store, Printer("vi", ZONE, io.StringIO()))
    assert door.code(code(99, site=32), now=DURING).result == "accepted"  # cannot tell
    store.set(site={**store.get("site"), "id": 31})  # as the service now says
    door.reload()
    assert door.code(code(98, site=32), now=DURING).result == "wrong_site"
    assert door.code(code(97, site=31), now=DURING).result == "accepted"


def test_roster_changes_apply_removals_first(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    moved = {**ROSTER[2], "site_code": "LC-01", "credential_version": 2}
    # docs/checkin.md: a delegate moved between two sites of the scope is in both lists.
    store.update_roster([moved], removed=[2, 3])
    assert store.delegate(2) == {**moved, "revoked": 0, "external_id": None}
    assert store.delegate(3) is None and store.roster_size() == 3


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("+Nguyễn Văn B", ("Nguyễn Văn B", "non_member")),
        ("+  khách mời :  Trần   Thị C ", ("Trần Thị C", "guest")),
        ("+member: Lò Văn D", ("Lò Văn D", "member")),
        ("+Đảng viên: Lò Văn E", ("Lò Văn E", "member")),
        ("+", None),
        ("+vip: Lò Văn F", None),
        ("+guest:", None),
    ],
)
def test_walk_in_lines(line: str, expected: tuple[str, str] | None) -> None:
    assert parse_walk_in(line) == expected


def test_walk_ins_are_queued_as_walk_in_scans(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    screen = io.StringIO()
    Door(store, Printer("en", ZONE, screen)).line("+guest: Trần Thị C", now=DURING)
    body = store.pending(1)[0].body
    assert '"method":"walk_in"' in body and '"full_name":"Trần Thị C"' in body
    assert '"category":"guest"' in body and '"scanned_at":"2026-03-16T07:42:00.000+07:00"' in body
    assert "Trần Thị C (guest) — Walk-in recorded" in screen.getvalue()


def test_colour_only_on_a_terminal_and_never_with_no_color(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    store = enrolled(tmp_path / "k.db")
    screen = Terminal()
    Door(store, Printer("vi", ZONE, screen)).code(code(4), now=DURING)
    assert screen.getvalue().startswith("\033[1;31m✗")
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    Door(store, Printer("vi", ZONE, plain)).code(code(4), now=DURING)
    assert plain.getvalue().startswith("✗ ") and "Phạm Thị Dung" in plain.getvalue()


def test_one_run_per_file(tmp_path: Path) -> None:
    first, second = RunLock(tmp_path / "k.db"), RunLock(tmp_path / "k.db")
    assert first.acquire()
    assert second.alive() is True and not second.acquire()
    first.release()
    assert second.alive() is False and second.acquire()
    second.release()
    assert os.stat(first.path).st_mode & 0o077 == 0


def test_conference_number_comes_from_the_keys(tmp_path: Path) -> None:
    store = enrolled(tmp_path / "k.db")
    door = Door(store, Printer("vi", ZONE, io.StringIO()))
    assert door.ctx.verifier.conference_id == CONF_ID


def test_the_services_answer_is_shown_in_the_web_kiosks_colours() -> None:
    assert tone_of({"result": "accepted"}) == GREEN
    assert tone_of({"result": "accepted", "moved": True}) == AMBER
    assert tone_of({"result": "accepted", "direction": "out", "checked_in": False}) == AMBER
    assert tone_of({"result": "duplicate"}) == RED
    assert tone_of({"result": "duplicate", "direction": "out"}) == AMBER
    screen = io.StringIO()
    answer = {"result": "duplicate", "delegate": {"id": 1, "full_name": "Nguyễn Văn An"},
              "first": {"scanned_at": "2026-03-16T00:05:00+00:00", "site_code": "LC-02"},
              "message": {"vi": "Đã điểm danh", "en": "Already checked in"}}  # fmt: skip
    Printer("en", ZONE, screen).correction(answer, "accepted")
    assert screen.getvalue() == (
        "✗ The service answered otherwise — Nguyễn Văn An — Already checked in (07:05 at LC-02)"
        " — [the kiosk said: accepted]\n"
    )
