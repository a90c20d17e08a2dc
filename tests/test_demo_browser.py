"""A person joins the demo while it runs, in Debian's Chromium: the enrollment link the
demo prints makes the page a kiosk of the printed site; a badge read from the printed
PDF, of a delegate the simulation leaves unscanned, is scanned (a USB scanner's keys)
and answers green; the board counts that person on top of the simulation's plan, and
the demo says so at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pypdfium2 as pdfium
import pytest

from diemcau import credentials
from diemcau.demo.plan import make_plan, truth
from tests.browser import Browser, require_browser
from tests.scanning import qr_texts
from tests.test_demo import _env, _free_port, _lines_until
from tests.test_kiosk_browser import answer, enrolled, scan_keys

SIZE = ["--sites", "20", "--delegates", "1000", "--seed", "7"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    browser = Browser(require_browser())
    yield browser
    browser.close()


def badge_codes(pdf: Path) -> list[str]:
    """Every QR code on every page of the badge PDF, as a scanner reads them."""
    found = []
    for page in pdfium.PdfDocument(pdf):
        found += qr_texts(page.render(scale=150 / 72).to_pil())
    return found


async def test_a_person_enrolls_a_browser_and_scans_a_printed_badge_during_the_demo(
    chromium: Browser, fresh_database: str, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "diemcau", "demo", *SIZE, "--speed", "4", "--exit",
        "--port", str(_free_port()), "--summary", str(summary),
        env=_env(fresh_database, tmp_path), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    link = (await _lines_until(proc.stderr, r"(http://\S+/kiosk#enroll=\S+)", seen)).group(1)
    pdf = Path((await _lines_until(proc.stderr, r"(/\S+\.pdf)$", seen)).group(1))
    waiting = (await _lines_until(proc.stderr, r"badges of: .*\((LC-\d+)\)", seen)).group(1)
    await _lines_until(proc.stderr, r"conference: open", seen)
    rest = asyncio.create_task(proc.stderr.read())

    conn = await asyncpg.connect(fresh_database)
    try:
        person = await conn.fetchrow(
            "SELECT id, full_name, category FROM delegates WHERE external_id = $1", waiting
        )
    finally:
        await conn.close()
    codes = await asyncio.to_thread(badge_codes, pdf)
    assert codes
    origin = link.split("/kiosk", 1)[0]
    context, page = await chromium.new_page(origin)
    try:
        await chromium.run(page.goto(link))
        # The link shows the site and a name for the device; the person confirms.
        await chromium.run(
            page.wait_for_function(
                "() => document.getElementById('device-name').value.startsWith('Máy')"
            )
        )
        await chromium.run(page.click("#enroll-form button[type=submit]"))
        await enrolled(chromium, page)
        mine = [c for c in codes if credentials.read_claims(c).delegate_id == person["id"]]
        assert len(mine) == 1, "the waiting delegate's badge is in the PDF"
        await scan_keys(chromium, page, mine[0])
        shown = await answer(chromium, page)
    finally:
        await chromium.run(context.close())
    assert (shown["colour"], shown["result"], shown["name"]) == (
        "green",
        "accepted",
        person["full_name"],
    )
    assert await asyncio.wait_for(proc.wait(), 180) == 0, "".join(seen)
    said = (await rest).decode()
    figures = json.loads(summary.read_text())
    want = truth(make_plan(20, 1000, 7))
    site = next(code for code, s in figures["live"]["sites"].items() if code in pdf.name)
    got, planned = figures["live"]["sites"][site], want["sites"][site]
    assert got["checked_in"][person["category"]] == planned["checked_in"][person["category"]] + 1
    assert f"{site} checked_in" in said and "your scans?" in said
