"""How Instagram's failures become this service's answers (DESIGN §3 scenarios 1–2).

- a dead token: the account is marked `needs_reauth` and the answer is 401 with `"action": "redirect"`,
  an `auth_url` and the code `instagram_reauth_required` (a bad JWT answers `invalid_token` instead);
- a missing permission: 403 asking to connect again;
- throttling: 429 with `Retry-After`;
- Instagram unreachable or failing after retries: 502;
- refused media: 400 with Instagram's own words.
"""

from __future__ import annotations

import logging
from typing import Any

from app import instagram as ig
from app.errors import AppError, BadGateway, BadRequest, TooManyRequests

logger = logging.getLogger(__name__)

AUTH_URL = "/api/sns/instagram/oauth/authorize"


class InstagramReauthRequired(AppError):
    """Instagram no longer accepts the account's token: the user must connect the account again."""

    status_code = 401
    code = "instagram_reauth_required"
    message = "Access token expired. Please re-authenticate."

    def __init__(self, account_id: int | None = None, message: str | None = None) -> None:
        extra: dict[str, Any] = {"action": "redirect", "auth_url": AUTH_URL}
        if account_id is not None:
            extra["account_id"] = account_id
        super().__init__(message, **extra)


class InstagramPermissionMissing(AppError):
    status_code = 403
    code = "instagram_permission_denied"
    message = "Instagram refused: the account did not grant the permission this needs. Connect it again."

    def __init__(self, message: str | None = None, account_id: int | None = None) -> None:
        extra: dict[str, Any] = {"action": "redirect", "auth_url": AUTH_URL}
        if account_id is not None:
            extra["account_id"] = account_id
        super().__init__(message, **extra)


def to_app_error(exc: ig.InstagramError, *, account_id: int | None = None) -> AppError:
    """The answer for an Instagram failure (the caller marks the account when the token is dead)."""
    if isinstance(exc, ig.TokenInvalid):
        return InstagramReauthRequired(account_id)
    if isinstance(exc, ig.PermissionDenied):
        return InstagramPermissionMissing(
            f"Instagram refused: {exc.message}. Connect the account again and grant every requested permission.",
            account_id,
        )
    if isinstance(exc, ig.RateLimited):
        return TooManyRequests(retry_after=exc.retry_after)
    if isinstance(exc, ig.PublishingQuotaExceeded):
        return TooManyRequests(
            "Instagram's publishing limit for this account is reached (posts per 24 hours). Try again later.",
            code="publishing_quota_exceeded",
            retry_after=exc.retry_after or 3600,
        )
    if isinstance(exc, ig.MediaRejected):
        detail = exc.user_msg or exc.message
        return BadRequest(f"Instagram rejected the media: {detail}", code="media_rejected")
    if isinstance(exc, ig.OAuthError):
        return BadRequest(f"Instagram refused the authorization: {exc.message}", code="oauth_failed")
    if isinstance(exc, ig.BadRequest):
        return BadRequest(f"Instagram refused the request: {exc.message}", code="instagram_bad_request")
    # Transient errors after retries, timeouts, unexpected answers, blocks: Instagram is the problem.
    logger.warning("instagram failure", extra={"error": str(exc), "error_class": type(exc).__name__})
    return BadGateway()
