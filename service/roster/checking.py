"""A roster's rows checked one by one into COPY records, a chunk at a time.

Field rules are the API's (delegates.py, text.py), applied for speed in two passes: each
row gets the cheap checks (NFC, trimming, lengths, categories, codes against maps loaded
once), then a whole chunk is searched at once for a control or invisible character. Only
a chunk that holds one (rare) has its values looked at one by one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from diemcau import text
from diemcau.delegates import CATEGORY_WORDS, EMAIL_RE, MAX_EMAIL, MAX_EXTERNAL_ID, category_of
from diemcau.errors import Msg
from diemcau.phones import normalise_phone
from diemcau.roster.namesakes import Maybe, SeenNames
from diemcau.tabular import EXTRA_CELLS, Found
from diemcau.units import MAX_NAME

# Rows checked, shipped and written at a time. A new roster is COPied into `delegates`
# chunk by chunk, and each COPY is a savepoint and a run of the per-statement triggers
# (references, roster versions): 1,000,000 rows took 12.4 s in chunks of 20,000 and 9.3 s
# in chunks of 100,000. (Before roster versions moved once per transaction, the same
# 20,000-row chunks made a 2,500,000-row import take 480 s.)
CHUNK_ROWS = 100_000

_EMPTY = Msg("Không được để trống", "must not be empty")
_TOO_LONG = Msg("Quá dài", "too long")


def _bad_category(value: str) -> Msg:
    shown = text.shown(value.strip())
    return Msg(
        f"Loại «{shown}» không hợp lệ: phải là đảng viên, quần chúng hoặc khách mời "
        "(member, non_member, guest)",
        f"category «{shown}»: must be member, non_member or guest (or đảng viên, "
        "quần chúng, khách mời)",
    )


_BAD_EMAIL = Msg("Địa chỉ thư điện tử không đúng", "not an e-mail address")
_OUTSIDE_SCOPE = Msg("Đơn vị ngoài phạm vi của bạn", "unit outside your subtree")
_NOT_TAKING_PART = Msg("Điểm cầu không tham gia hội nghị", "the site does not take part")
# A record's text values, by position, with the rule each follows (see `Checker.check`).
_TEXT_FIELDS = ((1, "external_id", MAX_EXTERNAL_ID), (2, "full_name", MAX_NAME))
_EMAIL_AT = 7
# Rows kept as possible namesakes, at most (a file of one name at one site would keep
# them all): beyond, namesakes are no longer warned of.
_MOST_MAYBE = 200_000


@dataclass(frozen=True)
class Maps:
    """What a row's codes are checked against, loaded once per import."""

    sites: dict[str, int]  # participating sites: code -> id
    site_units: dict[int, int]  # site id -> its unit id (a row without unit_code)
    known_sites: frozenset[str]  # every site code, to tell "unknown" from "not taking part"
    units: dict[str, int]  # the units the importer may name
    foreign_units: frozenset[str] = frozenset()  # outside a scoped organiser's subtree


def clean_id(value: str) -> str:
    """An external_id as the checker stores it (the slow pass may strip it further)."""
    value = value.strip()
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def zero_led(external_id: str) -> bool:
    """All ASCII digits and a leading zero: a spreadsheet may have dropped the zeros."""
    return external_id[:1] == "0" and external_id.isascii() and external_id.isdigit()


@dataclass
class Checker(Found):
    """Checks rows one by one into COPY records; keeps the first errors, counts all.

    A record leads with its row number (STAGING_COLUMNS), or with `conference_id` when
    given (FRESH_COLUMNS, for a roster written straight into `delegates`).
    `zero_led` counts the ids with a leading zero: without one, no two ids of the file can
    differ only by leading zeros, and the import skips looking for them. Without
    `categories` (a re-import of a file with no category column) a row's category is
    NULL: the stored one is kept, and a new delegate is refused later. With `names` (a
    new roster), rows that may repeat an earlier row's site and name are kept in
    `maybe_namesakes` (roster.namesakes).
    It is the Sink of the file's reading too (tabular.cells): garbled cells, numbers in
    the id column and the listing columns skipped come to `fail` and `warn`.
    """

    maps: Maps
    conference_id: int | None = None
    categories: bool = True
    names: SeenNames | None = None
    maybe_namesakes: list[Maybe] = field(default_factory=list)
    rows: int = 0
    zero_led: int = 0

    def chunk(self, rows: Iterator[tuple[int, Sequence[str]]]) -> bytes | None:
        """The next CHUNK_ROWS records as COPY text (None at the end of the file).

        Encoded here, in the worker, so the event loop only ships bytes and the server's
        work overlaps the checking of the next chunk.
        """
        numbers: list[int] = []
        records = []
        check = self.check
        for number, cells in rows:
            numbers.append(number)
            records.append(check(number, cells))
            if len(records) >= CHUNK_ROWS:
                break
        if not records:
            return None
        self.rows += len(records)
        chunk = "".join(map(copy_line, records))
        if text.unusual_character(chunk) is not None or _ESCAPED_BREAK.search(chunk):
            records = [self._scrub(n, r) for n, r in zip(numbers, records, strict=True)]
            chunk = "".join(map(copy_line, records))
        return chunk.encode()

    def _scrub(self, number: int, record: tuple) -> tuple:
        """The slow pass: a record's text by the full rule (text.checked_text): invisible
        characters stripped, a control character or invisible-only text a row error."""
        values = list(record)
        for at, name, longest in _TEXT_FIELDS:
            if values[at] is not None:
                try:
                    values[at] = text.required_text(values[at], longest)
                except ValueError as exc:
                    self.fail(number, name, _message(exc))
                    values[at] = None
        if values[1] is not None and zero_led(values[1]) and not zero_led(record[1]):
            self.zero_led += 1
        if values[_EMAIL_AT] is not None:
            try:
                values[_EMAIL_AT] = text.checked_text(values[_EMAIL_AT], MAX_EMAIL) or None
            except ValueError as exc:
                self.fail(number, "email", _message(exc))
                values[_EMAIL_AT] = None
        return tuple(values)

    def check(self, number: int, cells: Sequence[str]) -> tuple:
        """One row as a COPY record; a bad field is reported and left NULL."""
        lead = number if self.conference_id is None else self.conference_id
        if not cells:
            self.fail(number, "", EXTRA_CELLS)
            return (lead, None, None, None, None, None, None, None)
        ext_raw, name_raw, category, site, unit, phone_raw, email_raw = cells
        ext = self._external_id(number, ext_raw)
        name = self._name(number, name_raw)
        kind = CATEGORY_WORDS.get(category) or category_of(category)
        if kind is None and (self.categories or category.strip()):
            self.fail(number, "category", _bad_category(category))
        site_id, unit_id = self._place(number, site.strip(), unit.strip())
        phone = self._phone(number, phone_raw) if phone_raw else None
        email: str | None = email_raw.strip() or None
        if email is not None and (len(email) > MAX_EMAIL or not EMAIL_RE.match(email)):
            self.fail(number, "email", _BAD_EMAIL)
            email = None
        if self.names is not None and name and site_id and ext:
            if self.names.seen(site_id, name) and len(self.maybe_namesakes) < _MOST_MAYBE:
                self.maybe_namesakes.append((number, ext, site_id, name))
        return (lead, ext, name, kind, site_id, unit_id, phone, email)

    def _external_id(self, number: int, value: str) -> str | None:
        value = clean_id(value)
        if not value:
            self.fail(number, "external_id", _EMPTY)
            return None
        if (
            len(value) > MAX_EXTERNAL_ID
            and len(text.strip_invisible(value).strip()) > MAX_EXTERNAL_ID
        ):
            self.fail(number, "external_id", _TOO_LONG)
            return None
        if value[0] == "0" and zero_led(value):
            self.zero_led += 1
        return value

    def _name(self, number: int, value: str) -> str | None:
        value = value.strip()
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)  # NFD from a Mac is stored NFC
        if not value:
            self.fail(number, "full_name", _EMPTY)
            return None
        # Counted as stored: invisible characters, stripped by the slow pass, do not count.
        if len(value) > MAX_NAME and len(text.strip_invisible(value).strip()) > MAX_NAME:
            self.fail(number, "full_name", _TOO_LONG)
            return None
        return value

    def _place(self, number: int, site: str, unit: str) -> tuple[int | None, int | None]:
        site_id = self.maps.sites.get(site)
        if site_id is None:
            if not site:
                self.fail(number, "site_code", _EMPTY)
            elif site in self.maps.known_sites:
                self.fail(number, "site_code", _NOT_TAKING_PART)
            else:
                self.fail(
                    number, "site_code", Msg(f"Không có điểm cầu {site}", f"no site {site!r}")
                )
        if not unit:
            return site_id, self.maps.site_units.get(site_id) if site_id else None
        unit_id = self.maps.units.get(unit)
        if unit in self.maps.foreign_units:
            self.fail(number, "unit_code", _OUTSIDE_SCOPE)
        elif unit_id is None:
            self.fail(number, "unit_code", Msg(f"Không có đơn vị {unit}", f"no unit {unit!r}"))
        return site_id, unit_id

    def _phone(self, number: int, value: str) -> str | None:
        if not value.strip():
            return None
        try:
            return normalise_phone(value)
        except ValueError as exc:
            self.fail(number, "phone", _message(exc))
            return None


def _message(exc: ValueError) -> Msg:
    vi, _, en = str(exc).partition("|")
    return Msg(vi, en or vi)


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# In COPY text, a value's tab, line break or carriage return shows as one of these (a
# backslash written before t, n or r shows so too: the slow pass then looks and finds
# nothing wrong).
_ESCAPED_BREAK = re.compile(r"\\[tnr]")


def copy_line(record: tuple) -> str:
    """One record in COPY's text format (tab-separated, \\N for NULL, specials escaped)."""
    cells = []
    for v in record:
        if v is None:
            cells.append("\\N")
        elif type(v) is str:
            cells.append(v.translate(_ESCAPES) if _SPECIAL.search(v) else v)
        else:
            cells.append(str(v))
    return "\t".join(cells) + "\n"
