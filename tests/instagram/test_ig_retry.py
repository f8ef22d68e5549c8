"""The retry policy: what is retried, how long it sleeps, and when it gives up."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from app.instagram import (
    BadRequest,
    InstagramClient,
    InstagramError,
    InstagramUnavailable,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    TokenInvalid,
    TransientError,
    classify_error,
)
from app.instagram.retry import RetryMode

from .support import TOKEN, Harness, V, graph_error, make_config, make_harness

PROFILE = {"user_id": "1", "username": "ada"}
BUSY = graph_error(2, "Service temporarily unavailable", is_transient=True)


def buc(minutes: int) -> dict[str, str]:
    entry = {"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": minutes}
    return {"X-Business-Use-Case-Usage": json.dumps({"17841400000000001": [entry]})}


async def test_retried_then_succeeds(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me")
    route.side_effect = [
        httpx.Response(503, json=BUSY),
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(200, json=PROFILE),
    ]
    profile = await ig.client.get_me(TOKEN)
    assert profile.username == "ada"
    assert route.call_count == 3
    # random() = 0.5: 0.5 * min(8, 0.5 * 2**n) for n = 0, 1.
    assert ig.sleeps == [0.25, 0.5]
    assert [outcome for _, outcome, _ in ig.calls] == ["TransientError", "TransientError", "ok"]


async def test_gives_up_after_max_attempts(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me").respond(503, json=BUSY)
    with pytest.raises(TransientError) as caught:
        await ig.client.get_me(TOKEN)
    assert route.call_count == 4
    assert caught.value.attempts == 4
    assert ig.sleeps == [0.25, 0.5, 1.0]


async def test_backoff_is_capped() -> None:
    harness = make_harness(make_config(max_attempts=7, retry_budget_seconds=100), random_value=1.0)
    async with harness.client as client:
        harness.router.get(f"{V}/me").respond(503, json=BUSY)
        with pytest.raises(TransientError):
            await client.get_me(TOKEN)
    assert harness.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


async def test_timeouts_are_retried_for_reads(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me")
    route.side_effect = [httpx.ReadTimeout("timed out"), httpx.Response(200, json=PROFILE)]
    await ig.client.get_me(TOKEN)
    assert route.call_count == 2
    assert [outcome for _, outcome, _ in ig.calls] == ["InstagramUnavailable", "ok"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            graph_error(190, "Error validating access token: Session has expired on Sunday.", subcode=463),
            TokenInvalid,
        ),
        (graph_error(100, "Tried accessing nonexisting field (bogus)"), BadRequest),
        (graph_error(10, "(#10) Application does not have permission for this action"), PermissionDenied),
    ],
)
async def test_permanent_errors_are_not_retried(ig: Harness, body: object, expected: type[InstagramError]) -> None:
    route = ig.router.get(f"{V}/me").respond(400, json=body)
    with pytest.raises(expected):
        await ig.client.get_me(TOKEN)
    assert route.call_count == 1
    assert ig.sleeps == []


async def test_rate_limit_waits_at_least_retry_after(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "5"}),
        httpx.Response(200, json=PROFILE),
    ]
    await ig.client.get_me(TOKEN)
    assert ig.sleeps == [5.0]
    assert route.call_count == 2


async def test_rate_limit_beyond_the_budget_is_raised_at_once(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me").respond(
        400,
        json=graph_error(80002, "There have been too many calls to this Instagram account."),
        headers=buc(60),
    )
    with pytest.raises(RateLimited) as caught:
        await ig.client.get_me(TOKEN)
    assert caught.value.retry_after == 3600.0
    assert route.call_count == 1
    assert ig.sleeps == []


async def test_rate_limit_without_retry_after_is_not_retried(ig: Harness) -> None:
    # Meta: a throttled account is not called again until it has room (test_ig_meta_rules.py).
    route = ig.router.get(f"{V}/me")
    route.side_effect = [
        httpx.Response(400, json=graph_error(17, "(#17) User request limit reached")),
        httpx.Response(200, json=PROFILE),
    ]
    with pytest.raises(RateLimited) as caught:
        await ig.client.get_me(TOKEN)
    assert caught.value.account_paused
    assert caught.value.retry_after == 60.0
    assert ig.sleeps == []
    assert route.call_count == 1


async def test_retry_after_on_5xx_is_honoured(ig: Harness) -> None:
    route = ig.router.get(f"{V}/me")
    route.side_effect = [
        httpx.Response(503, text="maintenance", headers={"Retry-After": "2"}),
        httpx.Response(200, json=PROFILE),
    ]
    await ig.client.get_me(TOKEN)
    assert ig.sleeps == [2.0]


async def test_the_budget_bounds_total_sleep() -> None:
    harness = make_harness(make_config(retry_budget_seconds=1.2), random_value=1.0)
    async with harness.client as client:
        route = harness.router.get(f"{V}/me").respond(503, json=BUSY)
        with pytest.raises(TransientError) as caught:
            await client.get_me(TOKEN)
    # The first sleep (0.5 s) fits; the second (1.0 s) would bring the total to 1.5 s > 1.2 s, so it stops.
    assert harness.sleeps == [0.5]
    assert route.call_count == 2
    assert caught.value.attempts == 2


async def test_one_attempt_means_no_retry() -> None:
    harness = make_harness(make_config(max_attempts=1))
    async with harness.client as client:
        route = harness.router.get(f"{V}/me").respond(503, json=BUSY)
        with pytest.raises(TransientError):
            await client.get_me(TOKEN)
    assert route.call_count == 1


async def test_a_failing_metrics_hook_does_not_fail_the_call() -> None:
    router = respx.MockRouter(assert_all_mocked=True)
    router.get(f"{V}/me").respond(200, json=PROFILE)

    def broken(operation: str, outcome: str, seconds: float) -> None:
        raise RuntimeError("metrics backend down")

    async with InstagramClient(
        make_config(), transport=httpx.MockTransport(router.async_handler), on_call=broken
    ) as client:
        profile = await client.get_me(TOKEN)
    assert profile.username == "ada"


def _unavailable(request_sent: bool) -> InstagramUnavailable:
    return InstagramUnavailable("ReadTimeout", operation="x", request_sent=request_sent)


@pytest.mark.parametrize(
    ("error", "mode", "expected"),
    [
        (_unavailable(True), "safe", True),
        (_unavailable(False), "safe", True),
        (classify_error(503, "", {}, operation="x"), "safe", True),
        (classify_error(429, "", {}, operation="x"), "safe", True),
        (classify_error(400, graph_error(190, "expired"), {}, operation="x"), "safe", False),
        (classify_error(400, graph_error(100, "bad"), {}, operation="x"), "safe", False),
        (_unavailable(False), "connect_only", True),
        (_unavailable(True), "connect_only", False),
        (classify_error(503, "", {}, operation="x"), "connect_only", False),
        (classify_error(429, "", {}, operation="x"), "connect_only", False),
        (_unavailable(False), "never", False),
        (classify_error(503, "", {}, operation="x"), "never", False),
    ],
)
def test_may_retry_matrix(error: InstagramError, mode: RetryMode, expected: bool) -> None:
    policy = RetryPolicy(max_attempts=4, budget_seconds=20)
    assert policy.may_retry(error, mode) is expected
