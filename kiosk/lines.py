"""Input lines for the kiosk: a USB scanner (a keyboard to the system) on stdin, or a file.

Stdin is read by a daemon thread that hands lines to the event loop: a blocked
`readline` must neither stall the loop nor keep the process alive after the kiosk stops.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO


async def file_lines(path: Path) -> AsyncIterator[str]:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    for line in text.splitlines():
        yield line


async def stdin_lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Lines of `stream` (stdin) as they come; ends at end of input."""
    source = stream or sys.stdin
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in source:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except (RuntimeError, ValueError):
            return  # the loop is closed (the kiosk stopped) or stdin was closed

    threading.Thread(target=pump, name="kiosk-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line
