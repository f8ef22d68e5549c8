"""A post as GET /posts shows it (`PostOut`), and the first comment's state as every answer reports it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.publishing.media_items import MediaItem
from app.publishing.models import ACTIVE_STATUSES, Post, PostStatus

# What PostOut shows of a media item (not where Instagram fetches it, nor the stored asset).
_SHOWN_MEDIA_FIELDS = {"role", "type", "source_url", "alt_text"}


class FirstCommentOut(BaseModel):
    """The first comment's state: it never changes the post's own status."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "posted", "comment_id": "17858893269123456", "error": None}]}
    )

    status: str = Field(
        description="`pending` (waiting for the publication, its delay, or a retry after throttling), `posted`, "
        "or `failed` (the post stays published; `error` says why)"
    )
    comment_id: str | None = Field(description="Instagram's comment id once posted")
    error: str | None = Field(description="Why it failed, or the last problem met while pending")


def first_comment_of(post: Post) -> FirstCommentOut | None:
    """The first comment's state, or None when the post asked for none."""
    if post.first_comment_status is None:
        return None
    return FirstCommentOut(
        status=post.first_comment_status, comment_id=post.first_comment_id, error=post.first_comment_error
    )


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
    first_comment: FirstCommentOut | None = Field(default=None, description="Null when none was asked for")


class PostCancelled(BaseModel):
    message: str = "Post cancelled"
    post: PostOut


class PostPage(BaseModel):
    posts: list[PostOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


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
        first_comment=first_comment_of(post),
    )
