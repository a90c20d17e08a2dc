"""Numbers as people read them: the one place the CLI, the API's messages and the reports
write counts, percentages and rates.

Vietnamese groups thousands with a dot and writes decimals with a comma (`11.873`,
`97,87%`); English the other way round (`11,873`, `97.87%`), so that "1.129 rows/s" is
never read as one row a second. A rate is worked out from its two whole numbers and
rounded half up, as a person does by hand: the provinces' own reports print
"4.502/4.600 (97,87%)", and the seed article's hand-typed 97,27% for the same figures is
the slip computed reports prevent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

LANGUAGES = ("vi", "en")


def number(value: float | int | Decimal, decimals: int = 0, language: str = "vi") -> str:
    """11873 -> '11.873' (vi) or '11,873' (en); decimals with ',' (vi) or '.' (en)."""
    written = f"{value:,.{decimals}f}"
    if language == "en":
        return written
    return written.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def share(part: int, whole: int, decimals: int = 2) -> Decimal | None:
    """part/whole as a percentage rounded half up (4502, 4600 -> 97.87); None when whole is 0."""
    if whole == 0:
        return None
    exact = Decimal(part) * 100 / Decimal(whole)
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def percent(fraction: float | None, language: str = "vi", decimals: int = 2) -> str:
    """0.9787 -> '97,87%' (vi) or '97.87%' (en); None -> '-'."""
    if fraction is None:
        return "-"
    rounded = (Decimal(repr(fraction)) * 100).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP
    )
    return number(rounded, decimals, language) + "%"


def percent_of(part: int, whole: int, language: str = "vi", decimals: int = 2) -> str:
    """4502, 4600 -> '97,87%'; '-' when nothing is expected."""
    found = share(part, whole, decimals)
    return "-" if found is None else number(found, decimals, language) + "%"


def ratio(part: int, whole: int, language: str = "vi") -> str:
    """A rate as the provinces write it: 4502, 4600 -> '4.502/4.600 (97,87%)'; with
    nothing expected, the count alone ('12/0')."""
    shown = f"{number(part, 0, language)}/{number(whole, 0, language)}"
    if whole == 0:
        return shown
    return f"{shown} ({percent_of(part, whole, language)})"
