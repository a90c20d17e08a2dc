"""A progress line on stderr: redrawn in place (`\\r`) on a terminal; elsewhere (a log
file, a CI job, `2> file`) a whole line now and then, since `\\r` frames there pile up
into one unreadable line of thousands of frames."""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVERY = 5.0  # seconds between two lines when the stream is not a terminal


class Progress:
    """`show(line)` as often as work advances; `finish()` once at the end."""

    def __init__(self, stream: TextIO | None = None, every: float = EVERY) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and callers swap stderr
        self.every = every
        self.tty = _is_terminal(self.stream)
        self.last: str | None = None  # the latest line, drawn or not
        self._written: str | None = None
        self._at = 0.0
        self._width = 0

    def show(self, line: str) -> None:
        self.last = line
        if self.tty:
            pad = " " * max(self._width - len(line), 0)  # wipe a longer line drawn before
            self._width = len(line)
            self._put("\r" + line + pad)
        elif self._written is None or time.monotonic() - self._at >= self.every:
            self._put(line + "\n")
        else:
            return
        self._written, self._at = line, time.monotonic()

    def finish(self) -> None:
        """End the line on a terminal; elsewhere write the last state if not yet written."""
        if self.tty:
            if self._written is not None:
                self._put("\n")
        elif self.last is not None and self.last != self._written:
            self._put(self.last + "\n")
        self._written = self.last

    def _put(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or no real file
        return False
