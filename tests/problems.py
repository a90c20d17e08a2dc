"""One check for every error path: problem+json with a stable code."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from diemcau.errors import CODES


async def assert_problem(resp: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; answers the body."""
    text = await resp.text()
    assert resp.status == status, f"expected {status} {code}, got {resp.status}: {text}"
    assert resp.content_type == "application/problem+json", resp.content_type
    body = await resp.json(content_type=None)
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"urn:diemcau:problem:{code}"
    assert body["title"] in (CODES[code].vi, CODES[code].en)
    assert "Traceback" not in text
    return body
