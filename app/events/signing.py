"""Standard Webhooks signing (https://www.standardwebhooks.com), through the `standardwebhooks` package.

Each request carries `webhook-id` (the event id, the same on every retry), `webhook-timestamp` (the
attempt's Unix time) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
secret in force, separated by spaces, so that during a rotation's overlap either secret verifies.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every Standard Webhooks secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh `whsec_…` secret (32 random bytes, base64), the form Standard Webhooks libraries take."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def payload_body(payload: dict[str, Any]) -> str:
    """The exact JSON text that is signed and sent (compact, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(message_id: str, timestamp: datetime, body: str, secrets_in_force: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    signatures = " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets_in_force)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
