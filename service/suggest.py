"""'No site 'bhan-01'; did you mean 'BHAN-01'?': the nearest existing code to one not found.

Codes are matched exactly, case included (an import names a site as the registry spells
it); when a code is not found, the answer suggests the nearest one the caller may see,
so a slip of case or a swapped digit is one look away. Out-of-scope codes are never
suggested: a 404 there must reveal nothing.
"""

from __future__ import annotations

import difflib

import asyncpg

from diemcau.auth import Principal
from diemcau.errors import Msg, Problem
from diemcau.queries.codes import fetch_codes_near

# What is not found, in both languages, for each kind of code.
_WHAT = {
    "units": ("đơn vị", "unit"),
    "sites": ("điểm cầu", "site"),
    "conferences": ("hội nghị", "conference"),
}


def nearest(code: str, candidates: list[str]) -> str | None:
    """The same code in another case, else the closest spelling (None when none is close)."""
    folded = code.casefold()
    for candidate in candidates:
        if candidate.casefold() == folded:
            return candidate
    by_fold = {c.casefold(): c for c in candidates}
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.75)
    return by_fold[close[0]] if close else None


async def suggestion(
    conn: asyncpg.Connection, principal: Principal, table: str, code: str
) -> str | None:
    """The code the caller probably meant, among those their token may see."""
    if principal.role in ("kiosk", "viewer"):
        return None  # bound to one conference and one site: nothing else to reveal
    candidates = await fetch_codes_near(conn, table, code, principal.unit_path)
    return nearest(code, candidates)


async def not_found(
    conn: asyncpg.Connection, principal: Principal, table: str, code: str
) -> Problem:
    """404 naming the code, with `suggestion` (and the question in `detail`) when one is near."""
    vi, en = _WHAT[table]
    near = await suggestion(conn, principal, table, code)
    if near is None:
        return Problem("not_found", Msg(f"Không có {vi} {code!r}", f"no {en} {code!r}"))
    return Problem(
        "not_found",
        Msg(
            f"Không có {vi} {code!r}; có phải {near!r}?",
            f"no {en} {code!r}; did you mean {near!r}?",
        ),
        suggestion=near,
    )
