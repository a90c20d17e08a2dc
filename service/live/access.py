"""Who may watch a conference's board, and how much of it (its scope).

- a viewer token of the conference, and an organiser who sees the conference (unscoped,
  or limited to a subtree that owns it): the whole board, or the subtree they ask for
  with `?unit=`;
- an organiser limited to a unit subtree that does not own the conference but holds
  some of its sites (a district organiser during a national session): that subtree only,
  or a smaller one inside it;
- anyone else: 404, as for a conference that does not exist (technicians and kiosks are
  refused with 403 before this, by role).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau import suggest
from diemcau.auth import Principal
from diemcau.conferences import not_found, visible_to
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import live as q
from diemcau.queries.conferences import fetch_conference, has_site_under

ROLES = ("organiser", "viewer")


def unit_not_found(code: str) -> Problem:
    message = Msg(f"Không có đơn vị {code!r} trong phạm vi này", f"no unit {code!r} in scope")
    return Problem("not_found", message, errors=[field_error("unit", message)])


async def board(
    conn: asyncpg.Connection, caller: Principal, code: str, unit: str | None
) -> tuple[Any, int | None]:
    """The conference and the unit whose subtree the caller watches (None: all of it)."""
    conference = await fetch_conference(conn, code)
    if conference is None:
        raise await _not_found(conn, caller, code)
    limit = None  # the subtree the caller may not leave, if any
    if not visible_to(caller, conference):
        path = caller.unit_path
        if (
            caller.role != "organiser"
            or path is None
            or not await has_site_under(conn, conference["id"], path)
        ):
            raise await _not_found(conn, caller, code)
        limit = path
    if unit is None:
        return conference, (caller.unit_id if limit is not None else None)
    found = await q.fetch_unit_by_code(conn, unit)
    if found is None or (limit is not None and not found["path"].startswith(limit)):
        raise unit_not_found(unit)
    return conference, found["id"]


async def _not_found(conn: asyncpg.Connection, caller: Principal, code: str) -> Problem:
    if caller.role == "organiser":
        return await suggest.not_found(conn, caller, "conferences", code)
    return not_found()
