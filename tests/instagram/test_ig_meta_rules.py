"""Meta's failure rules in the client: refused metrics dropped and remembered, retry-soon codes, and accounts
throttled without a wait time left alone until their usage has room."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.instagram import BadRequest, RateLimited, RetrySoon, classify_error
from app.instagram.metrics import media_insight_metrics, refused_metrics_in
from app.instagram.throttle import AccountPauses, usage_has_room

from .support import TOKEN, Harness, V, graph_error, make_harness, params_of

PROFILE = {"user_id": "1", "username": "ada"}
FEED = media_insight_metrics("FEED")


def _insights(metrics: list[str]) -> dict[str, object]:
    return {"data": [{"name": m, "period": "lifetime", "values": [{"value": 7}]} for m in metrics]}


def _refusal(metric: str, requested: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    served = ", ".join(m for m in requested if m != metric)
    index = requested.index(metric)
    return graph_error(100, f"(#100) metric[{index}] must be one of the following values: {served}")


class TestRefusedMetrics:
    @pytest.mark.parametrize(
        ("message", "user_msg", "expected"),
        [
            ("(#100) metric[1] must be one of the following values: reach, likes", None, ["views"]),
            ("(#100) metric[2] is invalid", None, ["likes"]),
            ("(#100) The views metric is no longer supported", None, ["views"]),
            ("(#100) Invalid parameter", "likes is not a valid metric for this object.", ["likes"]),
            ("(#100) Unsupported get request", None, []),
        ],
    )
    def test_which_metric_an_answer_names(self, message: str, user_msg: str | None, expected: list[str]) -> None:
        assert refused_metrics_in(message, user_msg, ["reach", "views", "likes"]) == expected

    async def test_a_refused_metric_is_dropped_retried_once_and_remembered_per_product_type(self) -> None:
        ig = make_harness()
        route = ig.router.get(f"{V}/17900/insights")
        without = [m for m in FEED if m != "profile_visits"]
        route.side_effect = [
            httpx.Response(400, json=_refusal("profile_visits", FEED)),
            httpx.Response(200, json=_insights(without)),
            httpx.Response(200, json=_insights(without)),
        ]
        first = await ig.client.get_media_insights(TOKEN, "17900", product_type="FEED")
        assert set(first) == set(without)
        assert params_of(route.calls[1].request)["metric"] == ",".join(without)
        # Remembered: the next FEED media is asked without it straight away (one call, not two).
        await ig.client.get_media_insights(TOKEN, "17900", product_type="FEED")
        assert route.call_count == 3
        assert params_of(route.calls[2].request)["metric"] == ",".join(without)

    async def test_memory_is_per_product_type(self) -> None:
        ig = make_harness()
        ig.router.get(f"{V}/1/insights").side_effect = [
            httpx.Response(400, json=_refusal("follows", FEED)),
            httpx.Response(200, json=_insights([m for m in FEED if m != "follows"])),
        ]
        await ig.client.get_media_insights(TOKEN, "1", product_type="FEED")
        story = ig.router.get(f"{V}/2/insights").respond(200, json=_insights(["reach"]))
        await ig.client.get_media_insights(TOKEN, "2", product_type="STORY")
        assert "follows" in params_of(story.calls[0].request)["metric"].split(",")

    async def test_only_once(self) -> None:
        ig = make_harness()
        route = ig.router.get(f"{V}/1/insights")
        route.side_effect = [
            httpx.Response(400, json=_refusal("follows", FEED)),
            httpx.Response(400, json=graph_error(100, "(#100) The reach metric is no longer supported")),
        ]
        with pytest.raises(BadRequest):
            await ig.client.get_media_insights(TOKEN, "1", product_type="FEED")
        assert route.call_count == 2

    async def test_another_code_100_is_not_retried(self) -> None:
        ig = make_harness()
        route = ig.router.get(f"{V}/1/insights").respond(400, json=graph_error(100, "(#100) Unsupported get request"))
        with pytest.raises(BadRequest):
            await ig.client.get_media_insights(TOKEN, "1", product_type="FEED")
        assert route.call_count == 1

    async def test_small_accounts_answer_without_follows_and_unfollows(self) -> None:
        ig = make_harness()
        route = ig.router.get(f"{V}/5/insights")
        route.side_effect = [
            httpx.Response(
                400,
                json=graph_error(
                    100, "(#100) The follows_and_unfollows metric is not available for accounts with fewer than 100"
                ),
            ),
            httpx.Response(200, json={"data": [{"name": "reach", "total_value": {"value": 3}}]}),
        ]
        until = datetime.now(UTC)
        values = await ig.client.get_account_insights(
            TOKEN, "5", metrics=["reach", "follows_and_unfollows"], since=until - timedelta(days=1), until=until
        )
        assert values == {"reach": 3}
        assert params_of(route.calls[1].request)["metric"] == "reach"


class TestRetrySoon:
    @pytest.mark.parametrize(("code", "subcode"), [(-2, 2207003), (24, 2207008)])
    def test_classified_with_a_wait_in_metas_window(self, code: int, subcode: int) -> None:
        error = classify_error(400, graph_error(code, "try again", subcode=subcode), {}, operation="op")
        assert isinstance(error, RetrySoon)
        assert error.retry_after is not None
        assert 30 <= error.retry_after <= 120

    async def test_not_retried_inside_a_request_budget(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/1/media").respond(400, json=graph_error(-2, "Timeout", subcode=2207003))
        with pytest.raises(RetrySoon):
            await ig.client.create_image_container(TOKEN, "1", image_url="https://example.com/a.jpg")
        assert route.call_count == 1  # 30 s does not fit the 20 s budget: the caller defers instead


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _usage(percent: int, regain: int | None = None) -> dict[str, str]:
    entry: dict[str, object] = {"type": "instagram", "call_count": percent, "total_cputime": 1, "total_time": 1}
    if regain is not None:
        entry["estimated_time_to_regain_access"] = regain
    return {"X-Business-Use-Case-Usage": json.dumps({"1": [entry]})}


THROTTLED = graph_error(80002, "There have been too many calls to this Instagram account.")


class TestAccountPauses:
    def test_usage_room(self) -> None:
        assert usage_has_room(_usage(40)) is True
        assert usage_has_room(_usage(100)) is False
        assert usage_has_room(_usage(10, regain=3)) is False
        assert usage_has_room({}) is None

    async def test_throttled_without_wait_stops_calls_until_a_probe_shows_room(self) -> None:
        clock = Clock()
        ig = make_harness(pauses=AccountPauses(clock=clock))
        route = ig.router.get(f"{V}/me")
        route.side_effect = [
            httpx.Response(400, json=THROTTLED, headers=_usage(100)),
            httpx.Response(200, json=PROFILE, headers=_usage(35)),
            httpx.Response(200, json=PROFILE, headers=_usage(36)),
        ]
        with pytest.raises(RateLimited) as first:
            await ig.client.get_me(TOKEN)
        assert first.value.retry_after == 60.0

        clock.now += 30
        with pytest.raises(RateLimited) as paused:
            await ig.client.get_me(TOKEN)
        assert paused.value.account_paused
        assert paused.value.retry_after == 30.0
        assert route.call_count == 1  # nothing was sent while paused

        # Another account is not affected.
        other = ig.router.get(f"{V}/42").respond(200, json=PROFILE)
        await ig.client.get_user("another-token", "42")
        assert other.call_count == 1

        clock.now += 31
        await ig.client.get_me(TOKEN)  # the probe: answered with room, so the account is free again
        await ig.client.get_me(TOKEN)
        assert route.call_count == 3

    async def test_a_probe_throttled_again_doubles_the_pause(self) -> None:
        clock = Clock()
        ig = make_harness(pauses=AccountPauses(clock=clock))
        ig.router.get(f"{V}/me").respond(400, json=THROTTLED)
        with pytest.raises(RateLimited) as first:
            await ig.client.get_me(TOKEN)
        clock.now += 61
        with pytest.raises(RateLimited) as second:
            await ig.client.get_me(TOKEN)
        assert (first.value.retry_after, second.value.retry_after) == (60.0, 120.0)

    async def test_usage_headers_without_room_keep_the_pause(self) -> None:
        clock = Clock()
        pauses = AccountPauses(clock=clock)
        ig = make_harness(pauses=pauses)
        route = ig.router.get(f"{V}/me")
        route.side_effect = [
            httpx.Response(400, json=THROTTLED),
            httpx.Response(200, json=PROFILE, headers=_usage(100)),
        ]
        with pytest.raises(RateLimited):
            await ig.client.get_me(TOKEN)
        clock.now += 61
        await ig.client.get_me(TOKEN)  # answered, but the usage is still full
        with pytest.raises(RateLimited):
            await ig.client.get_me(TOKEN)
        assert route.call_count == 2

    async def test_a_throttle_with_a_wait_time_keeps_the_usual_policy(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/me")
        route.side_effect = [
            httpx.Response(400, json=graph_error(17, "(#17) User request limit reached"), headers={"Retry-After": "1"}),
            httpx.Response(200, json=PROFILE),
        ]
        await ig.client.get_me(TOKEN)
        assert ig.sleeps == [1.0]

    async def test_a_wait_time_of_zero_is_a_wait_time(self) -> None:
        ig = make_harness(pauses=AccountPauses(clock=Clock()))
        route = ig.router.get(f"{V}/me")
        route.side_effect = [
            httpx.Response(400, json=THROTTLED, headers=_usage(100, regain=0)),
            httpx.Response(200, json=PROFILE),
        ]
        await ig.client.get_me(TOKEN)  # retried at once with the usual backoff: nothing is paused
        assert route.call_count == 2
