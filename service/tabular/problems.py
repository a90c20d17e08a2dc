"""How a file's problems are reported: 422 `import_failed` with `{row, field, message}`.

Row 1 is the first data row (the header is row 0), so the numbers in an error match what
a person sees below the header in Excel; row 0 with no field is the file as a whole.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from diemcau.errors import Msg, Problem

MAX_ERRORS = 1000


def row_error(row: int, field: str, message: Msg | str) -> dict[str, Any]:
    return {"row": row, "field": field, "message": message}


def import_failed(errors: list[dict[str, Any]], total: int | None = None) -> Problem:
    """The 422 for a file with bad rows; at most MAX_ERRORS are listed, all are counted.

    An error said twice (a hint about the whole file, found by two checks) is listed and
    counted once. The title already says that nothing was saved; the detail counts.
    """
    total = len(errors) if total is None else total
    once = list({_key(e): e for e in errors}.values())
    total -= len(errors) - len(once)
    shown = once[:MAX_ERRORS]
    extra: dict[str, Any] = {"error_count": total}
    if total > len(shown):
        extra["errors_truncated"] = True
    noun = "error" if total == 1 else "errors"
    detail = Msg(f"{total} lỗi trong tệp", f"{total} {noun} in the file")
    return Problem("import_failed", detail, errors=shown, **extra)


def _key(error: dict[str, Any]) -> tuple[Any, ...]:
    message = error["message"]
    said = (message.vi, message.en) if isinstance(message, Msg) else message
    return error["row"], error["field"], said


def file_error(message: Msg) -> Problem:
    """The 422 for a file that cannot be read at all."""
    return import_failed([row_error(0, "", message)])


def not_utf8(path: Path) -> Problem:
    """The 422 for a CSV that is not UTF-8, naming the first bad byte and its line.

    Only called once decoding has failed, so it may read the file again: the streaming
    decoder reads ahead in blocks and cannot say exactly where the bad byte was.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            held = decoder.getstate()[0]  # an unfinished character from the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start - len(held), 0)
                return _not_utf8_problem(lines + block.count(b"\n", 0, start), offset + start)
            offset += len(block)
            lines += block.count(b"\n")
    return _not_utf8_problem(lines, offset)  # the file ends inside a character


def _not_utf8_problem(line: int, offset: int) -> Problem:
    return import_failed(
        [
            row_error(
                line,
                "",
                Msg(
                    f"Tệp không phải UTF-8 (byte {offset}); hãy lưu dạng 'CSV UTF-8'",
                    f"not UTF-8 (byte {offset}); save the file as 'CSV UTF-8'",
                ),
            )
        ]
    )
