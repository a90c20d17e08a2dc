"""The application shell: liveness, metrics, OpenAPI, and problem+json on every error."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from diemcau.app import create_app
from diemcau.config import Config
from tests.problems import assert_problem


async def test_healthz_reports_database(client: Any) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok",
        "database": "ok",
        "workers": {"alive": 1, "configured": 1},  # a process serving alone
    }
    assert resp.headers["X-Request-Id"]


async def test_request_id_is_echoed_when_sane(client: Any) -> None:
    resp = await client.get("/healthz", headers={"X-Request-Id": "kiosk-42.abc"})
    assert resp.headers["X-Request-Id"] == "kiosk-42.abc"
    resp = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert resp.headers["X-Request-Id"] != "bad id\twith spaces"


async def test_unknown_path_is_problem_404(client: Any) -> None:
    body = await assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert body["instance"] == "/api/v1/nothing-here"
    assert body["request_id"]


async def test_wrong_method_is_problem_405_with_allow(client: Any) -> None:
    resp = await client.delete("/healthz")
    await assert_problem(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


async def _shell_client(aiohttp_client: Any, config: Config, handler: Any) -> Any:
    """The real application with one extra route, to drive the middleware directly."""
    app = create_app(config)
    app.router.add_post("/test/handler", handler)
    return await aiohttp_client(app)


async def test_oversize_body_is_problem_413(aiohttp_client: Any, config: Config) -> None:
    async def read_it(request: web.Request) -> web.Response:
        return web.json_response({"n": len(await request.read())})

    small = replace(config, max_body_kb=1)
    client = await _shell_client(aiohttp_client, small, read_it)
    assert (await client.post("/test/handler", data=b"x" * 1000)).status == 200
    await assert_problem(
        await client.post("/test/handler", data=b"x" * 2000), 413, "payload_too_large"
    )


async def test_unexpected_exception_is_generic_500(
    aiohttp_client: Any, config: Config, caplog: Any
) -> None:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals: password=hunter2")

    client = await _shell_client(aiohttp_client, config, explode)
    resp = await client.post("/test/handler")
    body = await assert_problem(resp, 500, "internal_error")
    assert "hunter2" not in await resp.text()
    assert "detail" not in body
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_english_titles_on_request(client: Any) -> None:
    resp = await client.get("/nope", headers={"Accept-Language": "en-GB,en"})
    body = await assert_problem(resp, 404, "not_found")
    assert body["title"] == "Not found"
    resp = await client.get("/nope")
    assert (await resp.json(content_type=None))["title"] == "Không tìm thấy"


async def test_openapi_documents_every_route(client: Any, app: web.Application) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource else None
        assert (path, route.method) in documented, f"{route.method} {path} is not in OpenAPI"


async def test_metrics_count_requests_and_pool(client: Any) -> None:
    await client.get("/healthz")
    await client.get("/no/such/page")
    text = await (await client.get("/metrics")).text()
    assert 'diemcau_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'status="404"' in text
    assert "diemcau_http_request_duration_seconds_bucket" in text
    assert 'diemcau_db_pool_connections{state="open"}' in text
    assert 'diemcau_workers{state="alive"} 1.0' in text
    assert "diemcau_worker_restarts_total 0.0" in text


async def test_a_redirect_is_counted_and_logged_as_what_it_answered(
    client: Any, caplog: Any
) -> None:
    """`/K/{code}` raises its 302: it was logged and counted as a 500 (issue 20, point 10)."""
    with caplog.at_level("INFO", logger="diemcau.http"):
        resp = await client.get("/K/7KQ4MZ2P", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/kiosk#enroll=7KQ4MZ2P"
    assert resp.headers["X-Request-Id"]
    logged = [r for r in caplog.records if getattr(r, "route", None) == "/K/{kcode}"]
    assert [r.status for r in logged] == [302]  # type: ignore[attr-defined]
    text = await (await client.get("/metrics")).text()
    assert 'diemcau_http_requests_total{method="GET",route="/K/{kcode}",status="302"} 1.0' in text
    assert 'route="/K/{kcode}",status="500"' not in text
