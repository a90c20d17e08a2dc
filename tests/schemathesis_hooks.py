"""Schemathesis hooks for tests/schemathesis_run.py: each request carries the token of a
role its operation admits (the operation's `x-roles`), so it reaches the handler."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

# The first role an operation admits, in this order, is the one whose token it gets.
PREFERENCE = ("organiser", "technician", "kiosk", "viewer")


@schemathesis.auth()
class RoleTokens:
    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return dict(json.loads(os.environ["DIEMCAU_ST_TOKENS"]))

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        roles = case.operation.definition.raw.get("x-roles", [])
        role = next((r for r in PREFERENCE if r in roles), None)
        if role is None:
            return  # anyone: no token
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data[role]}"}
