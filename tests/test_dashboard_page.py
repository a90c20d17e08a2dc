"""The dashboard's files: served from the installed package without a token, with
headers that keep the page to its own origin, revalidated by ETag; nothing else under
/dashboard/assets/ is served."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.problems import assert_problem

WEB = Path(__file__).resolve().parent.parent / "service" / "dashboard" / "web"


async def test_the_page_is_served_for_any_conference_without_a_token(client: Any) -> None:
    resp = await client.get("/dashboard/HN-2026-01")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert '<script type="module" src="/dashboard/assets/app.js">' in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert 'href="/guides/door"' in html and 'href="/guides/technician"' in html


async def test_every_file_the_page_names_is_served_and_revalidates(client: Any) -> None:
    names = {p.name for p in WEB.iterdir()} - {"index.html"}
    for name in sorted(names):
        resp = await client.get(f"/dashboard/assets/{name}")
        assert resp.status == 200, name
        assert await resp.read() == (WEB / name).read_bytes()
        again = await client.get(
            f"/dashboard/assets/{name}", headers={"If-None-Match": resp.headers["ETag"]}
        )
        assert again.status == 304, name
    # Every module imported by another is one of the files served (no CDN, no build).
    for name in names:
        if name.endswith(".js"):
            for imported in re.findall(r'from "\./([^"]+)"', (WEB / name).read_text()):
                assert imported in names, (name, imported)


async def test_nothing_else_is_served_under_assets(client: Any) -> None:
    for path in ("nope.js", "index.html", "vendor/x.js", "page.py"):
        resp = await client.get(f"/dashboard/assets/{path}")
        assert resp.status == 404, path
        if resp.content_type == "application/problem+json":
            await assert_problem(resp, 404, "not_found")
