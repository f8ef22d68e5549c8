"""The one failure table: how a failure becomes this service's answer (DESIGN §3 scenarios 1–2).

An Instagram error maps once (`from_instagram`) to a code; every code has one row: the HTTP status, whether
trying again may succeed, and the sentence the client reads. Accounts, insights and publishing answer every
failure through `app_error`, the one place that sets `Retry-After` and the reconnect hints:

- a dead token: 401 `instagram_reauth_required` with `"action": "redirect"` and an `auth_url` (a bad JWT
  answers `invalid_token` instead); the caller marks the account `needs_reauth`;
- a missing permission: 403 asking to connect again;
- throttling or a full publishing quota: 429 with `Retry-After`;
- Instagram unreachable or failing after retries: 502, with `Retry-After` when the wait is known (Meta's
  "retry in 30 s to 2 minutes" codes, `RetrySoon`);
- refused media: 400 with Instagram's own words; but media this service serves itself that Instagram could not
  download is the service's own outage or address, never the user's media: 502, retryable.

A post that failed keeps its code and sentence, so answering it later reads the same row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app import instagram as ig
from app.errors import AppError
from app.openapi import API_PREFIX

logger = logging.getLogger(__name__)

AUTH_URL = f"{API_PREFIX}/oauth/authorize"
# Retry-After when nothing better is known (a 429 always carries one).
DEFAULT_RETRY_AFTER_SECONDS = 60.0
QUOTA_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Failure:
    """A failure as the client will read it: a stable code, a sentence, an HTTP status and what to do next."""

    code: str
    message: str
    status: int
    retryable: bool
    retry_after: float | None = None

    @classmethod
    def of(
        cls,
        code: str,
        *,
        detail: str | None = None,
        message: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> Failure:
        """The table's row for `code`: its sentence (`detail` filled in, or `message` instead), its status and
        whether trying again may succeed (unless `retryable` says otherwise)."""
        row = _TABLE.get(code, _UNKNOWN)
        text = message or row.message.format(detail=detail or "no details given")
        return cls(code, text, row.status, row.retryable if retryable is None else retryable, retry_after)


@dataclass(frozen=True)
class _Row:
    status: int
    retryable: bool
    # `{detail}` is Instagram's own words, when the failure has them.
    message: str


REAUTH_REQUIRED = "instagram_reauth_required"
PERMISSION_DENIED = "instagram_permission_denied"
RATE_LIMITED = "rate_limited"
QUOTA_EXCEEDED = "publishing_quota_exceeded"
UNAVAILABLE = "instagram_unavailable"
MEDIA_REJECTED = "media_rejected"
MEDIA_UNREACHABLE = "media_unreachable"
ACCOUNT_DISCONNECTED = "account_disconnected"

_TABLE: Mapping[str, _Row] = MappingProxyType(
    {
        REAUTH_REQUIRED: _Row(401, True, "Access token expired. Please re-authenticate."),
        PERMISSION_DENIED: _Row(
            403, True, "Instagram refused: {detail}. Connect the account again and grant every requested permission."
        ),
        RATE_LIMITED: _Row(429, True, "Rate limit exceeded. Please try again later."),
        QUOTA_EXCEEDED: _Row(
            429,
            True,
            "Instagram's publishing limit for this account is reached (posts per 24 hours). Try again later.",
        ),
        MEDIA_REJECTED: _Row(400, False, "Instagram rejected the media: {detail}"),
        MEDIA_UNREACHABLE: _Row(
            502,
            True,
            "Instagram could not download the media this service serves for the post from {detail}. Check that "
            "this address answers from the internet (PUBLIC_BASE_URL); the post can be retried.",
        ),
        "media_processing_failed": _Row(400, False, "Instagram could not process the media ({detail})"),
        "oauth_failed": _Row(400, False, "Instagram refused the authorization: {detail}"),
        "instagram_bad_request": _Row(400, False, "Instagram refused the request: {detail}"),
        ACCOUNT_DISCONNECTED: _Row(409, True, "The account is disconnected. Connect it again, then retry the post."),
        "cancelled": _Row(409, False, "cancelled by the user"),
        "container_missing": _Row(502, True, "{detail}"),
        "container_expired": _Row(502, True, "Instagram kept expiring the media container; try again later"),
        "processing_timeout": _Row(502, True, "Instagram did not finish processing the media in time"),
        UNAVAILABLE: _Row(502, True, "Instagram did not answer properly. Please try again later."),
    }
)
# A code written by an older release, or none at all: Instagram is the likely cause.
_UNKNOWN = _Row(502, True, "Publishing failed")

# Checked in order: the first class the error is an instance of decides (OAuthError before BadRequest's peers).
_CODE_BY_ERROR: tuple[tuple[type[ig.InstagramError], str], ...] = (
    (ig.TokenInvalid, REAUTH_REQUIRED),
    (ig.PermissionDenied, PERMISSION_DENIED),
    (ig.RateLimited, RATE_LIMITED),
    (ig.PublishingQuotaExceeded, QUOTA_EXCEEDED),
    (ig.MediaRejected, MEDIA_REJECTED),
    (ig.OAuthError, "oauth_failed"),
    (ig.BadRequest, "instagram_bad_request"),
    (ig.ContainerNotFound, "container_missing"),
    # Meta's "retry in 30 s to 2 minutes" (-2/2207003, 24/2207008): Instagram is failing for now; its
    # `retry_after` (the start of that window) is kept, so the answer says when to try again.
    (ig.RetrySoon, UNAVAILABLE),
)


def from_instagram(exc: ig.InstagramError) -> Failure:
    """What an Instagram error means for the client (the one mapping; the caller marks a dead token)."""
    code = next((code for cls, code in _CODE_BY_ERROR if isinstance(exc, cls)), UNAVAILABLE)
    detail = exc.user_msg or exc.message if code == MEDIA_REJECTED else exc.message
    retry_after = exc.retry_after
    if code == QUOTA_EXCEEDED:
        retry_after = retry_after or QUOTA_RETRY_AFTER_SECONDS
    return Failure.of(code, detail=detail, retry_after=retry_after)


def app_error(failed: Failure, *, account_id: int | None = None, **extra: object) -> AppError:
    """The answer for a failure: its status and sentence, `extra` keys, the reconnect hint when the user must
    act, and `retry_after` with the `Retry-After` header (whole seconds, rounded up, at least 1) on a 429, and
    on a retryable 502 whose wait is known."""
    body: dict[str, object] = dict(extra)
    if failed.code in (REAUTH_REQUIRED, PERMISSION_DENIED):
        body.update(action="redirect", auth_url=AUTH_URL)
        if account_id is not None:
            body["account_id"] = account_id
    headers: dict[str, str] = {}
    retry_known = failed.status == 502 and failed.retryable and failed.retry_after is not None
    if failed.status == 429 or retry_known:
        seconds = failed.retry_after if failed.retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
        body["retry_after"] = max(1, math.ceil(seconds))
        headers["Retry-After"] = str(body["retry_after"])
    error = AppError(failed.message, code=failed.code, headers=headers, **body)
    error.status_code = failed.status
    return error


def instagram_error(exc: ig.InstagramError, *, account_id: int | None = None) -> AppError:
    """The answer for an Instagram error met while serving a request (an unavailable Instagram is logged)."""
    failed = from_instagram(exc)
    if failed.code == UNAVAILABLE:
        logger.warning("instagram failure", extra={"error": str(exc), "error_class": type(exc).__name__})
    return app_error(failed, account_id=account_id)


def reauth_required(account_id: int | None = None) -> AppError:
    """401: Instagram no longer accepts the account's token; the user must connect the account again."""
    return app_error(Failure.of(REAUTH_REQUIRED), account_id=account_id)
