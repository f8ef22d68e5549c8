"""Answers of the publishing routes: their shapes (what OpenAPI documents) and how posts become them.

A publishing POST answers 201 in the seed's shape once published (`PostCreated`, `StoryCreated`,
`ReelCreated`), 202 while scheduled or still under way (`PublishAccepted`), 207 for a batch (`BatchResult`
per account), or the error its failure deserves (the failure table's row, `app.failures`). Bodies carry
exactly the fields set when they were built, so an optional field left out stays out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app import failures
from app.accounts.models import Account
from app.db import utcnow
from app.errors import AppError
from app.openapi import API_PREFIX
from app.publishing.media_items import MediaItem
from app.publishing.models import ACTIVE_STATUSES, Post, PostKind, PostStatus


class PostCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Post created successfully",
                    "post_id": "17892456789123456",
                    "db_id": 42,
                    "status": "published",
                    "permalink": "https://www.instagram.com/p/C1a2b3c4d5/",
                }
            ]
        }
    )

    message: str
    post_id: str | None
    db_id: int
    status: str
    permalink: str | None = None


class StoryCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Story created successfully",
                    "story_id": "17892456789123789",
                    "db_id": 44,
                    "status": "published",
                }
            ]
        }
    )

    message: str
    story_id: str | None
    db_id: int
    status: str
    permalink: str | None = None


class ReelCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Reel created successfully",
                    "reel_id": "17892456789123999",
                    "db_id": 43,
                    "status": "published",
                }
            ]
        }
    )

    message: str
    reel_id: str | None
    db_id: int
    status: str
    permalink: str | None = None


class PublishAccepted(BaseModel):
    """202: scheduled, or still being published; follow `status_url`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Reel accepted; publishing continues in the background",
                    "db_id": 43,
                    "status": "container_created",
                    "status_url": "/api/sns/instagram/posts/43",
                    "scheduled_at": None,
                }
            ]
        }
    )

    message: str
    db_id: int
    status: str
    status_url: str
    scheduled_at: datetime | None = None


class PostOut(BaseModel):
    """A post's whole state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "db_id": 42,
                    "account_id": 1,
                    "kind": "feed",
                    "status": "published",
                    "post_id": "17892456789123456",
                    "permalink": "https://www.instagram.com/p/C1a2b3c4d5/",
                    "caption": "Check out this amazing product! 🚀",
                    "container_id": "17889455560051444",
                    "scheduled_at": None,
                    "published_at": "2026-11-27T10:00:03Z",
                    "error": None,
                    "error_code": None,
                    "retryable": False,
                    "attempts": 1,
                    "next_attempt_at": None,
                    "batch_id": None,
                    "created_at": "2026-11-27T10:00:00Z",
                    "updated_at": "2026-11-27T10:00:03Z",
                    "media": [{"type": "image", "source_url": "https://example.com/product.jpg"}],
                }
            ]
        }
    )

    db_id: int
    account_id: int
    kind: str
    status: str
    post_id: str | None = Field(description="Instagram's media id once published")
    permalink: str | None
    caption: str | None
    container_id: str | None
    scheduled_at: datetime | None
    published_at: datetime | None
    error: str | None
    error_code: str | None
    retryable: bool = Field(description="True when POST /posts/{db_id}/retry may succeed")
    attempts: int
    next_attempt_at: datetime | None
    batch_id: str | None
    created_at: datetime
    updated_at: datetime
    media: list[dict[str, Any]]


class PostCancelled(BaseModel):
    message: str = "Post cancelled"
    post: PostOut


class PostPage(BaseModel):
    posts: list[PostOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class BatchResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account": "john_doe",
                    "account_id": 1,
                    "status": "success",
                    "post_id": "17892456789123456",
                    "db_id": 42,
                },
                {
                    "account": "marketing_team",
                    "account_id": 2,
                    "status": "failed",
                    "db_id": 43,
                    "error": "Access token expired. Please re-authenticate.",
                    "code": "instagram_reauth_required",
                },
            ]
        }
    )

    account: str
    account_id: int
    status: str = Field(description="success, failed, scheduled or pending (still publishing)")
    db_id: int | None = None
    post_id: str | None = None
    error: str | None = None
    code: str | None = None


Created = PostCreated | StoryCreated | ReelCreated
OnePost = Created | PublishAccepted
Body = OnePost | list[BatchResult]
BATCH_RESULTS: TypeAdapter[list[BatchResult]] = TypeAdapter(list[BatchResult])
CREATED: TypeAdapter[Created] = TypeAdapter(Created)
# What PostOut shows of a media item (not where Instagram fetches it, nor the stored asset).
_SHOWN_MEDIA_FIELDS = {"role", "type", "source_url", "alt_text"}


@dataclass
class Answer:
    """A success answer: its status, its body (a schema instance) and its headers."""

    status: int
    body: Body
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> object:
        """The body as JSON, with only the fields that were set (stored for Idempotency-Key replays)."""
        if isinstance(self.body, list):
            return BATCH_RESULTS.dump_python(self.body, mode="json", exclude_unset=True)
        return self.body.model_dump(mode="json", exclude_unset=True)

    def apply(self, response: Response) -> None:
        """Give the route's response this answer's status and headers (the body is returned by the route)."""
        response.status_code = self.status
        response.headers.update(self.headers)


def one_post(answer: Answer | AppError, response: Response) -> OnePost:
    """A one-post answer for its route: the schema instance, its status and headers set (an error is raised)."""
    if isinstance(answer, AppError):
        raise answer
    assert not isinstance(answer.body, list)
    answer.apply(response)
    return answer.body


def batch_results(answer: Answer | AppError, response: Response) -> list[BatchResult]:
    """A batch answer for its route: the results, their headers set (an error is raised)."""
    if isinstance(answer, AppError):
        raise answer
    assert isinstance(answer.body, list)
    answer.apply(response)
    return answer.body


def status_url(post_id: int) -> str:
    return f"{API_PREFIX}/posts/{post_id}"


def is_final(post: Post) -> bool:
    """Nothing more will happen to the post by itself or by a retry of the same request."""
    return post.status in (PostStatus.PUBLISHED, PostStatus.CANCELLED) or (
        post.status == PostStatus.FAILED and not post.retryable
    )


def created(post: Post) -> Created:
    """201 in the seed's shape: `post_id` (`story_id` for stories, `reel_id` for reels) is Instagram's id."""
    kind = PostKind(post.kind)
    if kind == PostKind.STORY:
        return StoryCreated(
            message="Story created successfully",
            story_id=post.media_id,
            db_id=post.id,
            status=post.status,
            permalink=post.permalink,
        )
    if kind == PostKind.REEL:
        return ReelCreated(
            message="Reel created successfully",
            reel_id=post.media_id,
            db_id=post.id,
            status=post.status,
            permalink=post.permalink,
        )
    return PostCreated(
        message="Carousel created successfully" if kind == PostKind.CAROUSEL else "Post created successfully",
        post_id=post.media_id,
        db_id=post.id,
        status=post.status,
        permalink=post.permalink,
    )


def accepted(post: Post) -> Answer:
    """202 while scheduled or under way, pointing at the post's state."""
    noun = post.kind.capitalize()
    message = (
        f"{noun} scheduled"
        if post.status == PostStatus.SCHEDULED
        else f"{noun} accepted; publishing continues in the background"
    )
    body = PublishAccepted(
        message=message,
        db_id=post.id,
        status=post.status,
        status_url=status_url(post.id),
        scheduled_at=post.scheduled_at,
    )
    return Answer(202, body, {"Location": status_url(post.id)})


def failed(post: Post) -> AppError:
    """The error answer for a failed (or cancelled) post: the status its cause deserves, from the table."""
    retry_after = None
    if post.next_attempt_at is not None:
        retry_after = (post.next_attempt_at - utcnow()).total_seconds()
    failure = failures.Failure.of(
        post.error_code or "publish_failed",
        message=post.error or "Publishing failed",
        retryable=post.retryable,
        retry_after=retry_after,
    )
    return failures.app_error(
        failure, account_id=post.account_id, db_id=post.id, status=post.status, retryable=post.retryable
    )


def single(post: Post) -> Answer | AppError:
    """The answer for one post: 201 when published, its error when failed, else 202."""
    if post.status == PostStatus.PUBLISHED:
        return Answer(201, created(post))
    if post.status in (PostStatus.FAILED, PostStatus.CANCELLED):
        return failed(post)
    return accepted(post)


def batch_result(post: Post, account: Account | None) -> BatchResult:
    """One entry of a batch answer: `{account, status, post_id | error}` as in the seed's example 2."""
    name = account.username if account else str(post.account_id)
    if post.status == PostStatus.PUBLISHED:
        return BatchResult(
            account=name, account_id=post.account_id, db_id=post.id, status="success", post_id=post.media_id
        )
    if post.status in (PostStatus.FAILED, PostStatus.CANCELLED):
        return BatchResult(
            account=name,
            account_id=post.account_id,
            db_id=post.id,
            status="failed",
            error=post.error,
            code=post.error_code,
        )
    state = "scheduled" if post.status == PostStatus.SCHEDULED else "pending"
    return BatchResult(account=name, account_id=post.account_id, db_id=post.id, status=state)


def batch(posts: Sequence[Post], accounts: Sequence[Account]) -> Answer:
    """207: one result per account, in the order the posts were made."""
    by_id = {account.id: account for account in accounts}
    return Answer(207, [batch_result(post, by_id.get(post.account_id)) for post in posts])


def shown_media(items: Sequence[MediaItem]) -> list[dict[str, str]]:
    """What PostOut shows of each media item: its role and type, the client's URL and the alt text."""
    return [item.model_dump(mode="json", include=_SHOWN_MEDIA_FIELDS, exclude_none=True) for item in items]


def post_out(post: Post) -> PostOut:
    """A post's whole state."""
    return PostOut(
        db_id=post.id,
        account_id=post.account_id,
        kind=post.kind,
        status=post.status,
        post_id=post.media_id,
        permalink=post.permalink,
        caption=post.caption,
        container_id=post.container_id,
        scheduled_at=post.scheduled_at,
        published_at=post.published_at,
        error=post.error,
        error_code=post.error_code,
        retryable=post.status == PostStatus.FAILED and post.retryable,
        attempts=post.attempts,
        next_attempt_at=post.next_attempt_at if post.status in ACTIVE_STATUSES else None,
        batch_id=post.batch_id,
        created_at=post.created_at,
        updated_at=post.updated_at,
        media=shown_media(post.media),
    )
