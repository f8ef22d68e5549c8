"""Insights: `GET /{ig-media-id}/insights` and `GET /{ig-user-id}/insights`, with deterministic numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.sandbox.calls import GraphContext
from app.sandbox.errors import GraphError, invalid_parameter, missing_parameter
from app.sandbox.figures import (
    STORY_LIFETIME_SECONDS,
    MediaFigures,
    account_day,
    media_age_seconds,
    media_figures,
    split_total,
)
from app.sandbox.models import Media, User
from app.sandbox.params import parse_list
from app.sandbox.reads import own_user, owned_media

FEED_METRICS = (
    "reach",
    "views",
    "likes",
    "comments",
    "saved",
    "shares",
    "total_interactions",
    "follows",
    "profile_visits",
    "profile_activity",
    "reposts",
)
REELS_METRICS = (
    "reach",
    "views",
    "likes",
    "comments",
    "saved",
    "shares",
    "total_interactions",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
    "reels_skip_rate",
    "reposts",
)
STORY_METRICS = (
    "reach",
    "views",
    "replies",
    "shares",
    "total_interactions",
    "navigation",
    "follows",
    "profile_visits",
    "profile_activity",
)
DEPRECATED_MEDIA_METRICS = frozenset(
    {
        "impressions",
        "plays",
        "clips_replays_count",
        "ig_reels_aggregated_all_plays_count",
        "video_views",
        "engagement",
        "carousel_album_impressions",
        "carousel_album_reach",
        "carousel_album_engagement",
        "carousel_album_saved",
        "carousel_album_video_views",
        "exits",
        "taps_forward",
        "taps_back",
    }
)
STORY_MIN_AGE_SECONDS = 60

METRIC_TEXT: dict[str, tuple[str, str]] = {
    "reach": ("Accounts reached", "The number of unique accounts that have seen this content at least once."),
    "views": ("Views", "The number of times the content was played or displayed."),
    "likes": ("Likes", "The number of likes on the content."),
    "comments": ("Comments", "The number of comments on the content."),
    "saved": ("Saved", "The number of saves of the content."),
    "saves": ("Saves", "The number of saves of your content."),
    "shares": ("Shares", "The number of shares of the content."),
    "replies": ("Replies", "The number of replies to the story."),
    "reposts": ("Reposts", "The number of times the content was reposted."),
    "total_interactions": (
        "Interactions",
        "The total number of likes, saves, comments, shares and replies on the content.",
    ),
    "follows": ("Follows", "The number of accounts that started following you from this content."),
    "profile_visits": ("Profile visits", "The number of times your profile was visited from this content."),
    "profile_activity": (
        "Profile activity",
        "The number of actions people took on your profile after seeing it.",
    ),
    "navigation": ("Navigation", "Taps forward, taps back, exits and swipes on the story."),
    "ig_reels_avg_watch_time": (
        "Average watch time",
        "The average time spent playing the reel (milliseconds).",
    ),
    "ig_reels_video_view_total_time": (
        "Watch time",
        "The total time the reel was played, including replays (milliseconds).",
    ),
    "reels_skip_rate": ("Skip rate", "The percentage of views that skipped the reel within 3 seconds."),
    "accounts_engaged": ("Accounts engaged", "The number of accounts that interacted with your content."),
    "follows_and_unfollows": (
        "Follows and unfollows",
        "The number of accounts that followed or unfollowed you.",
    ),
    "profile_links_taps": ("Profile link taps", "The number of taps on your profile's links and buttons."),
    "follower_demographics": ("Follower demographics", "The demographic characteristics of your followers."),
    "engaged_audience_demographics": (
        "Engaged audience demographics",
        "The demographic characteristics of the accounts that engaged with your content.",
    ),
}


def allowed_media_metrics(media: Media, withdrawn: Mapping[str, list[str]] | None = None) -> tuple[str, ...]:
    """The metrics the media's product type serves, less those withdrawn by the control API."""
    allowed: tuple[str, ...]
    if media.product_type == "STORY":
        allowed = STORY_METRICS
    elif media.product_type == "REELS":
        allowed = REELS_METRICS
    else:
        allowed = FEED_METRICS
    gone = set((withdrawn or {}).get(media.product_type, ()))
    return tuple(metric for metric in allowed if metric not in gone)


def _media_metric_value(figures: MediaFigures, metric: str) -> int:
    match metric:
        case "total_interactions":
            return figures.total_interactions
        case "ig_reels_avg_watch_time":
            return figures.avg_watch_time_ms
        case "ig_reels_video_view_total_time":
            return figures.total_watch_time_ms
        case "reels_skip_rate":
            return figures.skip_rate
        case _:
            value: int = getattr(figures, metric)
            return value


def _metric_choice_error(index: int, metric: str, allowed: tuple[str, ...]) -> GraphError:
    prefix = ""
    if metric in DEPRECATED_MEDIA_METRICS or metric == "impressions":
        prefix = (
            f"The {metric} metric is no longer supported (deprecated from v22.0 and, for all versions, "
            "from April 21, 2025). "
        )
    return GraphError(
        f"(#100) {prefix}metric[{index}] must be one of the following values: {', '.join(allowed)}",
        code=100,
        user_title="Invalid Metric",
        user_msg=f"{metric} is not a valid metric for this object.",
    )


async def media_insights(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-media-id}/insights?metric=…`: lifetime values, per product type's allow-list."""
    media = owned_media(ctx)
    metrics = parse_list(ctx.params.get("metric"))
    if not metrics:
        raise missing_parameter("metric")
    if media.parent_id is not None:
        raise invalid_parameter("Insights are not available for carousel album children")
    allowed = allowed_media_metrics(media, ctx.sandbox.knobs.withdrawn_media_metrics)
    for index, metric in enumerate(metrics):
        if metric not in allowed:
            raise _metric_choice_error(index, metric, allowed)
    now = ctx.sandbox.now()
    age = media_age_seconds(media, now)
    if media.product_type == "STORY":
        if age < STORY_MIN_AGE_SECONDS:
            raise GraphError(
                "(#10) Not enough viewers for the media to show insights",
                code=10,
                user_title="Not Enough Viewers",
                user_msg="Insights appear once at least 5 accounts have viewed the story.",
            )
        if age > STORY_LIFETIME_SECONDS:
            # Story insights are kept for 24 hours only: the sandbox answers "no data" (documented choice).
            return {"data": []}
    figures = media_figures(media, ctx.sandbox.world.users[media.owner_id].followers_count, now)
    return {
        "data": [
            {
                "name": metric,
                "period": "lifetime",
                "values": [{"value": _media_metric_value(figures, metric)}],
                "title": METRIC_TEXT[metric][0],
                "description": METRIC_TEXT[metric][1],
                "id": f"{media.id}/insights/{metric}/lifetime",
            }
            for metric in metrics
        ]
    }


# --- account insights -----------------------------------------------------------------------------

ACCOUNT_METRICS = (
    "reach",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "replies",
    "reposts",
    "total_interactions",
    "accounts_engaged",
    "follows_and_unfollows",
    "profile_links_taps",
    "follower_demographics",
    "engaged_audience_demographics",
)
DEMOGRAPHIC_METRICS = frozenset({"follower_demographics", "engaged_audience_demographics"})
TIME_SERIES_METRICS = frozenset({"reach"})
# Instagram serves follows_and_unfollows only to accounts with at least 100 followers (its exact error text
# is undocumented; this one names the metric, as Instagram's code-100 answers do).
FOLLOWS_MIN_FOLLOWERS = 100
DEPRECATED_ACCOUNT_METRICS = frozenset(
    {
        "impressions",
        "profile_views",
        "website_clicks",
        "email_contacts",
        "phone_call_clicks",
        "text_message_clicks",
        "get_directions_clicks",
        "follower_count",
        "online_followers",
    }
)
MEDIA_PRODUCT_TYPES = ["CAROUSEL_CONTAINER", "POST", "REEL", "STORY"]
BREAKDOWNS: dict[str, dict[str, list[str]]] = {
    "media_product_type": dict.fromkeys(
        (
            "reach",
            "views",
            "likes",
            "comments",
            "shares",
            "saves",
            "replies",
            "reposts",
            "total_interactions",
            "accounts_engaged",
        ),
        MEDIA_PRODUCT_TYPES,
    ),
    "follow_type": {
        "reach": ["FOLLOWER", "NON_FOLLOWER"],
        "views": ["FOLLOWER", "NON_FOLLOWER"],
        "accounts_engaged": ["FOLLOWER", "NON_FOLLOWER"],
        "follows_and_unfollows": ["FOLLOWER", "NON_FOLLOWER"],
    },
    "contact_button_type": {
        "profile_links_taps": [
            "BOOK_NOW",
            "CALL",
            "DIRECTION",
            "EMAIL",
            "INSTANT_EXPERIENCE",
            "TEXT",
            "UNDEFINED",
        ],
    },
}
DEMOGRAPHIC_BREAKDOWNS: dict[str, list[str]] = {
    "age": ["13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
    "gender": ["F", "M", "U"],
    "country": ["US", "BR", "IN", "GB", "DE", "FR", "MX", "ID", "ES", "IT"],
    "city": [
        "London, England",
        "New York, New York",
        "São Paulo, São Paulo (state)",
        "Mumbai, Maharashtra",
        "Berlin, Berlin",
        "Paris, Île-de-France",
        "Madrid, Comunidad de Madrid",
        "Los Angeles, California",
    ],
}
TIMEFRAMES = ("last_14_days", "last_30_days", "last_90_days", "prev_month", "this_month", "this_week")
MAX_RANGE_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class Range:
    since: int
    until: int

    @property
    def days(self) -> range:
        return range(self.since // 86400, (self.until - 1) // 86400 + 1)


def _unix(ctx: GraphContext, name: str) -> int | None:
    value = ctx.params.get(name)
    if not value:
        return None
    try:
        return int(float(value))
    except ValueError as exc:
        raise invalid_parameter(f"Param {name} must be a Unix timestamp") from exc


def _range(ctx: GraphContext) -> Range:
    now = int(ctx.sandbox.timestamp())
    until = _unix(ctx, "until")
    since = _unix(ctx, "since")
    until = until if until is not None else now
    since = since if since is not None else until - 86400
    if since >= until:
        raise invalid_parameter("Param since must be earlier than until")
    if until - since > MAX_RANGE_SECONDS:
        raise invalid_parameter("There cannot be more than 30 days (2592000 s) between since and until")
    return Range(since, until)


def _account_value(user: User, metric: str, span: Range) -> int:
    return sum(account_day(user, day)[metric] for day in span.days)


def _end_time(day: int) -> str:
    return datetime.fromtimestamp((day + 1) * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


async def user_insights(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-user-id}/insights?metric=…&period=day&metric_type=total_value`: totals over since…until."""
    user = own_user(ctx)
    metrics = parse_list(ctx.params.get("metric"))
    if not metrics:
        raise missing_parameter("metric")
    for index, metric in enumerate(metrics):
        if metric not in ACCOUNT_METRICS:
            deprecated = metric in DEPRECATED_ACCOUNT_METRICS
            prefix = f"The {metric} metric is no longer supported. " if deprecated else ""
            raise invalid_parameter(
                f"{prefix}metric[{index}] must be one of the following values: {', '.join(ACCOUNT_METRICS)}"
            )
    if "follows_and_unfollows" in metrics and user.followers_count < FOLLOWS_MIN_FOLLOWERS:
        raise GraphError(
            "(#100) The follows_and_unfollows metric is not available for accounts with fewer than "
            f"{FOLLOWS_MIN_FOLLOWERS} followers",
            code=100,
            user_title="Not Enough Followers",
            user_msg="follows_and_unfollows needs at least 100 followers.",
        )
    period = ctx.params.get("period", "")
    if not period:
        raise missing_parameter("period")
    metric_type = ctx.params.get("metric_type", "")
    breakdowns = parse_list(ctx.params.get("breakdown"))
    if any(m in DEMOGRAPHIC_METRICS for m in metrics):
        return _demographics(ctx, user, metrics, period, breakdowns)
    if period != "day":
        raise invalid_parameter(f"Incorrect period '{period}': these metrics support period=day")
    needs_total = [m for m in metrics if m not in TIME_SERIES_METRICS]
    if metric_type != "total_value" and needs_total:
        raise invalid_parameter(
            f"The following metrics ({', '.join(needs_total)}) should be specified with parameter "
            "metric_type=total_value"
        )
    if metric_type not in {"", "total_value", "time_series"}:
        raise invalid_parameter("Param metric_type must be one of {total_value, time_series}")
    span = _range(ctx)
    data = []
    for metric in metrics:
        title, description = METRIC_TEXT[metric]
        item: dict[str, Any] = {"name": metric, "period": "day", "title": title, "description": description}
        if metric_type == "total_value":
            total = _account_value(user, metric, span)
            value: dict[str, Any] = {"value": total}
            if breakdowns:
                value["breakdowns"] = [_breakdown(user, metric, breakdowns, span)]
            item["total_value"] = value
        else:
            item["values"] = [
                {"value": account_day(user, day)["reach"], "end_time": _end_time(day)} for day in span.days
            ]
        item["id"] = f"{user.ig_id}/insights/{metric}/day"
        data.append(item)
    return {"data": data}


def _breakdown(user: User, metric: str, breakdowns: list[str], span: Range) -> dict[str, Any]:
    if len(breakdowns) != 1:
        raise invalid_parameter("Only one breakdown is supported per request in this sandbox")
    dimension = breakdowns[0]
    keys = BREAKDOWNS.get(dimension, {}).get(metric)
    if keys is None:
        raise invalid_parameter(f"The breakdown {dimension} is not supported for the metric {metric}")
    if metric == "follows_and_unfollows":
        results = [
            ("FOLLOWER", _account_value(user, "follows", span)),
            ("NON_FOLLOWER", _account_value(user, "unfollows", span)),
        ]
    else:
        results = split_total(_account_value(user, metric, span), keys, user.ig_id, metric, dimension)
    return {
        "dimension_keys": [dimension],
        "results": [{"dimension_values": [key], "value": value} for key, value in results],
    }


def _demographics(
    ctx: GraphContext, user: User, metrics: list[str], period: str, breakdowns: list[str]
) -> dict[str, Any]:
    if any(m not in DEMOGRAPHIC_METRICS for m in metrics):
        raise invalid_parameter("Demographic metrics can't be requested with other metrics")
    if period != "lifetime":
        raise invalid_parameter(f"Incorrect period '{period}': demographic metrics support period=lifetime")
    if ctx.params.get("metric_type") != "total_value":
        raise invalid_parameter(
            f"The following metrics ({', '.join(metrics)}) should be specified with parameter metric_type=total_value"
        )
    timeframe = ctx.params.get("timeframe", "")
    if timeframe not in TIMEFRAMES:
        raise invalid_parameter(f"Param timeframe must be one of {{{', '.join(TIMEFRAMES)}}}")
    if not breakdowns or any(b not in DEMOGRAPHIC_BREAKDOWNS for b in breakdowns):
        raise invalid_parameter(f"Param breakdown must be one of {{{', '.join(DEMOGRAPHIC_BREAKDOWNS)}}}")
    data = []
    for metric in metrics:
        audience = user.followers_count if metric == "follower_demographics" else user.followers_count // 5
        title, description = METRIC_TEXT[metric]
        data.append(
            {
                "name": metric,
                "period": "lifetime",
                "title": title,
                "description": description,
                "total_value": {
                    "breakdowns": [
                        {
                            "dimension_keys": [dimension],
                            "results": [
                                {"dimension_values": [key], "value": value}
                                for key, value in split_total(
                                    audience, DEMOGRAPHIC_BREAKDOWNS[dimension], user.ig_id, metric, timeframe
                                )
                            ],
                        }
                        for dimension in breakdowns
                    ]
                },
                "id": f"{user.ig_id}/insights/{metric}/lifetime",
            }
        )
    return {"data": data}
