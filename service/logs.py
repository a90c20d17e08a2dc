"""Structured logs: one JSON object a line on standard error, with the request id when known."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# What may carry a secret into a log line, in whatever shape it is written there: a header
# line (aiohttp logs the raw line of a request it cannot read, `b'Authorization: Bearer
# ...\x01'`), a dict of headers, a URL's `?ticket=`, a bearer token, or one of our tokens.
_SECRETS = [
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie)(['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]*"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(?i)\b(ticket=)[^&\s'\"#]*"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[redacted]"),
    (re.compile(r"\b(dc_)[A-Za-z0-9_-]{16,}"), r"\1[redacted]"),  # auth.TOKEN_PREFIX
]
_MAYBE = re.compile(r"(?i)authorization|cookie|ticket|bearer|dc_")


def redact(text: str) -> str:
    """`text` with every secret it may hold replaced by `[redacted]`."""
    if not _MAYBE.search(text):  # the usual line: one search, no substitution
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Every record as one JSON line, secrets redacted: ours and every library's (aiohttp's
    own loggers log through the root handler, so through this)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exc"] = redact(record.exc_text)
        return redact(json.dumps(doc, ensure_ascii=False, default=str))


class UnreadableRequests(logging.Filter):
    """A request aiohttp cannot parse (a NUL in a header, a bad request line) is the
    client's fault and answered 400: aiohttp logs it as an error with a traceback, which
    reads as if the service broke. It becomes one warning line with the parser's reason
    (its first line only: the rest quotes the raw bytes, which may hold a secret)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(exc, HttpProcessingError):
            reason = (exc.message or "").strip().splitlines()
            record.msg = "unreadable request: %s"
            record.args = (reason[0].rstrip(":") if reason else type(exc).__name__,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
            record.status = exc.code
        return True


def setup_logging(level: str = "INFO") -> None:
    """Send every logger to standard error as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(UnreadableRequests())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's own access log is replaced by ours (with route, duration and request id).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
