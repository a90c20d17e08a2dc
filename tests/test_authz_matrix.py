"""Every route × every role: a role a route does not list is refused before anything else.

Driven by the same route table that builds the app and its OpenAPI document, so a new
route is covered the day it is added. Refusal must come first: with no token a route
answers 401 (not 404 or 422), with a token of another role 403, whatever the path or body.
Scope within a role (unit subtree, conference, site) is tested per resource.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from diemcau.auth import ROLES
from diemcau.handlers import all_routes
from tests.factory import bearer
from tests.problems import assert_problem

PROTECTED = [r for r in all_routes() if r.roles]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


@pytest.fixture
async def tokens(factory: Any) -> dict[str, str]:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    await factory.conference("C1", sites=["S1"])
    return {
        "organiser": await factory.token("organiser"),
        "technician": await factory.token("technician", unit="VN"),
        "kiosk": await factory.token("kiosk", conference="C1", site="S1"),
        "viewer": await factory.token("viewer", conference="C1"),
    }


def test_every_protected_route_names_known_roles() -> None:
    assert PROTECTED, "no protected routes?"
    for route in PROTECTED:
        assert set(route.roles) <= set(ROLES), route


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_route_without_token_is_401(client: Any, route: Any) -> None:
    resp = await client.request(route.method, _concrete(route.path), data=b"")
    await assert_problem(resp, 401, "authentication_required")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_route_refuses_roles_it_does_not_list(
    client: Any, tokens: dict[str, str], route: Any
) -> None:
    refused = [role for role in ROLES if role not in route.roles]
    for role in refused:
        resp = await client.request(
            route.method, _concrete(route.path), data=b"", headers=bearer(tokens[role])
        )
        await assert_problem(resp, 403, "forbidden")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_route_lets_its_roles_past_authentication(
    client: Any, tokens: dict[str, str], route: Any
) -> None:
    for role in route.roles:
        resp = await client.request(
            route.method, _concrete(route.path), data=b"", headers=bearer(tokens[role])
        )
        # Past the role check the answer depends on the resource (404, 422, 200...), but
        # it is never "who are you" or a crash.
        assert resp.status not in (401, 500), (role, resp.status, await resp.text())
