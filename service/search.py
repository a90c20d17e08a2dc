"""Listing helpers: search without diacritics ("lai chau" finds "Lai Châu", "da nang"
finds "Đà Nẵng") and opaque keyset cursors.

PostgreSQL here has no `unaccent` (the embedded server ships without contrib), so the
service writes a folded copy of the searchable text (`search_text`) and folds the query
the same way; a search is then a plain `LIKE` on ASCII-ish lower-case text.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Iterable

from diemcau.errors import Msg, Problem, field_error
from diemcau.text import ascii_number, forbidden_character


def _fold_table() -> dict[int, str | None]:
    """One `str.translate` table: every Latin letter with marks -> its bare lower-case
    letter, combining marks (NFD input) -> nothing. Đ/đ are letters of their own, not D
    with a mark, so NFD leaves them alone: they are mapped by hand. A table instead of
    NFD + filtering per character: folding 40,000 imported rows must stay cheap.
    """
    table: dict[int, str | None] = {c: None for c in range(0x300, 0x370)}
    for block in (range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        for code in block:
            bare = unicodedata.normalize("NFD", chr(code))
            bare = "".join(ch for ch in bare if not unicodedata.combining(ch)).lower()
            if bare != chr(code):
                table[code] = bare
    for letter in "đĐð":
        table[ord(letter)] = "d"
    return table


_FOLD = _fold_table()
MAX_TERMS = 8


def nfc(text: str) -> str:
    """Text as stored: NFC, so "Châu" typed on a Mac (NFD) equals "Châu" from Windows."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower-case, no diacritics, đ -> d, runs of spaces squeezed to one."""
    # lower() first: it may itself make a combining mark ('İ' -> 'i' + U+0307).
    return " ".join(text.lower().translate(_FOLD).split())


def search_text(*parts: str | None) -> str:
    """The `search_text` column for these fields (empty ones skipped)."""
    return fold(" ".join(p for p in parts if p))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_patterns(query: str) -> list[str]:
    """One `LIKE` pattern per word of the query; a row matches when it matches them all."""
    terms: Iterable[str] = fold(query).split(" ")
    return [f"%{_escape_like(t)}%" for t in terms if t][:MAX_TERMS]


def encode_cursor(key: str) -> str:
    """An opaque cursor for "the items after `key`" (url-safe, no padding)."""
    raw = json.dumps({"after": key}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The key a cursor stands for; 400 `invalid_cursor` for anything we did not make."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        key = None
    # A key we made never holds a control character; a forged one must not reach SQL.
    if not isinstance(key, str) or forbidden_character(key) is not None:
        raise invalid_cursor()
    return key


def decode_id_cursor(cursor: str | None) -> int | None:
    """The id a cursor made by `encode_cursor(str(id))` stands for (lists paged by id);
    400 `invalid_cursor` for anything else, such as '²' or an id past bigint."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    found = ascii_number(key)
    if found is None:
        raise invalid_cursor()
    return found


def invalid_cursor() -> Problem:
    message = Msg(
        "Con trỏ không đúng; hãy dùng giá trị `next` đã nhận", "use the `next` value given"
    )
    return Problem("invalid_cursor", message, errors=[field_error("cursor", message)])
