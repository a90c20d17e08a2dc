"""The web kiosk's own words, read from its script (`kiosk/web/i18n.js`), so a guide
quotes each button and answer exactly as the screen says it.

The table is a plain object literal, one `key: "text",` a line (a long text may go on
the next line, as the formatter writes it), in one block per language. Anything else
inside the table is refused rather than skipped: a table written another way must fail
the guides' tests, not drop a label without a word.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files

# Which script holds which table: a guide quotes `[[key]]` from the first, and
# `[[name:key]]` from another one listed here.
TABLES = {"ui": ("i18n.js", "STRINGS")}

_KEY = re.compile(r"^(\w+):\s*(.*?)\s*$")
_TEXT = re.compile(r'^("(?:[^"\\]|\\.)*"),?$')
_BLOCK = re.compile(r"^(\w+):\s*\{$")


class LabelTableError(ValueError):
    """The script's table is not written the way this reader knows."""


def read_table(source: str, name: str) -> dict[str, dict[str, str]]:
    """`const NAME = { lang: { key: "text", ... }, ... };` as {lang: {key: text}}."""
    lines = _table_lines(source, name)
    table: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    pending: str | None = None  # a key whose text is on the next line
    for number, raw in lines:
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if pending is not None:
            current = _entry(table, current, number, pending, line)
            pending = None
        elif (block := _BLOCK.match(line)) and current is None:
            current = table.setdefault(block.group(1), {})
        elif line in ("},", "}") and current is not None:
            current = None
        elif (entry := _KEY.match(line)) and current is not None:
            if entry.group(2):
                current = _entry(table, current, number, entry.group(1), entry.group(2))
            else:
                pending = entry.group(1)
        else:
            raise LabelTableError(f"{name}, line {number}: cannot read {line!r}")
    if not table:
        raise LabelTableError(f"{name} has no language")
    return table


def _entry(
    table: dict[str, dict[str, str]],
    current: dict[str, str] | None,
    number: int,
    key: str,
    text: str,
) -> dict[str, str]:
    found = _TEXT.match(text)
    if current is None or found is None:
        raise LabelTableError(f"line {number}: {key} is not a plain string")
    current[key] = json.loads(found.group(1))
    return current


def _table_lines(source: str, name: str) -> list[tuple[int, str]]:
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"const {name} = {{"), None)
    if start is None:
        raise LabelTableError(f"no `const {name} = {{` in the script")
    for end in range(start + 1, len(lines)):
        if lines[end].strip() == "};":
            return [(i + 1, lines[i]) for i in range(start + 1, end)]
    raise LabelTableError(f"{name} is never closed")


@cache
def kiosk_labels() -> dict[str, dict[str, dict[str, str]]]:
    """Every table the guides may quote: {table: {lang: {key: text}}}."""
    web = files("diemcau.kiosk") / "web"
    return {
        table: read_table((web / script).read_text(encoding="utf-8"), name)
        for table, (script, name) in TABLES.items()
    }


def label(table: str, lang: str, key: str) -> str:
    """One label as the page shows it in `lang`; KeyError when the page has no such word."""
    return kiosk_labels()[table][lang][key]
