"""The XLSX container: its zip, where its parts are, and how their XML is fed to expat,
each within its limits (limits.py) before anything is decompressed.

zipfile reads the whole table of contents into memory, and decompresses bzip2 and lzma
without bounds: the table's size is checked from the zip's end record first, and only
deflate (what every spreadsheet writes) or no compression is accepted. expat is given no
DTD (so no entity expansion), and a tag that goes on for MAX_XML_TOKEN_BYTES is refused,
since expat holds an unfinished tag in memory.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
from collections.abc import Callable
from typing import IO, Any
from xml.parsers import expat

from diemcau.errors import Msg, Problem
from diemcau.tabular.limits import (
    MAX_PART_BYTES,
    MAX_XML_TOKEN_BYTES,
    MAX_ZIP_DIRECTORY_BYTES,
    too_large,
)
from diemcau.tabular.problems import file_error

_BLOCK = 1 << 16


def not_xlsx(reason: str) -> Problem:
    """The 422 for a file that is no XLSX we can read, saying why."""
    return file_error(
        Msg(f"Không đọc được tệp XLSX: {reason}", f"cannot read the XLSX file: {reason}")
    )


def xml_parser() -> Any:
    """An expat parser naming elements '<namespace>}<local>', refusing any DTD."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    if hasattr(parser, "SetReparseDeferralEnabled"):
        parser.SetReparseDeferralEnabled(False)  # keep CurrentByteIndex close to what is fed

    def no_dtd(*_: Any) -> None:
        # A spreadsheet never has one; a DTD is where entity bombs live.
        raise not_xlsx("DTD")

    parser.StartDoctypeDeclHandler = no_dtd
    return parser


def _directory_size(fh: IO[bytes]) -> int | None:
    """The size of the zip's central directory, from its end record (zip64 too)."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - (22 + 65535)))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None  # not a zip: zipfile says so
    entries, directory = struct.unpack("<HL", tail[at + 10 : at + 16])
    if entries != 0xFFFF and directory != 0xFFFFFFFF:
        return int(directory)
    locator = tail[at - 20 : at]
    if len(locator) < 20 or locator[:4] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack("<Q", locator[8:16])
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    return int(struct.unpack("<Q", record[40:48])[0])


def open_zip(fh: IO[bytes]) -> zipfile.ZipFile:
    """The zip, once its table of contents is known to be small (zipfile reads all of it
    into memory: a 1 GB upload of empty entries would cost ten times that)."""
    directory = _directory_size(fh)
    if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
        raise too_large("zip_directory_bytes", MAX_ZIP_DIRECTORY_BYTES)
    fh.seek(0)
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise not_xlsx(str(exc)) from None


def member(book: zipfile.ZipFile, name: str, limit: str, maximum: int) -> zipfile.ZipInfo:
    """Part `name` of the zip, refused (413 naming `limit`) past `maximum` bytes unpacked."""
    try:
        info = book.getinfo(name)
    except KeyError:
        raise not_xlsx(f"{name} missing") from None
    if info.file_size > maximum:
        raise too_large(limit, maximum)
    # zipfile bounds what deflate gives back per read; bzip2 and lzma it does not.
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise not_xlsx(f"{name}: compression method {info.compress_type}")
    return info


def _small_part(book: zipfile.ZipFile, name: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of a small XML part (workbook, relationships): (local name, attrs)."""
    info = member(book, name, "part_bytes", MAX_PART_BYTES)
    found: list[tuple[str, dict[str, str]]] = []
    parser = xml_parser()
    parser.StartElementHandler = lambda tag, attrs: found.append((tag.rpartition("}")[2], attrs))
    try:
        parser.Parse(book.read(info), True)
    except (expat.ExpatError, zipfile.BadZipFile, OSError) as exc:
        raise not_xlsx(f"{name}: {exc}") from None
    return found


def _relationships(book: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type's last word, target part name)."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in book.NameToInfo:
        return {}
    out = {}
    for tag, attrs in _small_part(book, rels):
        if tag == "Relationship" and "Target" in attrs and attrs.get("TargetMode") != "External":
            target = attrs["Target"]
            name = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            out[attrs.get("Id", "")] = (
                attrs.get("Type", "").rpartition("/")[2],
                posixpath.normpath(name),
            )
    return out


def locate(book: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part and the shared strings' (None when there are none)."""
    office = [t for kind, t in _relationships(book, "").values() if kind == "officeDocument"]
    workbook = office[0] if office else "xl/workbook.xml"
    rels = _relationships(book, workbook)
    for tag, attrs in _small_part(book, workbook):
        if tag != "sheet":
            continue
        rid = next((v for k, v in attrs.items() if k.rpartition("}")[2] == "id"), None)
        kind, target = rels.get(rid or "", ("", ""))
        if kind == "worksheet":
            strings = [t for k, t in rels.values() if k == "sharedStrings"]
            return target, strings[0] if strings else None
    raise not_xlsx("no worksheet")


def feed_part(
    book: zipfile.ZipFile,
    name: str,
    limit: str,
    maximum: int,
    handlers: tuple[
        Callable[[str, dict[str, str]], None], Callable[[str], None], Callable[[str], None]
    ],
) -> Feed:
    """Part `name`, checked against its limit, to be fed to a parser calling `handlers`
    (start of an element, its end, character data)."""
    info = member(book, name, limit, maximum)
    parser = xml_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = handlers
    return Feed(book, info, parser)


class Feed:
    """One zip part, fed to an expat parser block by block, within its limits."""

    def __init__(self, book: zipfile.ZipFile, info: zipfile.ZipInfo, parser: Any) -> None:
        self.stream = book.open(info)
        self.parser = parser
        self.fed = 0
        self.done = False

    def next(self) -> None:
        """Parse one more block; raise if one tag has gone on for too long."""
        try:
            block = self.stream.read(_BLOCK)
            self.fed += len(block)
            self.parser.Parse(block, not block)
        except (expat.ExpatError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise not_xlsx(str(exc)) from None
        self.done = not block
        # Past the last complete event, expat holds the unfinished tag in memory.
        if self.fed - self.parser.CurrentByteIndex > MAX_XML_TOKEN_BYTES:
            raise too_large("xml_token_bytes", MAX_XML_TOKEN_BYTES)

    def close(self) -> None:
        self.stream.close()
