"""Settings: declared once (name, default, help), read from the environment at the entry point.

`create_app` receives a built `Config` and never reads the environment itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diemcau.errors import Msg
from diemcau.forwarded import Network, parse_networks


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message names the variable.

    Carries its message in both languages (`message`); `str()` is the English one, for
    logs. The command line prints it in the language it speaks.
    """

    def __init__(self, message: str | Msg) -> None:
        self.message = message if isinstance(message, Msg) else Msg(message, message)
        super().__init__(self.message.en)


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    help: str


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            Msg(
                f"{name} phải là số nguyên, không phải {raw!r}",
                f"{name} must be a whole number, got {raw!r}",
            )
        ) from None
    if value < 1:
        raise ConfigError(
            Msg(
                f"{name} phải từ 1 trở lên, không phải {value}",
                f"{name} must be at least 1, got {value}",
            )
        )
    return value


def _timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ConfigError(
            Msg(
                f"{name} không phải múi giờ đã biết: {raw!r}",
                f"{name} is not a known time zone: {raw!r}",
            )
        ) from None
    return raw


def _language(name: str, raw: str) -> str:
    if raw not in ("vi", "en"):
        raise ConfigError(
            Msg(
                f"{name} phải là 'vi' hoặc 'en', không phải {raw!r}",
                f"{name} must be 'vi' or 'en', got {raw!r}",
            )
        )
    return raw


def _url(name: str, raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+$", raw.rstrip("/")):
        raise ConfigError(
            Msg(
                f"{name} phải có dạng https://máy[:cổng], không phải {raw!r}",
                f"{name} must look like https://host[:port], got {raw!r}",
            )
        )
    return raw.rstrip("/")


def _networks(name: str, raw: str) -> tuple[Network, ...]:
    try:
        return parse_networks(raw)
    except ValueError as exc:
        raise ConfigError(
            Msg(
                f"{name} phải là các địa chỉ IP hoặc khối CIDR cách nhau bằng dấu phẩy "
                f"(như 10.0.0.0/8, 192.0.2.1), không phải {str(exc)!r}",
                f"{name} must be IP addresses or CIDR blocks separated by commas "
                f"(such as 10.0.0.0/8, 192.0.2.1), got {str(exc)!r}",
            )
        ) from None


def _dsn(name: str, raw: str) -> str:
    if not raw.startswith(("postgres://", "postgresql://")):
        raise ConfigError(
            Msg(
                f"{name} phải bắt đầu bằng postgresql://, không phải {mask_dsn(raw)!r}",
                f"{name} must start with postgresql://, got {mask_dsn(raw)!r}",
            )
        )
    return raw


# One table of every setting: the README documents each (a test checks it).
SETTINGS: dict[str, Setting] = {
    "database_url": Setting(
        "DATABASE_URL", None, "PostgreSQL to use; when unset, an embedded one is started"
    ),
    "data_dir": Setting("DIEMCAU_DATA_DIR", "./var", "where the embedded PostgreSQL and keys live"),
    "host": Setting("DIEMCAU_HOST", "127.0.0.1", "address `diemcau serve` listens on"),
    "port": Setting("PORT", "8080", "port `diemcau serve` listens on"),
    "workers": Setting("DIEMCAU_WORKERS", "1", "worker processes for `diemcau serve`"),
    "public_url": Setting(
        "DIEMCAU_PUBLIC_URL", None, "the service's own origin, e.g. https://diemcau.example.vn"
    ),
    "timezone": Setting("DIEMCAU_TIMEZONE", "Asia/Ho_Chi_Minh", "time zone shown to people"),
    "language": Setting("DIEMCAU_LANGUAGE", "vi", "default language of messages: vi or en"),
    "max_body_kb": Setting("DIEMCAU_MAX_BODY_KB", "1024", "largest JSON request body, in KiB"),
    "max_import_mb": Setting("DIEMCAU_MAX_IMPORT_MB", "1024", "largest import file, in MiB"),
    "pool_size": Setting("DIEMCAU_POOL_SIZE", "10", "PostgreSQL connections per worker"),
    "kiosk_rate": Setting(
        "DIEMCAU_KIOSK_RATE", "20", "check-in requests a second one kiosk may send (per worker)"
    ),
    "trusted_proxies": Setting(
        "DIEMCAU_TRUSTED_PROXIES",
        None,
        "reverse proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For "
        "names the client",
    ),
    "log_level": Setting("DIEMCAU_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    "secret_key": Setting(
        "DIEMCAU_SECRET_KEY",
        None,
        "key (32+ characters) that encrypts the conferences' signing keys; "
        "when unset, one is generated into the data dir on first start",
    ),
}

_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "database_url": _dsn,
    "port": _positive_int,
    "workers": _positive_int,
    "public_url": _url,
    "timezone": _timezone,
    "language": _language,
    "max_body_kb": _positive_int,
    "max_import_mb": _positive_int,
    "pool_size": _positive_int,
    "kiosk_rate": _positive_int,
    "trusted_proxies": _networks,
}


@dataclass(frozen=True)
class Config:
    database_url: str | None = None
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    public_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    language: str = "vi"
    max_body_kb: int = 1024
    max_import_mb: int = 1024
    pool_size: int = 10
    kiosk_rate: int = 20
    trusted_proxies: tuple[Network, ...] = ()
    log_level: str = "INFO"
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build and validate the config; raises ConfigError naming the bad variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, setting in SETTINGS.items():
            raw = env.get(setting.env, setting.default)
            if raw is None or raw == "":
                continue
            parse = _PARSERS.get(name)
            values[name] = parse(setting.env, raw) if parse else raw
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
        if "secret_key" in values and len(values["secret_key"]) < 32:
            raise ConfigError(
                Msg(
                    "DIEMCAU_SECRET_KEY phải dài ít nhất 32 ký tự",
                    "DIEMCAU_SECRET_KEY must be at least 32 characters long",
                )
            )
        level = str(values.get("log_level", "INFO")).upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                Msg(
                    f"DIEMCAU_LOG_LEVEL phải là DEBUG, INFO, WARNING hoặc ERROR: {level!r}",
                    f"DIEMCAU_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR: {level!r}",
                )
            )
        values["log_level"] = level
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """The settings as safe to log: the DSN with its password masked."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _UNLOGGED}
        out["database_url"] = mask_dsn(self.database_url) if self.database_url else "embedded"
        out["data_dir"] = str(self.data_dir)
        out["trusted_proxies"] = [str(net) for net in self.trusted_proxies]
        return out


_UNLOGGED = ("secret_key",)


def mask_dsn(dsn: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db.

    Everything up to the last '@' goes (a password may hold one unescaped: hiding too
    much is the safe side), and so does a `password=` parameter.
    """
    masked = re.sub(r"(://[^:/@]*:).*@", r"\1***@", dsn)
    return re.sub(r"(password=)[^&]*", r"\1***", masked)
