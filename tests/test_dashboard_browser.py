"""The live board's page in Debian's Chromium against the real service on a real port:
the totals and a site's bar follow real scans, the unit tree drills down, the search
needs no diacritics, the page comes back by itself after the service restarts or the
viewer's network drops (and says so meanwhile), the big screen, English, a phone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from diemcau.app import create_app
from diemcau.appkeys import LIVE_SETTINGS
from diemcau.config import Config
from tests.browser import Browser, require_browser
from tests.checkin_world import World
from tests.factory import Factory
from tests.live_world import FAST, build_board, check_in
from tests.test_serve import _free_port

LIVE = "body[data-state=live]"
ROWS = "(els) => els.filter((e) => !e.hidden).map((e) => e.dataset.code)"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    browser = Browser(require_browser())
    yield browser
    browser.close()


def fast_app(config: Config) -> web.Application:
    app = create_app(config)
    app[LIVE_SETTINGS] = FAST
    return app


@dataclass
class Page:
    world: World
    url: str
    port: int
    api: Any  # a TestClient on the page's server
    organiser: str
    viewer: str


@pytest.fixture
async def board(
    db: asyncpg.Connection,
    factory: Factory,
    config: Config,
    aiohttp_server: Any,
    aiohttp_client: Any,
) -> Page:
    """VN > LC (LC-01, LC-02) > LC-TD (TD-01); VN > HG (HG-01, named for Hà Nội's hall);
    three delegates a site (two members), check-in open; the service on a real port."""
    world = await build_board(factory, db)
    await db.execute("UPDATE sites SET name = 'Nhà văn hóa Hà Nội' WHERE code = 'HG-01'")
    await db.execute("UPDATE sites SET name = 'Hội trường xã Bản Bo' WHERE code = 'TD-01'")
    port = _free_port()
    server = await aiohttp_server(fast_app(config), port=port)
    return Page(
        world=world,
        url=str(server.make_url("/")),
        port=port,
        api=await aiohttp_client(server),
        organiser=await factory.token("organiser"),
        viewer=await factory.token("viewer", conference="HN1"),
    )


# Every websocket address the page opens, kept in window.sockets.
SPY = """(() => {
  const Real = window.WebSocket;
  window.sockets = [];
  window.WebSocket = function (url, protocols) {
    window.sockets.push(String(url));
    return new Real(url, protocols);
  };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, { OPEN: 1, CLOSED: 3, CONNECTING: 0, CLOSING: 2 });
})()"""


async def open_board(
    b: Browser, p: Page, token: str, query: str = "", **options: Any
) -> tuple[Any, Any]:
    context, page = await b.new_page(p.url, **options)
    await b.run(page.add_init_script(SPY))
    await b.run(page.goto(f"/dashboard/HN1{query}#token={token}"))
    await b.run(page.wait_for_selector(LIVE))
    return context, page


async def text(b: Browser, page: Any, selector: str) -> str:
    return str(await b.run(page.text_content(selector))).strip()


async def wait_text(b: Browser, page: Any, selector: str, wanted: str, ms: int = 15_000) -> None:
    await b.run(
        page.wait_for_function(
            "([s, w]) => (document.querySelector(s)?.textContent || '').trim() === w",
            arg=[selector, wanted],
            timeout=ms,
        )
    )


async def rows(b: Browser, page: Any) -> list[str]:
    await b.run(page.wait_for_timeout(100))  # one frame for the table to draw
    return list(await b.run(page.eval_on_selector_all("#sites .site-row", ROWS)))


async def test_the_totals_and_a_sites_bar_follow_real_scans(chromium: Browser, board: Page) -> None:
    context, page = await open_board(chromium, board, board.organiser)
    try:
        # The token left the address at once (a projected screen shows its URL).
        assert "token" not in await chromium.run(page.evaluate("() => location.href"))
        assert await text(chromium, page, "#total-member .figure") == "0/8 · 0,00%"
        assert await text(chromium, page, "#total-member .goal") == "mục tiêu 98%"
        assert await text(chromium, page, "#total-non-member .goal") == "mục tiêu 90%"
        bar = "#sites .site-row[data-code='LC-01']"
        assert await chromium.run(page.get_attribute(bar, "data-rate")) == "0.0000"
        for ext in ("LC-01-0", "LC-01-1", "LC-02-0"):
            await check_in(board.api, board.world, ext[:5], ext)
        await wait_text(chromium, page, "#total-member .figure", "2/8 · 25,00%")
        await wait_text(chromium, page, "#total-non-member .figure", "1/4 · 25,00%")
        await chromium.run(
            page.wait_for_function(
                "(s) => document.querySelector(s).dataset.rate === '0.6667'", arg=bar
            )
        )
        width = await chromium.run(page.eval_on_selector(f"{bar} .fill", "e => e.style.width"))
        assert await text(chromium, page, f"{bar} .c-progress .num") == "2/3 · 66,67%"
        assert await text(chromium, page, "#t-present") == "3"
    finally:
        await chromium.run(context.close())
    assert width == "66.67%"


async def test_the_unit_tree_drills_down_and_the_table_follows(
    chromium: Browser, board: Page
) -> None:
    await check_in(board.api, board.world, "TD-01", "TD-01-0")
    context, page = await open_board(chromium, board, board.organiser)
    try:
        assert sorted(await rows(chromium, page)) == ["HG-01", "LC-01", "LC-02", "TD-01"]
        units = await chromium.run(
            page.eval_on_selector_all("#unit-list button", "els => els.map(e => e.dataset.unit)")
        )
        assert sorted(units) == ["HG", "LC"]  # the one root (VN) is where the tree starts
        await chromium.run(page.click("#unit-list button[data-unit=LC]"))
        await wait_text(chromium, page, "#total-member .figure", "1/6 · 16,67%")
        assert sorted(await rows(chromium, page)) == ["LC-01", "LC-02", "TD-01"]
        await chromium.run(page.click("#unit-list button[data-unit=LC-TD]"))
        await wait_text(chromium, page, "#total-member .figure", "1/2 · 50,00%")
        assert await rows(chromium, page) == ["TD-01"]
        crumbs = await chromium.run(
            page.eval_on_selector_all("#crumbs button", "els => els.map(e => e.textContent)")
        )
        assert crumbs == ["Việt Nam", "Lai Châu", "Tam Đường"]
        # The drill is in the address: a reload comes back to it.
        await chromium.run(page.reload())
        await chromium.run(page.wait_for_selector(LIVE))
        await wait_text(chromium, page, "#total-member .figure", "1/2 · 50,00%")
        await chromium.run(page.click("#crumbs button[data-unit=VN]"))
        await wait_text(chromium, page, "#total-member .figure", "1/8 · 12,50%")
        assert len(await rows(chromium, page)) == 4
    finally:
        await chromium.run(context.close())


async def test_the_search_needs_no_diacritics(chromium: Browser, board: Page) -> None:
    context, page = await open_board(chromium, board, board.organiser)
    try:
        await chromium.run(page.fill("#search", "ha noi"))
        assert await rows(chromium, page) == ["HG-01"]
        await chromium.run(page.fill("#search", "HÀ NỘI"))
        assert await rows(chromium, page) == ["HG-01"]
        await chromium.run(page.fill("#search", "ban bo"))
        assert await rows(chromium, page) == ["TD-01"]
        await chromium.run(page.fill("#search", "tam duong"))  # the unit's name finds it too
        assert await rows(chromium, page) == ["TD-01"]
        await chromium.run(page.fill("#search", "lc-0"))
        assert sorted(await rows(chromium, page)) == ["LC-01", "LC-02"]
        assert await text(chromium, page, "#sites .shown") == "2/4 điểm cầu"
    finally:
        await chromium.run(context.close())


async def test_the_page_comes_back_after_the_service_restarts(
    chromium: Browser, board: Page, config: Config, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    context, page = await open_board(chromium, board, board.organiser)
    try:
        server = board.api.server
        await board.api.close()  # the service stops (its sockets closed with 1001)
        await chromium.run(page.wait_for_selector("body[data-state=offline]"))
        assert (await text(chromium, page, "#conn-text")) == "Mất kết nối, đang thử lại"
        assert "số liệu lúc" in await text(chromium, page, "#conn-detail")
        assert not server.runner.server  # really down
        # A scan committed while the page's service is down, through another worker.
        other = await aiohttp_client(fast_app(config))
        await check_in(other, board.world, "LC-01", "LC-01-0")
        # The service comes back on the same port; the page resumes by itself.
        await aiohttp_server(fast_app(config), port=board.port)
        await chromium.run(page.wait_for_selector(LIVE, timeout=40_000))
        await wait_text(chromium, page, "#total-member .figure", "1/8 · 12,50%")
        sockets = await chromium.run(page.evaluate("() => window.sockets"))
    finally:
        await chromium.run(context.close())
    # The first view came over HTTP; every socket resumed from a seq with a fresh ticket.
    assert len(sockets) >= 2
    assert all("since=" in url and "ticket=" in url for url in sockets), sockets
    assert len({url.split("ticket=")[1].split("&")[0] for url in sockets}) == len(sockets)


async def test_the_page_says_when_the_viewers_network_drops_and_resumes(
    chromium: Browser, board: Page
) -> None:
    context, page = await open_board(chromium, board, board.viewer)
    try:
        await chromium.run(context.set_offline(True))
        await chromium.run(page.wait_for_selector("body[data-state=offline]"))
        await check_in(board.api, board.world, "HG-01", "HG-01-1")  # a non-member
        await chromium.run(page.wait_for_timeout(500))
        assert await text(chromium, page, "#total-non-member .figure") == "0/4 · 0,00%"
        await chromium.run(context.set_offline(False))
        await chromium.run(page.wait_for_selector(LIVE, timeout=40_000))
        await wait_text(chromium, page, "#total-non-member .figure", "1/4 · 25,00%")
    finally:
        await chromium.run(context.close())


async def test_a_viewer_token_opens_the_big_screen(chromium: Browser, board: Page) -> None:
    screen = {"width": 1920, "height": 1080}
    context, page = await open_board(chromium, board, board.viewer, "?screen=big", viewport=screen)
    try:
        shown = await chromium.run(
            page.evaluate("""() => ({
                big: document.body.classList.contains('big'),
                table: getComputedStyle(document.getElementById('sites')).display,
                problems: getComputedStyle(document.getElementById('problems')).display,
                figure: parseFloat(getComputedStyle(document.querySelector('#total-member .figure')).fontSize),
                wide: document.documentElement.scrollWidth,
            })""")
        )
        await chromium.run(page.click("#big-toggle"))  # back to the desk view
        desk = await chromium.run(
            page.evaluate(
                "() => [location.search, getComputedStyle(document.getElementById('sites')).display]"
            )
        )
    finally:
        await chromium.run(context.close())
    assert shown["big"] and shown["table"] == "none" and shown["problems"] == "block"
    assert shown["figure"] >= 40 and shown["wide"] <= screen["width"]
    assert desk == ["", "block"]


async def test_english_on_request_and_kept(chromium: Browser, board: Page) -> None:
    await check_in(board.api, board.world, "LC-01", "LC-01-0")
    context, page = await open_board(chromium, board, board.organiser)
    try:
        await chromium.run(page.click("#lang-toggle"))
        await wait_text(chromium, page, "#total-member h2", "Members")
        assert await text(chromium, page, "#total-member .figure") == "1/8 · 12.50%"
        assert await text(chromium, page, "#total-member .goal") == "target 98%"
        assert await text(chromium, page, "#conn-text") == "Live"
        await chromium.run(page.reload())  # the language and the token are kept
        await chromium.run(page.wait_for_selector(LIVE))
        assert await text(chromium, page, "#total-member h2") == "Members"
        assert await chromium.run(page.evaluate("() => document.documentElement.lang")) == "en"
    finally:
        await chromium.run(context.close())


async def test_a_phone_shows_the_board_without_sideways_scrolling(
    chromium: Browser, board: Page
) -> None:
    context, page = await open_board(
        chromium, board, board.organiser, viewport={"width": 390, "height": 844}
    )
    try:
        widths = await chromium.run(
            page.evaluate("""() => [document.documentElement.scrollWidth,
                document.body.scrollWidth,
                Math.max(...[...document.querySelectorAll('body *')]
                    .filter((e) => e.offsetParent !== null)
                    .map((e) => e.getBoundingClientRect().right))]""")
        )
        links = await chromium.run(
            page.eval_on_selector_all(".foot a", "els => els.map(e => e.getAttribute('href'))")
        )
    finally:
        await chromium.run(context.close())
    assert max(widths) <= 390, widths
    assert links == ["/guides/door", "/guides/technician"]


async def test_without_a_token_the_page_asks_for_one(chromium: Browser, board: Page) -> None:
    context, page = await chromium.new_page(board.url)
    try:
        await chromium.run(page.goto("/dashboard/HN1"))
        await chromium.run(page.wait_for_selector("#token-box:not([hidden])"))
        await chromium.run(page.fill("#token-input", "dc_not_a_token"))
        await chromium.run(page.click("#token-form button[type=submit]"))
        await wait_text(
            chromium, page, "#token-error", "Mã không hợp lệ, đã hết hạn hoặc đã bị thu hồi."
        )
        await chromium.run(page.fill("#token-input", board.viewer))
        await chromium.run(page.click("#token-form button[type=submit]"))
        await chromium.run(page.wait_for_selector(LIVE))
    finally:
        await chromium.run(context.close())


async def test_a_large_table_keeps_only_the_rows_in_sight(
    chromium: Browser, board: Page, db: asyncpg.Connection
) -> None:
    """1,500 more sites: the DOM holds a few dozen rows, scrolling to the end shows the
    last site, and a search or a sort reaches any of them."""
    await db.execute(
        """INSERT INTO sites (code, name, unit_id, level, capacity)
           SELECT 'X' || lpad(i::text, 4, '0'), 'Điểm cầu xã số ' || i,
                  (SELECT id FROM units WHERE code = 'HG'), 'commune', 100
             FROM generate_series(1, 1500) i"""
    )
    await db.execute(
        """INSERT INTO conference_sites (conference_id, site_id)
           SELECT $1, id FROM sites WHERE code LIKE 'X%'""",
        board.world.conference["id"],
    )
    context, page = await open_board(chromium, board, board.organiser)
    try:
        await chromium.run(page.wait_for_selector("#sites[data-rows='1504']"))
        await chromium.run(page.click(".site-head [data-sort=code]"))
        assert (await rows(chromium, page))[:2] == ["HG-01", "LC-01"]
        in_dom = await chromium.run(page.eval_on_selector_all("#sites .site-row", "e => e.length"))
        await chromium.run(
            page.eval_on_selector("#sites .rows", "e => { e.scrollTop = e.scrollHeight; }")
        )
        await chromium.run(page.wait_for_timeout(300))
        shown = await rows(chromium, page)
        await chromium.run(page.click(".site-head [data-sort=code]"))  # descending
        await chromium.run(page.eval_on_selector("#sites .rows", "e => { e.scrollTop = 0; }"))
        first_desc = (await rows(chromium, page))[0]
        await chromium.run(page.fill("#search", "xa so 1234"))
        found = await rows(chromium, page)
    finally:
        await chromium.run(context.close())
    assert in_dom <= 60
    assert shown[-1] == "X1500" and len(shown) <= 60
    assert first_desc == "X1500"
    assert found == ["X1234"]


async def levels(b: Browser, page: Any) -> dict[str, tuple[str, str]]:
    found = dict(
        await b.run(
            page.eval_on_selector_all(
                "#sites .site-row",
                "els => els.filter(e => !e.hidden).map(e => [e.dataset.code,"
                " [e.dataset.level, e.querySelector('.warn').textContent]])",
            )
        )
    )
    return {code: tuple(shown) for code, shown in found.items()}


async def test_red_and_amber_for_lost_links_silent_kiosks_over_capacity_under_target(
    chromium: Browser, board: Page, db: asyncpg.Connection
) -> None:
    w = board.world
    for ext in ("LC-01-0", "LC-02-0", "TD-01-0", "TD-01-1"):
        await check_in(board.api, w, ext[:5], ext)
    # The session has begun; LC-02's kiosks were last heard 5 minutes ago (lost), LC-01's
    # a minute ago (silent); TD-01 has one seat; HG-01 never had a kiosk.
    await db.execute(
        "UPDATE conferences SET starts_at = now() - interval '1 minute' WHERE code = 'HN1'"
    )
    for site, ago in (("LC-02", "5 minutes"), ("LC-01", "1 minute")):
        await db.execute(
            f"UPDATE kiosks SET last_seen_at = now() - interval '{ago}'"
            " WHERE site_id = (SELECT id FROM sites WHERE code = $1)",
            site,
        )
    await db.execute("UPDATE sites SET capacity = 1 WHERE code = 'TD-01'")
    context, page = await open_board(chromium, board, board.organiser)
    try:
        shown = await levels(chromium, page)
        red = await chromium.run(page.get_attribute("#t-red", "data-count"))
        amber = await chromium.run(page.get_attribute("#t-amber", "data-count"))
        goal = await text(chromium, page, "#total-member .goal")
        filtered = {}
        for name in ("lost", "silent", "over", "under", "red"):
            await chromium.run(page.select_option("#filter", name))
            filtered[name] = sorted(await rows(chromium, page))
    finally:
        await chromium.run(context.close())
    assert shown["LC-02"] == ("red", "mất đường truyền · dưới mục tiêu")
    assert shown["TD-01"][0] == "red" and shown["TD-01"][1].startswith("quá sức chứa")
    assert shown["LC-01"] == ("amber", "máy điểm danh im lặng · dưới mục tiêu")
    assert shown["HG-01"] == ("amber", "chưa có máy điểm danh · dưới mục tiêu")
    assert (red, amber) == ("2", "2")
    assert goal == "mục tiêu 98% · dưới mục tiêu"
    assert filtered == {
        "lost": ["LC-02"],
        "silent": ["HG-01", "LC-01"],
        "over": ["TD-01"],
        "under": ["HG-01", "LC-01", "LC-02", "TD-01"],
        "red": ["LC-02", "TD-01"],
    }


async def test_before_check_in_opens_the_board_shows_readiness_by_unit(
    chromium: Browser, board: Page, db: asyncpg.Connection
) -> None:
    await db.execute(
        """UPDATE conferences SET checkin_opens_at = now() + interval '1 hour',
                  starts_at = now() + interval '2 hours' WHERE code = 'HN1'"""
    )
    for site, status in (("LC-01", "ready"), ("LC-02", "tested"), ("HG-01", "ready")):
        await db.execute("UPDATE sites SET status = $2 WHERE code = $1", site, status)
    context, page = await open_board(chromium, board, board.organiser)
    try:
        await chromium.run(page.wait_for_selector("#readiness:not([hidden])"))
        table = await chromium.run(
            page.eval_on_selector_all(
                "#readiness-rows tr",
                "els => els.map(e => [...e.children].map(td => td.textContent))",
            )
        )
        status = await text(chromium, page, "#conference-status")
        await chromium.run(page.click("#unit-list button[data-unit=LC]"))
        await wait_text(chromium, page, "#readiness-rows tr[data-unit=LC-TD] td:nth-child(2)", "1")
    finally:
        await chromium.run(context.close())
    # Units one level down: registered, tested, ready, sites; then the sum.
    assert table == [
        ["Hà Giang", "0", "0", "1", "1"],
        ["Lai Châu", "1", "1", "1", "3"],
        ["Tổng", "1", "1", "2", "4"],
    ]
    assert status.startswith("Chưa mở điểm danh · mở điểm danh lúc ")


async def test_a_token_revoked_while_watching_brings_back_the_form(
    chromium: Browser, board: Page, db: asyncpg.Connection
) -> None:
    context, page = await open_board(chromium, board, board.viewer)
    try:
        await db.execute("UPDATE tokens SET revoked_at = now() WHERE role = 'viewer'")
        await chromium.run(page.wait_for_selector("#token-box:not([hidden])"))
        said = await text(chromium, page, "#token-error")
        state = await chromium.run(page.evaluate("() => document.body.dataset.state"))
        kept = await chromium.run(page.evaluate("() => Object.keys(localStorage)"))
    finally:
        await chromium.run(context.close())
    assert said == "Mã truy cập đã bị thu hồi. Cần mã mới." and state == "auth"
    assert not any(k.startswith("diemcau.dashboard.token") for k in kept)


async def test_a_conference_the_token_may_not_watch_is_said_on_the_page(
    chromium: Browser, board: Page, factory: Factory
) -> None:
    await factory.conference("HN2")
    context, page = await chromium.new_page(board.url)
    try:
        # The viewer of HN1 at HN2's board: the socket is refused before its upgrade, and
        # the page asks over HTTP why (404), rather than retrying forever.
        await chromium.run(page.goto(f"/dashboard/HN2#token={board.viewer}"))
        await chromium.run(page.wait_for_selector("body[data-state=auth]"))
        said = await text(chromium, page, "#token-error")
    finally:
        await chromium.run(context.close())
    assert said == "Không có hội nghị này"  # the API's own words for its 404
