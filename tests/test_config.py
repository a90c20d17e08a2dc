"""Settings are declared once, validated with clear messages, documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from diemcau.config import SETTINGS, Config, ConfigError, mask_dsn

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_documents_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS.values() if f"`{s.env}`" not in text]
    assert not missing, f"README.md does not document {missing}"


def test_defaults() -> None:
    config = Config.from_env({})
    assert config.database_url is None
    assert config.port == 8080
    assert config.timezone == "Asia/Ho_Chi_Minh"
    assert config.language == "vi"
    assert config.data_dir == Path("./var").resolve()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"DIEMCAU_WORKERS": "0"}, "DIEMCAU_WORKERS must be at least 1"),
        ({"DIEMCAU_TIMEZONE": "Mars/Olympus"}, "DIEMCAU_TIMEZONE is not a known time zone"),
        ({"DIEMCAU_LANGUAGE": "fr"}, "DIEMCAU_LANGUAGE must be 'vi' or 'en'"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with postgresql://"),
        ({"DIEMCAU_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"DIEMCAU_PUBLIC_URL": "diemcau.vn"}, "DIEMCAU_PUBLIC_URL must look like"),
        ({"DIEMCAU_LOG_LEVEL": "LOUD"}, "DIEMCAU_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_secrets_never_reach_the_log_description() -> None:
    config = Config.from_env(
        {
            "DATABASE_URL": "postgresql://app:s3cr3t@db.example:5432/diemcau",
            "DIEMCAU_SECRET_KEY": "k" * 40,
        }
    )
    described = str(config.describe())
    assert "s3cr3t" not in described
    assert "k" * 40 not in described
    assert "app:***@db.example" in described
    assert "k" * 40 not in repr(config)
    assert mask_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
