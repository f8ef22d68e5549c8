"""classify_error: every class, from bodies and headers shaped like Instagram's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.instagram import (
    BadRequest,
    ContainerNotFound,
    ContainerNotReady,
    InstagramError,
    InstagramUnavailable,
    MediaDownloadFailed,
    MediaRejected,
    OAuthError,
    PermissionDenied,
    PublishBlocked,
    PublishingQuotaExceeded,
    RateLimited,
    RetrySoon,
    TokenInvalid,
    TransientError,
    classify_error,
)
from app.instagram.errors import LONG_BLOCK_SECONDS, retry_after_from_headers

from .support import Harness, V, graph_error

EXPIRED = "Error validating access token: Session has expired on Sunday, 16-Nov-25 04:00:00 PST."


def buc_header(*minutes: int) -> dict[str, str]:
    usage = {
        "17841400000000001": [
            {
                "type": "instagram",
                "call_count": 100,
                "total_cputime": 12,
                "total_time": 14,
                "estimated_time_to_regain_access": m,
            }
            for m in minutes
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


CASES: list[tuple[str, int, object, dict[str, str], type[InstagramError]]] = [
    ("expired token", 400, graph_error(190, EXPIRED, subcode=463), {}, TokenInvalid),
    (
        "password changed",
        400,
        graph_error(190, "Error validating access token", subcode=460),
        {},
        TokenInvalid,
    ),
    ("token 401 no subcode", 401, graph_error(190, "Invalid OAuth access token."), {}, TokenInvalid),
    ("session invalid", 400, graph_error(102, "Session key invalid"), {}, TokenInvalid),
    (
        "permission 10",
        403,
        graph_error(10, "(#10) Application does not have permission"),
        {},
        PermissionDenied,
    ),
    ("permission 200", 403, graph_error(200, "(#200) Permissions error"), {}, PermissionDenied),
    (
        "permission 3",
        400,
        graph_error(3, "(#3) Application does not have the capability"),
        {},
        PermissionDenied,
    ),
    ("buc limit", 400, graph_error(80002, "There have been too many calls"), buc_header(2), RateLimited),
    ("app limit", 400, graph_error(4, "(#4) Application request limit reached"), {}, RateLimited),
    ("user limit", 400, graph_error(17, "(#17) User request limit reached"), {}, RateLimited),
    ("page limit", 400, graph_error(32, "Page request limit reached"), {}, RateLimited),
    (
        "custom limit",
        400,
        graph_error(613, "Calls to this api have exceeded the rate limit."),
        {},
        RateLimited,
    ),
    ("policy block", 400, graph_error(368, "Temporarily blocked for policies violations"), {}, RateLimited),
    ("http 429 no body", 429, "", {"Retry-After": "7"}, RateLimited),
    (
        "spam block",
        400,
        graph_error(4, "Application request limit reached", subcode=2207051),
        {},
        PublishBlocked,
    ),
    (
        "service down",
        503,
        graph_error(2, "Service temporarily unavailable", is_transient=True),
        {},
        TransientError,
    ),
    ("unknown error", 500, graph_error(1, "An unknown error occurred"), {}, TransientError),
    (
        "is_transient wins",
        400,
        graph_error(100, "Object does not exist", is_transient=True),
        {},
        TransientError,
    ),
    ("html 500", 500, "<html><body>Internal Server Error</body></html>", {}, TransientError),
    ("container server error", 400, graph_error(-1, "Unexpected error", subcode=2207001), {}, TransientError),
    (
        "quota",
        400,
        graph_error(9, "Application request limit reached", subcode=2207042),
        {},
        PublishingQuotaExceeded,
    ),
    (
        "not ready",
        400,
        graph_error(9007, "Media ID is not available", subcode=2207027),
        {},
        ContainerNotReady,
    ),
    ("container not available yet", 400, graph_error(24, "Media not found", subcode=2207008), {}, RetrySoon),
    ("media download timed out", 400, graph_error(-2, "Timeout", subcode=2207003), {}, RetrySoon),
    ("media not found", 400, graph_error(24, "Media not found", subcode=2207006), {}, ContainerNotFound),
    ("bad image", 400, graph_error(36001, "Invalid image format", subcode=2207005), {}, MediaRejected),
    ("url unfetchable", 400, graph_error(9004, "Media download failed", subcode=2207052), {}, MediaDownloadFailed),
    ("bad video", 400, graph_error(352, "Video format not supported", subcode=2207026), {}, MediaRejected),
    ("carousel size", 400, graph_error(100, "Invalid parameter", subcode=2207028), {}, MediaRejected),
    (
        "thumb offset (1 is transient alone)",
        400,
        graph_error(1, "Thumb offset", subcode=2207057),
        {},
        MediaRejected,
    ),
    (
        "oauth shape",
        400,
        {
            "error_type": "OAuthException",
            "code": 400,
            "error_message": "Matching code was not found or was already used",
        },
        {},
        OAuthError,
    ),
    (
        "unknown field",
        400,
        graph_error(100, "Tried accessing nonexisting field (foo)", type="IGApiException"),
        {},
        BadRequest,
    ),
    ("html 400", 400, "<html>Bad Request</html>", {}, BadRequest),
    ("dead token reported as 500", 500, graph_error(190, EXPIRED, subcode=463), {}, TokenInvalid),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_classify_picks_the_class_from_the_body(
    status: int, body: object, headers: dict[str, str], expected: type[InstagramError]
) -> None:
    error = classify_error(status, body, headers, operation="get_me")
    assert type(error) is expected
    assert error.http_status == status
    assert error.operation == "get_me"


def test_error_keeps_every_field_of_the_envelope() -> None:
    body = graph_error(
        36001,
        "The image format is not supported.",
        subcode=2207005,
        is_transient=False,
        error_user_title="Unsupported format",
        error_user_msg="The image format is not supported. Use JPEG.",
    )
    error = classify_error(400, body, {}, operation="create_image_container")
    assert isinstance(error, MediaRejected)
    assert (error.code, error.subcode, error.type, error.fbtrace_id) == (
        36001,
        2207005,
        "OAuthException",
        "AbCdEf123",
    )
    assert error.message == "The image format is not supported."
    assert error.user_title == "Unsupported format"
    assert error.user_msg == "The image format is not supported. Use JPEG."
    assert str(error) == (
        "create_image_container: The image format is not supported. "
        "(code=36001, subcode=2207005, http=400, fbtrace_id=AbCdEf123)"
    )


def test_oauth_error_carries_error_type_and_message() -> None:
    body = {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Matching code was not found or was already used",
    }
    error = classify_error(400, body, {}, operation="exchange_code")
    assert isinstance(error, OAuthError)
    assert error.error_type == "OAuthException"
    assert error.message == "Matching code was not found or was already used"


def test_buc_header_gives_the_largest_regain_time_in_seconds() -> None:
    error = classify_error(400, graph_error(80002, "Too many calls"), buc_header(3, 12, 0), operation="list_media")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 12 * 60


def test_retry_after_header_wins_over_usage_headers() -> None:
    headers = {"retry-after": "30", **buc_header(10)}
    assert retry_after_from_headers(headers) == 30.0


def test_retry_after_accepts_an_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_from_headers({"Retry-After": "Sun, 01 Mar 2026 12:00:45 GMT"}, now=now) == 45.0


def test_app_usage_at_100_percent_means_wait() -> None:
    headers = {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 20, "total_cputime": 10})}
    error = classify_error(400, graph_error(4, "(#4) Application request limit reached"), headers, operation="x")
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None
    assert error.retry_after > 0


def test_rate_limit_without_headers_has_no_retry_after() -> None:
    error = classify_error(400, graph_error(17, "(#17) User request limit reached"), {}, operation="x")
    assert error.retry_after is None


def test_long_blocks_get_a_long_retry_after() -> None:
    error = classify_error(400, graph_error(341, "Application limit reached"), {}, operation="x")
    assert isinstance(error, RateLimited)
    assert error.retry_after == LONG_BLOCK_SECONDS


def test_5xx_retry_after_is_kept() -> None:
    error = classify_error(503, "upstream down", {"Retry-After": "3"}, operation="x")
    assert isinstance(error, TransientError)
    assert error.retry_after == 3.0


def test_unrelated_errors_never_carry_retry_after() -> None:
    error = classify_error(400, graph_error(190, EXPIRED, subcode=463), {"Retry-After": "3"}, operation="x")
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("exception", "request_sent"),
    [
        (httpx.ReadTimeout("timed out"), True),
        (httpx.WriteTimeout("timed out"), True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ConnectError("[Errno 111] Connection refused"), False),
        (httpx.ConnectTimeout("timed out"), False),
    ],
)
async def test_network_failures_become_unavailable(ig: Harness, exception: Exception, request_sent: bool) -> None:
    ig.router.get(f"{V}/me").mock(side_effect=exception)
    with pytest.raises(InstagramUnavailable) as caught:
        await ig.client.get_me("tok")
    assert isinstance(caught.value, TransientError)
    assert caught.value.request_sent is request_sent
    assert caught.value.operation == "get_me"


async def test_client_raises_the_classified_error_and_reports_it(ig: Harness) -> None:
    ig.router.get(f"{V}/me").respond(400, json=graph_error(190, EXPIRED, subcode=463))
    with pytest.raises(TokenInvalid) as caught:
        await ig.client.get_me("tok")
    assert caught.value.subcode == 463
    assert [(op, outcome) for op, outcome, _ in ig.calls] == [("get_me", "TokenInvalid")]


def _all_subclasses(cls: type[Any]) -> set[type[Any]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_error_class_is_exported() -> None:
    import app.instagram as package

    exported = [getattr(package, name) for name in package.__all__]
    assert all(cls in exported for cls in _all_subclasses(InstagramError))
