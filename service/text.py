"""Characters that text from outside may not carry.

PostgreSQL refuses NUL in text (and a request that sends one must not answer 500), and
control characters have no business in names, codes or notes: they print as nothing on a
badge and can hide one value inside another. Tab and newline are kept where the field
allows free text (`allow_newlines`); everything else below U+0020, DEL, and the C1
controls U+0080-U+009F is refused. So is a lone UTF-16 surrogate (U+D800-U+DFFF), which
only JSON's `"\ud800"` escape can make: it cannot be encoded as UTF-8 at all, so it
would fail in the database driver, or in the answer that echoed it.
"""

from __future__ import annotations

import re

from diemcau.errors import Msg

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_OR_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

CONTROL_MESSAGE = Msg(
    "Có ký tự điều khiển không hợp lệ (ví dụ NUL)",
    "contains a control character that is not allowed (such as NUL)",
)


def forbidden_character(text: str, *, allow_newlines: bool = False) -> int | None:
    """The position of the first character `text` may not carry, or None when it is clean."""
    found = (_CONTROL if allow_newlines else _CONTROL_OR_LINE).search(text)
    return None if found is None else found.start()


def has_forbidden_character(text: str, *, allow_newlines: bool = False) -> bool:
    return forbidden_character(text, allow_newlines=allow_newlines) is not None


def shown(text: str) -> str:
    """`text` with every forbidden character written as a `\\uXXXX` escape: safe to name
    in an answer or a log (a lone surrogate could not even be encoded)."""
    return _CONTROL_OR_LINE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def ascii_number(text: str, max_digits: int = 18) -> int | None:
    """The number `text` writes in ASCII digits, or None for anything else.

    Ids in paths and cursors are ASCII: `str.isdigit` and `int()` also read '²', '３' and
    Arabic-Indic digits ('٣' is 3), so an id could be spelled many ways, or crash int().
    18 digits keep it inside PostgreSQL's bigint.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


# A cell starting with one of these is a formula to Excel and LibreOffice ("=HYPERLINK(…)"
# in a delegate's name would run when an organiser opens the file).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A text cell for a CSV/XLSX the service writes: a leading formula character is
    neutralised with an apostrophe, as OWASP advises, so the cell shows as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value
