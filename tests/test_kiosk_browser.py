"""The web kiosk in Debian's Chromium against the real service on a real port: a phone
enrolls with a code, checks in printed badges with its camera and a USB scanner, keeps
answering through a link outage and a reload, and every scan lands exactly once."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from PIL import Image

from tests.browser import Browser, require_browser, y4m_from_png
from tests.factory import Factory, bearer
from tests.scanning import qr_texts

DOCS = Path(__file__).resolve().parent.parent / "docs"
COLOURS = {"green": (15, 123, 63), "amber": (199, 119, 0), "red": (179, 38, 30)}  # kiosk.css


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the fake camera films; a test writes its badge here before starting it
    (Chromium opens the file anew each time a page starts the camera)."""
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    blank = path.with_suffix(".png")
    Image.new("RGB", (64, 64), "white").save(blank)
    return y4m_from_png(blank, path)


@pytest.fixture(scope="module")
def chromium(camera_file: Path) -> Iterator[Browser]:
    browser = Browser(
        require_browser(),
        [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}",
        ],
    )
    yield browser
    browser.close()


@dataclass
class World:
    url: str
    api: Any  # a TestClient on the same server
    org: dict[str, str]
    conference: asyncpg.Record
    delegates: list[asyncpg.Record]
    stranger: asyncpg.Record  # a delegate of another site


@pytest.fixture
async def world(
    factory: Factory, db: asyncpg.Connection, aiohttp_server: Any, aiohttp_client: Any, app: Any
) -> World:
    """One commune hall (LC-01) with 21 delegates, one more at LC-02; check-in open."""
    await factory.unit("LC", level="province", name="Lai Châu")
    await factory.unit("TD", parent="LC", level="district", name="Tam Đường")
    await factory.site("LC-01", unit="TD", name="Hội trường xã Bản Bo")
    await factory.site("LC-02", unit="TD", name="Hội trường xã Bình Lư")
    conference = await factory.conference(
        "HN1",
        sites=["LC-01", "LC-02"],
        title="Hội nghị quán triệt",
        starts_in=timedelta(minutes=30),
    )
    delegates = [
        await factory.delegate(
            conference["id"], site="LC-01", unit="TD", full_name="Nguyễn Văn Ân", category="member"
        )
    ]
    for i in range(20):
        delegates.append(
            await factory.delegate(
                conference["id"],
                site="LC-01",
                unit="TD",
                full_name=f"Trần Thị Đào {i + 1}",
                category="non_member" if i % 3 else "member",
            )
        )
    stranger = await factory.delegate(
        conference["id"], site="LC-02", unit="TD", full_name="Lò Văn Páo", category="guest"
    )
    server = await aiohttp_server(app)
    return World(
        url=str(server.make_url("/")),
        api=await aiohttp_client(server),
        org=bearer(await factory.token("organiser")),
        conference=conference,
        delegates=delegates,
        stranger=stranger,
    )


async def badge_png(w: World, delegate_id: int) -> bytes:
    resp = await w.api.get(f"/api/v1/conferences/HN1/delegates/{delegate_id}/qr.png", headers=w.org)
    assert resp.status == 200, await resp.text()
    return await resp.read()


async def badge_text(w: World, delegate_id: int) -> str:
    """The code printed on the delegate's badge, read back from the service's QR image."""
    [text] = qr_texts(Image.open(io.BytesIO(await badge_png(w, delegate_id))))
    return text


async def kiosk_code(w: World, site: str = "LC-01") -> dict[str, Any]:
    """A technician's enrollment code: `{code, expires_at, enroll_url, qr_png}`."""
    resp = await w.api.post(f"/api/v1/conferences/HN1/sites/{site}/kiosk-codes", headers=w.org)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def open_kiosk(b: Browser, w: World, **options: Any) -> tuple[Any, Any]:
    context, page = await b.new_page(w.url, **options)
    await b.run(page.goto("/kiosk"))
    await b.run(page.wait_for_selector("body[data-ready=true]"))
    return context, page


async def enroll(b: Browser, w: World, page: Any) -> None:
    """Type the technician's code, as a person would, and wait for the ready screen."""
    await b.run(page.fill("#enroll-code", (await kiosk_code(w))["code"]))
    await b.run(page.fill("#device-name", "Điện thoại cửa chính"))
    await b.run(page.click("#enroll-form button[type=submit]"))
    await enrolled(b, page)


async def enrolled(b: Browser, page: Any) -> None:
    await b.run(page.wait_for_selector("#kiosk:not([hidden])"))
    # The roster is on the device once the first sync is shown.
    await b.run(
        page.wait_for_function(
            "() => document.getElementById('last-sync').textContent.includes(':')"
        )
    )


async def scan_keys(b: Browser, page: Any, text: str) -> None:
    """A USB scanner: the code typed at machine speed, then Enter."""
    await b.run(page.keyboard.type(text))
    await b.run(page.keyboard.press("Enter"))


async def answer(b: Browser, page: Any, *, synced: bool = True) -> dict[str, str]:
    """The answer on screen (waiting for the service's confirmation unless told not to)."""
    sync = "#answer:not([hidden]) .answer-sync"
    await b.run(page.wait_for_selector(sync))
    if synced:
        await b.run(
            page.wait_for_function(
                f"() => ['đã đồng bộ', 'synced'].includes(document.querySelector('{sync}')?.textContent)"
            )
        )
    return await b.run(
        page.evaluate("""() => {
        const el = document.getElementById('answer');
        const text = (c) => el.querySelector(c).textContent;
        return {colour: el.dataset.colour, result: el.dataset.result,
                title: text('.answer-title'), name: text('.answer-name'),
                who: text('.answer-who'), detail: text('.answer-detail'),
                sync: text('.answer-sync'), differs: text('.answer-differs')};
    }""")
    )


async def checkins(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM checkins ORDER BY id")


async def test_enroll_by_code_then_the_camera_checks_in_a_printed_badge(
    chromium: Browser, world: World, db: asyncpg.Connection, camera_file: Path, tmp_path: Path
) -> None:
    delegate = world.delegates[0]
    png = tmp_path / "badge.png"
    png.write_bytes(await badge_png(world, delegate["id"]))
    y4m_from_png(png, camera_file)
    context, page = await open_kiosk(chromium, world)
    try:
        await enroll(chromium, world, page)
        assert await chromium.run(page.text_content("#site-name")) == "Hội trường xã Bản Bo (LC-01)"
        await chromium.run(page.click("#camera"))
        shown = await answer(chromium, page)
    finally:
        await chromium.run(context.close())
    assert shown["colour"] == "green" and shown["result"] == "accepted"
    assert shown["name"] == "Nguyễn Văn Ân"
    assert shown["who"] == "Tam Đường · Đảng viên"  # the unit by name, not code
    rows = await checkins(db)
    assert [(r["delegate_id"], r["method"], r["result"]) for r in rows] == [
        (delegate["id"], "qr", "accepted")
    ]


async def test_enrollment_by_qr_or_link_asks_for_a_name_prefilled_with_the_next_number(
    chromium: Browser, world: World, camera_file: Path, tmp_path: Path
) -> None:
    """A code read by the camera, or opened as a link, is not used at once: the page
    shows the site and the conference, prefills "Máy 1", "Máy 2" (the service's next
    number at the site) and enrolls once the person confirms, so a site's kiosk list
    tells its devices apart."""
    by_camera = await kiosk_code(world)
    png = tmp_path / "enroll.png"
    resp = await world.api.get(by_camera["qr_png"], headers=world.org)
    assert resp.status == 200, await resp.text()
    png.write_bytes(await resp.read())
    y4m_from_png(png, camera_file)
    context, page = await open_kiosk(chromium, world)
    try:
        await chromium.run(page.click("#enroll-camera"))
        await wait_value(chromium, page, "#device-name", "Máy 1")
        where = await chromium.run(page.text_content("#enroll-where"))
        assert "Hội trường xã Bản Bo (LC-01)" in where and "Hội nghị quán triệt" in where
        assert await chromium.run(page.is_hidden("#kiosk"))  # not enrolled before the tap
        await chromium.run(page.click("#enroll-form button[type=submit]"))
        await enrolled(chromium, page)
    finally:
        await chromium.run(context.close())
    by_url = await kiosk_code(world)
    context, page = await chromium.new_page(world.url)
    try:
        await chromium.run(page.goto(by_url["enroll_url"]))
        await wait_value(chromium, page, "#device-name", "Máy 2")
        assert "enroll" not in await chromium.run(page.evaluate("() => location.href"))
        await chromium.run(page.fill("#device-name", "Cửa phụ"))  # a name of one's own
        await chromium.run(page.keyboard.press("Enter"))
        await enrolled(chromium, page)
    finally:
        await chromium.run(context.close())
    resp = await world.api.get("/api/v1/conferences/HN1/sites/LC-01/kiosks", headers=world.org)
    assert [k["device_name"] for k in (await resp.json())["items"]] == ["Máy 1", "Cửa phụ"]


async def wait_value(b: Browser, page: Any, selector: str, value: str) -> None:
    await b.run(
        page.wait_for_function(
            "([s, v]) => document.querySelector(s)?.value === v", arg=[selector, value]
        )
    )


async def test_usb_scanner_scan_then_the_same_badge_is_red_with_when_and_where(
    chromium: Browser, world: World, db: asyncpg.Connection
) -> None:
    code = await badge_text(world, world.delegates[1]["id"])
    context, page = await open_kiosk(chromium, world)
    try:
        await enroll(chromium, world, page)
        await scan_keys(chromium, page, code)
        first = await answer(chromium, page)
        await chromium.run(page.click("#answer"))  # a tap dismisses the answer early
        await scan_keys(chromium, page, code)
        second = await answer(chromium, page)
        # The site's counts come from the service a moment after its answers.
        await wait_text(chromium, page, "#count-checked-in", "1/21")
    finally:
        await chromium.run(context.close())
    assert (first["colour"], first["result"], first["name"]) == (
        "green",
        "accepted",
        "Trần Thị Đào 1",
    )
    assert (second["colour"], second["result"], second["title"]) == (
        "red",
        "duplicate",
        "Đã điểm danh rồi",
    )
    rows = await checkins(db)
    assert [r["result"] for r in rows] == ["accepted", "duplicate"]
    # When and where: the first scan's time in Hanoi's clock (HH:MM:SS) and its site.
    when = rows[0]["scanned_at"].astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M:%S")
    assert second["detail"] == f"lúc {when} tại LC-01"


async def test_a_phone_whose_clock_is_slow_is_measured_and_corrected(
    chromium: Browser, world: World, db: asyncpg.Connection
) -> None:
    """The page sends its clock with every batch and heartbeat (`sent_at`): a phone 10
    minutes slow has its scan placed at the real time, marked skewed."""
    code = await badge_text(world, world.delegates[3]["id"])
    context, page = await chromium.new_page(world.url)
    try:
        await chromium.run(page.clock.install(time=datetime.now(UTC) - timedelta(minutes=10)))
        await chromium.run(page.goto("/kiosk"))
        await chromium.run(page.wait_for_selector("body[data-ready=true]"))
        await enroll(chromium, world, page)
        await scan_keys(chromium, page, code)
        shown = await answer(chromium, page)
    finally:
        await chromium.run(context.close())
    assert shown["result"] == "accepted"
    (row,) = await checkins(db)
    assert row["skewed"] and row["scanned_at"] < row["received_at"] - timedelta(minutes=9)
    assert abs(row["judged_at"] - row["received_at"]) < timedelta(seconds=30)


async def test_offline_scans_survive_a_reload_and_land_exactly_once(
    chromium: Browser, world: World, db: asyncpg.Connection
) -> None:
    codes = [await badge_text(world, d["id"]) for d in world.delegates[1:21]]
    context, page = await open_kiosk(chromium, world)
    try:
        await enroll(chromium, world, page)
        # The page must be under its service worker before the link goes.
        await chromium.run(page.evaluate("() => navigator.serviceWorker.ready.then(() => true)"))
        await chromium.run(page.reload())
        await chromium.run(page.wait_for_selector("body[data-ready=true]"))
        assert await chromium.run(page.evaluate("() => !!navigator.serviceWorker.controller"))
        await chromium.run(context.set_offline(True))
        for code in codes:
            await scan_keys(chromium, page, code)
            offline = await answer(chromium, page, synced=False)
            assert (offline["colour"], offline["sync"]) == (
                "green",
                "Trả lời ngoại tuyến · chưa đồng bộ",
            ), offline
        await wait_text(chromium, page, "#queue", "20")
        await chromium.run(page.reload())  # still offline: served by the service worker
        await chromium.run(page.wait_for_selector("body[data-ready=true]"))
        await wait_text(chromium, page, "#queue", "20")
        assert await chromium.run(page.text_content("#link span")) == "Mất kết nối"
        assert await checkins(db) == []
        await chromium.run(context.set_offline(False))
        await wait_text(chromium, page, "#queue", "0", wait_ms=30_000)
        rows = await checkins(db)
        assert len(rows) == 20
        assert {r["delegate_id"] for r in rows} == {d["id"] for d in world.delegates[1:21]}
        assert {r["result"] for r in rows} == {"accepted"}
        # A second sync of the same scans (as if every answer had been lost on the way):
        # the service answers the same and nothing more lands.
        await chromium.run(page.evaluate(REQUEUE_ALL))
        await chromium.run(page.reload())
        await chromium.run(page.wait_for_selector("body[data-ready=true]"))
        await wait_text(chromium, page, "#queue", "0", wait_ms=30_000)
        recent = await chromium.run(
            page.eval_on_selector_all(
                "#recent li",
                "(items) => items.map((li) => li.dataset.colour + ' ' + li.dataset.state)",
            )
        )
    finally:
        await chromium.run(context.close())
    again = await checkins(db)
    assert [r["scan_id"] for r in again] == [r["scan_id"] for r in rows]
    assert set(recent) == {"green done"}


# Puts every scan of the page's IndexedDB back in the queue.
REQUEUE_ALL = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("diemcau-kiosk");
  open.onsuccess = () => {
    const tx = open.result.transaction("scans", "readwrite");
    const store = tx.objectStore("scans");
    store.getAll().onsuccess = (event) => {
      for (const record of event.target.result) store.put({...record, state: "queued"});
    };
    tx.oncomplete = () => { open.result.close(); resolve(true); };
    tx.onerror = () => reject(tx.error);
  };
})"""


async def wait_text(b: Browser, page: Any, selector: str, text: str, wait_ms: int = 15_000) -> None:
    await b.run(
        page.wait_for_function(
            "([s, t]) => document.querySelector(s)?.textContent === t",
            arg=[selector, text],
            timeout=wait_ms,
        )
    )


async def test_manual_search_without_diacritics_finds_a_vietnamese_name(
    chromium: Browser, world: World, db: asyncpg.Connection
) -> None:
    context, page = await open_kiosk(chromium, world)
    try:
        await enroll(chromium, world, page)
        await chromium.run(page.click("#open-manual"))
        await chromium.run(page.fill("#manual-q", "nguyen van an"))
        pick = "#manual-results li.pick"
        await chromium.run(page.wait_for_selector(pick))
        found = await chromium.run(
            page.eval_on_selector_all(pick, "(l) => l.map((li) => li.textContent)")
        )
        await chromium.run(page.click(pick))
        await chromium.run(page.click("#manual-ok"))
        shown = await answer(chromium, page)
    finally:
        await chromium.run(context.close())
    assert found == ["Nguyễn Văn Ân · Tam Đường · Đảng viên"]
    assert (shown["colour"], shown["name"]) == ("green", "Nguyễn Văn Ân")
    rows = await checkins(db)
    assert [(r["delegate_id"], r["method"]) for r in rows] == [(world.delegates[0]["id"], "manual")]


async def test_each_answer_colour_at_phone_size(
    chromium: Browser, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Screenshots of green, amber and red at 360 px; with DIEMCAU_UPDATE_SCREENSHOTS=1
    they replace the ones in docs/ that the README shows."""
    green = await badge_text(world, world.delegates[2]["id"])
    amber = await badge_text(world, world.stranger["id"])  # a delegate of LC-02
    out = DOCS if os.environ.get("DIEMCAU_UPDATE_SCREENSHOTS") == "1" else tmp_path
    context, page = await open_kiosk(chromium, world)
    shots = {}
    try:
        await enroll(chromium, world, page)
        for colour, code in (("green", green), ("amber", amber), ("red", green)):
            await scan_keys(chromium, page, code)
            shown = await answer(chromium, page)
            assert shown["colour"] == colour, shown
            shots[colour] = shown
            path = out / f"kiosk-{colour}.png"
            await chromium.run(page.screenshot(path=str(path)))
            with Image.open(path) as image:
                assert image.size == (360, 780)
                assert image.convert("RGB").getpixel((5, 5)) == COLOURS[colour]
            await chromium.run(page.click("#answer"))
    finally:
        await chromium.run(context.close())
    assert shots["amber"]["title"] == "Điểm cầu khác" and shots["amber"]["name"] == "Lò Văn Páo"
    assert shots["red"]["result"] == "duplicate"
