"""The dashboard page in Chromium on a large board: time to first paint, time until the
board is drawn, and a scroll through the virtualised site table.

    python -m bench.live_page                       # 40,000 sites, 200,000 delegates
    python -m bench.live_page --sites 2000 --delegates 10000     # a smoke run

Builds its own world (check-in bench's sites: one unit per ten sites under one root,
one conference over all of them, a roster by COPY), runs `diemcau serve`, opens
`/dashboard/{conference}` in Debian's Chromium through playwright with a viewer token in
the address's fragment, and reads the browser's own first-contentful-paint and the
page's `diemcau:first-board` mark (the first board drawn: totals, units, the table's
visible rows). Then it scrolls the site table from top to bottom in `--scroll-seconds`
(scrollTop moved each frame) and records every frame's duration, with the number of
rows in the DOM (virtualised: only those in sight). `bench/live.py --first-paint` calls
`first_paint` on its own world. Table on stdout, JSON in bench/results/live_page.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench import procs
from bench.checkin import SECRET
from bench.checkin_world import copy_roster, make_conference, make_sites
from bench.common import bench_database, free_port, say, write_results
from diemcau import auth
from diemcau.db import connect

CHROMIUM = "/usr/bin/chromium"
CONFERENCE = "PAGE0001"

# Scroll the table from top to bottom over `seconds`, one step per animation frame, and
# answer each frame's duration (ms) and the rows the DOM held.
SCROLL = """async (seconds) => {
  const rows = document.querySelector('#sites .rows');
  rows.scrollTop = 0;
  await new Promise((r) => requestAnimationFrame(r));
  const stats = window.diemcau.table.stats;
  const drawn = {draws: stats.draws, ms: stats.ms};
  stats.worst = 0;
  const end = rows.scrollHeight - rows.clientHeight;
  const frames = [];
  let most = 0;
  const t0 = performance.now();
  let last = t0;
  await new Promise((done) => {
    const step = (now) => {
      frames.push(now - last);
      last = now;
      most = Math.max(most, document.querySelectorAll('#sites .site-row').length);
      const share = Math.min(1, (now - t0) / (seconds * 1000));
      rows.scrollTop = share * end;
      if (share < 1) requestAnimationFrame(step); else done();
    };
    requestAnimationFrame(step);
  });
  // The last scroll's rows are drawn on the next frame.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const idle = [];
  let before = performance.now();
  await new Promise((done) => {
    const step = (now) => {
      idle.push(now - before);
      before = now;
      if (idle.length < 30) requestAnimationFrame(step); else done();
    };
    requestAnimationFrame(step);
  });
  const lastRow = [...document.querySelectorAll('#sites .site-row')].filter((e) => !e.hidden)
    .map((e) => e.dataset.code).pop();
  const draws = stats.draws - drawn.draws;
  return {draw_ms_mean: draws ? (stats.ms - drawn.ms) / draws : null, draw_ms_max: stats.worst,
          draws, frames: frames.slice(1), idle: idle.slice(1), rows_in_dom: most, scrolled_px: end, last_row: lastRow,
          table_rows: Number(document.getElementById('sites').dataset.rows)};
}"""


def open_url(url: str, conference: str, token: str) -> str:
    return f"{url}/dashboard/{conference}#token={token}"


def first_paint(
    url: str, conference: str, token: str, scroll_seconds: float = 5.0
) -> dict[str, Any] | str:
    """The page's timings and a scroll of its table, or why they were not measured."""
    try:
        with urllib.request.urlopen(f"{url}/dashboard/{conference}", timeout=10) as resp:
            if resp.status != 200:
                return f"the page answered {resp.status}"
    except urllib.error.HTTPError as err:
        return f"the dashboard page is not served ({err.code})"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed (pip install '.[test]')"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(open_url(url, conference, token), wait_until="load")
            page.wait_for_function(
                "() => performance.getEntriesByName('diemcau:first-board').length > 0",
                timeout=120_000,
            )
            timing = page.evaluate(
                """() => ({
                    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
                    board: performance.getEntriesByName('diemcau:first-board')[0].startTime,
                    message: performance.getEntriesByName('diemcau:first-message')[0].startTime,
                    applied: performance.getEntriesByName('diemcau:first-applied')[0].startTime,
                    dcl: performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart,
                    heap: (performance.memory || {}).usedJSHeapSize,
                })"""
            )
            scroll = page.evaluate(SCROLL, scroll_seconds)
            # Again with the service warm (its view loaded): what a reload costs.
            page.reload(wait_until="load")
            page.wait_for_function(
                "() => performance.getEntriesByName('diemcau:first-board').length > 0",
                timeout=120_000,
            )
            warm = page.evaluate(
                """() => ['first-message', 'first-applied', 'first-board'].map(
                    (n) => performance.getEntriesByName('diemcau:' + n)[0].startTime)"""
            )
        finally:
            browser.close()
    frames = sorted(scroll.pop("frames"))
    idle = sorted(scroll.pop("idle"))
    return {
        "first_contentful_paint_ms": round(timing["fcp"] or 0),
        "dom_content_loaded_ms": round(timing["dcl"]),
        "board_drawn_ms": round(timing["board"]),
        "board_drawn_warm_ms": round(warm[2]),
        "warm_received_held_drawn_ms": [round(x) for x in warm],
        # The cold load's steps: the first view parsed (ticket, socket, the service's
        # snapshot and its transfer), then held (board.apply), then drawn.
        "first_message_ms": round(timing["message"]),
        "first_applied_ms": round(timing["applied"]),
        "js_heap_mb": round((timing["heap"] or 0) / 1e6, 1),
        "scroll": {
            **scroll,
            "frames": len(frames),
            "frame_ms_p50": round(statistics.median(frames), 1),
            "frame_ms_p95": round(frames[int(0.95 * (len(frames) - 1))], 1),
            "frame_ms_max": round(frames[-1], 1),
            "frames_over_50ms": sum(1 for f in frames if f > 50),
            # The same browser doing nothing: what the machine allows a frame.
            "idle_frame_ms_p50": round(statistics.median(idle), 1),
        },
    }


async def _build(dsn: str, sites: int, delegates: int) -> str:
    """The world; answers a viewer token of the conference."""
    conn = await connect(dsn)
    try:
        say(f"building {sites:,} sites and {delegates:,} delegates ...")
        site_ids = await make_sites(conn, sites)
        conference_id = await make_conference(conn, CONFERENCE)
        await copy_roster(conn, conference_id, site_ids, delegates, seed=1)
        token, _ = await auth.create_token(conn, "viewer", conference=CONFERENCE)
        return token
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sites", type=int, default=40_000)
    p.add_argument("--delegates", type=int, default=200_000)
    p.add_argument("--scroll-seconds", type=float, default=5.0)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-page-") as tmp, bench_database() as dsn:
        token = asyncio.run(_build(dsn, a.sites, a.delegates))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "DIEMCAU_SECRET_KEY": SECRET,
            "DIEMCAU_DATA_DIR": str(Path(tmp) / "data"),
            "DIEMCAU_LOG_LEVEL": "WARNING",
        }
        argv_ = [sys.executable, "-m", "diemcau", "serve", "--port", str(port)]
        proc = procs.start(argv_, env, Path(tmp) / "serve.log")
        try:
            procs.wait_http(f"{url}/healthz", proc)
            say("opening the page in Chromium ...")
            result = first_paint(url, CONFERENCE, token, a.scroll_seconds)
        finally:
            procs.stop(proc)
    report(a, result)


def report(a: argparse.Namespace, r: dict[str, Any] | str) -> None:
    if isinstance(r, str):
        print(f"not measured: {r}")
        write_results("live_page", {"options": vars(a), "result": r})
        return
    s = r["scroll"]
    rows = [
        ("sites on the board", f"{a.sites:,}", f"{s['table_rows']:,} rows in the table"),
        ("first contentful paint", f"{r['first_contentful_paint_ms']} ms", ""),
        (
            "board drawn: service cold / warm",
            f"{r['board_drawn_ms']} / {r['board_drawn_warm_ms']} ms",
            "the first view (GET, gzip) and its first drawing; bar < 2 s",
        ),
        (
            "cold: view received / held / drawn",
            f"{r['first_message_ms']} / {r['first_applied_ms']} / {r['board_drawn_ms']} ms",
            "the service's first read of the board is in the first",
        ),
        (
            "warm: view received / held / drawn",
            " / ".join(str(x) for x in r["warm_received_held_drawn_ms"]) + " ms",
            "",
        ),
        ("JS heap after drawing", f"{r['js_heap_mb']} MB", ""),
        (
            "scroll top to bottom: frames p50 / p95 / max",
            f"{s['frame_ms_p50']} / {s['frame_ms_p95']} / {s['frame_ms_max']} ms",
            f"{s['frames']} frames, {s['frames_over_50ms']} over 50 ms; "
            f"idle frame p50 {s['idle_frame_ms_p50']} ms",
        ),
        (
            "the table's own drawing per frame: mean / max",
            f"{s['draw_ms_mean']:.1f} / {s['draw_ms_max']:.1f} ms",
            f"{s['draws']} drawings",
        ),
        ("rows in the DOM while scrolling (most)", str(s["rows_in_dom"]), f"last {s['last_row']}"),
    ]
    width = max(len(x[0]) for x in rows)
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>24}  {note}")
    write_results("live_page", {"options": vars(a), **r})


if __name__ == "__main__":
    main()
