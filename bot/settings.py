"""Configuration from NEWSBOT_* environment variables (and a `.env` file)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ops.addresses import split_address

TELEGRAM_API_URL = "https://api.telegram.org"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
FREE_RATE_CEILING = 30
PAID_RATE_CEILING = 1000


DATABASE_URL_FORMS = (
    "postgresql+asyncpg://USER:PASSWORD@HOST/DB (or postgres://, postgresql://), "
    "sqlite+aiosqlite:///FILE (or sqlite:///FILE)"
)
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def async_database_url(value: str) -> str:
    """The URL with the async driver newsbot uses; ValueError naming the accepted forms."""
    scheme, separator, rest = value.strip().partition("://")
    driver = _ASYNC_DRIVERS.get(scheme.lower()) if separator else None
    if driver is None or not rest:
        # The value is not quoted: it may hold a password.
        raise ValueError(f"is not a database URL newsbot can use; accepted: {DATABASE_URL_FORMS}")
    if driver == "sqlite+aiosqlite" and not rest.startswith("/"):
        raise ValueError(
            f"a SQLite URL has three slashes before a file name; accepted: {DATABASE_URL_FORMS}"
        )
    return f"{driver}://{rest}"


class Settings(BaseSettings):
    """Every setting of the bot; names and defaults are part of the public interface."""

    # Errors never quote a value: the token and the webhook secret are values too.
    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///newsbot.db"
    api_url: str = TELEGRAM_API_URL
    operators: Annotated[frozenset[int], NoDecode] = frozenset()
    language: Literal["ar", "en"] = "ar"
    timezone: str = "UTC"
    section_target: int = Field(default=1200, ge=100, le=4096)
    rate: float = Field(default=FREE_RATE_CEILING, gt=0)
    paid_broadcast: bool = False
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen: str = "0.0.0.0:8443"
    # Where /healthz and /metrics answer in polling mode (webhook mode serves them on LISTEN).
    metrics_listen: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # A broadcast overdue by more than this when the bot (re)starts is reported, not sent.
    broadcast_grace: timedelta = Field(default=timedelta(hours=6), ge=timedelta(0))
    feeds: Annotated[tuple[str, ...], NoDecode] = ()
    # Channels (@username or id) every publish also posts to, besides those added in the chat.
    channels: Annotated[tuple[str, ...], NoDecode] = ()
    feed_interval: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0))
    # Sources named by URL (ingest and feeds): whether loopback, private and link-local
    # addresses may be fetched, and how many seconds one source may take, redirects included.
    fetch_private: bool = False
    fetch_timeout: float = Field(default=30.0, gt=0, le=3600)
    # A card without a photo: the source page's preview off, small or large (above the text).
    link_preview: Literal["off", "small", "large"] = "large"
    # A card's photo: Telegram fetches the image URL itself, or newsbot fetches it once (within
    # the fetcher's bounds, images of at most 10 MB) and uploads it, for hosts that block
    # Telegram's fetcher.
    photo_upload: Literal["url", "upload"] = "url"
    # Updates of different chats handled at once (one chat's updates always keep their order).
    concurrent_updates: int = Field(default=16, ge=1, le=1024)

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("operators", mode="before")
    @classmethod
    def _split_operators(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return frozenset(int(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("must be comma-separated user ids") from None
        return value

    @field_validator("channels", mode="before")
    @classmethod
    def _split_channels(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("broadcast_grace", "feed_interval", mode="before")
    @classmethod
    def _seconds_as_duration(cls, value: object) -> object:
        # From the environment every value is a string; "300" means seconds, as an int would.
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("listen", "metrics_listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        split_address(value)
        return value.strip()

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        # Telegram only calls HTTPS webhooks; TLS ends at the publisher's reverse proxy.
        if not value.startswith("https://"):
            raise ValueError("must start with https:// (Telegram calls only HTTPS webhooks)")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not SECRET_TOKEN.fullmatch(value.get_secret_value()):
            # Not echoed: the value is a secret.
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def reader_rate(self) -> float:
        """Sends per second for everything but paid broadcasts (Telegram's free ceiling)."""
        return min(self.rate, FREE_RATE_CEILING)

    @property
    def webhook_path(self) -> str:
        """The path of NEWSBOT_WEBHOOK_URL: where the webhook server takes updates."""
        return urlsplit(self.webhook_url or "").path or "/"

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError(
                "NEWSBOT_WEBHOOK_SECRET is required with NEWSBOT_WEBHOOK_URL: without it anyone "
                "who finds the address can send the bot updates"
            )
        return self

    @model_validator(mode="after")
    def _rate_within_ceiling(self) -> Settings:
        ceiling = PAID_RATE_CEILING if self.paid_broadcast else FREE_RATE_CEILING
        if self.rate > ceiling:
            raise ValueError(
                f"NEWSBOT_RATE {self.rate:g} is above Telegram's {ceiling}/s"
                + (
                    ""
                    if self.paid_broadcast
                    else " (set NEWSBOT_PAID_BROADCAST=true for up to 1000)"
                )
            )
        return self
