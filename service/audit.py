"""The audit log: every write records who, what, when, and the record before and after."""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau.auth import Principal
from diemcau.logs import request_id_var


async def record(
    conn: asyncpg.Connection,
    principal: Principal,
    action: str,
    entity: str,
    entity_key: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry; call it inside the writing transaction so both land or neither."""
    await conn.execute(
        """INSERT INTO audit_log (token_id, actor, action, entity, entity_key, before, after,
                                  request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        principal.token_id,
        principal.actor,
        action,
        entity,
        entity_key,
        before,
        after,
        request_id_var.get(),
    )
