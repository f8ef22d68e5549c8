"""The request side of publishing: check, prepare media, create the posts, start them, wait, answer.

Feed posts, stories and carousels run the state machine inline (in the request), reels and scheduled
posts are handed to the job queue; either way the same `advance_post` does the work, and a post that
must wait (video processing, a grace period) continues as a deferred job while the request waits up to
PUBLISH_WAIT_SECONDS / REEL_WAIT_SECONDS for it. Posts are committed (`_create`) before anything runs or
is enqueued (`_start`): a job never starts for a post that does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import flows as accounts_flows
from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.auth.tokens import AuthenticatedUser
from app.context import AppContext
from app.db import utcnow
from app.errors import AppError, BadRequest, Conflict, NotFound
from app.instagram_failures import AUTH_URL
from app.publishing import idempotency, service
from app.publishing.assets import add_asset, link_assets
from app.publishing.media import MediaInvalid
from app.publishing.models import FINAL_STATUSES, Post, PostKind, PostStatus
from app.publishing.preparation import PreparedMedia, prepare_media
from app.publishing.publisher import Mode, advance_post

PUBLISH_JOB = "publish_post"
ASSET_GRACE = timedelta(days=2)
MAX_SCHEDULE_AHEAD = timedelta(days=365)

_CREATED_MESSAGES = {
    PostKind.FEED: "Post created successfully",
    PostKind.STORY: "Story created successfully",
    PostKind.REEL: "Reel created successfully",
    PostKind.CAROUSEL: "Carousel created successfully",
}
_ID_KEYS = {
    PostKind.FEED: "post_id",
    PostKind.STORY: "story_id",
    PostKind.REEL: "reel_id",
    PostKind.CAROUSEL: "post_id",
}
_FAILURE_STATUS = {
    "media_rejected": 400,
    "media_processing_failed": 400,
    "instagram_bad_request": 400,
    "instagram_reauth_required": 401,
    "instagram_permission_denied": 403,
    "account_disconnected": 409,
    "cancelled": 409,
    "rate_limited": 429,
    "publishing_quota_exceeded": 429,
}


def job_id(post_id: int) -> str:
    """One arq job id per post: a second enqueue while one is queued or running is refused."""
    return f"publish:{post_id}"


@dataclass
class Submission:
    kind: PostKind
    endpoint: str
    body: BaseModel
    batch: bool = False


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


# --- submitting ------------------------------------------------------------------------------------


async def submit(
    session: AsyncSession,
    ctx: AppContext,
    user: AuthenticatedUser,
    submission: Submission,
    *,
    idempotency_key: str | None,
    respond_async: bool,
) -> Answer:
    """Everything a publishing POST does, from the Idempotency-Key check to the answer."""
    key = idempotency.check_key(idempotency_key)
    request_hash = idempotency.fingerprint(submission.endpoint, submission.body)
    if key is not None:
        replay = await _replay(session, ctx, user, submission, key, request_hash, respond_async=respond_async)
        if replay is not None:
            return replay
    request = submission.body.model_dump(mode="json")
    scheduled_at = _check_schedule(request.get("scheduled_at"))
    accounts = await _target_accounts(session, user, submission, request)
    # Media is fetched and checked before anything is stored or created at Instagram.
    await session.commit()
    prepared = await _prepare(ctx, submission.kind, request)
    try:
        posts, record_id = await _create(
            session,
            ctx,
            user,
            submission,
            request,
            accounts,
            prepared,
            scheduled_at,
            key=key,
            request_hash=request_hash,
        )
    except IntegrityError:
        # Another request with the same key committed first: answer as its retry.
        await session.rollback()
        assert key is not None
        replay = await _replay(session, ctx, user, submission, key, request_hash, respond_async=respond_async)
        if replay is None:
            raise
        return replay
    posts = await _start(ctx, submission.kind, posts, respond_async=respond_async)
    return await _answer(ctx, submission, posts, accounts, record_id)


async def _replay(
    session: AsyncSession,
    ctx: AppContext,
    user: AuthenticatedUser,
    submission: Submission,
    key: str,
    request_hash: str,
    *,
    respond_async: bool,
) -> Answer | None:
    """The answer to a request whose key we already hold (None when the key is new)."""
    record = await idempotency.find(session, user.id, key)
    if record is None:
        return None
    idempotency.ensure_same_request(record, submission.endpoint, request_hash)
    return await _resume(
        session, ctx, submission, record.id, record.response_status, record.response_body, respond_async=respond_async
    )


def _check_schedule(value: str | None) -> datetime | None:
    if value is None:
        return None
    scheduled_at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    now = utcnow()
    if scheduled_at <= now:
        raise BadRequest("scheduled_at must be in the future", code="validation_error")
    if scheduled_at > now + MAX_SCHEDULE_AHEAD:
        raise BadRequest("scheduled_at must be within a year from now", code="validation_error")
    return scheduled_at


async def _target_accounts(
    session: AsyncSession, user: AuthenticatedUser, submission: Submission, request: dict[str, Any]
) -> list[Account]:
    if not submission.batch:
        account = await accounts_service.get_owned(session, user.id, int(request["account_id"]))
        if account is None:
            raise NotFound("Account not found", code="account_not_found")
        accounts_flows.require_usable(account)
        return [account]
    ids = request.get("account_ids")
    accounts = list(await accounts_service.list_active(session, user.id, ids))
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


async def _prepare(ctx: AppContext, kind: PostKind, request: dict[str, Any]) -> PreparedMedia:
    try:
        return await prepare_media(ctx.media, ctx.settings, kind, request)
    except MediaInvalid as exc:
        raise BadRequest(str(exc), code="invalid_media") from exc


async def _create(
    session: AsyncSession,
    ctx: AppContext,
    user: AuthenticatedUser,
    submission: Submission,
    request: dict[str, Any],
    accounts: Sequence[Account],
    prepared: PreparedMedia,
    scheduled_at: datetime | None,
    *,
    key: str | None,
    request_hash: str,
) -> tuple[list[Post], int | None]:
    """One transaction: the key, the prepared images, the posts and their links (all or nothing)."""
    record_id = None
    if key is not None:
        record = await idempotency.create(
            session,
            user_id=user.id,
            key=key,
            endpoint=submission.endpoint,
            request_hash=request_hash,
            ttl_seconds=ctx.settings.idempotency_ttl_seconds,
        )
        record_id = record.id
    expires_at = (scheduled_at or utcnow()) + ASSET_GRACE
    for asset_id, image in prepared.images.items():
        add_asset(session, asset_id, image, expires_at=expires_at)
    caption = _full_caption(submission.body)  # stories have none: Instagram takes no caption for them
    batch_id = str(uuid.uuid4()) if submission.batch else None
    posts = [
        service.new_post(
            user_id=user.id,
            account_id=account.id,
            kind=submission.kind,
            caption=caption,
            request=request,
            media=prepared.items,
            scheduled_at=scheduled_at,
            batch_id=batch_id,
            idempotency_key_id=record_id,
        )
        for account in accounts
    ]
    session.add_all(posts)
    await session.flush()
    for post in posts:
        link_assets(session, post.id, prepared.asset_ids())
    await session.commit()
    return posts, record_id


def _full_caption(body: BaseModel) -> str | None:
    full_caption = getattr(body, "full_caption", None)
    return full_caption() if callable(full_caption) else None


# --- running and waiting ---------------------------------------------------------------------------


async def _start(ctx: AppContext, kind: PostKind, posts: list[Post], *, respond_async: bool) -> list[Post]:
    """Start the posts: inline for feed, story and carousel; as jobs for reels, schedules and async requests."""
    inline = kind != PostKind.REEL and not respond_async
    semaphore = asyncio.Semaphore(ctx.settings.batch_concurrency)
    waiting: list[int] = []

    async def start_one(post: Post) -> None:
        if post.status == PostStatus.SCHEDULED:
            await ctx.jobs.enqueue(PUBLISH_JOB, post.id, job_id=job_id(post.id), defer_until=post.scheduled_at)
            return
        if not inline:
            await ctx.jobs.enqueue(PUBLISH_JOB, post.id, job_id=job_id(post.id))
            waiting.append(post.id)
            return
        async with semaphore:
            outcome = await advance_post(ctx, post.id, Mode.INLINE)
        if outcome.kind in ("deferred", "busy"):
            await ctx.jobs.enqueue(
                PUBLISH_JOB,
                post.id,
                job_id=job_id(post.id),
                defer_until=utcnow() + timedelta(seconds=outcome.defer_seconds),
            )
            waiting.append(post.id)

    await asyncio.gather(*(start_one(post) for post in posts))
    if waiting and not respond_async:
        budget = ctx.settings.reel_wait_seconds if kind == PostKind.REEL else ctx.settings.publish_wait_seconds
        await wait_until_final(ctx, waiting, budget)
    return await service.get_many(ctx.sessionmaker, [p.id for p in posts])


async def wait_until_final(ctx: AppContext, post_ids: Sequence[int], timeout: float) -> None:
    """Poll the database (the truth) until every post is final or the time is up."""
    deadline = asyncio.get_running_loop().time() + timeout
    delay = 0.05
    pending = set(post_ids)
    while pending and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(delay)
        delay = min(0.5, delay * 1.5)
        async with ctx.sessionmaker() as session:
            rows = await session.execute(select(Post.id, Post.status).where(Post.id.in_(pending)))
            pending = {row.id for row in rows if row.status not in FINAL_STATUSES}


async def _resume(
    session: AsyncSession,
    ctx: AppContext,
    submission: Submission,
    record_id: int,
    stored_status: int | None,
    stored_body: Any,
    *,
    respond_async: bool,
) -> Answer:
    """A retry of a request we already received: its stored answer, or its own posts carried on."""
    if stored_status is not None:
        return Answer(stored_status, stored_body, {"Idempotent-Replayed": "true"})
    posts = list(
        (await session.scalars(select(Post).where(Post.idempotency_key_id == record_id).order_by(Post.id))).all()
    )
    await session.commit()
    for post in posts:
        if post.status == PostStatus.FAILED and post.retryable:
            await reset_for_retry(ctx, post)
    posts = await _start(
        ctx,
        submission.kind,
        await service.get_many(ctx.sessionmaker, [p.id for p in posts]),
        respond_async=respond_async,
    )
    async with ctx.sessionmaker() as read:
        accounts = list(
            (await read.scalars(select(Account).where(Account.id.in_([p.account_id for p in posts])))).all()
        )
    answer = await _answer(ctx, submission, posts, accounts, record_id)
    answer.headers["Idempotent-Replayed"] = "true"
    return answer


async def reset_for_retry(ctx: AppContext, post: Post) -> bool:
    """Put a failed post back in line (its media re-prepared if the prepared copy is gone)."""
    async with ctx.sessionmaker() as session:
        if post.container_id is None and not await service.assets_present(session, post):
            prepared = await _prepare(ctx, PostKind(post.kind), post.request)
            for asset_id, image in prepared.images.items():
                add_asset(session, asset_id, image, expires_at=utcnow() + ASSET_GRACE)
            await session.flush()
            link_assets(session, post.id, prepared.asset_ids())
            await session.execute(update(Post).where(Post.id == post.id).values(media=prepared.items))
        now = utcnow()
        result = await session.execute(
            update(Post)
            .where(Post.id == post.id, Post.status == PostStatus.FAILED)
            .values(
                status=PostStatus.CONTAINER_CREATED if post.container_id else PostStatus.PENDING,
                error=None,
                error_code=None,
                retryable=False,
                next_attempt_at=now,
                updated_at=now,
                attempts=Post.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def run_post(ctx: AppContext, post: Post, *, respond_async: bool) -> Post:
    """Start (or restart) one existing post the way its kind is published, and wait as a create would."""
    (result,) = await _start(ctx, PostKind(post.kind), [post], respond_async=respond_async)
    return result


# --- answers ---------------------------------------------------------------------------------------


def _is_final(post: Post) -> bool:
    return post.status in (PostStatus.PUBLISHED, PostStatus.CANCELLED) or (
        post.status == PostStatus.FAILED and not post.retryable
    )


async def _answer(
    ctx: AppContext,
    submission: Submission,
    posts: list[Post],
    accounts: Sequence[Account],
    record_id: int | None,
) -> Answer:
    if submission.batch:
        by_id = {a.id: a for a in accounts}
        body: Any = [batch_result(post, by_id.get(post.account_id)) for post in posts]
        answer = Answer(207, body, {})
    else:
        answer = single_answer(posts[0])
    if record_id is not None and all(_is_final(p) for p in posts):
        await idempotency.store_answer(ctx.sessionmaker, record_id, answer.status, answer.body)
    return answer


def status_url(post_id: int) -> str:
    return f"/api/sns/instagram/posts/{post_id}"


def single_answer(post: Post) -> Answer:
    """201 in the seed's shape when published, the error when failed, 202 while scheduled or in progress."""
    kind = PostKind(post.kind)
    if post.status == PostStatus.PUBLISHED:
        body = {
            "message": _CREATED_MESSAGES[kind],
            _ID_KEYS[kind]: post.media_id,
            "db_id": post.id,
            "status": post.status,
            "permalink": post.permalink,
        }
        return Answer(201, body, {})
    if post.status in (PostStatus.FAILED, PostStatus.CANCELLED):
        error = failure_error(post)
        return Answer(error.status_code, error.body(), error.headers)
    message = (
        f"{kind.value.capitalize()} scheduled"
        if post.status == PostStatus.SCHEDULED
        else f"{kind.value.capitalize()} accepted; publishing continues in the background"
    )
    body = {
        "message": message,
        "db_id": post.id,
        "status": post.status,
        "status_url": status_url(post.id),
        "scheduled_at": post.scheduled_at.isoformat().replace("+00:00", "Z") if post.scheduled_at else None,
    }
    return Answer(202, body, {"Location": status_url(post.id)})


def failure_error(post: Post) -> AppError:
    """The error answer for a failed (or cancelled) post: the status its cause deserves."""
    code = post.error_code or "publish_failed"
    status = _FAILURE_STATUS.get(code, 502)
    extra: dict[str, Any] = {"db_id": post.id, "status": post.status, "retryable": post.retryable}
    headers: dict[str, str] = {}
    if code in ("instagram_reauth_required", "instagram_permission_denied"):
        extra.update(action="redirect", auth_url=AUTH_URL, account_id=post.account_id)
    # A 502 whose retry time is known (Meta's "retry in 30 s to 2 minutes" codes) says it too (issue 9).
    if status == 429 or (status == 502 and post.retryable and post.next_attempt_at is not None):
        retry_after = 60
        if post.next_attempt_at is not None:
            retry_after = max(1, int((post.next_attempt_at - utcnow()).total_seconds()) + 1)
        extra["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    error = AppError(post.error or "Publishing failed", code=code, headers=headers, **extra)
    error.status_code = status
    return error


def batch_result(post: Post, account: Account | None) -> dict[str, Any]:
    """One entry of a batch answer: `{account, status, post_id | error}` as in the seed's example 2."""
    result: dict[str, Any] = {
        "account": account.username if account else str(post.account_id),
        "account_id": post.account_id,
        "db_id": post.id,
    }
    if post.status == PostStatus.PUBLISHED:
        result.update(status="success", post_id=post.media_id)
    elif post.status in (PostStatus.FAILED, PostStatus.CANCELLED):
        result.update(status="failed", error=post.error, code=post.error_code)
    elif post.status == PostStatus.SCHEDULED:
        result.update(status="scheduled")
    else:
        result.update(status="pending")
    return result
