"""/api/docs serves a documentation page from the package alone, and every operation of
the OpenAPI document has a summary, its roles and a worked example that the API's own
models accept."""

from __future__ import annotations

import re
from typing import Any

import pytest

from diemcau import site_import, units
from diemcau.absences import importing as absence_import
from diemcau.api_examples import EXAMPLES
from diemcau.handlers import all_routes
from diemcau.routing import curl_example
from diemcau.validation import parse

ROUTES = all_routes()
IMPORT_COLUMNS = {
    "import_units": units.UNIT_COLUMNS,
    "import_absences": absence_import.COLUMNS,
    "import_sites": site_import.COLUMNS,
    # the contract's roster columns (DESIGN.md)
    "import_delegates": (
        "external_id",
        "full_name",
        "category",
        "site_code",
        "unit_code",
        "phone",
        "email",
    ),
}


async def test_docs_page_loads_nothing_from_elsewhere(client: Any) -> None:
    resp = await client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    page = await resp.text()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/api/docs/") for s in sources)
    for source in sources:
        asset = await client.get(source)
        assert asset.status == 200, source
        assert asset.headers["Content-Security-Policy"] == csp
    init = await (await client.get("/api/docs/docs.js")).text()
    assert "validatorUrl: null" in init and '"/api/openapi.json"' in init


async def test_docs_ship_the_viewers_licence_and_nothing_else(client: Any) -> None:
    licence = await client.get("/api/docs/LICENSE")
    assert licence.status == 200 and "Apache License" in await licence.text()
    assert "SmartBear" in await (await client.get("/api/docs/NOTICE")).text()
    for name in ("index.html", "README.md", "..%2Fdocs.py", "nope.js"):
        resp = await client.get(f"/api/docs/{name}")
        assert resp.status == 404, name
        assert resp.content_type == "application/problem+json"


async def test_every_operation_has_a_summary_roles_and_an_example(client: Any) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op["summary"], (method, path)
            assert op["description"].startswith("**Roles:** "), (method, path)
            assert "```sh\ncurl" in op["description"] or "websocat" in op["description"]
            roles = op["x-roles"]
            assert all(role in op["description"] for role in roles if role != "anyone")


def _pattern(path: str) -> re.Pattern[str]:
    """A route's path as a regular expression: each `{param}` one path segment."""
    parts = [re.escape(p) if not p.startswith("{") else "[^/?]+" for p in path.split("/")]
    return re.compile("^" + "/".join(parts) + r"(\?.*)?$")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_the_example_fits_its_route_and_models(route: Any) -> None:
    example = EXAMPLES[route.name]
    assert _pattern(route.path).match(example.path), example.path
    if route.body is not None:
        assert isinstance(example.request, dict)
        parse(route.body, example.request)  # raises a validation problem if it drifted
    elif route.body_media:
        header, *rows = example.request.splitlines()
        assert rows and set(header.split(",")) <= set(IMPORT_COLUMNS[route.name])
    else:
        assert example.request is None
    if route.response is not None and not route.websocket:
        assert example.response is not None
        route.response.model_validate(example.response)
    command = curl_example(route, example)
    assert example.path in command
    assert ("$DIEMCAU_TOKEN" in command) == bool(route.roles)


def test_no_example_is_left_without_its_route() -> None:
    assert set(EXAMPLES) == {r.name for r in ROUTES}
