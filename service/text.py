"""Characters that text from outside may not carry.

PostgreSQL refuses NUL in text (and a request that sends one must not answer 500), and
control characters have no business in names, codes or notes: they print as nothing on a
badge and can hide one value inside another. Tab and newline are kept where the field
allows free text (`allow_newlines`); everything else below U+0020, DEL, and the C1
controls U+0080-U+009F is refused. So is a lone UTF-16 surrogate (U+D800-U+DFFF), which
only JSON's `"\ud800"` escape can make: it cannot be encoded as UTF-8 at all, so it
would fail in the database driver, or in the answer that echoed it.

Invisible characters (zero-width spaces and joiners, direction marks and overrides, Hangul
fillers, the BOM) carry nothing a person can read: they are stripped, and text made of
nothing else is refused, since it prints as a blank badge. Lengths are counted on what is
stored: after NFC and stripping (299 decomposed `ê` are 299 characters, not 598).
"""

from __future__ import annotations

import re
import unicodedata

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


_INVISIBLE_CLASS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# Either kind, in one pass: what bulk checks (a roster's chunk of rows) look for first.
_UNUSUAL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{_INVISIBLE_CLASS}]")

INVISIBLE_ONLY = Msg(
    "Chỉ có ký tự vô hình (ví dụ dấu cách độ rộng 0)",
    "contains only invisible characters (such as zero-width spaces)",
)
EMPTY = Msg("Không được để trống", "must not be empty")


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text


def unusual_character(text: str) -> int | None:
    """The position of the first control (tab and newline allowed) or invisible character:
    a cheap test over much text at once, before any field is looked at one by one."""
    found = _UNUSUAL.search(text)
    return None if found is None else found.start()


def _refusal(message: Msg) -> ValueError:
    # The validators' convention ("vi|en"), read back by validation.problem_from.
    return ValueError(f"{message.vi}|{message.en}")


def checked_text(value: str, max_length: int, *, allow_newlines: bool = False) -> str:
    """Text as stored: NFC, invisible characters stripped, trimmed; '' when blank.

    Refuses (ValueError "vi|en") a control character, text of invisible characters only,
    and text longer than `max_length` once composed and stripped.
    """
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if forbidden_character(value, allow_newlines=allow_newlines) is not None:
        raise _refusal(CONTROL_MESSAGE)
    stripped = strip_invisible(value).strip()
    if not stripped and value.strip():
        raise _refusal(INVISIBLE_ONLY)
    if len(stripped) > max_length:
        raise _refusal(
            Msg(f"Quá dài (tối đa {max_length} ký tự)", f"too long (at most {max_length})")
        )
    return stripped


def required_text(value: str, max_length: int, *, allow_newlines: bool = False) -> str:
    """`checked_text` that may not be blank."""
    checked = checked_text(value, max_length, allow_newlines=allow_newlines)
    if not checked:
        raise _refusal(EMPTY)
    return checked


# A cell starting with one of these is a formula to Excel and LibreOffice ("=HYPERLINK(…)"
# in a delegate's name would run when an organiser opens the file).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A text cell for a CSV/XLSX the service writes: a leading formula character is
    neutralised with an apostrophe, as OWASP advises, so the cell shows as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value
