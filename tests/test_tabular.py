"""Reading files (diemcau.tabular): what a spreadsheet shows is what an import gets, and
no file makes the reader do more than its limits allow."""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from diemcau import tabular
from diemcau.errors import Problem
from diemcau.tabular import Sheet, Stopped, limits
from tests.sheets import MAIN, inline_row, row, sheet_xml, strings_xml, xlsx

COLUMNS = ("code", "name", "level", "note")


def _write(tmp_path: Path, data: bytes, name: str = "f.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _rows(path: Path, kind: str = "xlsx") -> list[tuple[int, dict[str, str]]]:
    return list(tabular.read_rows(Sheet(path, kind), COLUMNS, ("code",)))


def _openpyxl_text(value: Any) -> str:
    """What the reader used to give, through openpyxl (data only)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def test_what_excel_writes_reads_as_openpyxl_reads_it(tmp_path: Path) -> None:
    """Shared strings (plain, rich text, with a phonetic guide, escaped), inline strings,
    numbers, booleans, formula results, cells without a reference, rows with gaps."""
    strings = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'
        "<si><t>code</t></si><si><t>name</t></si><si><t>level</t></si><si><t>note</t></si>"
        "<si><r><t>Lai </t></r><r><rPr><b/></rPr><t>Châu</t></r></si>"
        "<si><t>Tam Đường</t><rPh sb='0' eb='1'><t>PHONETIC</t></rPh></si>"
        "<si><t>dòng 1_x000D_dòng 2</t></si>"
        "</sst>"
    )
    rows = (
        row(1, "A:0", "B:1", "C:2", "D:3")
        + '<row r="2"><c r="A2" t="n"><v>912345678</v></c><c r="B2" t="s"><v>4</v></c>'
        + '<c r="C2" t="b"><v>1</v></c><c r="D2"><v>1.5E3</v></c></row>'
        + '<row r="5"><c t="str"><f>A1</f><v>LC</v></c><c t="s"><v>5</v></c>'
        + '<c><v>0.25</v></c><c t="s"><v>6</v></c></row>'
        + '<row r="6"><c r="A6" s="3"/><c r="B6" t="inlineStr"><is><r><t>Bản </t></r>'
        + "<r><t>Bo</t></r></is></c><c r='C6' t='e'><v>#N/A</v></c></row>"
    )
    path = _write(tmp_path, xlsx(sheet_xml(rows, "A1:D6"), strings))
    got = _rows(path)
    assert got == [
        (1, {"code": "912345678", "name": "Lai Châu", "level": "True", "note": "1500"}),
        (4, {"code": "LC", "name": "Tam Đường", "level": "0.25", "note": "dòng 1\rdòng 2"}),
        (5, {"code": "", "name": "Bản Bo", "level": "#N/A", "note": ""}),
    ]
    book = load_workbook(path, read_only=True, data_only=True)
    seen = [[_openpyxl_text(v) for v in r] for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    ours = [list(cells.values()) for _, cells in got]
    assert next(r for r in seen[1:] if any(r)) == ours[0]
    assert seen[5][1:3] == ours[2][1:3]


def test_openpyxl_files_read_the_same(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["STT", "code", "name", "level"])
    sheet.append([1, "LC", "Lai Châu", "province"])
    sheet.append([])
    sheet.append([3, 12.0, "  Tam Đường ", None])
    path = tmp_path / "b.xlsx"
    book.save(path)
    assert _rows(path) == [
        (1, {"code": "LC", "name": "Lai Châu", "level": "province"}),
        (3, {"code": "12", "name": "Tam Đường", "level": ""}),
    ]


def test_a_declared_grid_costs_nothing_and_a_far_value_is_refused(tmp_path: Path) -> None:
    """The 2 KB attack: A1:XFD1048576 declared, one value in the far corner. The grid is
    never padded out; the value right of column 64 is an error naming the limit."""
    rows = inline_row(1, "code", "name") + inline_row(2, "LC", "Lai Châu")
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    path = _write(tmp_path, xlsx(sheet_xml(rows + far, "A1:XFD1048576")))
    with pytest.raises(Problem) as failed:
        _rows(path)
    assert failed.value.code == "import_failed"
    (error,) = failed.value.errors
    assert (error["row"], error["field"]) == (1048575, "XFD")
    assert "64" in error["message"].en
    # Styled empty cells far away (whole rows formatted) are no values: read, ignored.
    empty = '<row r="1048576"><c r="XFD1048576" s="1"/></row>'
    path = _write(tmp_path, xlsx(sheet_xml(rows + empty, "A1:XFD1048576")))
    assert _rows(path) == [(1, {"code": "LC", "name": "Lai Châu"})]


def test_a_cell_over_excels_limit_is_refused(tmp_path: Path) -> None:
    long = "A" * (limits.MAX_CELL_CHARS + 1)
    rows = row(1, "A:0", "B:1") + row(2, "A:2", "B:3")
    path = _write(tmp_path, xlsx(sheet_xml(rows), strings_xml(["code", "name", "LC", long])))
    with pytest.raises(Problem) as failed:
        _rows(path)
    (error,) = failed.value.errors
    assert (error["row"], error["field"]) == (1, "name")
    assert "32,767" in error["message"].en
    inline = inline_row(1, "code", "name") + inline_row(2, "LC", long)
    with pytest.raises(Problem) as failed:
        _rows(_write(tmp_path, xlsx(sheet_xml(inline))))
    assert [(e["row"], e["field"]) for e in failed.value.errors] == [(1, "name")]


def _huge_strings(size: int) -> Any:
    yield f'<?xml version="1.0"?><sst xmlns="{MAIN}"><si><t>'.encode()
    block = b"A" * (1 << 20)
    for _ in range(size // len(block) + 1):
        yield block
    yield b"</t></si></sst>"


def test_shared_strings_over_their_limit_are_refused_unread(tmp_path: Path) -> None:
    """The 1 MB attack holding a 1 GiB string, at the limit's scale: 129 MiB of shared
    strings in a file of a few hundred KB is refused from the zip's table of contents."""
    data = xlsx(
        sheet_xml(row(1, "A:0")), _huge_strings(limits.MAX_SHARED_STRINGS_BYTES + (1 << 20))
    )
    assert len(data) < 1 << 20
    path = _write(tmp_path, data)
    for check in (tabular.check_limits, _rows):
        with pytest.raises(Problem) as failed:
            check(Sheet(path, "xlsx")) if check is tabular.check_limits else check(path)
        assert failed.value.status == 413
        assert failed.value.extra["limit"] == "shared_strings_bytes"
        assert "128 MiB" in failed.value.detail.en


def test_a_zip_with_a_huge_table_of_contents_is_refused(tmp_path: Path) -> None:
    """zipfile would read it all into memory (ten times its size): refused from the
    zip's end record, the zip64 one too (past 65,535 entries)."""
    for entries, name in ((20_000, "junk/{:040d}"), (70_000, "{:x}")):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as book:
            for i in range(entries):
                book.writestr(name.format(i), b"")
        path = _write(tmp_path, out.getvalue())
        with pytest.raises(Problem) as failed:
            _rows(path)
        assert (failed.value.status, failed.value.extra["limit"]) == (413, "zip_directory_bytes")


def test_xml_tricks_are_refused(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        '"&lol;&lol;&lol;">]><worksheet><sheetData><row><c t="inlineStr"><is><t>&lol2;</t>'
        "</is></c></row></sheetData></worksheet>"
    )
    with pytest.raises(Problem) as failed:
        _rows(_write(tmp_path, xlsx(laughs)))
    assert failed.value.code == "import_failed" and "DTD" in failed.value.errors[0]["message"].en
    endless = sheet_xml('<row r="1"><c r="A1" x="' + "y" * (2 << 20) + '"/></row>')
    with pytest.raises(Problem) as failed:
        _rows(_write(tmp_path, xlsx(endless)))
    assert failed.value.extra["limit"] == "xml_token_bytes"
    with pytest.raises(Problem) as failed:
        _rows(_write(tmp_path, b"PK\x03\x04 not really a zip"))
    assert failed.value.code == "import_failed"


def test_csv_limits(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("code,name\nLC," + "A" * (limits.MAX_CELL_CHARS + 1) + "\n")
    with pytest.raises(Problem) as failed:
        _rows(path, "csv")
    assert failed.value.code == "import_failed"
    assert failed.value.errors[0]["row"] == 1 and "32,767" in failed.value.errors[0]["message"].en
    # A record of a million one-character quoted fields, each with a line break: short
    # lines, one endless row.
    path.write_text("code,name\n" + '"\n",' * 300_000 + "\n")
    with pytest.raises(Problem) as failed:
        _rows(path, "csv")
    assert (failed.value.status, failed.value.extra["limit"]) == (413, "row_bytes")
    # One endless line, refused before a row is read.
    path.write_text("code,name\n" + "," * (limits.MAX_ROW_BYTES + 1) + "\n")
    for check in (tabular.check_limits, lambda sheet: list(tabular.read_rows(sheet, COLUMNS, ()))):
        with pytest.raises(Problem) as failed:
            check(Sheet(path, "csv"))
        assert failed.value.extra["limit"] == "row_bytes"
    path.write_text("code,name\n" + "LC,Lai Châu\n" * 11)
    with pytest.raises(Problem) as failed:
        tabular.check_limits(Sheet(path, "csv", max_rows=10))
    assert (failed.value.extra["limit"], failed.value.extra["max"]) == ("rows", 10)
    with pytest.raises(Problem) as failed:
        list(tabular.read_rows(Sheet(path, "csv", max_rows=10), COLUMNS, ()))
    assert failed.value.extra["limit"] == "rows"
    # Lines ended by CR alone ("CSV (Macintosh)"): a long file of short lines.
    path.write_bytes(b"code,name\r" + b"LC,Lai Chau\r" * 100_000)
    assert len(_rows(path, "csv")) == 100_000
    path.write_text(",".join(f"c{i}" for i in range(65)) + "\n")
    with pytest.raises(Problem) as failed:
        _rows(path, "csv")
    assert failed.value.errors[0]["field"] == "BM"  # column 65


def test_a_stopped_read_stops(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "name"])
        out.writerows([f"U{i}", f"Đơn vị {i}"] for i in range(50_000))
    stop = threading.Event()
    read = tabular.read_rows(Sheet(path, "csv", stop=stop), COLUMNS, ())
    assert next(read)[0] == 1
    stop.set()
    with pytest.raises(Stopped):
        for _ in read:
            pass
    rows = "".join(inline_row(i, f"U{i}", "x") for i in range(1, 20_000))
    xpath = _write(tmp_path, xlsx(sheet_xml(inline_row(0, "code", "name") + rows)))
    read = tabular.read_rows(Sheet(xpath, "xlsx", stop=stop), COLUMNS, ())
    with pytest.raises(Stopped):
        next(read)
