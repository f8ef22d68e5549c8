"""Checklist 10–11: media insights per product type, and account insights."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings

from .helpers import (
    GRAPH,
    IMAGE_URL,
    REEL_URL,
    advance,
    create_container,
    error_of,
    long_token,
    me,
    post_image,
    publish,
    wait_finished,
)

FEED = "reach,views,likes,comments,saved,shares,total_interactions,follows,profile_visits,profile_activity,reposts"
REELS = (
    "reach,views,likes,comments,saved,shares,total_interactions,ig_reels_avg_watch_time,"
    "ig_reels_video_view_total_time,reels_skip_rate,reposts"
)
STORY = "reach,views,replies,shares,total_interactions,navigation,follows,profile_visits,profile_activity"


@pytest.fixture
async def token(client: httpx.AsyncClient, settings: Settings) -> str:
    return await long_token(client, settings)


@pytest.fixture
async def user_id(client: httpx.AsyncClient, token: str) -> str:
    return str((await me(client, token))["user_id"])


async def insights(client: httpx.AsyncClient, token: str, media_id: str, metric: str) -> httpx.Response:
    return await client.get(f"{GRAPH}/{media_id}/insights", params={"metric": metric, "access_token": token})


def values(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    return {item["name"]: item["values"][0]["value"] for item in response.json()["data"]}


async def publish_reel(client: httpx.AsyncClient, token: str, user_id: str) -> str:
    created = await create_container(client, token, user_id, media_type="REELS", video_url=REEL_URL)
    await wait_finished(client, token, created.json()["id"])
    media_id: str = (await publish(client, token, user_id, created.json()["id"])).json()["id"]
    return media_id


async def publish_story(client: httpx.AsyncClient, token: str, user_id: str) -> str:
    created = await create_container(client, token, user_id, media_type="STORIES", image_url=IMAGE_URL)
    media_id: str = (await publish(client, token, user_id, created.json()["id"])).json()["id"]
    return media_id


class TestMediaInsights:
    async def test_feed_shape_and_plausibility(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await post_image(client, token, user_id)
        await advance(client, 3 * 86400)
        response = await insights(client, token, media_id, FEED)
        items = response.json()["data"]
        assert [i["name"] for i in items] == FEED.split(",")
        first = items[0]
        assert set(first) == {"name", "period", "values", "title", "description", "id"}
        assert first["period"] == "lifetime"
        assert first["id"] == f"{media_id}/insights/reach/lifetime"
        v = values(response)
        assert 0 < v["likes"] < v["reach"] < v["views"]
        assert v["total_interactions"] == v["likes"] + v["comments"] + v["saved"] + v["shares"]
        # The same numbers as the media node's counters.
        node = await client.get(
            f"{GRAPH}/{media_id}", params={"fields": "like_count,comments_count", "access_token": token}
        )
        assert (node.json()["like_count"], node.json()["comments_count"]) == (v["likes"], v["comments"])

    async def test_deterministic_and_growing(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await post_image(client, token, user_id)
        await advance(client, 3600)
        early = values(await insights(client, token, media_id, "reach,views,likes"))
        assert early == values(await insights(client, token, media_id, "reach,views,likes"))
        await advance(client, 5 * 86400)
        late = values(await insights(client, token, media_id, "reach,views,likes"))
        assert all(late[name] > early[name] for name in early)

    async def test_seeded_carousel_and_reel(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        listing = await client.get(
            f"{GRAPH}/{user_id}/media", params={"fields": "media_type,media_product_type", "access_token": token}
        )
        for media in listing.json()["data"]:
            metrics = REELS if media["media_product_type"] == "REELS" else FEED
            assert len(values(await insights(client, token, media["id"], metrics))) == len(metrics.split(","))

    async def test_reels(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await publish_reel(client, token, user_id)
        await advance(client, 2 * 86400)
        v = values(await insights(client, token, media_id, REELS))
        assert 0 < v["ig_reels_avg_watch_time"] <= 30_000
        assert v["ig_reels_video_view_total_time"] == v["ig_reels_avg_watch_time"] * v["views"]
        assert 0 <= v["reels_skip_rate"] <= 100
        assert_metric_error(await insights(client, token, media_id, "reach,profile_visits"), 1)

    async def test_story(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await publish_story(client, token, user_id)
        early = await insights(client, token, media_id, "reach")
        assert early.status_code == 403
        error = error_of(early)
        assert (error["code"], error["message"]) == (10, "(#10) Not enough viewers for the media to show insights")
        await advance(client, 2 * 3600)
        v = values(await insights(client, token, media_id, STORY))
        assert v["reach"] >= 5 and v["reach"] < v["views"]
        assert v["total_interactions"] == v["replies"] + v["shares"]
        assert_metric_error(await insights(client, token, media_id, "likes"), 0)
        await advance(client, 23 * 3600)
        assert (await insights(client, token, media_id, "reach")).json() == {"data": []}

    @pytest.mark.parametrize(
        "metric",
        [
            "impressions",
            "plays",
            "clips_replays_count",
            "ig_reels_aggregated_all_plays_count",
            "video_views",
            "engagement",
            "reach,impressions",
            "bogus",
            "replies",
            "navigation",
            "ig_reels_avg_watch_time",
        ],
    )
    async def test_feed_refusals(self, client: httpx.AsyncClient, token: str, user_id: str, metric: str) -> None:
        media_id = await post_image(client, token, user_id)
        assert_metric_error(await insights(client, token, media_id, metric), len(metric.split(",")) - 1)

    async def test_deprecated_metric_is_explained(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await post_image(client, token, user_id)
        message = error_of(await insights(client, token, media_id, "impressions"))["message"]
        assert "no longer supported" in message

    async def test_other_rules(self, client: httpx.AsyncClient, settings: Settings, token: str, user_id: str) -> None:
        media_id = await post_image(client, token, user_id)
        missing = await client.get(f"{GRAPH}/{media_id}/insights", params={"access_token": token})
        assert error_of(missing)["code"] == 100
        no_scope = await long_token(client, settings, "john_doe", "instagram_business_basic")
        denied = await insights(client, no_scope, media_id, "reach")
        assert denied.status_code == 403 and error_of(denied)["code"] == 10
        other = await long_token(client, settings, "stranger")
        assert error_of(await insights(client, other, media_id, "reach"))["error_subcode"] == 33


def assert_metric_error(response: httpx.Response, index: int) -> None:
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == 100
    assert f"metric[{index}] must be one of the following values: " in error["message"]


class TestAccountInsights:
    async def account(self, client: httpx.AsyncClient, token: str, user_id: str, **params: Any) -> httpx.Response:
        return await client.get(f"{GRAPH}/{user_id}/insights", params={"access_token": token, **params})

    async def test_total_value(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        metrics = (
            "reach,views,likes,comments,shares,saves,replies,total_interactions,accounts_engaged,"
            "follows_and_unfollows,profile_links_taps"
        )
        since, until = 1_780_000_000, 1_780_000_000 + 7 * 86400
        params = {"metric": metrics, "period": "day", "metric_type": "total_value", "since": since, "until": until}
        response = await self.account(client, token, user_id, **params)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert [item["name"] for item in data] == metrics.split(",")
        reach = data[0]
        assert set(reach) == {"name", "period", "title", "description", "total_value", "id"}
        assert reach["period"] == "day" and reach["id"] == f"{user_id}/insights/reach/day"
        totals = {item["name"]: item["total_value"]["value"] for item in data}
        assert 0 < totals["likes"] < totals["reach"] < totals["views"]
        assert totals["accounts_engaged"] <= totals["reach"]
        again = await self.account(client, token, user_id, **params)
        assert again.json() == response.json()
        longer = await self.account(client, token, user_id, **(params | {"until": until + 86400}))
        assert longer.json()["data"][0]["total_value"]["value"] > totals["reach"]

    async def test_breakdown(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        response = await self.account(
            client,
            token,
            user_id,
            metric="reach",
            period="day",
            metric_type="total_value",
            breakdown="media_product_type",
        )
        total = response.json()["data"][0]["total_value"]
        (breakdown,) = total["breakdowns"]
        assert breakdown["dimension_keys"] == ["media_product_type"]
        assert sum(r["value"] for r in breakdown["results"]) == total["value"]
        assert {r["dimension_values"][0] for r in breakdown["results"]} == {
            "CAROUSEL_CONTAINER",
            "POST",
            "REEL",
            "STORY",
        }
        bad = await self.account(
            client, token, user_id, metric="likes", period="day", metric_type="total_value", breakdown="city"
        )
        assert error_of(bad)["code"] == 100

    async def test_time_series_reach(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        since = 1_780_000_000 - 1_780_000_000 % 86400
        response = await self.account(
            client, token, user_id, metric="reach", period="day", since=since, until=since + 3 * 86400
        )
        (item,) = response.json()["data"]
        assert len(item["values"]) == 3
        assert all(set(v) == {"value", "end_time"} for v in item["values"])

    async def test_demographics(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        response = await self.account(
            client,
            token,
            user_id,
            metric="follower_demographics",
            period="lifetime",
            metric_type="total_value",
            timeframe="last_30_days",
            breakdown="country",
        )
        (item,) = response.json()["data"]
        followers = await client.get(f"{GRAPH}/me", params={"fields": "followers_count", "access_token": token})
        results = item["total_value"]["breakdowns"][0]["results"]
        assert sum(r["value"] for r in results) == followers.json()["followers_count"]
        no_timeframe = await self.account(
            client,
            token,
            user_id,
            metric="follower_demographics",
            period="lifetime",
            metric_type="total_value",
            breakdown="country",
        )
        assert error_of(no_timeframe)["code"] == 100

    @pytest.mark.parametrize(
        "params",
        [
            {"metric": "impressions", "period": "day", "metric_type": "total_value"},
            {"metric": "reach,profile_views", "period": "day", "metric_type": "total_value"},
            {"metric": "likes", "period": "day"},
            {"metric": "likes", "period": "week", "metric_type": "total_value"},
            {"metric": "likes", "metric_type": "total_value"},
            {"period": "day", "metric_type": "total_value"},
            {"metric": "reach", "period": "day", "metric_type": "total_value", "since": 1, "until": 40 * 86400},
            {"metric": "reach", "period": "day", "metric_type": "total_value", "since": 200, "until": 100},
        ],
    )
    async def test_refusals(self, client: httpx.AsyncClient, token: str, user_id: str, params: dict[str, Any]) -> None:
        response = await self.account(client, token, user_id, **params)
        assert response.status_code == 400
        assert error_of(response)["code"] == 100

    async def test_permission(self, client: httpx.AsyncClient, settings: Settings) -> None:
        basic = await long_token(client, settings, "john_doe", "instagram_business_basic")
        user_id = (await me(client, basic))["user_id"]
        response = await self.account(client, basic, user_id, metric="reach", period="day")
        assert response.status_code == 403 and error_of(response)["code"] == 10


class TestInstagramsRefusals:
    """Switches that make the sandbox refuse what Instagram refuses, so the client's handling is testable."""

    async def test_a_withdrawn_metric_is_refused_like_an_unknown_one(
        self, client: httpx.AsyncClient, token: str, user_id: str
    ) -> None:
        media_id = await post_image(client, token, user_id)
        patched = await client.patch(
            f"{GRAPH.rsplit('/graph', 1)[0]}/control/settings",
            json={"withdrawn_media_metrics": {"FEED": ["profile_visits"]}},
        )
        assert patched.status_code == 200, patched.text
        response = await insights(client, token, media_id, "reach,profile_visits")
        assert_metric_error(response, 1)
        assert "profile_visits" not in error_of(response)["message"].split("values: ")[1].split(", ")
        assert set(values(await insights(client, token, media_id, "reach,views"))) == {"reach", "views"}
        story = await publish_story(client, token, user_id)
        await advance(client, 120)  # story insights appear after a minute
        # Only FEED is affected: a story still serves profile_visits.
        assert "profile_visits" in values(await insights(client, token, story, "reach,profile_visits"))

    async def test_follows_and_unfollows_needs_100_followers(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        small = await long_token(client, settings, "corner_shop_followers42")
        small_id = str((await me(client, small))["user_id"])
        params = {"metric_type": "total_value", "period": "day", "access_token": small}
        refused = await client.get(
            f"{GRAPH}/{small_id}/insights", params={**params, "metric": "reach,follows_and_unfollows"}
        )
        assert refused.status_code == 400
        error = error_of(refused)
        assert error["code"] == 100 and "follows_and_unfollows" in error["message"]
        answered = await client.get(f"{GRAPH}/{small_id}/insights", params={**params, "metric": "reach"})
        assert answered.status_code == 200
        profile = await client.get(f"{GRAPH}/{small_id}", params={"fields": "followers_count", "access_token": small})
        assert profile.json()["followers_count"] == 42
