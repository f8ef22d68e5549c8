"""Shapes of the insights routes (seed §5)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PostInsights(BaseModel):
    """A post's figures. `impressions` is Instagram's `views` (Instagram retired `impressions` in v22)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "likes": 245,
                    "comments": 18,
                    "shares": 5,
                    "reach": 3890,
                    "impressions": 5234,
                    "saved": 12,
                    "engagement_rate": 7.07,
                    "views": 5234,
                    "replies": None,
                    "total_interactions": 275,
                    "db_id": 42,
                    "post_id": "17892456789123456",
                    "kind": "feed",
                    "updated_at": "2026-11-27T12:00:00Z",
                    "stale": False,
                }
            ]
        }
    )

    likes: int | None
    comments: int | None
    shares: int | None
    reach: int | None
    impressions: int | None = Field(description="Filled from `views`: Instagram no longer reports impressions.")
    saved: int | None
    engagement_rate: float | None = Field(description="total_interactions / reach × 100, 2 decimals")
    views: int | None
    replies: int | None = Field(description="Stories only")
    total_interactions: int | None
    db_id: int
    post_id: str
    kind: str
    updated_at: datetime
    stale: bool = Field(description="True when Instagram could not be reached and these are the last stored figures")
    stale_reason: str | None = None


class InsightsSnapshot(BaseModel):
    captured_at: datetime
    likes: int | None
    comments: int | None
    shares: int | None
    reach: int | None
    impressions: int | None
    saved: int | None
    views: int | None
    replies: int | None
    total_interactions: int | None
    engagement_rate: float | None


class InsightsHistory(BaseModel):
    db_id: int
    post_id: str | None
    snapshots: list[InsightsSnapshot] = Field(description="Oldest first")


class AccountInsights(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": 1,
                    "period": "week",
                    "since": "2026-11-20T12:00:00Z",
                    "until": "2026-11-27T12:00:00Z",
                    "metrics": {
                        "reach": 10234,
                        "views": 25400,
                        "likes": 812,
                        "comments": 64,
                        "shares": 31,
                        "saves": 45,
                        "replies": 12,
                        "total_interactions": 964,
                        "accounts_engaged": 603,
                        "profile_links_taps": 18,
                        "follows_and_unfollows": 27,
                    },
                }
            ]
        }
    )

    account_id: int
    period: str
    since: datetime
    until: datetime
    metrics: dict[str, int]
