"""Routes: a post's comments (live, with replies), commenting, replying, hiding and deleting comments."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from app.auth.dependencies import CurrentUser
from app.comments import flows
from app.comments.dependencies import OwnedComment
from app.comments.idempotency import create_once
from app.comments.schemas import CommentCreate, CommentCreated, CommentDeleted, CommentHide, CommentOut, CommentsPage
from app.dependencies import ContextDep, SessionDep
from app.errors import error_responses
from app.insights.dependencies import PublishedPost
from app.openapi import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["comments"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retry safe. Any unique string (a UUID): the same key and body again (a retry after a "
        "timeout, **Execute** pressed twice) comments nothing more and answers the first answer "
        "(`Idempotent-Replayed: true`); while the first "
        "request is still running it answers 409 with Retry-After. The same key with another body answers 409. Kept "
        "24 hours. Without a key, two identical requests are two comments.",
        openapi_examples={"generated": {"summary": "a freshly generated UUID", "value": str(uuid.uuid4())}},
    ),
]

_POST_NOT_FOUND = {"error": "Post not found", "code": "post_not_found"}
_COMMENT_NOT_FOUND = {"error": "Comment not found", "code": "comment_not_found"}
_REAUTH = {
    "error": "Access token expired. Please re-authenticate.",
    "code": "instagram_reauth_required",
    "action": "redirect",
    "auth_url": f"{API_PREFIX}/oauth/authorize",
    "account_id": 1,
}
_BAD_MESSAGE = {"error": "message: must not be blank", "code": "validation_error"}
_KEY_REUSED = {
    "error": "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
    "code": "idempotency_key_reused",
}
_INSTAGRAM_REFUSED = {
    "error": "Instagram refused the request: (#100) Comments made by the owner of the media cannot be hidden",
    "code": "instagram_bad_request",
}


def _created(example: str) -> dict[int | str, Any]:
    return {201: {"description": example, "model": CommentCreated}}


@router.get(
    "/{db_id}/comments",
    summary="List a post's comments",
    response_model=CommentsPage,
    responses=error_responses(400, 401, 404, 409, 429, 502, examples={401: _REAUTH, 404: _POST_NOT_FOUND}),
)
async def list_comments(
    session: SessionDep,
    ctx: ContextDep,
    post: PublishedPost,
    after: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="Top-level comments per page")] = 25,
) -> CommentsPage:
    """Top-level comments newest first, each with its replies (oldest first) and whether it is hidden, read live
    from Instagram and stored. When Instagram fails (down, throttled) the stored comments of the first page are
    answered with `stale: true`; with nothing stored, the error is."""
    return await flows.post_comments(session, ctx, post, after=after, limit=limit)


@router.post(
    "/{db_id}/comments",
    summary="Comment on a post",
    status_code=201,
    response_model=CommentCreated,
    responses={
        **_created("The comment Instagram made"),
        **error_responses(
            400, 401, 404, 409, 429, 502, examples={400: _BAD_MESSAGE, 404: _POST_NOT_FOUND, 409: _KEY_REUSED}
        ),
    },
)
async def comment_on_post(
    session: SessionDep,
    ctx: ContextDep,
    user: CurrentUser,
    post: PublishedPost,
    body: CommentCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Comment on one of the caller's published posts as its account. Safe to retry with `Idempotency-Key`."""
    return await create_once(
        session,
        ctx.settings,
        user,
        idempotency_key,
        f"POST /{post.id}/comments",
        body,
        lambda since: flows.comment_on_post(session, ctx, post, body.message, look_since=since),
    )


@router.post(
    "/comments/{comment_id}/replies",
    summary="Reply to a comment",
    status_code=201,
    response_model=CommentCreated,
    responses={
        **_created("The reply Instagram made"),
        **error_responses(
            400, 401, 404, 409, 429, 502, examples={400: _BAD_MESSAGE, 404: _COMMENT_NOT_FOUND, 409: _KEY_REUSED}
        ),
    },
)
async def reply_to_comment(
    session: SessionDep,
    ctx: ContextDep,
    user: CurrentUser,
    owned: OwnedComment,
    body: CommentCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Reply as the account that owns the commented post. A reply to a reply answers its top-level comment, as
    Instagram files it; a hidden comment takes no reply (400). Safe to retry with `Idempotency-Key`."""
    return await create_once(
        session,
        ctx.settings,
        user,
        idempotency_key,
        f"POST /comments/{owned.comment.ig_comment_id}/replies",
        body,
        lambda since: flows.reply(session, ctx, owned, body.message, look_since=since),
    )


@router.post(
    "/comments/{comment_id}/hide",
    summary="Hide or show a comment",
    response_model=CommentOut,
    responses=error_responses(400, 401, 404, 429, 502, examples={400: _INSTAGRAM_REFUSED, 404: _COMMENT_NOT_FOUND}),
)
async def hide_comment(session: SessionDep, ctx: ContextDep, owned: OwnedComment, body: CommentHide) -> CommentOut:
    """Hide a comment from the public (its author still sees it), or show it again with `hidden: false`. Doing it
    twice changes nothing. Instagram does not hide the account's own comments (400)."""
    return await flows.hide(session, ctx, owned, body.hidden)


@router.delete(
    "/comments/{comment_id}",
    summary="Delete a comment",
    response_model=CommentDeleted,
    responses=error_responses(400, 401, 404, 429, 502, examples={404: _COMMENT_NOT_FOUND}),
)
async def delete_comment(session: SessionDep, ctx: ContextDep, owned: OwnedComment) -> CommentDeleted:
    """Delete a comment on one of the caller's posts, with its replies. A comment Instagram already lost counts as
    deleted; deleting it again answers 404."""
    await flows.delete(session, ctx, owned)
    return CommentDeleted(message="Comment deleted successfully", comment_id=owned.comment.ig_comment_id)
