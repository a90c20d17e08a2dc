"""The guides (/guides/door, /guides/technician): every label they quote is one the
kiosk page has, in each language; no label is typed by hand; every `diemcau` command
they show is one the command line takes; their files ship with the package; and the
routes answer as the contract says (HTML, a 422 for a language we do not have, 404s
for files that are not theirs, 304 for a page already held)."""

from __future__ import annotations

import re
import shlex
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from diemcau import guides
from diemcau.cli import build_parser
from diemcau.guides.labels import LabelTableError, kiosk_labels, read_table
from tests.problems import assert_problem

ROOT = Path(__file__).resolve().parent.parent
PAGES = [(g, lang) for g in guides.GUIDES for lang in guides.LANGUAGES]


def test_the_page_s_table_is_read_whole() -> None:
    """As many labels as the script has `key: "text"` lines in its table, in both
    languages, with the same keys."""
    source = (ROOT / "kiosk" / "web" / "i18n.js").read_text(encoding="utf-8")
    table = source[source.index("const STRINGS = {") : source.index("\n};")]
    lines = re.findall(r'^\s+\w+: "', table, flags=re.M)
    labels = kiosk_labels()["ui"]
    assert set(labels) == {"vi", "en"}
    assert labels["vi"].keys() == labels["en"].keys()
    assert len(labels["vi"]) + len(labels["en"]) == len(lines)
    assert labels["vi"]["was_offline"] == "Trả lời ngoại tuyến"
    assert labels["en"]["enroll_code"] == "Enrollment code"


def test_a_table_written_another_way_is_refused_not_skipped() -> None:
    good = 'const T = {\n  vi: {\n    // a comment\n    a: "Một \\"hai\\"",\n    b:\n      "dài",\n  },\n};\n'
    assert read_table(good, "T") == {"vi": {"a": 'Một "hai"', "b": "dài"}}
    for bad in (
        "const T = {\n  vi: {\n    a: `template`,\n  },\n};\n",
        'const T = {\n  vi: {\n    a: "x" + y,\n  },\n};\n',
        "const T = {\n  vi: {\n    ...OTHER,\n  },\n};\n",
        'const T = {\n  vi: {\n    a: "x",\n',
        "const U = {};\n",
    ):
        with pytest.raises(LabelTableError):
            read_table(bad, "T")


@pytest.mark.parametrize(("guide", "lang"), PAGES)
def test_every_quoted_label_is_one_the_page_has(guide: str, lang: str) -> None:
    found = guides.quotes(guides.fragment(guide, lang))
    assert len(found) > 15
    table = kiosk_labels()
    for quote in found:
        assert quote.key in table[quote.table][lang], f"{guide}.{lang}: no label {quote.key}"
        for name, _ in quote.values:
            assert "{" + name + "}" in table[quote.table][lang][quote.key], quote
    rendered = guides.render(guide, lang)
    assert "[[" not in rendered and "]]" not in rendered
    for quote in found:
        assert f'data-label="{quote.key}"' in rendered


@pytest.mark.parametrize("guide", guides.GUIDES)
def test_both_languages_quote_the_same_labels(guide: str) -> None:
    keys = {
        lang: sorted(q.key for q in guides.quotes(guides.fragment(guide, lang)))
        for lang in guides.LANGUAGES
    }
    assert keys["vi"] == keys["en"]


@pytest.mark.parametrize(("guide", "lang"), PAGES)
def test_no_label_is_typed_by_hand(guide: str, lang: str) -> None:
    """A screen label is shown as one only through a quote; and no text of a label the
    guide quotes appears in the guide's own words (where it would drift unnoticed)."""
    source = guides.fragment(guide, lang)
    assert 'class="ui' not in source and "data-label" not in source
    own_words = guides.QUOTE.sub(" ", source)
    own_words = re.sub(r"<[^>]+>", " ", own_words)
    table = kiosk_labels()["ui"][lang]
    for quote in guides.quotes(source):
        text = table[quote.key]
        if len(text) >= 12 and "{" not in text:
            assert text not in own_words, f"{guide}.{lang} types {text!r} by hand"


def commands(guide: str, lang: str) -> list[list[str]]:
    """Every `diemcau ...` line in the guide's code and pre blocks, as arguments."""
    source = guides.fragment(guide, lang)
    blocks = re.findall(r"<(?:code|pre)>(.*?)</(?:code|pre)>", source, flags=re.S)
    found = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("diemcau ") and "…" not in line:
                found.append(shlex.split(line)[1:])
    return found


@pytest.mark.parametrize("lang", guides.LANGUAGES)
def test_every_command_the_technician_is_shown_is_one_the_cli_takes(lang: str) -> None:
    found = commands("technician", lang)
    verbs = {tuple(args[:2]) for args in found}
    assert {("site", "register"), ("site", "link-test"), ("site", "confirm")} <= verbs
    assert ("kiosk", "enroll") in verbs and ("kiosk-code", "--conference") in verbs
    parser = build_parser()
    for args in found:
        if args == ["site", "--help"]:
            continue
        parser.parse_args(args)  # argparse exits on anything it does not take


def test_the_guides_files_ship_in_the_package() -> None:
    """pip install . (not -e) carries what pyproject's package-data names: every page
    fragment and every file the guides load must match one of its patterns."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["diemcau.guides"]
    folder = ROOT / "service" / "guides"
    shipped = [p for p in folder.rglob("*") if p.is_file() and p.suffix != ".py"]
    assert shipped
    for path in shipped:
        name = path.relative_to(folder).as_posix()
        if "__pycache__" not in name:
            assert any(fnmatch(name, p) for p in patterns), f"{name} would not be installed"
    for guide, lang in PAGES:
        for name in re.findall(r'/guides/files/([\w.-]+)"', guides.render(guide, lang)):
            assert (folder / "files" / name).is_file(), name


async def test_a_guide_is_served_as_html_in_the_language_asked(client: Any) -> None:
    resp = await client.get("/guides/door")
    body = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert '<html lang="vi">' in body and "Hướng dẫn người trực cửa" in body
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    resp = await client.get("/guides/technician?lang=en")
    body = await resp.text()
    assert '<html lang="en">' in body and "Technician's guide" in body
    held = await client.get(
        "/guides/technician?lang=en", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert held.status == 304


async def test_a_language_we_do_not_have_is_refused_by_name(client: Any) -> None:
    resp = await client.get("/guides/door?lang=fr")
    body = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["lang"]
    resp = await client.get("/guides/door?lang=en&page=2")
    await assert_problem(resp, 422, "validation_failed")


async def test_only_the_guides_own_files_are_served(client: Any) -> None:
    resp = await client.get("/guides/files/guide.css")
    assert resp.status == 200 and resp.content_type == "text/css"
    resp = await client.get("/guides/files/kiosk-green.vi.png")
    assert resp.status == 200 and resp.content_type == "image/png"
    for name in (
        "labels.py",
        "__init__.py",
        "door.vi.html",
        "nope.png",
        ".hidden.css",
        "a%2F..%2Fguide.css",
    ):
        await assert_problem(await client.get(f"/guides/files/{name}"), 404, "not_found")
    await assert_problem(await client.get("/guides/files/..%2F__init__.py"), 404, "not_found")
