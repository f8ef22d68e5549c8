"""Deterministic, plausible numbers: like and comment counts, media insights, account insights.

Media figures depend only on the media id, its owner's follower count and its age on the sandbox clock; they
grow with age (quickly in the first day, then level off; a story stops growing at 24 h). Everything derives
from `reach`, so `likes < reach < views` and `total_interactions` is the sum of its parts.
Account figures depend only on the user and the day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from app.sandbox.models import Media, User
from app.sandbox.profiles import digest_int, fraction

STORY_LIFETIME_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class MediaFigures:
    reach: int
    views: int
    likes: int
    comments: int
    saved: int
    shares: int
    replies: int
    reposts: int
    follows: int
    profile_visits: int
    profile_activity: int
    navigation: int
    avg_watch_time_ms: int
    total_watch_time_ms: int
    skip_rate: int

    @property
    def total_interactions(self) -> int:
        return self.likes + self.comments + self.saved + self.shares + self.replies


def media_age_seconds(media: Media, now: datetime) -> float:
    return max(0.0, (now - media.timestamp).total_seconds())


def media_figures(media: Media, followers: int, now: datetime) -> MediaFigures:
    """The media's numbers at `now`."""

    def part(name: str) -> float:
        return fraction(media.id, name)

    age = media_age_seconds(media, now)
    if media.product_type == "STORY":
        age = min(age, STORY_LIFETIME_SECONDS)
    growth = 1.0 - math.exp(-age / 3600 / 18)
    if media.product_type == "REELS":
        factor = 0.8 + 2.0 * part("reach")
    elif media.product_type == "STORY":
        factor = 0.08 + 0.2 * part("reach")
    elif media.media_type == "CAROUSEL_ALBUM":
        factor = 0.3 + 0.6 * part("reach")
    else:
        factor = 0.2 + 0.5 * part("reach")
    # The first minute gathers a handful of viewers (5 at 60 s), then the curve takes over.
    reach = int(followers * factor * growth) + min(5, int(age // 12))
    views = reach + max(1, int(reach * (0.3 + 1.2 * part("views")))) if reach else 0
    follows = int(reach * 0.004 * part("follows"))
    profile_visits = int(reach * (0.01 + 0.03 * part("visits")))
    profile_activity = int(profile_visits * (0.2 + 0.4 * part("activity")))
    if media.product_type == "STORY":
        likes = comments = saved = reposts = 0
        replies = int(reach * (0.005 + 0.02 * part("replies")))
        shares = int(reach * (0.002 + 0.01 * part("shares")))
        navigation = int(reach * (0.9 + 0.6 * part("navigation")))
    else:
        likes = min(reach - 1, int(reach * (0.04 + 0.08 * part("likes")))) if reach > 1 else 0
        comments = int(likes * (0.02 + 0.08 * part("comments")))
        saved = int(likes * (0.05 + 0.15 * part("saved")))
        shares = int(likes * (0.02 + 0.1 * part("shares")))
        reposts = int(shares * 0.3 * part("reposts"))
        replies = navigation = 0
    duration_ms = int((media.duration_seconds or 15.0) * 1000)
    avg_watch = int(duration_ms * (0.25 + 0.5 * part("watch"))) if media.media_type == "VIDEO" and views else 0
    return MediaFigures(
        reach=reach,
        views=views,
        likes=likes,
        comments=comments,
        saved=saved,
        shares=shares,
        replies=replies,
        reposts=reposts,
        follows=follows,
        profile_visits=profile_visits,
        profile_activity=profile_activity,
        navigation=navigation,
        avg_watch_time_ms=avg_watch,
        total_watch_time_ms=avg_watch * views,
        skip_rate=int(15 + 50 * part("skip")) if views else 0,
    )


def account_day(user: User, day: int) -> dict[str, int]:
    """An account's totals for one UTC day (`day` = Unix time // 86400)."""

    def part(name: str) -> float:
        return fraction(user.ig_id, day, name)

    reach = 1 + int(user.followers_count * (0.05 + 0.25 * part("reach")))
    likes = int(reach * (0.02 + 0.06 * part("likes")))
    comments = int(likes * (0.03 + 0.1 * part("comments")))
    shares = int(likes * (0.02 + 0.1 * part("shares")))
    saves = int(likes * (0.05 + 0.1 * part("saves")))
    replies = int(reach * 0.005 * part("replies"))
    reposts = int(shares * 0.3 * part("reposts"))
    total = likes + comments + shares + saves + replies + reposts
    follows = int(reach * 0.01 * part("follows"))
    unfollows = int(follows * 0.4 * part("unfollows"))
    return {
        "reach": reach,
        "views": reach + int(reach * (0.5 + 1.5 * part("views"))),
        "likes": likes,
        "comments": comments,
        "shares": shares,
        "saves": saves,
        "replies": replies,
        "reposts": reposts,
        "total_interactions": total,
        "accounts_engaged": min(reach, int(total * (0.5 + 0.3 * part("engaged")))),
        "follows": follows,
        "unfollows": unfollows,
        "follows_and_unfollows": follows + unfollows,
        "profile_links_taps": int(reach * 0.01 * part("taps")),
    }


def split_total(total: int, keys: list[str], *seed: object) -> list[tuple[str, int]]:
    """Share `total` among `keys` with stable weights; the parts add up to the total."""
    weights = [1 + digest_int(*seed, key) % 100 for key in keys]
    parts = [total * weight // sum(weights) for weight in weights]
    parts[0] += total - sum(parts)
    return list(zip(keys, parts, strict=True))
