"""A small HTTP client for the technician's commands: base URL, token, problems as text.

The token travels only in the Authorization header; nothing here prints it, and errors
are described from the problem document the service sent, never from the request.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from diemcau.cli.say import problem_lines, t

DEFAULT_URL = "http://127.0.0.1:8080"


def default_url() -> str:
    """The service on this machine: on the port `diemcau serve` takes from PORT."""
    port = os.environ.get("PORT", "").strip()
    return f"http://127.0.0.1:{port}" if port.isascii() and port.isdigit() else DEFAULT_URL


XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 256 * 1024


class ApiError(Exception):
    """The service answered with a problem (or not at all)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("detail") or body.get("title") or f"HTTP {status}")
        self.status = status
        self.body = body

    @property
    def code(self) -> str:
        return str(self.body.get("code", ""))

    def lines(self) -> list[str]:
        """The problem as a person reads it (as the database-side commands print theirs),
        with the HTTP status and the stable code after the title."""
        body = {**self.body, "title": self.body.get("title") or f"HTTP {self.status}"}
        out = problem_lines(body)
        out[0] += f" ({self.status} {self.code or 'unknown'})" if self.status else ""
        return out

    def print(self, stream: TextIO | None = None) -> None:
        for line in self.lines():
            print(line, file=stream or sys.stderr)


def settings(url: str | None, token: str | None) -> tuple[str, str]:
    """The base URL and token: flags first, then DIEMCAU_URL / DIEMCAU_TOKEN (the URL
    then defaults to this machine, on PORT when it is set)."""
    base = (url or os.environ.get("DIEMCAU_URL") or default_url()).rstrip("/")
    secret = token or os.environ.get("DIEMCAU_TOKEN") or ""
    if not secret:
        raise ApiError(
            401,
            {
                "code": "authentication_required",
                "title": t("Cần mã truy cập", "a token is required"),
                "detail": t(
                    "đặt DIEMCAU_TOKEN (hoặc --token); tạo mã bằng diemcau token create",
                    "set DIEMCAU_TOKEN (or --token); make one with diemcau token create",
                ),
            },
        )
    return base, secret


class Client:
    """`async with Client(url, token) as api: await api.get('/api/v1/sites')`."""

    def __init__(self, base_url: str, token: str, language: str = "vi") -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"Client({self.base_url!r})"

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with Client(...)`"
        return self._session

    def url(self, path: str) -> str:
        return self.base_url + path

    def ws_url(self, path: str) -> str:
        return self.url(path).replace("http://", "ws://", 1).replace("https://", "wss://", 1)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer; ApiError for a problem or an unreachable service."""
        try:
            async with self.session.request(method, self.url(path), **kwargs) as resp:
                if resp.status >= 400:
                    raise ApiError(resp.status, await _problem(resp))
                return await resp.json(content_type=None)
        except aiohttp.ClientConnectionError as exc:
            raise ApiError(
                0,
                {
                    "code": "unreachable",
                    "title": t(
                        f"Không kết nối được {self.base_url}: dịch vụ có đang chạy?",
                        f"cannot reach {self.base_url}: is the service running?",
                    ),
                    "detail": unreachable(exc),
                },
            ) from None

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: str(v) for k, v in params.items() if v is not None}
        return await self.request("GET", path, params=clean)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, json=body)

    async def upload(
        self, path: str, file: Path, progress: Callable[[int, int], None] | None = None
    ) -> Any:
        """POST a CSV/XLSX file as the body, calling `progress(sent, total)` as it goes."""
        total = (await asyncio.to_thread(file.stat)).st_size
        media = XLSX_MEDIA if file.suffix.lower() in (".xlsx", ".xlsm") else "text/csv"

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            fh = await asyncio.to_thread(file.open, "rb")
            try:
                while chunk := await asyncio.to_thread(fh.read, CHUNK):
                    sent += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(sent, total)
            finally:
                fh.close()

        headers = {"Content-Type": media, "Content-Length": str(total)}
        return await self.request("POST", path, data=chunks(), headers=headers)


def unreachable(exc: aiohttp.ClientConnectionError) -> str:
    """Why the service could not be reached, in words, naming the address tried."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return t(f"không tìm thấy máy tên {exc.host}", f"no machine is named {exc.host}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = f"{exc.host}:{exc.port}"
        if isinstance(exc.os_error, ConnectionRefusedError):
            return t(
                f"{where} từ chối kết nối: không có chương trình nào nghe ở cổng {exc.port}",
                f"{where} refused the connection: nothing listens on port {exc.port}",
            )
        reason = exc.os_error.strerror or str(exc.os_error)
        return t(f"không kết nối được {where}: {reason}", f"cannot connect to {where}: {reason}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return t("dịch vụ đóng kết nối giữa chừng", "the service closed the connection")
    return t("mất kết nối với dịch vụ", "the connection to the service was lost")


async def _problem(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        body = None
    if isinstance(body, dict):
        return body
    return {"code": "", "title": f"HTTP {resp.status} {resp.reason or ''}".strip()}
