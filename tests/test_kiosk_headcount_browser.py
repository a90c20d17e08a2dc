"""The web kiosk's headcount form in Chromium against the real service: the menu's
button opens it, a count is recorded at once, and one made with no link waits on the
device and lands exactly once when the link is back."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.browser import Browser
from tests.test_kiosk_browser import (  # noqa: F401
    World,
    camera_file,
    chromium,
    enroll,
    open_kiosk,
    world,
)


async def count(b: Browser, page: Any, moment: str, members: str, non_members: str) -> str:
    """Open the form, type the counts, record; answers what the form says."""
    await b.run(page.click("#open-headcount"))
    await b.run(page.select_option("#hc-moment", moment))
    await b.run(page.fill("#hc-members", members))
    await b.run(page.fill("#hc-non-members", non_members))
    await b.run(page.fill("#hc-guests", "2"))
    await b.run(page.click("#hc-send"))
    await b.run(
        page.wait_for_function("() => document.getElementById('headcount').dataset.outcome")
    )
    said = await b.run(page.text_content("#hc-said"))
    await b.run(
        page.evaluate(
            "() => { const d = document.getElementById('headcount'); delete d.dataset.outcome; d.close(); }"
        )
    )
    return str(said)


async def test_the_menu_records_a_headcount_online_and_offline(
    chromium: Browser,  # noqa: F811
    world: World,  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    context, page = await open_kiosk(chromium, world)
    try:
        assert await chromium.run(page.is_hidden("#open-headcount"))  # not before enrollment
        await enroll(chromium, world, page)
        assert await chromium.run(page.text_content("#open-headcount")) == "Đếm người"
        said = await count(chromium, page, "start", "88", "7")
        assert said == "Đã ghi 97 người (Đầu giờ)"
        await chromium.run(context.set_offline(True))
        said = await count(chromium, page, "after_break", "60", "5")
        assert said.startswith("Chưa gửi được (67 người, Sau giải lao)")
        assert await db.fetchval("SELECT count(*) FROM headcounts") == 1
        await chromium.run(context.set_offline(False))
        await chromium.run(page.evaluate("() => window.dispatchEvent(new Event('online'))"))
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM headcounts") == 2:
                break
            await chromium.run(page.wait_for_timeout(100))
    finally:
        await chromium.run(context.close())
    rows = await db.fetch(
        "SELECT moment, members, non_members, guests, actor FROM headcounts ORDER BY id"
    )
    assert [tuple(r)[:4] for r in rows] == [("start", 88, 7, 2), ("after_break", 60, 5, 2)]
    assert all(r["actor"].startswith("kiosk#") for r in rows)
