"""Debian's Chromium driven by playwright, for the web kiosk's browser tests.

The browser runs on a thread and event loop of its own, so one browser can serve a whole
module while each test's service (aiohttp on a real port) runs in that test's own loop:
`await browser.run(page.goto(url))` hands a playwright coroutine to the browser's loop
and waits for it without blocking the service.

Where no Chromium is found the tests skip, saying why; with DIEMCAU_REQUIRE_BROWSER=1
(set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Awaitable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

T = TypeVar("T")

# The flags of the brief: quiet, no network of its own, no sandbox (CI runs as root).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 780}


def require_browser() -> str:
    """The Chromium to drive, or a skip (a failure when DIEMCAU_REQUIRE_BROWSER=1)."""
    path = shutil.which("chromium")
    problem = None
    if path is None:
        problem = "no `chromium` on PATH (apt-get install -y chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install '.[test]')"
    if problem is not None:
        if os.environ.get("DIEMCAU_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    assert path is not None
    return path


class Browser:
    """One Chromium on its own thread; `run` awaits playwright coroutines from any loop."""

    def __init__(self, executable: str, extra_args: list[str] = ()) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.playwright: Any = None
        self.browser: Any = None
        self.wait(self._launch(executable, [*ARGS, *extra_args]))

    async def _launch(self, executable: str, args: list[str]) -> None:
        from playwright.async_api import async_playwright

        self.playwright = await async_playwright().start()
        # launch() gives every run a fresh temporary profile (user data dir).
        self.browser = await self.playwright.chromium.launch(
            executable_path=executable, args=args, headless=True
        )

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the browser's loop from plain (non-async) code."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def run(self, coro: Awaitable[T]) -> T:
        """Run a playwright coroutine on the browser's loop; the caller's loop keeps going."""
        future = asyncio.run_coroutine_threadsafe(_wrap(coro), self.loop)
        return await asyncio.wrap_future(future)

    async def new_page(self, base_url: str, **options: Any) -> tuple[Any, Any]:
        """A fresh context (its own IndexedDB, service workers, storage) and a page in it."""

        async def make() -> tuple[Any, Any]:
            context = await self.browser.new_context(
                base_url=base_url, viewport=options.pop("viewport", PHONE), **options
            )
            context.set_default_timeout(15_000)
            return context, await context.new_page()

        return await self.run(make())

    def close(self) -> None:
        async def stop() -> None:
            await self.browser.close()
            await self.playwright.stop()

        try:
            self.wait(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


async def _wrap(coro: Awaitable[T]) -> T:
    return await coro


def y4m_from_png(png: Path, out: Path, *, size: tuple[int, int] = (640, 480)) -> Path:
    """A one-frame Y4M video (4:2:0) of the picture centred on white, for Chromium's
    fake camera (`--use-file-for-fake-video-capture`), which loops it."""
    width, height = size
    frame = Image.new("RGB", size, "white")
    picture = Image.open(png).convert("RGB")
    side = min(width, height) - 40
    picture = picture.resize((side, side), Image.Resampling.NEAREST)
    frame.paste(picture, ((width - side) // 2, (height - side) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    out.write_bytes(header + b"FRAME\n" + planes)
    return out
