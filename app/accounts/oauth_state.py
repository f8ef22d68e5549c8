"""The OAuth `state`: signed, expiring, naming the user, and single-use (CSRF protection for the callback).

Format: `<base64url(json payload)>.<base64url(HMAC-SHA256)>`, payload `{"u": user id, "n": nonce, "e": expiry}`.
The key is derived from TOKEN_ENCRYPTION_KEY (always set, whatever the JWT algorithm), and every
configured key is tried on the way in, so rotating keys only invalidates states in flight.
Single use is enforced by the database: the nonce is the primary key of `oauth_state_uses`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import OAuthStateUse

_PURPOSE = b"instagram-oauth-state-v1"


class InvalidState(Exception):
    """The state is forged, expired or already used; the message says which (never the state itself)."""


@dataclass(frozen=True)
class OAuthState:
    user_id: str
    nonce: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(fernet_key: str) -> bytes:
    return hmac.new(fernet_key.encode(), _PURPOSE, hashlib.sha256).digest()


def issue_state(user_id: str, keys: list[str], ttl: timedelta, now: datetime) -> tuple[str, datetime]:
    """A new state for `user_id`, valid for `ttl`."""
    expires_at = now + ttl
    payload = json.dumps(
        {"u": user_id, "n": secrets.token_urlsafe(24), "e": int(expires_at.timestamp())},
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(_signing_key(keys[0]), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}", expires_at


def read_state(state: str, keys: list[str], now: datetime) -> OAuthState:
    """Verify signature and expiry (single use is checked by `consume_state`)."""
    try:
        encoded_payload, encoded_signature = state.split(".")
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except (ValueError, UnicodeError) as exc:
        raise InvalidState("OAuth state is malformed") from exc
    if not any(
        hmac.compare_digest(hmac.new(_signing_key(key), payload, hashlib.sha256).digest(), signature) for key in keys
    ):
        raise InvalidState("OAuth state signature is invalid")
    try:
        data = json.loads(payload)
        user_id, nonce, expires = str(data["u"]), str(data["n"]), int(data["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidState("OAuth state is malformed") from exc
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= now:
        raise InvalidState("OAuth state has expired: start the connection again")
    return OAuthState(user_id=user_id, nonce=nonce, expires_at=expires_at)


async def consume_state(session: AsyncSession, state: OAuthState) -> OAuthStateUse:
    """Mark the state used; a second use (even a concurrent one) raises InvalidState."""
    use = OAuthStateUse(nonce=state.nonce, user_id=state.user_id, expires_at=state.expires_at)
    session.add(use)
    try:
        # The whole unit of work is rolled back on this error, so no savepoint is needed.
        await session.flush()
    except IntegrityError as exc:
        raise InvalidState("OAuth state was already used: start the connection again") from exc
    return use


async def delete_spent(session: AsyncSession, *, expired_before: datetime) -> int:
    """Forget spent states that expired before then: past their expiry a replay fails on the signature anyway."""
    result = await session.execute(delete(OAuthStateUse).where(OAuthStateUse.expires_at < expired_before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
