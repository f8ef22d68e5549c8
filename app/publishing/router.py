"""Routes: publish posts, stories, reels, carousels and batches; list, inspect, cancel and retry posts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentUser
from app.auth.tokens import AuthenticatedUser
from app.context import AppContext
from app.dependencies import ContextDep, SessionDep
from app.errors import AppError, Conflict, error_responses
from app.ids import INT64_MAX, DbId
from app.openapi import API_PREFIX
from app.publishing import answers, repository, running, views
from app.publishing.answers import (
    BatchResult,
    PostCreated,
    PublishAccepted,
    ReelCreated,
    StoryCreated,
)
from app.publishing.dependencies import OwnedPost
from app.publishing.models import PostKind, PostStatus
from app.publishing.schemas import AnyRequest, BatchPostCreate, CarouselCreate, PostCreate, ReelCreate, StoryCreate
from app.publishing.submit import Submission, publish
from app.publishing.views import PostCancelled, PostOut, PostPage

router = APIRouter(prefix=API_PREFIX, tags=["publishing"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retry safe. Any unique string (a UUID): sending the same key and body again (a "
        "retry after a timeout, **Execute** pressed twice) publishes nothing more and answers the first answer "
        "(`Idempotent-Replayed: true`). Use a new key for each new post: the same key with another body answers "
        "409. Kept 24 hours. Without a key, two identical requests are two posts. The example is a new UUID, "
        "generated each time these docs load.",
        openapi_examples={"generated": {"summary": "a freshly generated UUID", "value": str(uuid.uuid4())}},
    ),
]
PreferHeader = Annotated[
    str | None,
    Header(alias="Prefer", description="`respond-async`: answer 202 at once and publish in the background"),
]

_PUBLISH_ERRORS = error_responses(
    400,
    401,
    404,
    409,
    429,
    502,
    examples={
        400: {"error": "Invalid image format. Supported: JPEG, PNG", "code": "invalid_media"},
        401: {
            "error": "Access token expired. Please re-authenticate.",
            "code": "instagram_reauth_required",
            "action": "redirect",
            "auth_url": "/api/sns/instagram/oauth/authorize",
        },
        409: {
            "error": "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
            "code": "idempotency_key_reused",
        },
    },
    descriptions={
        502: "Instagram unreachable or failing (`instagram_unavailable`), or unable to download the media this "
        "service serves for the post (`media_unreachable`: its own outage or an address Instagram cannot reach). "
        "Both may be retried with the same Idempotency-Key."
    },
)


def _accepted(description: str) -> dict[int | str, Any]:
    return {202: {"model": PublishAccepted, "description": description}}


def _wants_async(prefer: str | None) -> bool:
    return bool(prefer) and "respond-async" in (prefer or "").lower()


def _created(model: type[BaseModel]) -> dict[int | str, Any]:
    # The route answers 201 or 202 with different schemas, so the schemas are documented here rather than
    # through response_model (which would also filter the 202 body through the 201 schema).
    return {201: {"model": model, "description": "Successful Response"}}


@dataclass(frozen=True)
class Publisher:
    """What every publishing POST shares: the request's unit of work, the caller, and the two headers."""

    session: AsyncSession
    ctx: AppContext
    user: AuthenticatedUser
    idempotency_key: str | None
    respond_async: bool

    async def __call__(self, endpoint: str, request: AnyRequest) -> answers.Answer | AppError:
        return await publish(
            self.session,
            self.ctx,
            self.user,
            Submission(endpoint, request),
            idempotency_key=self.idempotency_key,
            respond_async=self.respond_async,
        )


async def get_publisher(
    session: SessionDep,
    ctx: ContextDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKeyHeader = None,
    prefer: PreferHeader = None,
) -> Publisher:
    return Publisher(session, ctx, user, idempotency_key, _wants_async(prefer))


PublisherDep = Annotated[Publisher, Depends(get_publisher)]


@router.post(
    "/posts",
    summary="Publish a feed post (image)",
    status_code=201,
    response_model=None,
    responses={
        **_created(PostCreated),
        **_accepted("Scheduled, or still publishing (see status_url)"),
        **_PUBLISH_ERRORS,
    },
)
async def create_post(body: PostCreate, publisher: PublisherDep, response: Response) -> answers.OnePost:
    """Checks the image (JPEG or PNG, at least 320x320, feed aspect 4:5 to 1.91:1), converts it to the JPEG
    Instagram takes, appends the hashtags to the caption and publishes now (201), or at `scheduled_at` (202)."""
    return answers.one_post(await publisher("POST /posts", body), response)


@router.post(
    "/stories",
    summary="Publish a story (image, optionally with text, or video)",
    status_code=201,
    response_model=None,
    responses={**_created(StoryCreated), **_accepted("Scheduled, or still publishing"), **_PUBLISH_ERRORS},
)
async def create_story(body: StoryCreate, publisher: PublisherDep, response: Response) -> answers.OnePost:
    """`text` is drawn onto the image by the service (Instagram's API has no text stickers)."""
    return answers.one_post(await publisher("POST /stories", body), response)


@router.post(
    "/reels",
    summary="Publish a reel",
    status_code=201,
    response_model=None,
    responses={
        **_created(ReelCreated),
        **_accepted("Scheduled, still processing after REEL_WAIT_SECONDS, or Prefer: respond-async"),
        **_PUBLISH_ERRORS,
    },
)
async def create_reel(body: ReelCreate, publisher: PublisherDep, response: Response) -> answers.OnePost:
    """Handed to the worker (video processing takes a while). Waits up to REEL_WAIT_SECONDS (30 s) and answers
    201 when published, else 202 with `db_id`, `status` and `status_url`. `thumbnail_url` becomes the cover."""
    return answers.one_post(await publisher("POST /reels", body), response)


@router.post(
    "/carousels",
    summary="Publish a carousel (2–10 images and videos)",
    status_code=201,
    response_model=None,
    responses={**_created(PostCreated), **_accepted("Scheduled, or still processing"), **_PUBLISH_ERRORS},
)
async def create_carousel(body: CarouselCreate, publisher: PublisherDep, response: Response) -> answers.OnePost:
    """Every image is checked like a feed post's; videos are probed (codecs, duration, frame rate, size) and
    processed by Instagram."""
    return answers.one_post(await publisher("POST /carousels", body), response)


@router.post(
    "/batch-post",
    summary="Publish the same feed post to several accounts",
    status_code=207,
    response_model=list[BatchResult],
    # A result carries only what applies to it (post_id when published, error and code when failed).
    response_model_exclude_unset=True,
    responses={
        207: {
            "description": "One result per account: success (with post_id), failed (with error), scheduled or pending"
        },
        **error_responses(400, 401, 404, 409),
    },
)
async def batch_post(body: BatchPostCreate, publisher: PublisherDep, response: Response) -> list[BatchResult]:
    """To all your connected accounts, or to `account_ids`; accounts are published concurrently (at most
    BATCH_CONCURRENCY at once) and each result is saved as it happens. One account failing never affects
    the others; retry a failed one with POST /posts/{db_id}/retry."""
    return answers.batch_results(await publisher("POST /batch-post", body), response)


@router.get("/posts", summary="List posts", response_model=PostPage, responses=error_responses(400, 401))
async def list_posts(
    session: SessionDep,
    user: CurrentUser,
    account_id: Annotated[DbId | None, Query()] = None,
    status: Annotated[PostStatus | None, Query(description="Only posts in this state")] = None,
    kind: Annotated[PostKind | None, Query(description="feed, story, reel or carousel")] = None,
    cursor: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> PostPage:
    """Your posts, newest first."""
    posts, next_cursor = await repository.list_owned(
        session, user.id, account_id=account_id, status=status, kind=kind, before_id=cursor, limit=limit
    )
    return PostPage(posts=[views.post_out(p) for p in posts], next_cursor=str(next_cursor) if next_cursor else None)


@router.get(
    "/posts/{db_id}",
    summary="Get a post's state",
    response_model=PostOut,
    responses=error_responses(401, 404),
)
async def get_post(post: OwnedPost) -> PostOut:
    """State, Instagram ids, schedule, last error, attempts. For an unfinished post, `error` is the last
    problem met (throttling, a full quota) and `next_attempt_at` when it is tried again."""
    return views.post_out(post)


@router.delete(
    "/posts/{db_id}",
    summary="Cancel a scheduled post",
    response_model=PostCancelled,
    responses=error_responses(401, 404, 409),
)
async def cancel_post(session: SessionDep, post: OwnedPost) -> PostCancelled:
    """Cancels a post that has not started publishing (scheduled, or waiting to start). A post that is being
    published or already is answers 409: Instagram's API cannot delete feed posts."""
    if not await repository.cancel(session, post):
        raise Conflict(
            f"Post {post.id} cannot be cancelled: it is {post.status.replace('_', ' ')}",
            code="not_cancellable",
            status=post.status,
        )
    return PostCancelled(post=views.post_out(post))


@router.post(
    "/posts/{db_id}/retry",
    summary="Retry a failed post",
    status_code=201,
    response_model=None,
    responses={**_created(PostCreated), **_accepted("Still publishing, or handed to the worker"), **_PUBLISH_ERRORS},
)
async def retry_post(
    session: SessionDep, ctx: ContextDep, post: OwnedPost, response: Response, prefer: PreferHeader = None
) -> answers.OnePost:
    """Safe by construction: the post resumes from its saved state, reading its container's status first, so a
    post that Instagram did publish is recorded as published and never published twice."""
    if post.status != PostStatus.FAILED:
        raise Conflict(
            f"Only failed posts can be retried; post {post.id} is {post.status.replace('_', ' ')}",
            code="not_retryable",
            status=post.status,
        )
    await session.commit()
    if not await running.reset_for_retry(ctx, post):
        raise Conflict(f"Post {post.id} is no longer failed", code="not_retryable")
    return answers.one_post(
        answers.single(await running.run_post(ctx, post.id, respond_async=_wants_async(prefer))), response
    )
