"""XLSX files built by hand, part by part: what Excel and LibreOffice write (shared
strings, rich text, escapes) and what an attacker would (a sheet declaring the whole
grid, a gigantic shared string, a zip of thousands of entries). openpyxl opens them
too, so the attacks are the ones the old reader fell for."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
{strings}</Types>"""
_STRINGS_TYPE = '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'

_ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
_WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_SHEET_REL = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
_STRINGS_REL = f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'


def _book_rels(strings: bool) -> str:
    rels = _SHEET_REL + (_STRINGS_REL if strings else "")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">{rels}</Relationships>'
    )


def sheet_xml(rows: str, dimension: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{dim}<sheetData>{rows}</sheetData></worksheet>'


def strings_xml(strings: Iterable[str]) -> str:
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{items}</sst>'


def row(number: int, *cells: str) -> str:
    """A row of shared-string cells: each cell is 'A:3' (column A, string 3)."""
    out = []
    for cell in cells:
        column, index = cell.split(":")
        out.append(f'<c r="{column}{number}" t="s"><v>{index}</v></c>')
    return f'<row r="{number}">{"".join(out)}</row>'


def inline_row(number: int, *values: str) -> str:
    """A row of inline strings from column A on."""
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def xlsx(
    sheet: str | bytes,
    strings: str | bytes | Iterable[bytes] | None = None,
    level: int | None = None,
) -> bytes:
    """A workbook of one sheet; `strings` is the shared-strings part, or chunks of it
    (written as a stream, so a test can build a part far bigger than its memory);
    `level` the deflate level (1 builds a hundred megabytes of text in a third of a second)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as book:
        types = _TYPES.format(strings=_STRINGS_TYPE if strings is not None else "")
        book.writestr("[Content_Types].xml", types)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _book_rels(strings is not None))
        book.writestr("xl/worksheets/sheet1.xml", sheet)
        if isinstance(strings, str | bytes):
            book.writestr("xl/sharedStrings.xml", strings)
        elif strings is not None:
            with book.open("xl/sharedStrings.xml", "w") as part:
                for chunk in strings:
                    part.write(chunk)
    return out.getvalue()
