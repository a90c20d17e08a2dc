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
from collections.abc import Iterable

from diemcau import figures
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


# Invisible characters, as (first, last) code points: soft hyphen, combining grapheme
# joiner, Arabic letter mark, Hangul fillers, Khmer inherent vowels, Mongolian selectors,
# zero-width space/joiners and direction marks, direction embeddings and overrides, word
# joiner and invisible operators, direction isolates, variation selectors, BOM,
# interlinear annotation marks, musical format characters, tags.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F), (0xE0100, 0xE01EF),
)  # fmt: skip
_CONTROL_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F))  # all but tab and newline


def _char_class(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


def _bmp_complement(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The BMP code points outside `ranges` (and outside the surrogates)."""
    out, start = [], 0
    for a, b in sorted([*ranges, (0xD800, 0xDFFF)]):
        if a > 0xFFFF:
            break
        if a > start:
            out.append((start, a - 1))
        start = max(start, b + 1)
    if start <= 0xFFFF:
        out.append((start, 0xFFFF))
    return out


_INVISIBLE = re.compile(f"[{_char_class(_INVISIBLE_RANGES)}]")
# For a bulk test, the characters that may pass, negated: over Vietnamese text this runs
# twice as fast as listing the rare ones, and takes any character beyond U+FFFF as
# unusual too (an emoji: the value-by-value pass then looks closer and finds it fine).
_UNUSUAL = re.compile(f"[^{_char_class(_bmp_complement(_CONTROL_RANGES + _INVISIBLE_RANGES))}]")

INVISIBLE_ONLY = Msg(
    "Chỉ có ký tự vô hình (ví dụ dấu cách độ rộng 0)",
    "contains only invisible characters (such as zero-width spaces)",
)
EMPTY = Msg("Không được để trống", "must not be empty")


def strip_invisible(text: str) -> str:
    """`text` without its invisible characters."""
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text


def unusual_character(text: str) -> int | None:
    """The position of the first control (tab and newline allowed), invisible or astral
    character: a cheap test over much text at once, before any value is looked at."""
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


def vn_int(n: int) -> str:
    """11873 -> '11.873': a whole number as Vietnamese readers group it."""
    return figures.number(n)
