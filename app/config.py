"""Settings: one `Settings` object read from the environment and `.env`, checked once at start-up."""

from __future__ import annotations

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from cryptography.fernet import Fernet
from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from app.capacity import CapacitySettings
from app.dev_secrets import SECRETS_FILE, kept_secrets
from app.inbound.config import InboundSettings
from app.uploads.config import UploadSettings

logger = logging.getLogger(__name__)

VAR_DIR = Path(os.environ.get("APP_VAR_DIR", "var"))

# Values copied from .env.example or docs that must never reach production.
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "changethis", "secret", "password", "please-change-me", "xxx", "todo"}
)

SANDBOX_APP_ID = "1000000000000001"
SANDBOX_APP_SECRET = "sandbox-app-secret"  # noqa: S105 - the emulator's documented public default

OAUTH_CALLBACK_PATH = "/api/sns/instagram/callback"

DEFAULT_SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    # Reading, answering, hiding and deleting comments, and the comments (and mentions) webhooks.
    "instagram_business_manage_comments",
)


def local_base_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses to reach a server listening on `host`:`port`."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a listening address, read here, never bound
        host = "localhost"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


# About 3 days in all (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then 12 h), so that an endpoint that never
# answers is disabled (WEBHOOK_DISABLE_AFTER_SECONDS) around its oldest delivery's last attempt.
WEBHOOK_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 43200.0, 43200.0, 43200.0, 43200.0)


class ConfigurationError(RuntimeError):
    """A setting makes start-up unsafe; the message names the variable."""


def _is_placeholder(value: str | None) -> bool:
    lowered = (value or "").strip().lower()  # None is "", a placeholder
    return lowered in PLACEHOLDER_SECRETS or lowered.startswith(("change-me", "changeme", "replace-"))


class Settings(CapacitySettings, UploadSettings, InboundSettings):
    """Everything the service reads from its environment. See `.env.example` for each variable."""

    # env_ignore_empty: `NAME=` in .env means "use the default", as .env.example is written.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True)

    app_env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True
    # /metrics asks for `Authorization: Bearer <METRICS_TOKEN>` when set (open when unset).
    metrics_token: SecretStr | None = None

    database_url: str = Field(default_factory=lambda: f"sqlite+aiosqlite:///{VAR_DIR / 'instagram.db'}")
    # None: migrate at start-up only for SQLite (the embedded mode); production runs `alembic upgrade head`.
    database_auto_migrate: bool | None = None
    redis_url: str | None = None

    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512"] = "HS256"
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    token_encryption_key: SecretStr | None = None

    instagram_mode: Literal["sandbox", "live"] | None = None
    instagram_app_id: str | None = None
    instagram_app_secret: SecretStr | None = None
    instagram_graph_version: str = "v25.0"
    instagram_authorize_base_url: str | None = None
    instagram_token_base_url: str | None = None
    instagram_graph_base_url: str | None = None
    instagram_scopes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SCOPES
    instagram_timeout_seconds: float = Field(default=30.0, gt=0)
    instagram_max_attempts: int = Field(default=4, ge=1, le=10)
    instagram_retry_budget_seconds: float = Field(default=20.0, ge=0)

    # Where uvicorn listens (`make run` passes the same HOST and PORT): the development public base URL.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Unset in development: http://HOST:PORT for work outside a request, each request's own address for
    # answers (see app/public_urls.py). Required in production.
    public_base_url: str = ""
    oauth_success_redirect: str | None = None
    oauth_state_ttl_seconds: int = Field(default=600, ge=30)

    reel_wait_seconds: float = Field(default=30.0, ge=0)
    publish_wait_seconds: float = Field(default=30.0, ge=0)
    # Accounts are throttled by Instagram one by one (per app-user pair), so a batch can safely run
    # its accounts side by side; the bound protects our pools and Instagram's app-level budget. 100: a batch
    # of `account_ids` (at most 100) goes out in one wave, not two.
    batch_concurrency: int = Field(default=100, ge=1, le=500)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    media_max_image_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    media_max_video_bytes: int = Field(default=300 * 1024 * 1024, ge=1024)
    media_fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    media_allow_private_hosts: bool = False
    synthetic_media: bool | None = None

    worker_job_timeout_seconds: int = Field(default=120, ge=2)
    # Renewed every third of it while a runner works: how soon a dead runner's posts are taken over.
    publish_lease_seconds: int = Field(default=15, ge=2)
    publish_reconcile_grace_seconds: float = Field(default=20.0, ge=0)
    publish_max_attempts: int = Field(default=8, ge=1)
    publish_retry_base_seconds: float = Field(default=30.0, gt=0)
    container_poll_initial_seconds: float = Field(default=3.0, gt=0)
    container_poll_max_interval_seconds: float = Field(default=60.0, gt=0)
    container_poll_timeout_seconds: float = Field(default=1800.0, gt=0)
    # The background insights refresh (app/insights/refresh.py). Instagram throttles each account on its own,
    # so an account gets a few calls at once and the run as a whole many; the figures are written one
    # transaction per chunk of an account's posts. Figures younger than INSIGHTS_REFRESH_FRESH_MINUTES are
    # not read again, which is how a run killed midway is continued by the next one (no second snapshot).
    insights_refresh_concurrency: int = Field(default=100, ge=1)
    insights_refresh_per_account_concurrency: int = Field(default=4, ge=1, le=50)
    insights_refresh_chunk_size: int = Field(default=50, ge=1, le=1000)
    insights_refresh_fresh_minutes: float = Field(default=60.0, ge=0)
    insights_refresh_days: int = Field(default=30, ge=1)
    token_refresh_within_days: int = Field(default=10, ge=1)

    sandbox_video_processing_seconds: float = Field(default=3.0, ge=0)
    sandbox_latency_profile: Literal["none", "seed"] = "none"

    _public_base_url_follows_request: bool = PrivateAttr(default=False)
    # Outgoing webhooks (app/events): how long a receiver has to answer, the retry delays (seconds,
    # jittered) after each failed attempt, when a failing endpoint is disabled, how long events are kept.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = WEBHOOK_RETRY_SCHEDULE
    webhook_disable_after_seconds: float = Field(default=3 * 24 * 3600, gt=0)
    webhook_allow_loopback: bool = False
    events_retention_days: int = Field(default=30, ge=1)

    @field_validator("instagram_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(s.strip() for s in value.replace(" ", ",").split(",") if s.strip())
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(s) for s in value.replace(" ", ",").split(",") if s.strip())
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _positive_schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("WEBHOOK_RETRY_SCHEDULE must list one or more positive delays in seconds")
        return value

    @field_validator(
        "public_base_url",
        "instagram_authorize_base_url",
        "instagram_token_base_url",
        "instagram_graph_base_url",
    )
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the URLs people paste (postgres://, postgresql://, sqlite://) and pick the async driver.
        for prefix, replacement in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(prefix):
                return replacement + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _resolve_mode(self) -> Settings:
        if self.instagram_mode is None:
            self.instagram_mode = "live" if self.instagram_app_id else "sandbox"
        if self.synthetic_media is None:
            self.synthetic_media = self.instagram_mode == "sandbox"
        if self.database_auto_migrate is None:
            self.database_auto_migrate = self.is_sqlite
        if not self.public_base_url:
            self._public_base_url_follows_request = True
            self.public_base_url = local_base_url(self.host, self.port)
        return self

    # --- derived values -------------------------------------------------------------------------

    @property
    def is_sandbox(self) -> bool:
        return self.instagram_mode == "sandbox"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def app_id(self) -> str:
        return self.instagram_app_id or SANDBOX_APP_ID

    @property
    def app_secret(self) -> str:
        if self.instagram_app_secret is not None:
            return self.instagram_app_secret.get_secret_value()
        return SANDBOX_APP_SECRET

    @property
    def public_base_url_follows_request(self) -> bool:
        """True when PUBLIC_BASE_URL is unset: answers use the address each request came to."""
        # Off pydantic's slot: `self._public_…` costs 3 µs in `BaseModel.__getattr__`, and every link answered asks.
        return bool(self.__pydantic_private__ and self.__pydantic_private__["_public_base_url_follows_request"])

    @property
    def upload_directory(self) -> Path:
        """Where local storage keeps uploads (UPLOAD_DIR, else uploads/ in the var directory)."""
        return Path(self.upload_dir) if self.upload_dir else VAR_DIR / "uploads"

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.public_base_url}{OAUTH_CALLBACK_PATH}"

    @property
    def sandbox_base_url(self) -> str:
        return f"{self.public_base_url}/sandbox"

    @property
    def authorize_base_url(self) -> str:
        if self.instagram_authorize_base_url:
            return self.instagram_authorize_base_url
        return self.sandbox_base_url if self.is_sandbox else "https://www.instagram.com"

    @property
    def token_base_url(self) -> str:
        if self.instagram_token_base_url:
            return self.instagram_token_base_url
        return self.sandbox_base_url if self.is_sandbox else "https://api.instagram.com"

    @property
    def graph_base_url(self) -> str:
        if self.instagram_graph_base_url:
            return self.instagram_graph_base_url
        return f"{self.sandbox_base_url}/graph" if self.is_sandbox else "https://graph.instagram.com"

    def jwt_secret_value(self) -> str:
        if self.jwt_secret is None:
            raise ConfigurationError("JWT_SECRET is not set")
        return self.jwt_secret.get_secret_value()

    def webhook_signing_secrets(self) -> list[str]:
        """The secrets an inbound delivery may be signed with: the Instagram app's, and the Meta app's if set."""
        return [self.app_secret, *self.extra_webhook_secrets()]

    def token_encryption_keys(self) -> list[str]:
        if self.token_encryption_key is None:
            raise ConfigurationError("TOKEN_ENCRYPTION_KEY is not set")
        return [k.strip() for k in self.token_encryption_key.get_secret_value().split(",") if k.strip()]

    # --- start-up checks ------------------------------------------------------------------------

    def check_production(self) -> None:
        """Refuse a production start-up that would be unsafe; the message names the variable."""
        if self.app_env != "production":
            return
        if self.jwt_algorithm.startswith("HS"):
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
            if _is_placeholder(secret):
                raise ConfigurationError("JWT_SECRET must be set to a real secret in production")
            if secret is not None and len(secret) < 32:
                raise ConfigurationError("JWT_SECRET must be at least 32 characters in production")
        elif not self.jwt_public_key:
            raise ConfigurationError(f"JWT_PUBLIC_KEY must be set when JWT_ALGORITHM is {self.jwt_algorithm}")
        key = self.token_encryption_key.get_secret_value() if self.token_encryption_key else None
        if _is_placeholder(key):
            raise ConfigurationError("TOKEN_ENCRYPTION_KEY must be set to a Fernet key in production")
        if self.is_sandbox:
            raise ConfigurationError(
                "INSTAGRAM_MODE is sandbox: set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET for production"
            )
        if not self.instagram_app_id:
            raise ConfigurationError("INSTAGRAM_APP_ID must be set in production")
        if self.instagram_app_secret is None or _is_placeholder(self.instagram_app_secret.get_secret_value()):
            raise ConfigurationError("INSTAGRAM_APP_SECRET must be set in production")
        if self.synthetic_media:
            raise ConfigurationError("SYNTHETIC_MEDIA must be off in production")
        if self.public_base_url_follows_request:
            raise ConfigurationError(
                "PUBLIC_BASE_URL must be set in production (where Instagram and browsers reach this service)"
            )
        if self.webhook_allow_loopback:
            raise ConfigurationError("WEBHOOK_ALLOW_LOOPBACK must be off in production")
        if self.metrics_token is not None and _is_placeholder(self.metrics_token.get_secret_value()):
            raise ConfigurationError("METRICS_TOKEN must be a real secret (or empty for an open /metrics)")
        if _is_placeholder(self.webhook_verify_token()):
            raise ConfigurationError("INSTAGRAM_WEBHOOK_VERIFY_TOKEN must be set in production")

    def check_keys(self) -> None:
        """Fail fast on a malformed TOKEN_ENCRYPTION_KEY rather than on the first token stored."""
        for index, key in enumerate(self.token_encryption_keys()):
            try:
                Fernet(key)
            except (ValueError, TypeError) as exc:
                raise ConfigurationError(
                    f"TOKEN_ENCRYPTION_KEY entry {index + 1} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from exc

    def fill_development_secrets(self) -> None:
        """In development, give missing (or placeholder) secrets a generated value kept under ./var/."""
        if self.app_env != "development":
            return
        missing = []
        jwt_secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
        if _is_placeholder(jwt_secret) and self.jwt_algorithm.startswith("HS"):
            missing.append("jwt_secret")
        key = self.token_encryption_key.get_secret_value() if self.token_encryption_key else None
        if _is_placeholder(key):
            missing.append("token_encryption_key")
        if _is_placeholder(self.webhook_verify_token()):
            missing.append("instagram_webhook_verify_token")
        if not missing:
            return
        values, generated = kept_secrets(VAR_DIR, missing, _new_secret)
        for name, value in values.items():
            setattr(self, name, SecretStr(value))
        if generated:
            logger.warning(
                "generated development secrets",
                extra={"variables": [name.upper() for name in generated], "file": str(VAR_DIR / SECRETS_FILE)},
            )


def _new_secret(name: str) -> str:
    return Fernet.generate_key().decode() if name == "token_encryption_key" else secrets.token_urlsafe(48)


def load_settings() -> Settings:
    """Read, complete and check the settings; raises ConfigurationError naming the bad variable."""
    settings = Settings()
    settings.check_production()
    settings.fill_development_secrets()
    settings.check_keys()
    return settings


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own with `load_settings` or `Settings(...)`)."""
    return load_settings()
