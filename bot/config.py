"""Settings from the environment. Missing or unsafe values stop the bot with one line that says
what to set."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"


class ConfigError(RuntimeError):
    """A setting is missing or wrong. The message is meant for the operator, as is."""


class Settings(BaseSettings):
    """Everything an operator can set. Only ``TELEGRAM_BOT_TOKEN`` is needed to run."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", validate_default=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    checkin_timeout_minutes: int = Field(default=360, ge=5, le=7 * 24 * 60)
    """A check-in left open longer than this is closed unfinished."""
    housekeeping_interval_seconds: float = Field(default=300.0, ge=1.0)
    note_max_chars: int = Field(default=500, ge=20, le=3500)
    concurrent_updates: int = Field(default=64, ge=1, le=4096)
    """Updates handled at once (from different people; one person's stay in order)."""
    flood_max_updates: int = Field(default=30, ge=0, le=10_000)
    """Updates one person may send within FLOOD_WINDOW_SECONDS; beyond that they are dropped
    (one polite message says so). 0 turns the limit off."""
    flood_window_seconds: float = Field(default=10.0, gt=0, le=3600)
    outbox_retry_seconds: float = Field(default=10.0, ge=0.5, le=600)
    """How often advice and caregiver alerts that Telegram has not confirmed are sent again."""
    reminder_sweep_seconds: float = Field(default=5.0, ge=0.5, le=300)
    """How often each process looks for due reminders."""
    reminder_grace_minutes: int = Field(default=120, ge=0, le=24 * 60)
    """A reminder overdue by less than this (after downtime) is still sent, once."""
    reminder_batch_size: int = Field(default=50, ge=1, le=1000)
    reminder_lease_seconds: int = Field(default=120, ge=10, le=3600)
    """How long a claim lasts; a crashed claimer's rows are taken over after it."""
    reminder_max_attempts: int = Field(default=5, ge=1, le=20)
    nudge_minutes: int = Field(default=180, ge=0, le=24 * 60)
    """Default delay of the one gentle nudge after an unanswered reminder (0: no nudge)."""
    caregiver_invite_hours: int = Field(default=24, ge=1, le=24 * 14)
    """How long a caregiver invite link works (it works once)."""
    caregiver_digest_seconds: float = Field(default=3600.0, ge=10)
    """How often missed-check-in alerts and weekly summaries are looked for."""
    telegram_max_messages_per_second: float = Field(default=30.0, ge=0)
    """Overall send rate (Telegram allows about 30/s); 0 turns python-telegram-bot's limiter off."""
    log_format: Literal["text", "json"] = "text"
    """``text``: one readable line per event; ``json``: one JSON object per line."""
    webhook_url: str | None = None
    """The public HTTPS URL Telegram sends updates to; set, the bot runs in webhook mode."""
    webhook_listen: str = "0.0.0.0"  # noqa: S104 - a webhook server listens for the world
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret_token: SecretStr | None = None
    """Checked on every webhook request. Unset, it is derived from the bot token, so that every
    instance behind one URL uses the same one without being told."""
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8080, ge=0, le=65535)
    """/healthz, /readyz and /metrics; 0 turns them off."""
    ready_max_sweep_lag_seconds: float = Field(default=600.0, gt=0)
    """/readyz fails while the most overdue reminder is later than this."""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in logging.getLevelNamesMapping():
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return upper

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            # Operators paste URLs from their provider; pick the async driver for them.
            rest = value.split("://", 1)[1]
            return f"postgresql+asyncpg://{rest}"
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            value = "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://...")
        prefix = "sqlite+aiosqlite:///"
        if value.startswith(prefix) and not value.startswith(prefix + "/"):
            path, _, query = value.removeprefix(prefix).partition("?")
            if path and path != ":memory:":
                # A relative file is where the bot was started from: said once, absolutely, so
                # that starting elsewhere never quietly begins an empty database.
                absolute = str(Path(path).resolve())
                value = prefix + absolute + (f"?{query}" if query else "")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _public_https(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                "must be the public https:// URL Telegram calls, e.g. https://bot.example.org/telegram"
            )
        return value

    @field_validator("webhook_secret_token")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1 to 256 characters: letters, digits, _ and -")
        return value

    @field_validator("telegram_base_url", "telegram_base_file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// and end before the token")
        return value

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, if the database is SQLite (an absolute path)."""
        if not self.database_url.startswith("sqlite+aiosqlite:///"):
            return None
        return Path(self.database_url.removeprefix("sqlite+aiosqlite:///").split("?", 1)[0])

    def webhook_secret(self) -> str:
        """The secret Telegram sends with every webhook request."""
        if self.webhook_secret_token is not None:
            return self.webhook_secret_token.get_secret_value()
        # Derived from the token: the same on every instance, and telling nothing of the token.
        return hmac.new(self.token().encode(), b"webhook secret", hashlib.sha256).hexdigest()

    @property
    def checkin_timeout(self) -> timedelta:
        return timedelta(minutes=self.checkin_timeout_minutes)

    def token(self) -> str:
        """The bot token, or a :class:`ConfigError` that says how to set it."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value():
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set. Get a token from @BotFather and run: "
                "TELEGRAM_BOT_TOKEN=<token> python -m bot run"
            )
        value = self.telegram_bot_token.get_secret_value().strip()
        if ":" not in value or any(c.isspace() for c in value):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (expected <digits>:<letters>)."
            )
        return value


def load_settings() -> Settings:
    """Read the environment, turning validation errors into a one-line :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"Invalid setting: {problems}") from None
