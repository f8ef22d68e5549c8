"""Answers of the publishing routes: their shapes (what OpenAPI documents) and how posts become them.

A publishing POST answers 201 in the seed's shape once published (`PostCreated`, `StoryCreated`,
`ReelCreated`), 202 while scheduled or still under way (`PublishAccepted`), 207 for a batch (`BatchResult`
per account), or the error its failure deserves (the failure table's row, `app.failures`). Bodies carry
exactly the fields set when they were built, so an optional field left out stays out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app import failures
from app.accounts.models import Account
from app.db import utcnow
from app.errors import AppError
from app.openapi import API_PREFIX
from app.publishing.models import Post, PostKind, PostStatus
from app.publishing.views import FirstCommentOut, first_comment_of


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
    first_comment: FirstCommentOut | None = Field(default=None, description="Only when a first comment was asked for")


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
    first_comment: FirstCommentOut | None = Field(default=None, description="Only when a first comment was asked for")


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


# What a failed post's answer says when the post keeps no error text (none was given, or it was erased).
UNEXPLAINED_FAILURE = "Publishing failed"


def without_user_content(status: int, body: object, account_ids: Collection[int], *, username: str) -> object:
    """A stored answer (kept for Idempotency-Key replays) as a data deletion of these accounts leaves it: what
    their erased posts no longer hold is taken out (permalinks, error texts, which may quote content, and a
    batch's usernames, which become `username`); everything else stays as first answered."""
    if isinstance(body, list):
        return [
            {**entry, "account": username, **({"error": None} if "error" in entry else {})}
            if isinstance(entry, dict) and entry.get("account_id") in account_ids
            else entry
            for entry in body
        ]
    if not isinstance(body, dict):
        return body
    if status >= 400:
        return {**body, "error": UNEXPLAINED_FAILURE} if "error" in body else body
    erased = dict(body)
    if "permalink" in erased:
        erased["permalink"] = None
    comment = erased.get("first_comment")
    if isinstance(comment, dict) and "error" in comment:
        erased["first_comment"] = {**comment, "error": None}
    return erased


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
    # Set only when asked for, so an answer without a first comment keeps the seed's shape.
    state = first_comment_of(post)
    comment = {"first_comment": state} if state is not None else {}
    if kind == PostKind.REEL:
        return ReelCreated(
            message="Reel created successfully",
            reel_id=post.media_id,
            db_id=post.id,
            status=post.status,
            permalink=post.permalink,
            **comment,
        )
    return PostCreated(
        message="Carousel created successfully" if kind == PostKind.CAROUSEL else "Post created successfully",
        post_id=post.media_id,
        db_id=post.id,
        status=post.status,
        permalink=post.permalink,
        **comment,
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
        message=post.error or UNEXPLAINED_FAILURE,
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
