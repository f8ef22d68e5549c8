"""The exception hierarchy of the Instagram client and the one function that picks a class for an error.

Instagram answers nearly every error with HTTP 400 (permission errors with 403, an expired token
sometimes with 401), so the class comes from the body's `code` / `error_subcode`, and the HTTP status
only decides when the body says nothing useful. The tables below are the whole policy: to change how an
error is treated, change a row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType

# Codes 341 (application limit) and 368 (temporary policy block) lift after hours, not seconds. When the
# headers do not say how long, assume an hour, so the retry policy gives up at once instead of
# hammering an account that is being watched.
LONG_BLOCK_SECONDS = 3600.0
# X-App-Usage gives percentages of a rolling one-hour window but no time to wait. Usage decays as the
# window rolls; five minutes is a cautious guess that keeps us from adding to the count.
APP_USAGE_BACKOFF_SECONDS = 300.0
# Meta's error table: -2/2207003 and 24/2207008 are to be retried "within 30 s to 2 minutes".
RETRY_SOON_SECONDS = 30.0


class InstagramError(Exception):
    """Any failure of a call to Instagram; subclasses say what the caller should do about it."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.type = error_type
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        # Seconds Instagram asked us to wait (Retry-After or rate-limit headers); None when it did not say.
        self.retry_after = retry_after
        # Set by the client when it stopped calling this account (throttled without a wait time): the
        # retry policy must not call again before `retry_after`, see throttle.py.
        self.account_paused = False
        # How many HTTP attempts were made before this error surfaced; set by the retry loop.
        self.attempts = 1

    def __str__(self) -> str:
        details = [f"code={self.code}"] if self.code is not None else []
        if self.subcode is not None:
            details.append(f"subcode={self.subcode}")
        if self.http_status is not None:
            details.append(f"http={self.http_status}")
        if self.fbtrace_id:
            details.append(f"fbtrace_id={self.fbtrace_id}")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{self.operation}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(operation={self.operation!r}, code={self.code!r}, "
            f"subcode={self.subcode!r}, http_status={self.http_status!r}, message={self.message!r})"
        )


class TokenInvalid(InstagramError):
    """The access token is dead (expired, revoked, password changed): the account must log in again."""


class PermissionDenied(InstagramError):
    """The token lacks a permission or the app lacks a capability; retrying will not help."""


class RateLimited(InstagramError):
    """Instagram throttled the app or the account; `retry_after` says how long, when it is known."""


class PublishBlocked(InstagramError):
    """Publishing was blocked as spam (4 / 2207051). The post may exist anyway: reconcile by reading the
    container, never re-publish blindly."""


class TransientError(InstagramError):
    """A failure on Instagram's side that a later attempt may not meet."""


class RetrySoon(TransientError):
    """Meta's documented "try again in 30 s to 2 minutes" (-2 / 2207003: the media download timed out;
    24 / 2207008: the container is not available yet). `retry_after` is the start of that window.

    Nothing was published: a caller defers the post by `retry_after` and tries again (the publisher reads
    the container's status first, so a container that did get published is recorded, never re-published).
    """


class InstagramUnavailable(TransientError):
    """No answer: a timeout or a network error. `request_sent` is False only when no connection was made (the
    request certainly had no effect); when True, Instagram may have acted on it (a publish may have happened)."""

    def __init__(self, message: str, *, operation: str, request_sent: bool) -> None:
        super().__init__(message, operation=operation)
        self.request_sent = request_sent


class PublishingQuotaExceeded(InstagramError):
    """The account used up its API publishing quota for the rolling 24 hours (9 / 2207042)."""


class ContainerNotReady(InstagramError):
    """The container is not FINISHED yet (9007 / 2207027); poll its status and publish later."""


class ContainerNotFound(InstagramError):
    """The container is missing or expired (24 / 2207006, 2207008); create a new one."""


class MediaRejected(InstagramError):
    """Instagram refused the media or the container (size, format, aspect, caption, unreachable URL).

    `message` and `user_msg` are Instagram's own words and are meant to be shown to the user.
    """


class MediaDownloadFailed(MediaRejected):
    """The media URL could not be downloaded (9004 / 2207052): whose fault depends on who serves it."""


class OAuthError(InstagramError):
    """The OAuth endpoint's own error shape: `{"error_type", "code", "error_message"}`."""

    @property
    def error_type(self) -> str | None:
        return self.type


class BadRequest(InstagramError):
    """Everything else: an invalid parameter, an unknown metric or field, an unsupported request."""


class UnexpectedResponse(InstagramError):
    """A success status whose body is not what the API documents.

    Never retried: for a write (media_publish above all) the action may well have happened.
    """


# Subcodes are more specific than codes (1 / 2207057 is a bad thumbnail offset, not an unknown error), so
# they are looked up first.
_BY_SUBCODE: Mapping[int, type[InstagramError]] = MappingProxyType(
    {
        2207051: PublishBlocked,
        2207042: PublishingQuotaExceeded,
        2207027: ContainerNotReady,
        2207006: ContainerNotFound,
        2207052: MediaDownloadFailed,
        # Meta: retry these within 30 s to 2 minutes (then, for a container, make a new one).
        2207003: RetrySoon,
        2207008: RetrySoon,
        # -1 / 2207001, 2207032, 2207053: server-side failures while creating or uploading a container.
        2207001: TransientError,
        2207032: TransientError,
        2207053: TransientError,
        **dict.fromkeys(
            (
                2207004,  # image larger than 8 MiB
                2207005,  # unsupported image format
                2207009,  # aspect ratio out of range
                2207010,  # caption too long / too many hashtags
                2207020,  # media expired
                2207023,  # unknown media type
                2207026,  # unsupported video format
                2207028,  # carousel needs 2 to 10 children
                2207040,  # more than 20 @-tags
                2207050,  # account restricted or checkpointed
                2207057,  # thumb_offset out of range
            ),
            MediaRejected,
        ),
    }
)

_BY_CODE: Mapping[int, type[InstagramError]] = MappingProxyType(
    {
        190: TokenInvalid,  # any subcode: 458 app removed, 459 checkpoint, 460 password changed, 463 expired…
        102: TokenInvalid,  # session invalid
        3: PermissionDenied,  # capability missing
        10: PermissionDenied,
        **dict.fromkeys(range(200, 300), PermissionDenied),
        **dict.fromkeys((4, 17, 32, 613, 80002, 341, 368), RateLimited),
        1: TransientError,  # unknown error
        2: TransientError,  # service temporarily unavailable
        9: PublishingQuotaExceeded,
        9007: ContainerNotReady,
        24: ContainerNotFound,
        **dict.fromkeys((36000, 36001, 36003, 36004, 352, 9004), MediaRejected),
    }
)

_LONG_BLOCK_CODES = frozenset({341, 368})


def classify_error(status_code: int, body: object, headers: Mapping[str, str], *, operation: str) -> InstagramError:
    """Turn an error response into the matching InstagramError subclass.

    `body` is the decoded JSON, or the raw text/bytes/None when the body is not JSON. Order of decision:
    the Graph envelope's subcode, then its code (tables above); then `is_transient: true` → TransientError;
    then HTTP 5xx → TransientError and HTTP 429 → RateLimited; anything else is BadRequest. The OAuth
    endpoint's own shape becomes OAuthError on a 4xx (a 5xx is TransientError whatever the body).
    A code the tables know wins over a 5xx status: a dead token stays dead however it is reported.
    """
    envelope = _graph_envelope(body)
    if envelope is None:
        return _classify_without_envelope(status_code, body, headers, operation=operation)

    code = _as_int(envelope.get("code"))
    subcode = _as_int(envelope.get("error_subcode"))
    is_transient = envelope.get("is_transient") is True
    cls = _BY_SUBCODE.get(subcode) if subcode is not None else None
    if cls is None and code is not None:
        cls = _BY_CODE.get(code)
    if cls is None:
        if is_transient or status_code >= 500:
            cls = TransientError
        elif status_code == 429:
            cls = RateLimited
        else:
            cls = BadRequest

    retry_after = None
    if issubclass(cls, RateLimited | TransientError):
        retry_after = retry_after_from_headers(headers)
        if code in _LONG_BLOCK_CODES:
            retry_after = max(retry_after or 0.0, LONG_BLOCK_SECONDS)
        if cls is RetrySoon:
            retry_after = max(retry_after or 0.0, RETRY_SOON_SECONDS)

    return cls(
        _as_str(envelope.get("message")) or f"HTTP {status_code}",
        operation=operation,
        code=code,
        subcode=subcode,
        http_status=status_code,
        error_type=_as_str(envelope.get("type")),
        fbtrace_id=_as_str(envelope.get("fbtrace_id")),
        is_transient=is_transient,
        user_title=_as_str(envelope.get("error_user_title")),
        user_msg=_as_str(envelope.get("error_user_msg")),
        retry_after=retry_after,
    )


def _classify_without_envelope(
    status_code: int, body: object, headers: Mapping[str, str], *, operation: str
) -> InstagramError:
    if isinstance(body, Mapping) and status_code < 500 and ("error_type" in body or "error_message" in body):
        return OAuthError(
            _as_str(body.get("error_message")) or f"HTTP {status_code}",
            operation=operation,
            code=_as_int(body.get("code")),
            http_status=status_code,
            error_type=_as_str(body.get("error_type")),
        )
    # The body of a non-JSON error (a proxy's HTML page) is not quoted: it may echo the request URL.
    described = "an unrecognised JSON body" if isinstance(body, Mapping | list) else "a non-JSON body"
    message = f"HTTP {status_code} with {described}"
    if status_code >= 500:
        return TransientError(
            message,
            operation=operation,
            http_status=status_code,
            retry_after=retry_after_from_headers(headers),
        )
    if status_code == 429:
        return RateLimited(
            message,
            operation=operation,
            http_status=status_code,
            retry_after=retry_after_from_headers(headers),
        )
    return BadRequest(message, operation=operation, http_status=status_code)


def retry_after_from_headers(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to the response headers, or None when they do not say.

    In order: `Retry-After` (seconds or an HTTP date); the largest `estimated_time_to_regain_access`
    (minutes) in `X-Business-Use-Case-Usage`; a fixed pause when `X-App-Usage` shows any counter at 100%.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = _parse_retry_after(lowered.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    regain_minutes = _max_regain_minutes(lowered.get("x-business-use-case-usage"))
    if regain_minutes:
        return regain_minutes * 60.0
    if _app_usage_exhausted(lowered.get("x-app-usage")):
        return APP_USAGE_BACKOFF_SECONDS
    return None


def _parse_retry_after(value: str | None, *, now: datetime | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _max_regain_minutes(value: str | None) -> float | None:
    usage = _load_json(value)
    if not isinstance(usage, Mapping):
        return None
    minutes: list[float] = []
    for entries in usage.values():
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if isinstance(entry, Mapping):
                regain = _as_number(entry.get("estimated_time_to_regain_access"))
                if regain is not None:
                    minutes.append(regain)
    return max(minutes, default=None)


def _app_usage_exhausted(value: str | None) -> bool:
    usage = _load_json(value)
    if not isinstance(usage, Mapping):
        return False
    return any((number := _as_number(v)) is not None and number >= 100 for v in usage.values())


def _load_json(value: str | None) -> object:
    if not value:
        return None
    try:
        loaded: object = json.loads(value)
    except ValueError:
        return None
    return loaded


def _graph_envelope(body: object) -> Mapping[str, object] | None:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return error
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
