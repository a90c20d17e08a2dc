"""The guides in Debian's Chromium against the real service: their screenshots are taken
from the real kiosk page (enrollment, a green, an amber and a red answer, in Vietnamese
and in English), each guide prints on one A4 page in each language, the labels they
quote are the words the page's own module gives, and the kiosk page links to them in
its language.

With DIEMCAU_UPDATE_SCREENSHOTS=1 the screenshots replace the guides' own
(service/guides/files/, shipped in the package); otherwise they are taken, checked and
left in a temporary folder, so a run never dirties the checkout with pixels that differ
by a clock. Either way the guides' images must exist."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pypdfium2
import pytest
from PIL import Image

from diemcau import guides
from diemcau.guides.labels import label
from tests.browser import Browser, require_browser
from tests.factory import Factory, bearer
from tests.test_kiosk_browser import COLOURS, World, badge_text, kiosk_code, open_kiosk, scan_keys

# Screenshots are written to the checkout and read from the package as installed (the
# same folder under `pip install -e`; under `pip install .`, what the wheel shipped).
SOURCE = Path(__file__).resolve().parent.parent / "service" / "guides" / "files"
INSTALLED = Path(guides.__file__).resolve().parent / "files"
SHOT = {"width": 360, "height": 640}
A4 = (595, 842)  # points, as Chromium writes an A4 page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    browser = Browser(require_browser())
    yield browser
    browser.close()


@pytest.fixture
async def hall(
    factory: Factory, db: asyncpg.Connection, aiohttp_server: Any, aiohttp_client: Any, app: Any
) -> World:
    """A commune hall of Lai Châu (LC-TD-01) with two delegates; two of the next commune."""
    await factory.unit("LC", level="province", name="Tỉnh Lai Châu")
    await factory.unit("LC-TD", parent="LC", level="district", name="Huyện Tam Đường")
    await factory.site("LC-TD-01", unit="LC-TD", name="Hội trường UBND xã Bản Bo")
    await factory.site("LC-TD-02", unit="LC-TD", name="Nhà văn hóa xã Bình Lư")
    conference = await factory.conference(
        "HN1",
        sites=["LC-TD-01", "LC-TD-02"],
        title="Hội nghị học tập, quán triệt Nghị quyết",
        starts_in=timedelta(minutes=30),
    )
    names = [("Lò Văn Páo", "member"), ("Tòng Thị Ánh", "non_member")]
    delegates = [
        await factory.delegate(
            conference["id"], site="LC-TD-01", unit="LC-TD", full_name=n, category=c
        )
        for n, c in names
    ]
    delegates.append(  # a second delegate of the next commune, for the second language
        await factory.delegate(
            conference["id"],
            site="LC-TD-02",
            unit="LC-TD",
            full_name="Giàng A Lử",
            category="guest",
        )
    )
    stranger = await factory.delegate(
        conference["id"], site="LC-TD-02", unit="LC-TD", full_name="Vàng Thị Mai", category="member"
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


def referenced_images() -> set[str]:
    """Every screenshot a guide shows, in any language."""
    found = set()
    for guide in guides.GUIDES:
        for lang in guides.LANGUAGES:
            found |= set(re.findall(r"/guides/files/([\w.-]+\.png)", guides.fragment(guide, lang)))
    return found


async def shown(b: Browser, page: Any) -> dict[str, str]:
    """The answer on screen once the service has confirmed it."""
    await b.run(
        page.wait_for_function(
            "() => { const s = document.querySelector('#answer:not([hidden]) .answer-sync');"
            " return s && ['đã đồng bộ', 'synced'].includes(s.textContent); }"
        )
    )
    return await b.run(
        page.evaluate(
            "() => { const el = document.getElementById('answer');"
            " return {colour: el.dataset.colour, result: el.dataset.result,"
            " title: el.querySelector('.answer-title').textContent}; }"
        )
    )


async def shoot(b: Browser, page: Any, out: Path, name: str) -> Path:
    path = out / name
    await b.run(page.screenshot(path=str(path)))
    with Image.open(path) as image:
        assert image.size == (SHOT["width"], SHOT["height"])
    return path


async def kiosk_in(b: Browser, w: World, lang: str) -> tuple[Any, Any]:
    context, page = await open_kiosk(b, w, viewport=SHOT)
    await b.run(page.click(f"[data-lang={lang}]"))
    return context, page


async def enrollment_shot(b: Browser, w: World, page: Any, out: Path, lang: str) -> None:
    """The code typed, the site and conference shown, the name prefilled; then enroll."""
    await b.run(page.fill("#enroll-code", (await kiosk_code(w, "LC-TD-01"))["code"]))
    await b.run(page.wait_for_selector("#enroll-where:not([hidden])"))
    await b.run(page.wait_for_function("() => document.getElementById('device-name').value"))
    await b.run(page.evaluate("() => document.activeElement.blur()"))
    await shoot(b, page, out, f"kiosk-enroll.{lang}.png")
    assert await b.run(page.text_content("#enroll h1")) == label("ui", lang, "enroll_heading")
    await b.run(page.click("#enroll-form button[type=submit]"))
    await b.run(page.wait_for_selector("#kiosk:not([hidden])"))
    await b.run(
        page.wait_for_function(
            "() => document.getElementById('last-sync').textContent.includes(':')"
        )
    )


async def test_the_guides_screenshots_are_the_real_kiosk_s(
    chromium: Browser, hall: World, tmp_path: Path
) -> None:
    """Enrollment, then a green (a delegate of this hall), an amber (one of the next
    commune: another site) and a red (the first badge again: already checked in), in
    each language, with the titles the guides quote for those colours."""
    out = SOURCE if os.environ.get("DIEMCAU_UPDATE_SCREENSHOTS") == "1" else tmp_path
    titles = {}
    strangers = [hall.stranger, hall.delegates[2]]  # of LC-TD-02
    for lang, mine, theirs in zip(guides.LANGUAGES, hall.delegates, strangers, strict=False):
        own = await badge_text(hall, mine["id"])
        other = await badge_text(hall, theirs["id"])
        context, page = await kiosk_in(chromium, hall, lang)
        try:
            await enrollment_shot(chromium, hall, page, out, lang)
            for colour, code in (("green", own), ("amber", other), ("red", own)):
                if await chromium.run(page.is_visible("#answer")):
                    await chromium.run(page.click("#answer"))
                await scan_keys(chromium, page, code)
                answer = await shown(chromium, page)
                assert answer["colour"] == colour, answer
                titles[lang, colour] = answer["title"]
                path = await shoot(chromium, page, out, f"kiosk-{colour}.{lang}.png")
                with Image.open(path) as image:
                    assert image.convert("RGB").getpixel((5, 5)) == COLOURS[colour]
        finally:
            await chromium.run(context.close())
    for lang in guides.LANGUAGES:
        said = [titles[lang, c] for c in ("green", "amber", "red")]
        assert said == [label("ui", lang, k) for k in ("accepted", "moved", "duplicate")]
    for name in referenced_images():
        with Image.open(INSTALLED / name) as image:  # committed, and shipped with the package
            assert image.size == (SHOT["width"], SHOT["height"]), name


async def test_each_guide_prints_on_one_a4_page(
    chromium: Browser, hall: World, tmp_path: Path
) -> None:
    context, page = await chromium.new_page(hall.url)
    pages = {}
    try:
        for guide in guides.GUIDES:
            for lang in guides.LANGUAGES:
                resp = await chromium.run(page.goto(f"/guides/{guide}?lang={lang}"))
                assert resp.status == 200
                await chromium.run(
                    page.wait_for_function(
                        "() => [...document.images].every((i) => i.complete && i.naturalWidth)"
                    )
                )
                pdf = await chromium.run(page.pdf(prefer_css_page_size=True, print_background=True))
                (tmp_path / f"{guide}.{lang}.pdf").write_bytes(pdf)
                document = pypdfium2.PdfDocument(io.BytesIO(pdf))
                sizes = [tuple(round(x) for x in p.get_size()) for p in document]
                text = document[0].get_textpage().get_text_range()
                document.close()
                pages[guide, lang] = sizes
                assert label("ui", lang, f"guide_{guide}") in text
    finally:
        await chromium.run(context.close())
    assert pages == {key: [A4] for key in pages}, pages


# The page's own module, in the browser: what `t(key)` says in each language, its
# placeholders left as `{name}`.
PAGE_WORDS = """async (keys) => {
  const i18n = await import('/kiosk/i18n.js');
  const asIs = new Proxy({}, {get: (_, name) => `{${String(name)}}`});
  const out = {};
  for (const lang of ['vi', 'en']) {
    i18n.setLanguage(lang);
    out[lang] = Object.fromEntries(keys.map((k) => [k, i18n.t(k, asIs)]));
  }
  return out;
}"""

QUOTED = """() => [...document.querySelectorAll('b.ui[data-label]')]
  .map((b) => [b.dataset.label, b.textContent])"""


async def test_the_guides_quote_what_the_page_itself_says(chromium: Browser, hall: World) -> None:
    """Every label a guide quotes, as the guide shows it, is the text the kiosk page's
    own i18n module gives for that key in that language (placeholders filled)."""
    context, page = await open_kiosk(chromium, hall)
    try:
        quoted = {}
        for guide in guides.GUIDES:
            for lang in guides.LANGUAGES:
                await chromium.run(page.goto(f"/guides/{guide}?lang={lang}"))
                quoted[guide, lang] = await chromium.run(page.evaluate(QUOTED))
        await chromium.run(page.goto("/kiosk"))
        keys = sorted({key for pairs in quoted.values() for key, _ in pairs})
        words = await chromium.run(page.evaluate(PAGE_WORDS, keys))
    finally:
        await chromium.run(context.close())
    assert len(keys) > 40
    for (guide, lang), pairs in quoted.items():
        assert pairs, (guide, lang)
        for key, text in pairs:
            said = words[lang][key]
            pattern = re.sub(r"\\\{\w+\\\}", r"[\\d.]+", re.escape(said))
            assert re.fullmatch(pattern, text), (guide, lang, key, text, said)


async def test_the_kiosk_page_links_each_guide_in_its_language(
    chromium: Browser, hall: World
) -> None:
    context, page = await open_kiosk(chromium, hall)
    links = "() => [...document.querySelectorAll('a[data-guide]')].map((a) => [a.getAttribute('href'), a.textContent])"
    try:
        before = await chromium.run(page.evaluate(links))
        await chromium.run(page.click("[data-lang=en]"))
        after = await chromium.run(page.evaluate(links))
        resp = await chromium.run(page.goto(after[0][0]))
        status, lang = resp.status, await chromium.run(page.get_attribute("html", "lang"))
    finally:
        await chromium.run(context.close())
    assert before == [
        ["/guides/door?lang=vi", "Hướng dẫn người trực cửa"],
        ["/guides/technician?lang=vi", "Hướng dẫn kỹ thuật viên"],
    ]
    assert after == [
        ["/guides/door?lang=en", "Door volunteer's guide"],
        ["/guides/technician?lang=en", "Technician's guide"],
    ]
    assert (status, lang) == (200, "en")
