"""Tokens: random, stored hashed, revocable; websocket tickets are single-use."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from diemcau import auth
from diemcau.errors import Problem
from tests.factory import bearer
from tests.problems import assert_problem


async def test_token_is_stored_hashed(db: Any) -> None:
    secret, token_id = await auth.create_token(db, "organiser", label="admin")
    assert secret.startswith("dc_") and len(secret) > 40
    stored = await db.fetchval("SELECT token_hash FROM tokens WHERE id=$1", token_id)
    assert secret.encode() not in stored
    assert stored == auth.hash_secret(secret)


async def test_technician_token_needs_a_unit(db: Any) -> None:
    with pytest.raises(Problem) as err:
        await auth.create_token(db, "technician")
    assert err.value.code == "validation_failed"
    with pytest.raises(Problem):
        await auth.create_token(db, "technician", unit="NO-SUCH-UNIT")


async def test_revoked_token_is_refused_at_once(client: Any, db: Any) -> None:
    secret, token_id = await auth.create_token(db, "organiser")
    assert (await client.post("/api/v1/ws-tickets", headers=bearer(secret))).status == 201
    assert await auth.revoke_token(db, token_id)
    resp = await client.post("/api/v1/ws-tickets", headers=bearer(secret))
    await assert_problem(resp, 401, "authentication_required")
    assert not await auth.revoke_token(db, token_id)


async def test_missing_or_malformed_token_is_401(client: Any) -> None:
    await assert_problem(await client.post("/api/v1/ws-tickets"), 401, "authentication_required")
    resp = await client.post("/api/v1/ws-tickets", headers={"Authorization": "Basic abc"})
    await assert_problem(resp, 401, "authentication_required")
    resp = await client.post("/api/v1/ws-tickets", headers=bearer("dc_not-a-real-token"))
    await assert_problem(resp, 401, "authentication_required")


async def test_ws_ticket_is_single_use(client: Any, db: Any) -> None:
    secret, token_id = await auth.create_token(db, "organiser")
    resp = await client.post("/api/v1/ws-tickets", headers=bearer(secret))
    body = await resp.json()
    assert set(body) == {"ticket", "expires_at"}
    first = await auth.redeem_ticket(db, body["ticket"])
    assert first is not None and first.token_id == token_id
    assert await auth.redeem_ticket(db, body["ticket"]) is None


async def test_expired_ticket_is_refused(db: Any) -> None:
    secret, _ = await auth.create_token(db, "organiser")
    principal = await auth.authenticate(db, secret)
    assert principal is not None
    ticket, _ = await auth.issue_ticket(db, principal)
    await db.execute("UPDATE ws_tickets SET expires_at = now() - interval '1 second'")
    assert await auth.redeem_ticket(db, ticket) is None


async def test_unit_scope_covers_the_subtree_only(db: Any, factory: Any) -> None:
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.unit("HG", parent="VN")
    principal = await auth.authenticate(db, await factory.token("technician", unit="LC"))
    assert principal is not None
    assert principal.covers_unit_path("/VN/LC/")
    assert principal.covers_unit_path("/VN/LC/LC-TD/")
    assert not principal.covers_unit_path("/VN/HG/")
    assert not principal.covers_unit_path("/VN/")


async def test_cli_token_commands_are_audited(database_url: str, db: Any, monkeypatch: Any) -> None:
    from diemcau.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert (
        await asyncio.to_thread(main, ["token", "create", "--role", "organiser", "--label", "ops"])
        == 0
    )
    token_id = await db.fetchval("SELECT id FROM tokens WHERE label = 'ops'")
    assert await asyncio.to_thread(main, ["token", "revoke", str(token_id)]) == 0
    assert await asyncio.to_thread(main, ["token", "revoke", str(token_id)]) == 1
    rows = await db.fetch(
        "SELECT actor, action, entity, entity_key, after FROM audit_log ORDER BY id"
    )
    assert [(r["action"], r["entity"], r["entity_key"]) for r in rows] == [
        ("create", "token", str(token_id)),
        ("revoke", "token", str(token_id)),
    ]
    assert rows[0]["actor"] == "organiser cli"
    assert rows[0]["after"]["label"] == "ops"
