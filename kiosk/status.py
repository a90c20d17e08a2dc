"""`diemcau kiosk status`: the queue, the last sync, the link, the conference and the site.

Read from the kiosk file alone (no network), so it answers while the link is down and
while `diemcau kiosk run` holds the file. Never shows the token.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from diemcau.cli import say
from diemcau.errors import Msg
from diemcau.kiosk.store import Store

LABELS = {
    "conference": Msg("Hội nghị", "Conference"),
    "site": Msg("Điểm cầu", "Site"),
    "device": Msg("Máy", "Device"),
    "service": Msg("Dịch vụ", "Service"),
    "queue": Msg("Hàng đợi", "Queue"),
    "last_sync": Msg("Đồng bộ lần cuối", "Last sync"),
    "link": Msg("Kết nối", "Link"),
    "roster": Msg("Danh sách", "Roster"),
    "clock": Msg("Đồng hồ", "Clock"),
    "headcounts": Msg("Số người đếm", "Headcounts"),
    "file": Msg("Tệp", "File"),
}
QUEUE = Msg(
    "{pending} chờ gửi, {done} đã gửi, {set_aside} bị từ chối (để riêng)",
    "{pending} waiting, {done} sent, {set_aside} refused (set aside)",
)
LINKS = {
    "connected": Msg("đã kết nối", "connected"),
    "offline": Msg("mất kết nối, đang thử lại", "offline, retrying"),
    "revoked": Msg("máy đã bị thu hồi", "this kiosk was revoked"),
    "stopped": Msg("không chạy", "not running"),
    "connecting": Msg("đang kết nối", "connecting"),
}
RUNNING = {
    True: Msg("diemcau kiosk run đang chạy", "diemcau kiosk run is running"),
    False: Msg("diemcau kiosk run không chạy", "diemcau kiosk run is not running"),
}
ROSTER = Msg("{n} đại biểu, cập nhật {at}", "{n} delegates, refreshed {at}")
TOO_LARGE = Msg("quá lớn để tải, máy kiểm tra chữ ký thôi", "too large to hold; signatures only")
NEVER = Msg("chưa", "never")
CLOCK = Msg("dịch vụ lệch {:+d} s so với máy", "the service is {:+d} s off this device")
UNKNOWN = Msg("chưa rõ", "not known yet")
SINCE = Msg("từ", "since")


def report(store: Store, running: bool | None) -> dict[str, Any]:
    """What status shows, as data (also the --json output)."""
    conference = store.get("conference") or {}
    site = store.get("site") or {}
    link = store.get("link_state") or "stopped"
    if running is False and link != "revoked":
        link = "stopped"  # a run that was killed left its last state behind
    return {
        "conference": {k: conference.get(k) for k in ("code", "title", "status", "timezone")},
        "site": {k: site.get(k) for k in ("code", "name", "unit_code")},
        "device": (store.get("kiosk") or {}).get("device_name"),
        "service": store.get("url"),
        "queue": store.counts(),
        "headcounts": store.headcount_counts(),
        "last_sync_at": store.get("last_sync_at"),
        "link": {
            "state": link,
            "since": store.get("link_since"),
            "error": store.get("link_error"),
            "running": running,
        },
        "roster": {
            "delegates": store.roster_size(),
            "refreshed_at": store.get("roster_synced_at"),
            "state": store.get("roster_state"),
            "error": store.get("roster_error"),
        },
        "clock_offset_s": store.get("clock_offset_s"),
        "set_aside": store.set_aside_scans(),
        "file": str(store.path),
    }


def when(text: str | None, zone: ZoneInfo, lang: str) -> str:
    return say.when(text, zone) if text else NEVER.text(lang)


def lines(data: dict[str, Any], lang: str, zone: ZoneInfo) -> list[str]:
    conf, site, link, roster = data["conference"], data["site"], data["link"], data["roster"]
    state = LINKS.get(link["state"], Msg(link["state"], link["state"])).text(lang)
    if link["since"]:
        state += f" ({SINCE.text(lang)} {when(link['since'], zone, lang)})"
    if link["error"] and link["state"] == "offline":
        state += f": {link['error']}"
    if link["running"] is not None and link["state"] != "stopped":
        state += f"; {RUNNING[link['running']].text(lang)}"
    held = ROSTER.text(lang).format(
        n=say.number(roster["delegates"]), at=when(roster["refreshed_at"], zone, lang)
    )
    offset = data["clock_offset_s"]
    clock = UNKNOWN.text(lang) if offset is None else CLOCK.text(lang).format(round(offset))
    if roster["state"] == "too_large":
        held = TOO_LARGE.text(lang)
    rows = [
        ("conference", f"{conf['code']} — {conf['title']} ({say.word(conf['status'] or '-')})"),
        ("site", f"{site['code']} — {site['name']}"),
        ("device", data["device"] or "-"),
        ("service", data["service"] or "-"),
        ("queue", QUEUE.text(lang).format(**{k: say.number(n) for k, n in data["queue"].items()})),
        (
            "headcounts",
            QUEUE.text(lang).format(**{k: say.number(n) for k, n in data["headcounts"].items()}),
        ),
        ("last_sync", when(data["last_sync_at"], zone, lang)),
        ("link", state),
        ("roster", held),
        ("clock", clock),
        ("file", data["file"]),
    ]
    width = max(len(LABELS[k].text(lang)) for k, _ in rows)
    out = [f"{LABELS[k].text(lang):<{width}}  {v}" for k, v in rows]
    out += [
        f"  - {s['scan_id']} {when(s['scanned_at'], zone, lang)}: {s['note']}"
        for s in data["set_aside"]
    ]
    return out


def show(data: dict[str, Any], lang: str, zone: ZoneInfo, *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines(data, lang, zone)))
