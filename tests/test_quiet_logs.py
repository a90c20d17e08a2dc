"""No token in any log line (issue 20, point 8).

An `Authorization` header holding a control character made aiohttp log the raw header
line, token included, at ERROR. A real `diemcau serve` is sent such requests (and a
`Cookie`, and a `?ticket=` in a request line aiohttp cannot read), and its whole log is
searched for the secrets.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diemcau.logs import JsonFormatter, redact
from tests.test_serve import _free_port, _get

SECRETS = {
    "authorization": "Sup3rSecretBearerToken",
    "cookie": "Sup3rSecretCookieValue",
    "ticket": "Sup3rSecretTicketValue",
    "proxy": "Sup3rSecretProxyAuth",
}


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = os.environ | {"DATABASE_URL": database_url, "DIEMCAU_LOG_LEVEL": "DEBUG"}
    env["DIEMCAU_DATA_DIR"] = str(tmp_path / "var")
    with open(log, "wb") as fh:
        server = subprocess.Popen(
            [sys.executable, "-m", "diemcau", "serve", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=fh,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if _get(port, "/healthz") == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            yield port, log
        finally:
            server.terminate()
            server.wait(timeout=30)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_no_secret_reaches_the_log_of_a_served_process(served: tuple[int, Path]) -> None:
    port, log = served
    sent = [
        # A control character in the header: aiohttp refuses the request and logged the line.
        b"GET /api/v1/units HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + SECRETS["authorization"].encode()
        + b"\x01\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/units HTTP/1.1\r\nHost: x\r\nCookie: session="
        + SECRETS["cookie"].encode()
        + b"\x01\r\nConnection: close\r\n\r\n",
        b"GET /ws/kiosk?ticket="
        + SECRETS["ticket"].encode()
        + b"\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/units HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic "
        + SECRETS["proxy"].encode()
        + b"\x7f\r\nConnection: close\r\n\r\n",
        # And well-formed ones, which our own access log sees.
        b"GET /ws/kiosk?ticket="
        + SECRETS["ticket"].encode()
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + SECRETS["authorization"].encode()
        + b"\r\nConnection: close\r\n\r\n",
    ]
    for request in sent:
        answer = _raw(port, request)
        assert answer.split(b" ", 2)[1].startswith(b"4"), answer[:200]
    time.sleep(0.5)  # let the server write its lines
    text = log.read_text(errors="replace")
    assert "request" in text  # the log is there, and the requests were logged
    # A request the parser refuses is the client's fault: a warning with the reason, not
    # an error with aiohttp's traceback.
    assert '"unreadable request: Invalid header value char"' in text, text[-3000:]
    assert '"level": "error"' not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    for what, secret in SECRETS.items():
        assert secret not in text, f"the {what} secret is in the log:\n{text[-3000:]}"
        assert secret[:12] not in text, f"part of the {what} secret is in the log"


@pytest.mark.parametrize(
    "line",
    [
        "Authorization: Bearer abc.DEF-123",
        "b'authorization: bearer abc.DEF-123\\x01'",
        "{'Authorization': 'Bearer abc.DEF-123'}",
        "Cookie: a=abc.DEF-123; b=2",
        "GET /ws/kiosk?site=S1&ticket=abc.DEF-123 HTTP/1.1",
        "Set-Cookie: sid=abc.DEF-123",
        "bearer abc.DEF-123",
    ],
)
def test_redaction_covers_the_shapes_a_secret_is_logged_in(line: str) -> None:
    assert "abc.DEF-123" not in redact(line)
    assert "[redacted]" in redact(line)


def test_the_formatter_redacts_messages_extras_and_tracebacks() -> None:
    try:
        raise ValueError("Authorization: Bearer abc.DEF-123")
    except ValueError:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "bad %s", ("ticket=abc.DEF-123",), None
        )
        record.exc_info = sys.exc_info()
    record.header = "Cookie: x=abc.DEF-123"
    line = JsonFormatter().format(record)
    assert "abc.DEF-123" not in line, line
    assert line.count("[redacted]") >= 3, line
