"""Media and account insights: the metric set per product type, parsing, and the "no data" cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.instagram import DEPRECATED_METRICS, MEDIA_INSIGHT_METRICS, PermissionDenied

from .support import TOKEN, Harness, V, graph_error, params_of

IG_USER = "17841400000000001"
MEDIA_ID = "18000000000000001"
INSIGHTS_URL = f"{V}/{MEDIA_ID}/insights"
NOT_ENOUGH_VIEWERS = graph_error(10, "(#10) Not enough viewers for the media to show insights")


def lifetime(name: str, value: int) -> dict[str, object]:
    return {
        "name": name,
        "period": "lifetime",
        "values": [{"value": value}],
        "title": name.title(),
        "description": "…",
        "id": f"{MEDIA_ID}/insights/{name}/lifetime",
    }


class TestMetricSets:
    def test_sets_per_product_type(self) -> None:
        feed = (
            "reach",
            "views",
            "likes",
            "comments",
            "saved",
            "shares",
            "total_interactions",
            "follows",
            "profile_visits",
        )
        assert MEDIA_INSIGHT_METRICS["FEED"] == feed
        assert MEDIA_INSIGHT_METRICS["CAROUSEL_ALBUM"] == feed
        assert "ig_reels_avg_watch_time" in MEDIA_INSIGHT_METRICS["REELS"]
        assert "navigation" in MEDIA_INSIGHT_METRICS["STORY"]

    @pytest.mark.parametrize("product_type", sorted(MEDIA_INSIGHT_METRICS))
    def test_no_deprecated_metric_is_ever_asked_for(self, product_type: str) -> None:
        assert not set(MEDIA_INSIGHT_METRICS[product_type]) & DEPRECATED_METRICS
        assert {"impressions", "plays", "video_views", "engagement"} <= DEPRECATED_METRICS


class TestMediaInsights:
    @pytest.mark.parametrize("product_type", ["FEED", "CAROUSEL_ALBUM", "REELS", "STORY", "reels"])
    async def test_asks_for_the_set_of_the_product_type(self, ig: Harness, product_type: str) -> None:
        route = ig.router.get(INSIGHTS_URL).respond(200, json={"data": []})
        await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type=product_type)
        request = route.calls.last.request
        assert params_of(request) == {"metric": ",".join(MEDIA_INSIGHT_METRICS[product_type.upper()])}
        assert request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_parses_values_and_total_value(self, ig: Harness) -> None:
        ig.router.get(INSIGHTS_URL).respond(
            200,
            json={
                "data": [
                    lifetime("reach", 13),
                    lifetime("views", 40),
                    {"name": "saved", "period": "lifetime", "total_value": {"value": 2}},
                    {"name": "shares", "period": "lifetime", "values": []},  # no data is not zero
                ]
            },
        )
        result = await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type="FEED")
        assert result == {"reach": 13, "views": 40, "saved": 2}

    async def test_empty_data_is_an_empty_dict(self, ig: Harness) -> None:
        ig.router.get(INSIGHTS_URL).respond(200, json={"data": []})
        assert await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type="REELS") == {}

    async def test_a_story_with_too_few_viewers_has_no_insights(self, ig: Harness) -> None:
        route = ig.router.get(INSIGHTS_URL).respond(400, json=NOT_ENOUGH_VIEWERS)
        assert await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type="STORY") == {}
        assert route.call_count == 1

    async def test_other_permission_errors_still_raise(self, ig: Harness) -> None:
        ig.router.get(INSIGHTS_URL).respond(
            403, json=graph_error(10, "(#10) Application does not have permission for this action")
        )
        with pytest.raises(PermissionDenied):
            await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type="STORY")

    async def test_unknown_product_type(self, ig: Harness) -> None:
        with pytest.raises(ValueError, match="AD"):
            await ig.client.get_media_insights(TOKEN, MEDIA_ID, product_type="AD")
        assert ig.router.calls.call_count == 0


class TestAccountInsights:
    SINCE = datetime(2026, 3, 1, tzinfo=UTC)
    UNTIL = datetime(2026, 3, 8, tzinfo=UTC)

    async def test_request_shape_and_total_value(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{IG_USER}/insights").respond(
            200,
            json={
                "data": [
                    {
                        "name": "reach",
                        "period": "day",
                        "title": "Accounts reached",
                        "description": "…",
                        "total_value": {"value": 812},
                        "id": f"{IG_USER}/insights/reach/day",
                    },
                    {
                        "name": "total_interactions",
                        "period": "day",
                        "total_value": {
                            "value": 96,
                            "breakdowns": [{"dimension_keys": ["media_product_type"], "results": []}],
                        },
                    },
                ]
            },
        )
        result = await ig.client.get_account_insights(
            TOKEN, IG_USER, metrics=["reach", "total_interactions"], since=self.SINCE, until=self.UNTIL
        )
        assert params_of(route.calls.last.request) == {
            "metric": "reach,total_interactions",
            "period": "day",
            "metric_type": "total_value",
            "since": str(int(self.SINCE.timestamp())),
            "until": str(int(self.UNTIL.timestamp())),
        }
        assert params_of(route.calls.last.request)["since"] == "1772323200"
        assert result == {"reach": 812, "total_interactions": 96}

    async def test_time_series_is_summed(self, ig: Harness) -> None:
        ig.router.get(f"{V}/{IG_USER}/insights").respond(
            200,
            json={
                "data": [
                    {
                        "name": "reach",
                        "period": "day",
                        "values": [
                            {"value": 10, "end_time": "2026-03-02T08:00:00+0000"},
                            {"value": 15, "end_time": "2026-03-03T08:00:00+0000"},
                        ],
                    }
                ]
            },
        )
        result = await ig.client.get_account_insights(
            TOKEN, IG_USER, metrics=["reach"], since=self.SINCE, until=self.UNTIL, metric_type="time_series"
        )
        assert result == {"reach": 25}

    async def test_refuses_naive_datetimes(self, ig: Harness) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await ig.client.get_account_insights(
                TOKEN, IG_USER, metrics=["reach"], since=datetime(2026, 3, 1), until=self.UNTIL
            )

    async def test_refuses_deprecated_metrics(self, ig: Harness) -> None:
        with pytest.raises(ValueError, match="impressions"):
            await ig.client.get_account_insights(
                TOKEN, IG_USER, metrics=["reach", "impressions"], since=self.SINCE, until=self.UNTIL
            )
        assert ig.router.calls.call_count == 0

    async def test_refuses_an_inverted_window(self, ig: Harness) -> None:
        with pytest.raises(ValueError, match="since"):
            await ig.client.get_account_insights(
                TOKEN, IG_USER, metrics=["reach"], since=self.UNTIL, until=self.UNTIL - timedelta(days=1)
            )
