"""Sandbox access tokens: stateless and signed, so they outlive a sandbox restart.

Format: `IGAA` + base64url(JSON claims) + `.` + base64url(HMAC-SHA256(app secret, everything before the dot)).
Opaque-looking like a real Instagram token, but anyone holding the app secret can read and mint them. Only
revocation needs memory (a deny list in the sandbox state).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Literal

TOKEN_PREFIX = "IGAA"  # noqa: S105 - the public prefix of Instagram user tokens
SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 24 * 3600

TokenKind = Literal["short", "long"]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a sandbox token carries; times are Unix seconds on the sandbox clock."""

    user_id: str
    username: str
    kind: TokenKind
    issued_at: float
    expires_at: float
    scopes: tuple[str, ...]
    nonce: str


def new_claims(user_id: str, username: str, kind: TokenKind, scopes: tuple[str, ...], issued_at: float) -> TokenClaims:
    """Claims for a fresh token of the given kind (short: 1 hour, long: 60 days)."""
    lifetime = SHORT_LIVED_SECONDS if kind == "short" else LONG_LIVED_SECONDS
    return TokenClaims(user_id, username, kind, issued_at, issued_at + lifetime, scopes, secrets.token_hex(8))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, signed_part: str) -> str:
    return _b64encode(hmac.new(secret.encode(), signed_part.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: str, claims: TokenClaims) -> str:
    """Serialise and sign the claims."""
    payload = json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode()
    signed_part = TOKEN_PREFIX + _b64encode(payload)
    return f"{signed_part}.{_signature(secret, signed_part)}"


def parse_token(secret: str, token: str) -> TokenClaims | None:
    """The claims of a well-formed token signed with `secret`; None for anything else."""
    if not token.startswith(TOKEN_PREFIX) or token.count(".") != 1 or not token.isascii():
        return None
    signed_part, signature = token.split(".")
    # Constant-time comparison, so the signature can't be guessed byte by byte.
    if not hmac.compare_digest(signature, _signature(secret, signed_part)):
        return None
    try:
        data = json.loads(_b64decode(signed_part[len(TOKEN_PREFIX) :]))
        claims = TokenClaims(
            user_id=str(data["user_id"]),
            username=str(data["username"]),
            kind="long" if data["kind"] == "long" else "short",
            issued_at=float(data["issued_at"]),
            expires_at=float(data["expires_at"]),
            scopes=tuple(str(scope) for scope in data["scopes"]),
            nonce=str(data["nonce"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return claims
