"""The first comment: a step of the state machine after publishing, posted exactly once, never failing the post.

    published ─(first_comment_due_at)─► comment posted | comment failed        (the post stays published)

- When the publication is recorded, the comment's due time is written with it (now, or after
  `first_comment_delay_seconds`); the run that published goes on to comment when it is due now, otherwise a
  job (`post_first_comment`, one id per post) is deferred until then, and the minute sweeper finds any comment
  a lost job or a crash left due.
- A runner claims the published post with the same lease as publishing (one atomic UPDATE).
- `first_comment_sent_at` is saved *before* the comment is sent, and the comment id right after. A run that
  finds `first_comment_sent_at` set (an earlier runner may have commented and crashed, or lost the answer)
  reads the media's comments first and records the account's own comment with that text if it is there:
  it is never posted twice.
- A refusal (a missing permission, the media gone, a bad text) makes the comment `failed` with Instagram's
  words; throttling or Instagram down is tried again later, up to PUBLISH_MAX_ATTEMPTS. The post is published
  whatever happens here.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from app import failures
from app import instagram as ig
from app.accounts import service as accounts_service
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.publishing import comment_queries, repository, runs
from app.publishing.lease import Lease, LeaseLost, new_owner
from app.publishing.models import FirstCommentStatus, Post, PostStatus
from app.publishing.outcomes import Fail, Mode
from app.publishing.runs import Run
from app.publishing.schemas import stored_request

logger = logging.getLogger(__name__)

JOB = "post_first_comment"
# How far back the media's comments are read to find one an earlier run may have made (newest first).
SEARCH_PAGES = 4
SEARCH_PAGE_SIZE = 50
MAX_RETRY_DELAY_SECONDS = 900.0


def job_id(post_id: int) -> str:
    """One job id per post's first comment: a second enqueue while one is queued or running is refused."""
    return f"first_comment:{post_id}"


@dataclass(frozen=True)
class CommentOutcome:
    """How far a run took the comment: `deferred` and `busy` say when to look again."""

    kind: Literal["posted", "failed", "deferred", "busy", "none"]
    defer_seconds: float = 0.0


def text_of(post: Post) -> str | None:
    """The comment the post's request asked for."""
    return stored_request(post.kind, post.request, batch=post.batch_id is not None).first_comment_text()


async def enqueue(ctx: AppContext, post: Post) -> None:
    """Hand the comment to a job, at its due time."""
    await ctx.jobs.enqueue(JOB, post.id, job_id=job_id(post.id), defer_until=post.first_comment_due_at)


async def after_publish(ctx: AppContext, post: Post) -> None:
    """Right after a publication is recorded: comment now if the comment is due, else leave it to a job. Nothing
    here can fail the post: an unexpected error leaves the comment pending, for the sweeper."""
    if post.first_comment_status != FirstCommentStatus.PENDING:
        return
    if post.first_comment_due_at is not None and post.first_comment_due_at > utcnow():
        await enqueue(ctx, post)
        return
    try:
        outcome = await post_comment(ctx, post.id)
    except Exception:
        logger.exception("first comment step failed; the sweeper takes it up", extra={"post_id": post.id})
        return
    if outcome.kind in ("deferred", "busy"):
        await ctx.jobs.enqueue(
            JOB, post.id, job_id=job_id(post.id), defer_until=utcnow() + timedelta(seconds=outcome.defer_seconds)
        )
    # The caller answers from its copy of the post: bring it up to date with what the comment step wrote.
    async with ctx.sessionmaker() as session:
        fresh = await repository.get(session, post.id)
    if fresh is not None:
        for column in ("first_comment_status", "first_comment_id", "first_comment_error", "first_comment_due_at"):
            setattr(post, column, getattr(fresh, column))


async def post_comment(ctx: AppContext, post_id: int) -> CommentOutcome:
    """Claim the post and take its first comment as far as it goes now (exactly once, whoever runs it)."""
    owner = new_owner()
    now = utcnow()
    lease_seconds = ctx.settings.publish_lease_seconds
    async with unit_of_work(ctx.sessionmaker) as session:
        if not await comment_queries.claim(session, post_id, owner, now + timedelta(seconds=lease_seconds), now):
            post = await repository.get(session, post_id)
            return _not_claimed(post)
        post = await repository.get(session, post_id)
        assert post is not None
        account = await accounts_service.get(session, post.account_id)
    held = Lease(ctx.sessionmaker, post, owner, ctx.settings)
    run = Run(ctx, account, held, Mode.BACKGROUND)
    try:
        return await _comment(run)
    except LeaseLost:
        return CommentOutcome("busy", lease_seconds)
    finally:
        await held.release()


def _not_claimed(post: Post | None) -> CommentOutcome:
    if post is None or post.status != PostStatus.PUBLISHED or post.first_comment_status != FirstCommentStatus.PENDING:
        return CommentOutcome("none")
    now = utcnow()
    if post.lease_until is not None and post.lease_until > now:
        return CommentOutcome("busy", (post.lease_until - now).total_seconds() + 1.0)
    due = post.first_comment_due_at
    return CommentOutcome("deferred", max(0.05, (due - now).total_seconds()) if due else 0.05)


async def _comment(run: Run) -> CommentOutcome:
    post = run.post
    text = text_of(post)
    if text is None or post.media_id is None:
        reason = "no comment was asked for" if text is None else "Instagram did not give the media id"
        return await _failed(run, f"The first comment could not be posted: {reason}")
    token = runs.usable_token(run)
    if isinstance(token, Fail):
        return await _failed(run, token.failure.message)
    run.token = token
    if post.first_comment_sent_at is not None:
        try:
            found = await _already_made(run, text)
        except ig.InstagramError as exc:
            return await _after_error(run, exc, may_have_commented=True)
        if found is not None:
            logger.info("first comment found, not posted again", extra={"post_id": post.id})
            return await _posted(run, found)
    await run.lease.save(first_comment_sent_at=utcnow(), first_comment_attempts=post.first_comment_attempts + 1)
    try:
        comment_id = await run.instagram.create_comment(run.token, post.media_id, text)
    except ig.InstagramError as exc:
        unsent = isinstance(exc, ig.InstagramUnavailable) and not exc.request_sent
        # Only an error certain to have created nothing lets the next run comment without looking first.
        certain = unsent or not isinstance(exc, ig.InstagramUnavailable | ig.TransientError)
        return await _after_error(run, exc, may_have_commented=not certain)
    return await _posted(run, comment_id)


async def _already_made(run: Run, text: str) -> str | None:
    """The id of the account's own comment with this text on the media, if an earlier run made it."""
    post = run.post
    assert post.media_id is not None and run.account is not None
    username = run.account.username.lower()
    after: str | None = None
    for _ in range(SEARCH_PAGES):
        page = await run.instagram.list_comments(run.token, post.media_id, limit=SEARCH_PAGE_SIZE, after=after)
        for comment in page.items:
            if comment.text == text and (comment.username or "").lower() == username:
                return comment.id
        if page.after is None:
            return None
        after = page.after
    return None


async def _after_error(run: Run, exc: ig.InstagramError, *, may_have_commented: bool) -> CommentOutcome:
    """A comment Instagram refused fails (the post stays published); throttling or Instagram down is tried
    again later. While a comment may have been made, `first_comment_sent_at` stays: the next run looks first."""
    failed = failures.from_instagram(exc)
    if failed.code == failures.REAUTH_REQUIRED:
        assert run.account is not None
        await accounts_service.mark_needs_reauth(run.ctx.sessionmaker, run.account.id, exc.message)
    passing = failed.code in (failures.RATE_LIMITED, failures.UNAVAILABLE)
    if passing and run.post.first_comment_attempts < run.settings.publish_max_attempts:
        delay = float(exc.retry_after) if exc.retry_after else _backoff(run)
        await run.lease.save(
            first_comment_sent_at=run.post.first_comment_sent_at if may_have_commented else None,
            first_comment_error=failed.message,
            first_comment_due_at=utcnow() + timedelta(seconds=delay),
            give_up=True,
        )
        return CommentOutcome("deferred", delay)
    return await _failed(run, f"The first comment could not be posted: {failed.message}")


def _backoff(run: Run) -> float:
    """A jittered exponential backoff from PUBLISH_RETRY_BASE_SECONDS, as a post's retries have."""
    base = run.settings.publish_retry_base_seconds
    delay: float = min(MAX_RETRY_DELAY_SECONDS, base * 2 ** max(0, run.post.first_comment_attempts - 1))
    return delay * (0.5 + random.random() / 2)


async def _posted(run: Run, comment_id: str) -> CommentOutcome:
    await run.lease.save(
        first_comment_status=FirstCommentStatus.POSTED,
        first_comment_id=comment_id,
        first_comment_error=None,
        give_up=True,
    )
    logger.info("first comment posted", extra={"post_id": run.post.id})
    return CommentOutcome("posted")


async def _failed(run: Run, message: str) -> CommentOutcome:
    await run.lease.save(first_comment_status=FirstCommentStatus.FAILED, first_comment_error=message, give_up=True)
    logger.info("first comment failed", extra={"post_id": run.post.id})
    return CommentOutcome("failed")
