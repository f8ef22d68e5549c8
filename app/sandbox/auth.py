"""Business Login for Instagram: the authorize request, codes, token exchange, refresh and validation."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from app.config import OAUTH_CALLBACK_PATH
from app.sandbox.errors import (
    AuthorizeError,
    GraphError,
    OAuthCodeError,
    expired_token,
    invalid_parameter,
    invalid_token,
    no_token,
    revoked_token,
    unsupported_method,
)
from app.sandbox.models import AuthCode, User
from app.sandbox.state import Sandbox
from app.sandbox.tokens import TokenClaims, TokenKind, issue_token, new_claims, parse_token

BASIC_SCOPE = "instagram_business_basic"
PUBLISH_SCOPE = "instagram_business_content_publish"
INSIGHTS_SCOPE = "instagram_business_manage_insights"
COMMENTS_SCOPE = "instagram_business_manage_comments"
KNOWN_SCOPES = (
    BASIC_SCOPE,
    PUBLISH_SCOPE,
    INSIGHTS_SCOPE,
    COMMENTS_SCOPE,
    "instagram_business_manage_messages",
)
CODE_LIFETIME = timedelta(hours=1)
REFRESH_MIN_AGE_SECONDS = 24 * 3600
USERNAME_PATTERN = re.compile(r"^[a-z0-9._]{1,30}$")


def parse_scopes(raw: str) -> tuple[str, ...]:
    """Comma- or space-separated scopes, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for scope in raw.replace(" ", ",").split(","):
        if scope.strip():
            seen[scope.strip()] = None
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A validated authorization-window request."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None


def registered_redirect_uris(sandbox: Sandbox, origin: str | None) -> tuple[str, ...]:
    """The app's valid OAuth redirect URIs: PUBLIC_BASE_URL's callback and, when the service's public URL
    follows the request (development), the callback on the origin this consent page was opened at."""
    settings = sandbox.settings
    if origin and settings.public_base_url_follows_request:
        return (settings.oauth_redirect_uri, origin + OAUTH_CALLBACK_PATH)
    return (settings.oauth_redirect_uri,)


def validate_authorize(sandbox: Sandbox, params: dict[str, str], origin: str | None = None) -> AuthorizeRequest:
    """Check the authorize parameters as Instagram does; AuthorizeError (an HTML error page) otherwise."""
    settings = sandbox.settings
    client_id = params.get("client_id", "")
    if not client_id:
        raise AuthorizeError("Invalid Request: the client_id parameter is missing.")
    if client_id != settings.app_id:
        raise AuthorizeError("Invalid platform app: no Instagram app has this client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in registered_redirect_uris(sandbox, origin):
        raise AuthorizeError(
            "Invalid redirect_uri: it must exactly match a valid OAuth redirect URI of the app "
            f"({settings.oauth_redirect_uri})."
        )
    if params.get("response_type", "") != "code":
        raise AuthorizeError("Invalid response_type: only response_type=code is supported.")
    scopes = parse_scopes(params.get("scope", ""))
    unknown = [scope for scope in scopes if scope not in KNOWN_SCOPES]
    if unknown:
        raise AuthorizeError(f"Invalid Scopes: {', '.join(unknown)}. Known scopes: {', '.join(KNOWN_SCOPES)}.")
    if BASIC_SCOPE not in scopes:
        raise AuthorizeError(f"Invalid Scopes: the {BASIC_SCOPE} scope is required.")
    return AuthorizeRequest(client_id, redirect_uri, scopes, params.get("state"))


def normalise_username(raw: str) -> str | None:
    """An Instagram-style username (letters, digits, `.` and `_`, ≤ 30), lower-cased; None if invalid."""
    username = raw.strip().lstrip("@").lower()
    return username if USERNAME_PATTERN.fullmatch(username) else None


def approve(sandbox: Sandbox, request: AuthorizeRequest, username: str) -> str:
    """The user approved: create the account if new, issue a code, and return the redirect location."""
    now = sandbox.now()
    sandbox.world.ensure_user(username, now)
    code = "AQ" + secrets.token_urlsafe(48)
    sandbox.world.codes[code] = AuthCode(
        code, request.client_id, request.redirect_uri, request.scopes, username, now + CODE_LIFETIME
    )
    query = {"code": code}
    if request.state is not None:
        query["state"] = request.state
    return _with_query(request.redirect_uri, query) + "#_"


def deny(request: AuthorizeRequest) -> str:
    """The user cancelled: where Instagram sends them."""
    query = {
        "error": "access_denied",
        "error_reason": "user_denied",
        "error_description": "The user denied your request",
    }
    if request.state is not None:
        query["state"] = request.state
    return _with_query(request.redirect_uri, query)


def _with_query(url: str, query: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)


# --- tokens ---------------------------------------------------------------------------------------


def issue_access_token(sandbox: Sandbox, user: User, kind: TokenKind, scopes: tuple[str, ...]) -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    claims = new_claims(user.ig_id, user.username, kind, scopes, sandbox.timestamp())
    return issue_token(sandbox.settings.app_secret, claims), int(claims.expires_at - claims.issued_at)


def exchange_code(sandbox: Sandbox, params: dict[str, str]) -> dict[str, Any]:
    """`POST /oauth/access_token`: a code for a short-lived token (single use; atomic)."""
    settings = sandbox.settings
    for name in ("client_id", "client_secret", "grant_type", "redirect_uri", "code"):
        if not params.get(name):
            raise OAuthCodeError(f"Missing required field {name}")
    if params["client_id"] != settings.app_id:
        raise OAuthCodeError("Invalid platform app")
    if params["client_secret"] != settings.app_secret:
        raise OAuthCodeError("Invalid client secret")
    if params["grant_type"] != "authorization_code":
        raise OAuthCodeError("Unsupported grant_type: only authorization_code is supported")
    world = sandbox.world
    stored = world.codes.get(params["code"])
    if stored is None or stored.client_id != params["client_id"]:
        raise OAuthCodeError("Matching code was not found or was already used")
    if stored.redirect_uri != params["redirect_uri"]:
        raise OAuthCodeError(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one "
            "you used in the OAuth dialog request"
        )
    del world.codes[stored.code]
    now = sandbox.now()
    if stored.expires_at <= now:
        raise OAuthCodeError("This authorization code has expired.")
    user = world.ensure_user(stored.username, now)
    token, _ = issue_access_token(sandbox, user, "short", stored.scopes)
    if sandbox.knobs.token_response_shape == "flat":  # noqa: S105 - a shape name, not a secret
        return {"access_token": token, "user_id": int(user.ig_id), "permissions": list(stored.scopes)}
    return {"data": [{"access_token": token, "user_id": user.ig_id, "permissions": ",".join(stored.scopes)}]}


def peek_claims(sandbox: Sandbox, token: str | None) -> TokenClaims | None:
    """The token's claims if it is a well-signed sandbox token, whatever its validity (for usage headers)."""
    return parse_token(sandbox.settings.app_secret, token) if token else None


def authenticate(sandbox: Sandbox, token: str | None) -> tuple[TokenClaims, User]:
    """Validate a token on the sandbox clock; its user is re-created if the sandbox restarted since."""
    if not token:
        raise no_token()
    claims = parse_token(sandbox.settings.app_secret, token)
    if claims is None:
        raise invalid_token()
    now = sandbox.timestamp()
    world = sandbox.world
    if claims.nonce in world.revoked_nonces or claims.issued_at <= world.revoked_before.get(claims.user_id, -1.0):
        raise revoked_token()
    if claims.expires_at <= now:
        raise expired_token(datetime.fromtimestamp(claims.expires_at, UTC), datetime.fromtimestamp(now, UTC))
    user = world.ensure_user(claims.username, sandbox.now())
    if user.ig_id != claims.user_id:
        raise invalid_token()
    return claims, user


def _token_answer(token: str, lifetime: int) -> dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}


def exchange_for_long_lived(sandbox: Sandbox, params: dict[str, str], token: str | None) -> dict[str, Any]:
    """`GET /access_token?grant_type=ig_exchange_token`: a valid short-lived token for a 60-day one."""
    if params.get("grant_type") != "ig_exchange_token":
        raise invalid_parameter("grant_type must be ig_exchange_token")
    if not params.get("client_secret"):
        raise invalid_parameter("The parameter client_secret is required")
    if params["client_secret"] != sandbox.settings.app_secret:
        raise GraphError("Error validating client secret.", code=101, user_title="Invalid Client Secret")
    claims, user = authenticate(sandbox, token)
    if claims.kind != "short":
        raise unsupported_method("get", "Only a short-lived token can be exchanged; refresh long-lived tokens.")
    new_token, lifetime = issue_access_token(sandbox, user, "long", claims.scopes)
    return _token_answer(new_token, lifetime)


def refresh_long_lived(sandbox: Sandbox, params: dict[str, str], token: str | None) -> dict[str, Any]:
    """`GET /refresh_access_token?grant_type=ig_refresh_token`: an unexpired long-lived token ≥ 24 h old."""
    if params.get("grant_type") != "ig_refresh_token":
        raise invalid_parameter("grant_type must be ig_refresh_token")
    claims, user = authenticate(sandbox, token)
    if claims.kind != "long":
        raise unsupported_method("get", "Only a long-lived token can be refreshed; exchange short-lived tokens.")
    if sandbox.timestamp() - claims.issued_at < REFRESH_MIN_AGE_SECONDS:
        raise unsupported_method("get", "A long-lived token can be refreshed only once it is at least 24 hours old.")
    new_token, lifetime = issue_access_token(sandbox, user, "long", claims.scopes)
    return _token_answer(new_token, lifetime)


def revoke(sandbox: Sandbox, *, user_id: str | None = None, token: str | None = None) -> int:
    """Invalidate every token of a user issued until now, or one token; returns how many rules were added."""
    added = 0
    if user_id is not None:
        sandbox.world.revoked_before[user_id] = sandbox.timestamp()
        added += 1
    if token is not None:
        claims = parse_token(sandbox.settings.app_secret, token)
        if claims is None:
            raise ValueError("not a sandbox access token")
        sandbox.world.revoked_nonces.add(claims.nonce)
        added += 1
    return added
