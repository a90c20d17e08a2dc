"""The web kiosk's files: served from the installed package with headers that keep the
page to its own origin and let its service worker update; and the page's offline code
verifier refuses exactly what service/credentials.py refuses."""

from __future__ import annotations

import fnmatch
import gzip
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from diemcau import credentials
from diemcau.credentials import Claims
from diemcau.kiosk import page
from tests.browser import Browser, require_browser
from tests.problems import assert_problem

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "kiosk" / "web"


async def test_page_is_served_without_a_token_with_strict_headers(client: Any) -> None:
    resp = await client.get("/kiosk")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert '<script type="module" src="/kiosk/app.js">' in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_files_revalidate_with_their_etag(client: Any) -> None:
    first = await client.get("/kiosk/app.js")
    assert first.status == 200
    assert first.content_type == "text/javascript"
    again = await client.get("/kiosk/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""


async def test_big_files_go_gzip_when_asked(client: Any) -> None:
    plain = await client.get("/kiosk/vendor/jsQR.js", headers={"Accept-Encoding": "identity"})
    packed = await client.get(
        "/kiosk/vendor/jsQR.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    body = await plain.read()
    assert gzip.decompress(await packed.read()) == body
    assert body == (WEB / "vendor" / "jsQR.js").read_bytes()


async def test_service_worker_names_every_file_and_a_version_of_them(client: Any) -> None:
    resp = await client.get("/kiosk/sw.js")
    assert resp.headers["Service-Worker-Allowed"] == "/kiosk"
    text = await resp.text()
    assert "__VERSION__" not in text and "__ASSETS__" not in text
    for name in ("app.js", "kiosk.css", "vendor/jsQR.js", "vendor/noble-ed25519.js"):
        assert f'"/kiosk/{name}"' in text


def test_any_change_to_a_file_is_a_new_worker_version() -> None:
    raw = {"index.html": b"<p>a", "app.js": b"1", "sw.js": b'"__VERSION__" __ASSETS__'}
    before = page.build(raw)["sw.js"].body
    after = page.build({**raw, "app.js": b"2"})["sw.js"].body
    assert before != after
    assert page.version_of(raw) == page.version_of({**raw, "sw.js": b"changed"})


async def test_unknown_files_and_the_index_by_name_are_not_found(client: Any) -> None:
    for path in ("/kiosk/nope.js", "/kiosk/../pyproject.toml", "/kiosk/index.html"):
        await assert_problem(await client.get(path), 404, "not_found")


def test_every_page_file_is_package_data() -> None:
    """A plain `pip install .` must carry each file of kiosk/web (setuptools globs do not
    descend into folders: a new folder needs its own line in pyproject)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["diemcau.kiosk"]
    for path in WEB.rglob("*"):
        if path.is_file():
            name = path.relative_to(ROOT / "kiosk").as_posix()
            # A setuptools `*` stops at a slash: compare folder depth too.
            matched = [
                p for p in patterns if fnmatch.fnmatch(name, p) and name.count("/") == p.count("/")
            ]
            assert matched, f"{name} is not package data of diemcau.kiosk"


def test_vendored_libraries_keep_their_licences() -> None:
    for name in ("jsQR.LICENSE", "noble-ed25519.LICENSE", "noble-hashes/LICENSE"):
        assert (WEB / "vendor" / name).stat().st_size > 500, name


# The offline verifier in the page, against the service's, on the same codes.

KID, OTHER_KID = "0A1B2C3D", "DEADBEEF"
KEY, OTHER_KEY = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def _jwk(kid: str, key: Ed25519PrivateKey, conference_id: int) -> dict[str, Any]:
    raw = key.public_key().public_bytes_raw()
    return credentials.jwk(kid, raw, conference=f"HN{conference_id}", conference_id=conference_id)


def _codes() -> dict[str, str]:
    good = credentials.sign(Claims(KID, 7, 123456, 42, 3), KEY)
    head, payload, signature = good.split(".")
    flipped = chr(ord(signature[10]) ^ 1) if signature[10] not in "27" else "A"
    # The last payload character carries 3 unused bits: set one, same bytes, other text.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(payload[-1])
    respelled = payload[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[last | 1]
    return {
        "good": good,
        "lowercase": good.lower(),
        "trailing_newline": good + "\n",
        "trailing_space": good + " ",
        "truncated": good[:-1],
        "extra_char": good + "A",
        "bad_signature": f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}",
        "non_canonical_payload": f"{head}.{respelled}.{signature}",
        "other_key": credentials.sign(Claims(OTHER_KID, 7, 1, 42, 1), OTHER_KEY),
        "other_conference": credentials.sign(Claims(KID, 8, 1, 42, 1), KEY),
        "old_format": "DC1." + credentials.b32(b"\x02" + bytes(18)) + "." + signature,
        "empty": "",
        "not_a_code": "https://example.org/",
    }


def _python_verdicts(jwks: dict[str, Any]) -> dict[str, str]:
    verdicts = {}
    for name, text in _codes().items():
        try:
            claims = credentials.verify(text, jwks, conference_id=7)
            verdicts[name] = f"ok {claims.delegate_id}/{claims.site_id}/{claims.version}"
        except credentials.InvalidCredential as err:
            verdicts[name] = err.reason
    return verdicts


VERDICTS_JS = """async ([codes, jwks, engine]) => {
  const m = await import("/kiosk/credential.js");
  const v = new m.Verifier(jwks, {conferenceId: m.conferenceOf(jwks), engine});
  const out = {};
  for (const [name, text] of Object.entries(codes)) {
    try {
      const c = await v.verify(text);
      out[name] = `ok ${c.delegate_id}/${c.site_id}/${c.version}`;
    } catch (e) { out[name] = e.reason ?? String(e); }
  }
  return {out, engine: await v.engineName()};
}"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    browser = Browser(require_browser())
    yield browser
    browser.close()


@pytest.mark.parametrize("engine", ["webcrypto", "noble", "auto"])
async def test_page_verifier_refuses_what_the_service_refuses(
    chromium: Browser, aiohttp_server: Any, app: Any, db: Any, engine: str
) -> None:
    server = await aiohttp_server(app)
    context, tab = await chromium.new_page(str(server.make_url("/")))
    try:
        await chromium.run(tab.goto("/kiosk"))
        jwks = {"keys": [_jwk(KID, KEY, 7)]}
        got = await chromium.run(tab.evaluate(VERDICTS_JS, [_codes(), jwks, engine]))
    finally:
        await chromium.run(context.close())
    expected = _python_verdicts(jwks)
    assert expected["good"] == "ok 123456/42/3"
    assert got["out"] == expected
    # Chromium has Ed25519 in WebCrypto: left to itself the page uses it.
    assert got["engine"] == ("webcrypto" if engine == "auto" else engine)
