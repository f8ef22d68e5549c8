"""Routes: a post's insights (live, stored, with history) and an account's insights."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from app.accounts import flows as accounts_flows
from app.accounts.dependencies import OwnedAccountQuery
from app.accounts.models import Account
from app.auth.dependencies import CurrentUser
from app.db import utcnow
from app.dependencies import ContextDep, SessionDep
from app.errors import AppError, Conflict, NotFound, error_responses
from app.ids import DbId
from app.insights import flows, service
from app.insights.schemas import AccountInsights, InsightsHistory, PostInsights
from app.openapi import API_PREFIX
from app.publishing import service as publishing_service
from app.publishing.models import Post, PostStatus

router = APIRouter(prefix=API_PREFIX, tags=["insights"])

# Answers that leave stored figures meaningful: Instagram slow, throttled, refusing the media id, or the
# account disconnected since. A dead token or a missing permission needs the user, so it stays an error.
_STALE_OK = frozenset({400, 409, 429, 502})

PostId = Annotated[DbId, Path(description="The post's db_id")]


async def _published_post(session: SessionDep, user: CurrentUser, db_id: int) -> Post:
    post = await publishing_service.get_owned(session, user.id, db_id)
    if post is None:
        raise NotFound("Post not found", code="post_not_found")
    return post


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
    period: Annotated[Literal["day", "week", "days_28"], Query(description="The window ending now")] = "day",
) -> AccountInsights:
    """Totals over the window (reach, views, likes, comments, shares, saves, replies, total interactions,
    accounts engaged, profile link taps, follows and unfollows), read live from Instagram. Instagram serves
    follows and unfollows only to accounts with at least 100 followers: smaller ones answer without it."""
    until = utcnow()
    since = until - flows.PERIODS[period]
    metrics = await accounts_flows.with_account_token(
        session,
        ctx,
        account,
        lambda token: ctx.instagram.get_account_insights(
            # Small accounts: no follows_and_unfollows (issue 9; the client drops any other refused metric).
            token,
            account.ig_user_id,
            metrics=flows.account_metrics_for(account.followers_count),
            since=since,
            until=until,
        ),
    )
    return AccountInsights(account_id=account.id, period=period, since=since, until=until, metrics=metrics)


@router.get(
    "/{db_id}/insights",
    summary="Get a post's insights",
    response_model=PostInsights,
    responses=error_responses(
        401,
        404,
        409,
        429,
        502,
        examples={
            404: {"error": "Post not found", "code": "post_not_found"},
            409: {"error": "Post is not published yet (status: scheduled)", "code": "not_published"},
        },
    ),
)
async def post_insights(session: SessionDep, ctx: ContextDep, user: CurrentUser, db_id: PostId) -> PostInsights:
    """Read live with the metric set valid for the post's kind, stored as the latest figures and appended to
    the history. `impressions` is filled from `views`. When Instagram fails and figures are stored, they are
    answered with `stale: true` and their `updated_at` instead of an error."""
    post = await _published_post(session, user, db_id)
    if post.status != PostStatus.PUBLISHED:
        raise Conflict(f"Post is not published yet (status: {post.status})", code="not_published")
    if post.media_id is None:
        raise Conflict(
            "Post was published but Instagram did not return its media id, so it has no insights",
            code="media_id_unknown",
        )
    account = await session.scalar(select(Account).where(Account.id == post.account_id))
    assert account is not None
    try:
        stored = await accounts_flows.with_account_token(
            session, ctx, account, lambda token: flows.fetch_and_record(ctx, post, token)
        )
    except AppError as exc:
        previous = await service.latest(session, post.id)
        if previous is None or exc.status_code not in _STALE_OK:
            raise
        return service.to_post_insights(post, previous, stale_reason=exc.message)
    return service.to_post_insights(post, stored)


@router.get(
    "/{db_id}/insights/history",
    summary="Get a post's insights history",
    response_model=InsightsHistory,
    responses=error_responses(401, 404),
)
async def post_insights_history(session: SessionDep, user: CurrentUser, db_id: PostId) -> InsightsHistory:
    """Every stored snapshot, oldest first: one per read and per background refresh (0, 6, 12, 18 h UTC)."""
    post = await _published_post(session, user, db_id)
    snapshots = await service.history(session, post.id)
    return InsightsHistory(db_id=post.id, post_id=post.media_id, snapshots=[service.to_snapshot(s) for s in snapshots])
