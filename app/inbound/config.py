"""The settings of inbound Instagram webhooks, part of `app.config.Settings` (see `.env.example`, "Instagram")."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings


class InboundSettings(BaseSettings):
    """The token Meta's handshake must present, the secrets a delivery may be signed with, the largest body."""

    # Generated under var/ in development, required in production (app.config checks both).
    instagram_webhook_verify_token: SecretStr | None = None
    # Deliveries to an Instagram-Login app may be signed with the Meta app's secret instead of the Instagram
    # app's: set it and both are accepted.
    meta_app_secret: SecretStr | None = None
    instagram_webhook_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    def webhook_verify_token(self) -> str | None:
        if self.instagram_webhook_verify_token is None:
            return None
        return self.instagram_webhook_verify_token.get_secret_value() or None

    def extra_webhook_secrets(self) -> list[str]:
        """Secrets accepted besides the Instagram app secret."""
        if self.meta_app_secret is None or not self.meta_app_secret.get_secret_value():
            return []
        return [self.meta_app_secret.get_secret_value()]
