"""Which insight metrics to ask for, per media product type.

Asking for one metric Instagram no longer serves fails the whole call (code 100), so each product type
gets exactly the set that is valid today (reference §6) and the deprecated ones are refused up front.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_FEED = (
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

MEDIA_INSIGHT_METRICS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "FEED": _FEED,
        "CAROUSEL_ALBUM": _FEED,
        "REELS": (
            "reach",
            "views",
            "likes",
            "comments",
            "saved",
            "shares",
            "total_interactions",
            "ig_reels_avg_watch_time",
            "ig_reels_video_view_total_time",
        ),
        "STORY": (
            "reach",
            "views",
            "replies",
            "shares",
            "total_interactions",
            "navigation",
            "follows",
            "profile_visits",
        ),
    }
)

# Gone for every API version since April 2025 (impressions, plays, …) or earlier (video_views, engagement).
DEPRECATED_METRICS: frozenset[str] = frozenset(
    {
        "impressions",
        "plays",
        "clips_replays_count",
        "ig_reels_aggregated_all_plays_count",
        "video_views",
        "engagement",
    }
)


def media_insight_metrics(product_type: str) -> tuple[str, ...]:
    """The metrics for a product type (FEED, CAROUSEL_ALBUM, REELS, STORY); ValueError for any other."""
    metrics = MEDIA_INSIGHT_METRICS.get(product_type.upper())
    if metrics is None:
        known = ", ".join(MEDIA_INSIGHT_METRICS)
        raise ValueError(f"no insight metrics for product type {product_type!r} (known: {known})")
    return metrics


def reject_deprecated(metrics: tuple[str, ...] | list[str]) -> None:
    """Raise ValueError when a deprecated metric is asked for, naming it, before Instagram fails the call."""
    deprecated = sorted(set(metrics) & DEPRECATED_METRICS)
    if deprecated:
        raise ValueError(f"deprecated insight metrics: {', '.join(deprecated)}")
