"""Printable guides for the people at the sites: `/guides/door` (the door volunteer's)
and `/guides/technician`, one A4 page each, in Vietnamese and English.

Each guide is an HTML fragment per language (`pages/door.vi.html`, ...) written in the
guide's own words, where every label of the kiosk page is quoted as `[[key]]` and filled
in from the page's own table (labels.py), so the guide says what the screen says. A
quote may fill the label's `{n}` (`[[differences n=2]]`) and give it a look
(`[[accepted .green]]`, classes of guide.css). Beside the pages, `files/` holds the
stylesheet and the screenshots, which the browser tests take from the real kiosk page
(tests/test_guides_browser.py).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from diemcau.guides.labels import label

GUIDES = ("door", "technician")
LANGUAGES = ("vi", "en")
# The files a guide page may load, with their types; nothing else under guides/ is served.
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".png": "image/png"}

QUOTE = re.compile(r"\[\[([^\]]+)\]\]")


@dataclass(frozen=True, slots=True)
class Quote:
    """One `[[table:key name=value .look]]` of a guide."""

    table: str
    key: str
    values: tuple[tuple[str, str], ...]
    look: str


def parse_quote(text: str) -> Quote:
    """The parts of a quote, as written between `[[` and `]]`."""
    head, *rest = text.split()
    table, _, key = head.rpartition(":")
    values = tuple((n, v) for n, _, v in (p.partition("=") for p in rest if "=" in p))
    looks = [p[1:] for p in rest if p.startswith(".")]
    if len(values) + len(looks) != len(rest) or not key.isidentifier():
        raise ValueError(f"cannot read the quote [[{text}]]")
    return Quote(table or "ui", key, values, " ".join(looks))


def quotes(source: str) -> list[Quote]:
    """Every label a guide's fragment quotes."""
    return [parse_quote(m.group(1)) for m in QUOTE.finditer(source)]


def quoted(quote: Quote, lang: str) -> str:
    """A quote as the page's label in `lang`, its `{name}`s filled, marked up."""
    text = label(quote.table, lang, quote.key)
    for name, value in quote.values:
        text = text.replace("{" + name + "}", value)
    look = f"ui {quote.look}".strip()
    return f'<b class="{look}" data-label="{quote.key}">{html.escape(text, quote=False)}</b>'


def fragment(guide: str, lang: str) -> str:
    """A guide's own text in `lang` (its quotes not filled in yet)."""
    return (files(__name__) / "pages" / f"{guide}.{lang}.html").read_text(encoding="utf-8")


def _switch(guide: str, lang: str) -> str:
    links = []
    for other in LANGUAGES:
        current = ' aria-current="page"' if other == lang else ""
        links.append(f'<a href="/guides/{guide}?lang={other}"{current}>{other.upper()}</a>')
    return "".join(links)


def _nav(guide: str, lang: str) -> str:
    other = "technician" if guide == "door" else "door"
    name = label("ui", lang, f"guide_{other}")
    return (
        f'<a href="/guides/{other}?lang={lang}">{html.escape(name, quote=False)}</a>'
        f'<a href="/kiosk">{html.escape(label("ui", lang, "title"), quote=False)} (/kiosk)</a>'
    )


def render(guide: str, lang: str) -> str:
    """The whole page: the guide's text with the page's labels, and a screen-only bar."""
    body = QUOTE.sub(lambda m: quoted(parse_quote(m.group(1)), lang), fragment(guide, lang))
    title = html.escape(label("ui", lang, f"guide_{guide}"), quote=False)
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>diemcau · {title}</title>\n"
        '<link rel="stylesheet" href="/guides/files/guide.css">\n</head>\n<body>\n'
        f'<nav class="bar"><span class="langs">{_switch(guide, lang)}</span>'
        f'<span class="links">{_nav(guide, lang)}</span></nav>\n'
        f'<main class="sheet" data-guide="{guide}">\n{body}</main>\n</body>\n</html>\n'
    )


@dataclass(frozen=True, slots=True)
class Page:
    """A page or file as served: its bytes, type and strong ETag."""

    body: bytes
    media_type: str
    etag: str


def _page(body: bytes, media_type: str) -> Page:
    return Page(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@cache
def page(guide: str, lang: str) -> Page:
    """A guide rendered once per process and language."""
    return _page(render(guide, lang).encode(), "text/html; charset=utf-8")


@cache
def _assets() -> dict[str, Page]:
    """Every file under files/ with a type we serve, read once per process."""
    found = {}
    for entry in (files(__name__) / "files").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if entry.is_file() and not entry.name.startswith(".") and suffix in MEDIA_TYPES:
            found[entry.name] = _page(entry.read_bytes(), MEDIA_TYPES[suffix])
    return found


def asset(name: str) -> Page | None:
    """The stylesheet or a screenshot, by its name under /guides/files/; None otherwise
    (a lookup in a fixed table: no path is ever built from the request)."""
    return _assets().get(name)
