"""Vietnamese phone numbers, one rule for every import and form."""

from __future__ import annotations

import re

# Mobile numbers have 10 digits (0 + 9), landlines 11 (02x...); +84/84 stands for the 0.
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# ASCII digits only: \d would take Arabic-Indic ones; fullmatch refuses a trailing newline.
_PHONE = re.compile(r"0[0-9]{9,10}")


def normalise_phone(value: str) -> str:
    """A Vietnamese phone as `0912345678`: spaces, dots, dashes dropped; +84/84 -> 0."""
    digits = _PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits.isascii() and digits.isdigit():
        digits = "0" + digits  # Excel read "0912345678" as a number and lost the 0
    if not _PHONE.fullmatch(digits):
        raise ValueError(
            "Số điện thoại không đúng (ví dụ 0912345678 hoặc +84912345678)|"
            "not a Vietnamese phone number (e.g. 0912345678 or +84912345678)"
        )
    return digits
