"""Which insight metrics to ask for, per media product type.

Asking for one metric Instagram no longer serves fails the whole call (code 100), so each product type
gets exactly the set that is valid today (reference §6) and the deprecated ones are refused up front.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


# --- metrics Instagram refuses ----------------------------------------------------------------------

_ALLOWED_LIST = re.compile(r"must be one of the following values:\s*([A-Za-z0-9_,\s]+)")
_METRIC_INDEX = re.compile(r"metric\[(\d+)\]")


def refused_metrics_in(message: str, user_msg: str | None, requested: Sequence[str]) -> list[str]:
    """The requested metrics a code-100 answer names as refused (empty when it names none).

    Instagram words it as "(#100) metric[3] must be one of the following values: reach, views, …" (the
    list is what the object serves), or names the metric in the text ("The impressions metric is no longer
    supported"; "follows_and_unfollows … at least 100 followers").
    """
    allowed = _ALLOWED_LIST.search(message)
    if allowed:
        served = {name.strip() for name in allowed.group(1).split(",") if name.strip()}
        refused = [metric for metric in requested if metric not in served]
        if refused:
            return refused
    index = _METRIC_INDEX.search(message)
    if index and int(index.group(1)) < len(requested):
        return [requested[int(index.group(1))]]
    text = f"{message} {user_msg or ''}"
    return [metric for metric in requested if re.search(rf"(?<![A-Za-z0-9_]){re.escape(metric)}(?![A-Za-z0-9_])", text)]


class RefusedMetrics:
    """Metrics Instagram refused per media product type, so they are not asked for again (per process)."""

    def __init__(self) -> None:
        self._refused: dict[str, set[str]] = {}

    def remember(self, product_type: str, metrics: Sequence[str]) -> None:
        self._refused.setdefault(product_type.upper(), set()).update(metrics)

    def without_refused(self, product_type: str, metrics: Sequence[str]) -> list[str]:
        refused = self._refused.get(product_type.upper(), set())
        return [metric for metric in metrics if metric not in refused]

    def refused(self, product_type: str) -> frozenset[str]:
        return frozenset(self._refused.get(product_type.upper(), ()))
