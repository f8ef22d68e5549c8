"""Routes: a post's insights (live, stored, with history) and an account's insights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts.dependencies import OwnedAccountQuery
from app.dependencies import ContextDep, SessionDep
from app.errors import error_responses
from app.insights import flows, service
from app.insights.dependencies import InsightsPost, PublishedPost
from app.insights.schemas import AccountInsights, InsightsHistory, PostInsights
from app.openapi import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["insights"])

_POST_INSIGHTS_EXAMPLES: dict[int, dict[str, object]] = {
    404: {"error": "Post not found", "code": "post_not_found"},
    409: {"error": "Post is not published yet (status: scheduled)", "code": "not_published"},
}


# Registered before "/{db_id}/insights", which would otherwise match "/account/insights" first.
@router.get(
    "/account/insights",
    summary="Get an account's insights",
    response_model=AccountInsights,
    responses=error_responses(400, 401, 404, 409, 429, 502),
)
async def account_insights(
    session: SessionDep,
    ctx: ContextDep,
    account: OwnedAccountQuery,
    period: Annotated[flows.Period, Query(description="The window ending now")] = "day",
) -> AccountInsights:
    """Totals over the window (reach, views, likes, comments, shares, saves, replies, total interactions,
    accounts engaged, profile link taps, follows and unfollows), read live from Instagram. Instagram serves
    follows and unfollows only to accounts with at least 100 followers: smaller ones answer without it."""
    return await flows.account_insights(session, ctx, account, period)


@router.get(
    "/{db_id}/insights",
    summary="Get a post's insights",
    response_model=PostInsights,
    responses=error_responses(401, 404, 409, 429, 502, examples=_POST_INSIGHTS_EXAMPLES),
)
async def post_insights(session: SessionDep, ctx: ContextDep, post: PublishedPost) -> PostInsights:
    """Read live with the metric set valid for the post's kind, stored as the latest figures and appended to
    the history. `impressions` is filled from `views`. When Instagram fails and figures are stored, they are
    answered with `stale: true` and their `updated_at` instead of an error."""
    return await flows.post_insights(session, ctx, post)


@router.get(
    "/{db_id}/insights/history",
    summary="Get a post's insights history",
    response_model=InsightsHistory,
    responses=error_responses(401, 404),
)
async def post_insights_history(session: SessionDep, post: InsightsPost) -> InsightsHistory:
    """Every stored snapshot, oldest first: one per read and per background refresh (0, 6, 12, 18 h UTC)."""
    snapshots = await service.history(session, post.id)
    return InsightsHistory(db_id=post.id, post_id=post.media_id, snapshots=[service.to_snapshot(s) for s in snapshots])
