"""The dashboard page's time to first paint in Chromium (bench/live.py --first-paint).

The page (`/dashboard/{conference}`) is later work: until it is served, this says so and
measures nothing. Once it is, this opens it in Debian's Chromium through playwright with
a viewer's token in the URL's fragment (the page's way of taking one may differ: adjust
`open_url`) and reads the browser's own first-contentful-paint.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

CHROMIUM = "/usr/bin/chromium"


def open_url(url: str, conference: str, token: str) -> str:
    return f"{url}/dashboard/{conference}#token={token}"


def first_paint(url: str, conference: str, token: str) -> dict[str, Any] | str:
    """`{first_contentful_paint_ms, dom_content_loaded_ms}`, or why it was not measured."""
    try:
        with urllib.request.urlopen(f"{url}/dashboard/{conference}", timeout=10) as resp:
            if resp.status != 200:
                return f"the page answered {resp.status}"
    except urllib.error.HTTPError as err:
        return f"the dashboard page is not served yet ({err.code})"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed (pip install '.[test]')"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(open_url(url, conference, token), wait_until="load")
            page.wait_for_timeout(500)
            timing = page.evaluate(
                """() => ({
                    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
                    dcl: performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart,
                })"""
            )
        finally:
            browser.close()
    return {"first_contentful_paint_ms": timing["fcp"], "dom_content_loaded_ms": timing["dcl"]}
