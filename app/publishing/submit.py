"""A publishing request, in three named phases (see docs/architecture.md):

1. record — check the request, prepare its media (no transaction open meanwhile), then write the
   Idempotency-Key, the prepared images, the posts and their links in ONE transaction: all or nothing;
2. run — start the posts (`running`): the state machine's own steps, inline or as jobs;
3. answer — the typed answer (`answers`), stored on the key once nothing more can change it.

A retry with a known Idempotency-Key skips the record phase and resumes the posts the key already names.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import flows as accounts_flows
from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.auth.tokens import AuthenticatedUser
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.errors import AppError, BadRequest, Conflict, NotFound
from app.publishing import answers, asset_queries, idempotency, repository, running, uploaded
from app.publishing.answers import Answer
from app.publishing.lease import Claimed, hold_new, new_owner
from app.publishing.models import FirstCommentStatus, IdempotencyKey, Post, PostStatus
from app.publishing.preparation import PreparedMedia, prepare_or_refuse
from app.publishing.schemas import AnyRequest, BatchPostCreate
from app.uploads import service as uploads_service

MAX_SCHEDULE_AHEAD = timedelta(days=365)
REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True)
class Submission:
    """A publishing request: which endpoint it came to (part of its Idempotency-Key) and its body."""

    endpoint: str
    request: AnyRequest


@dataclass(frozen=True)
class Recorded:
    """What the record phase wrote: the posts (held by this request when it runs them), their accounts, the key."""

    posts: list[Post]
    accounts: list[Account]
    claims: dict[int, Claimed]
    key_id: int | None


async def publish(
    session: AsyncSession,
    ctx: AppContext,
    user: AuthenticatedUser,
    submission: Submission,
    *,
    idempotency_key: str | None,
    respond_async: bool,
) -> Answer | AppError:
    """Everything a publishing POST does, from the Idempotency-Key check to the answer."""
    key = idempotency.check_key(idempotency_key)
    request_hash = idempotency.fingerprint(submission.endpoint, submission.request)
    if key is not None and (known := await repository.find_key(session, user.id, key)) is not None:
        return await _resume(session, ctx, submission, known, request_hash, respond_async=respond_async)
    try:
        recorded = await _record(session, ctx, user, submission, key, request_hash, respond_async=respond_async)
    except IntegrityError:
        # Another request with the same key committed first: answer as its retry.
        await session.rollback()
        assert key is not None
        known = await repository.find_key(session, user.id, key)
        if known is None:
            raise
        return await _resume(session, ctx, submission, known, request_hash, respond_async=respond_async)
    posts = await running.start(ctx, recorded.posts, respond_async=respond_async, claims=recorded.claims)
    return await _answer(ctx, submission, posts, recorded.accounts, recorded.key_id)


# --- record ----------------------------------------------------------------------------------------


async def _record(
    session: AsyncSession,
    ctx: AppContext,
    user: AuthenticatedUser,
    submission: Submission,
    key: str | None,
    request_hash: str,
    *,
    respond_async: bool,
) -> Recorded:
    request = submission.request
    scheduled_at = _check_schedule(request.scheduled_at)
    accounts = await _target_accounts(session, user, request)
    needs = request.media_needed()
    uploads = await uploaded.find(session, user.id, needs, ctx.uploads)
    # Media is fetched and checked before anything is stored or created at Instagram, with no
    # transaction (nor pooled connection) held meanwhile.
    await session.commit()
    prepared = await prepare_or_refuse(ctx.media, needs, uploads)
    record = None
    if key is not None:
        record = idempotency.new_key(
            user_id=user.id,
            key=key,
            endpoint=submission.endpoint,
            request_hash=request_hash,
            ttl_seconds=ctx.settings.idempotency_ttl_seconds,
        )
        await repository.add_key(session, record)
    posts = _new_posts(user, request, accounts, prepared, scheduled_at, record)
    # Posts this request runs at once are created held by it: claiming them would be a transaction more.
    held = scheduled_at is None and running.runs_inline(request.kind, respond_async=respond_async)
    owner = new_owner()
    for post in posts if held else ():
        hold_new(post, owner, ctx.settings.publish_lease_seconds)
    asset_queries.add_assets(session, prepared.assets(expires_at=(scheduled_at or utcnow()) + running.ASSET_GRACE))
    session.add_all(posts)
    await session.flush()
    for post in posts:
        asset_queries.link_assets(session, post.id, list(prepared.images))
        uploads_service.link(session, post.id, list(uploads.uploads))
    # An upload lives as long as its post may still need it (a retry re-prepares from it).
    await uploads_service.keep_until(session, list(uploads.uploads), (scheduled_at or utcnow()) + running.ASSET_GRACE)
    await session.commit()
    # From here the runners own the rows: the request's unit of work must not write them again.
    session.expunge_all()
    by_account = {account.id: account for account in accounts}
    claims = {post.id: Claimed(post, by_account[post.account_id], owner) for post in posts} if held else {}
    return Recorded(posts, list(accounts), claims, record.id if record else None)


def _new_posts(
    user: AuthenticatedUser,
    request: AnyRequest,
    accounts: Sequence[Account],
    prepared: PreparedMedia,
    scheduled_at: datetime | None,
    key: IdempotencyKey | None,
) -> list[Post]:
    """One post per account, sharing the request, its caption and its prepared media."""
    now = utcnow()
    batch_id = str(uuid.uuid4()) if isinstance(request, BatchPostCreate) else None
    stored = request.model_dump(mode="json")
    comment = FirstCommentStatus.PENDING if request.first_comment_text() else None
    return [
        Post(
            user_id=user.id,
            account_id=account.id,
            kind=request.kind,
            status=PostStatus.SCHEDULED if scheduled_at else PostStatus.PENDING,
            caption=request.instagram_caption(),
            request=stored,
            media=list(prepared.items),
            children=[],
            scheduled_at=scheduled_at,
            next_attempt_at=scheduled_at or now,
            batch_id=batch_id,
            first_comment_status=comment,
            first_comment_attempts=0,
            idempotency_key_id=key.id if key else None,
            attempts=0,
            retryable=False,
            created_at=now,
            updated_at=now,
        )
        for account in accounts
    ]


def _check_schedule(scheduled_at: datetime | None) -> datetime | None:
    if scheduled_at is None:
        return None
    now = utcnow()
    if scheduled_at <= now:
        raise BadRequest("scheduled_at must be in the future", code="validation_error")
    if scheduled_at > now + MAX_SCHEDULE_AHEAD:
        raise BadRequest("scheduled_at must be within a year from now", code="validation_error")
    return scheduled_at.astimezone(UTC)


async def _target_accounts(session: AsyncSession, user: AuthenticatedUser, request: AnyRequest) -> Sequence[Account]:
    if not isinstance(request, BatchPostCreate):
        account = await accounts_service.get_owned(session, user.id, request.account_id)
        if account is None:
            raise NotFound("Account not found", code="account_not_found")
        accounts_flows.require_usable(account)
        return [account]
    ids = request.account_ids
    accounts = await accounts_service.list_active(session, user.id, ids)
    if ids is not None:
        missing = sorted(set(ids) - {a.id for a in accounts})
        if missing:
            raise NotFound(
                f"Accounts not found or disconnected: {', '.join(map(str, missing))}",
                code="account_not_found",
            )
    if not accounts:
        raise Conflict("You have no connected Instagram account to post to", code="no_active_accounts")
    return accounts


# --- answer ----------------------------------------------------------------------------------------


async def _answer(
    ctx: AppContext,
    submission: Submission,
    posts: list[Post],
    accounts: Sequence[Account],
    key_id: int | None,
) -> Answer | AppError:
    """The answer for the posts; stored on the key once none of them can change any more."""
    if isinstance(submission.request, BatchPostCreate):
        answer: Answer | AppError = answers.batch(posts, accounts)
    else:
        answer = answers.single(posts[0])
    if key_id is not None and all(answers.is_final(post) for post in posts):
        status, body = (
            (answer.status_code, answer.body()) if isinstance(answer, AppError) else (answer.status, answer.json())
        )
        async with unit_of_work(ctx.sessionmaker) as session:
            await repository.store_answer(session, key_id, status, body)
    return answer


# --- resume ----------------------------------------------------------------------------------------


async def _resume(
    session: AsyncSession,
    ctx: AppContext,
    submission: Submission,
    known: IdempotencyKey,
    request_hash: str,
    *,
    respond_async: bool,
) -> Answer | AppError:
    """A retry of a request already received: its stored answer, or its own posts carried on."""
    idempotency.ensure_same_request(known, submission.endpoint, request_hash)
    if known.response_status is not None:
        return _replayed(submission, known.response_status, known.response_body)
    posts = await repository.of_idempotency_key(session, known.id)
    accounts = await accounts_service.get_many(session, [post.account_id for post in posts])
    await session.commit()
    for post in posts:
        if post.status == PostStatus.FAILED and post.retryable:
            await running.reset_for_retry(ctx, post)
    async with ctx.sessionmaker() as read:
        posts = await repository.get_many(read, [post.id for post in posts])
    posts = await running.start(ctx, posts, respond_async=respond_async)
    answer = await _answer(ctx, submission, posts, accounts, known.id)
    answer.headers.update(REPLAYED)
    return answer


def _replayed(submission: Submission, status: int, body: object) -> Answer | AppError:
    """The stored answer of a finished request, as it was first answered."""
    if status >= 400:
        assert isinstance(body, dict)
        extra = {k: v for k, v in body.items() if k not in ("error", "code")}
        error = AppError(str(body.get("error")), code=str(body.get("code")), headers=dict(REPLAYED), **extra)
        error.status_code = status
        return error
    if isinstance(submission.request, BatchPostCreate):
        return Answer(status, answers.BATCH_RESULTS.validate_python(body), dict(REPLAYED))
    return Answer(status, answers.CREATED.validate_python(body), dict(REPLAYED))
