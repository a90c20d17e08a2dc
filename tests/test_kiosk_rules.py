"""The web kiosk judges a scan by the service's rule: kiosk/web/rules.js, run in
Chromium, against diemcau.checkin.rules on the cases of test_checkin_rules.py and on
random timelines (every verdict the same, in every arrival order); and the page's
`judge` takes the gates in the service's order with what a kiosk holds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from diemcau import credentials
from diemcau.checkin import timeline
from diemcau.checkin.rules import Verdict, Window, decide, gate
from diemcau.checkin.timeline import Entry
from tests.browser import Browser, require_browser
from tests.test_checkin_rules import HOME, NOW, OTHER, WINDOW, entry
from tests.test_kiosk_page import KEY, KID, _jwk

MS = 1000  # Entry.at is in microseconds; the page's `at` in milliseconds


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    browser = Browser(require_browser())
    yield browser
    browser.close()


@pytest.fixture
async def page(chromium: Browser, aiohttp_server: Any, app: Any, db: Any) -> Any:
    server = await aiohttp_server(app)
    context, tab = await chromium.new_page(str(server.make_url("/")))
    await chromium.run(tab.goto("/kiosk"))
    yield tab
    await chromium.run(context.close())


def js_entry(e: Entry) -> dict[str, Any]:
    return {"at": e.at // MS, "inward": e.inward, "site": e.site_id, "scan_id": e.scan_id.hex()}


def said(verdict: Verdict | None) -> dict[str, Any] | None:
    """A verdict as both languages can tell it: the entry it names by its scan."""
    if verdict is None:
        return None
    return {
        "result": verdict.result,
        "reason": verdict.reason,
        "moved": verdict.moved,
        "reentry": verdict.reentry,
        "checked_in": verdict.checked_in,
        "first": verdict.first.scan_id.hex() if verdict.first else None,
    }


# Each case: a timeline built in arrival order, every scan judged as it arrives.
DECIDE_JS = """async (cases) => {
  const rules = await import('/kiosk/rules.js');
  return cases.map((arrivals) => {
    const entries = [];
    const out = arrivals.map(([e, moved]) => {
      const v = rules.decide(entries, e, moved);
      return {result: v.result, reason: v.reason, moved: v.moved, reentry: v.reentry,
              checked_in: v.checked_in, first: v.first ? v.first.scan_id : null};
    });
    return {verdicts: out, kept: entries.map((e) => e.scan_id)};
  });
}"""


def python_decisions(cases: list[list[tuple[Entry, bool]]]) -> list[dict[str, Any]]:
    out = []
    for arrivals in cases:
        entries: list[Entry] = []
        verdicts = [said(decide(entries, e, moved)) for e, moved in arrivals]
        out.append({"verdicts": verdicts, "kept": [e.scan_id.hex() for e in entries]})
    return out


def cases_of_test_checkin_rules() -> list[list[tuple[Entry, bool]]]:
    full = sorted(
        (entry(i % 60, n=i // 60) for i in range(timeline.MAX_ENTRIES)), key=lambda e: e.at
    )
    return [
        [(entry(10), False), (entry(12, n=1), False)],  # first entry, then a duplicate
        [(entry(10, site=OTHER), True), (entry(5), False)],  # an earlier scan arrives late
        [(entry(10, site=OTHER), True), (entry(10, n=1), False)],  # a tie: first to arrive
        [  # exits and re-entries
            (entry(10), False),
            (entry(20, inward=False), False),
            (entry(21, inward=False, n=1), False),
            (entry(30), False),
        ],
        [(entry(10, inward=False), False)],  # an exit before any entry
        [*((e, False) for e in full), (entry(0, n=99), False)],  # a full timeline
    ]


def random_cases(n: int) -> list[list[tuple[Entry, bool]]]:
    rng = random.Random(22)
    cases = []
    for _ in range(n):
        scans = [
            entry(rng.randint(0, 30), rng.random() < 0.6, rng.choice((HOME, OTHER)), k)
            for k in range(rng.randint(1, 12))
        ]
        rng.shuffle(scans)
        cases.append([(e, e.site_id != HOME) for e in scans])
    return cases


def to_js(cases: list[list[tuple[Entry, bool]]]) -> list[list[list[Any]]]:
    return [[[js_entry(e), moved] for e, moved in arrivals] for arrivals in cases]


async def test_the_page_decides_as_the_service_on_the_rules_cases(
    chromium: Browser, page: Any
) -> None:
    cases = cases_of_test_checkin_rules()
    got = await chromium.run(page.evaluate(DECIDE_JS, to_js(cases)))
    assert got == python_decisions(cases)
    # What the cases are about, read from the page's answers.
    first, late, tie, exits, exit_first, full = got
    assert [v["result"] for v in first["verdicts"]] == ["accepted", "duplicate"]
    assert late["verdicts"][1]["result"] == "accepted" and late["kept"][0] == js(entry(5))
    assert tie["verdicts"][1]["result"] == "duplicate"
    assert [(v["result"], v["reason"], v["reentry"]) for v in exits["verdicts"]] == [
        ("accepted", None, False),
        ("accepted", None, False),
        ("duplicate", "already_out", False),
        ("accepted", None, True),
    ]
    assert exit_first["verdicts"][0]["checked_in"] is False
    assert len(full["kept"]) == timeline.MAX_ENTRIES


def js(e: Entry) -> str:
    return e.scan_id.hex()


async def test_the_page_decides_as_the_service_on_random_timelines(
    chromium: Browser, page: Any
) -> None:
    cases = random_cases(300)
    assert await chromium.run(page.evaluate(DECIDE_JS, to_js(cases))) == python_decisions(cases)


GATE_JS = """async (cases) => {
  const rules = await import('/kiosk/rules.js');
  return cases.map(([w, judged, refusal, home, here]) => {
    const [v, moved] = rules.gate(w, judged, refusal, home, here);
    return [v ? v.result : null, moved];
  });
}"""


async def test_the_page_takes_the_gates_in_the_service_s_order(
    chromium: Browser, page: Any
) -> None:
    def window(signed_off: bool = False, reject: bool = False) -> dict[str, Any]:
        return {
            "opens_at": WINDOW.opens_at.timestamp() * 1000,
            "ends_at": WINDOW.ends_at.timestamp() * 1000,
            "signed_off": signed_off,
            "reject_other_site": reject,
        }

    def ms(delta: timedelta = timedelta()) -> float:
        return (NOW + delta).timestamp() * 1000

    early = WINDOW.opens_at - NOW - timedelta(seconds=1)
    late = WINDOW.ends_at - NOW
    revoked = {"result": "revoked"}
    cases = [
        [window(signed_off=True), ms(), revoked, HOME, HOME],
        [window(), ms(early), revoked, HOME, HOME],
        [window(), ms(early), None, HOME, HOME],
        [window(), ms(late), None, HOME, HOME],
        [window(), ms(), None, HOME, HOME],
        [window(), ms(), None, HOME, OTHER],
        [window(reject=True), ms(), None, HOME, OTHER],
        [window(reject=True), ms(), None, None, OTHER],
    ]
    got = await chromium.run(page.evaluate(GATE_JS, cases))
    expected = []
    for w, judged, refusal, home, here in cases:
        py_window = Window(WINDOW.opens_at, WINDOW.ends_at, w["signed_off"], w["reject_other_site"])
        py_refusal = Verdict(refusal["result"]) if refusal else None
        moment = NOW + timedelta(milliseconds=judged - ms())
        verdict, moved = gate(py_window, moment, py_refusal, home, here)
        expected.append([verdict.result if verdict else None, moved])
    assert got == expected
    assert [r for r, _ in got] == [
        "closed",
        "revoked",
        "not_open",
        "closed",
        None,
        None,
        "wrong_site",
        None,
    ]


# The page's `judge` with a kiosk's knowledge: a roster, this device's timelines, keys.
JUDGE_JS = """async ([jwks, conference, roster, scans]) => {
  const { judge } = await import('/kiosk/judge.js');
  const { Verifier, conferenceOf } = await import('/kiosk/credential.js');
  const timelines = new Map();
  const ctx = {
    conference, site: {id: 42, code: 'TD-02', name: 'Nhà văn hóa'},
    verifier: new Verifier(jwks, {conferenceId: conferenceOf(jwks)}),
    roster: async (id) => roster[id] ?? null,
    timeline: async (id) => timelines.get(id) ?? [],
    siteName: (code) => ({'TD-01': 'Hội trường'})[code] ?? null,
  };
  const out = [];
  for (const scan of scans) {
    const v = await judge(ctx, scan);
    if (v.entry) {  // as the kiosk keeps it
      const entries = [...(timelines.get(v.delegate_id) ?? []), v.entry];
      timelines.set(v.delegate_id, entries);
    }
    out.push([v.result, v.reason ?? null, v.reentry ?? null, v.first ? 1 : 0]);
  }
  return out;
}"""


async def test_the_page_s_judge_follows_the_rules_with_a_kiosk_s_knowledge(
    chromium: Browser, page: Any
) -> None:
    """A second exit is a duplicate ("already out"), the next entry a re-entry; a code
    older than the roster's is `revoked` even before the window opens (the code's step
    comes first), and once signed off every scan is `closed`, a bad code's too."""
    jwks = {"keys": [_jwk(KID, KEY, 7)]}
    code = credentials.sign(credentials.Claims(KID, 7, 5, 42, 1), KEY)
    old = credentials.sign(credentials.Claims(KID, 7, 6, 42, 1), KEY)
    roster = {
        "5": {"id": 5, "full_name": "A", "site_code": "TD-02", "credential_version": 1},
        "6": {"id": 6, "full_name": "B", "site_code": "TD-02", "credential_version": 2},
    }
    opened = {
        "checkin_opens_at": "2000-01-01T00:00:00Z",
        "ends_at": "2199-01-01T00:00:00Z",
        "status": "open",
        "policy": {"other_site": "accept"},
    }

    def at(minute: int, direction: str = "in", qr: str = code) -> dict[str, Any]:
        return {
            "scan_id": f"s{minute}",
            "scanned_at": f"2026-12-15T08:{minute:02d}:00+07:00",
            "method": "qr",
            "qr": qr,
            "direction": direction,
        }

    scans = [at(1), at(2, "out"), at(3, "out"), at(4), at(5)]
    got = await chromium.run(page.evaluate(JUDGE_JS, [jwks, opened, roster, scans]))
    assert got == [
        ["accepted", None, False, 0],
        ["accepted", None, False, 0],
        ["duplicate", "already_out", False, 1],
        ["accepted", None, True, 0],
        ["duplicate", None, False, 1],
    ]
    not_yet = {**opened, "checkin_opens_at": "2199-01-01T00:00:00Z"}
    signed_off = {**opened, "status": "signed_off"}
    got = await chromium.run(
        page.evaluate(JUDGE_JS, [jwks, not_yet, roster, [at(1, qr=old), at(2)]])
    )
    assert [g[0] for g in got] == ["revoked", "not_open"]
    got = await chromium.run(
        page.evaluate(JUDGE_JS, [jwks, signed_off, roster, [at(1, qr="NOT A CODE"), at(2)]])
    )
    assert [g[0] for g in got] == ["closed", "closed"]
