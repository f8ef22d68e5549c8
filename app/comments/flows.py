"""Comments with Instagram: read a post's comments (stored as read, answered stale when Instagram fails),
comment, reply, hide, delete, and find whose comment an Instagram comment id is.

A comment id from a client is never trusted: it is the caller's only when it is stored for one of the caller's
accounts, or when Instagram, asked with one of the caller's tokens, shows it on media that account owns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import instagram as ig
from app.accounts import flows as accounts_flows
from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.comments import service
from app.comments.models import Comment
from app.comments.schemas import CommentCreated, CommentOut, CommentsPage
from app.context import AppContext
from app.db import utcnow
from app.errors import AppError, NotFound
from app.publishing.models import Post

logger = logging.getLogger(__name__)

# Instagram comment ids are digits; anything else cannot be one and is not sent to Instagram.
_COMMENT_ID = re.compile(r"[0-9A-Za-z_]{1,64}")
# Instagram slow, throttled or failing: stored comments stand in. A dead token needs the user: an error.
_STALE_OK = frozenset({429, 502})
# How far back a retried request looks for the comment its first attempt may have made, and how many pages.
CLOCK_SLACK = timedelta(minutes=1)
SEARCH_PAGES = 10
SEARCH_PAGE_SIZE = 50


def comment_not_found() -> NotFound:
    return NotFound("Comment not found", code="comment_not_found")


@dataclass
class OwnedComment:
    """A comment on media of one of the caller's accounts, as stored, and that account."""

    comment: Comment
    account: Account


# --- reading ---------------------------------------------------------------------------------------


async def post_comments(
    session: AsyncSession, ctx: AppContext, post: Post, *, after: str | None, limit: int
) -> CommentsPage:
    """One page of a published post's comments with their replies, read live and stored; the stored ones,
    marked stale, when Instagram fails on the first page."""
    assert post.media_id is not None
    account = await accounts_service.get(session, post.account_id)
    assert account is not None
    try:
        async with accounts_flows.instagram_token(session, ctx, account) as token:
            page = await ctx.instagram.list_comments(token, post.media_id, limit=limit, after=after, with_replies=True)
    except AppError as exc:
        if after is not None or exc.status_code not in _STALE_OK:
            raise
        stored = await service.stored_thread(session, account.id, post.media_id, limit=limit)
        if not stored:
            raise
        return CommentsPage(
            db_id=post.id,
            post_id=post.media_id,
            comments=stored,
            next_cursor=None,
            stale=True,
            stale_reason=exc.message,
        )
    await service.upsert(session, account.id, service.flatten(page.items, post.media_id))
    return CommentsPage(
        db_id=post.id,
        post_id=post.media_id,
        comments=[service.live_out(c, post.media_id) for c in page.items],
        next_cursor=page.after,
        stale=False,
    )


# --- whose comment ---------------------------------------------------------------------------------


async def owned_comment(session: AsyncSession, ctx: AppContext, user_id: str, comment_id: str) -> OwnedComment:
    """The caller's comment with this Instagram id, or a 404 (another user's comment is a missing one)."""
    if not _COMMENT_ID.fullmatch(comment_id):
        raise comment_not_found()
    found = await service.find_owned(session, user_id, comment_id)
    if found is not None:
        comment, account = found
        if comment.deleted_at is not None:
            raise comment_not_found()
        return OwnedComment(comment, account)
    return await _owned_on_instagram(session, ctx, user_id, comment_id)


async def _owned_on_instagram(session: AsyncSession, ctx: AppContext, user_id: str, comment_id: str) -> OwnedComment:
    """Ask Instagram with each of the caller's connected accounts; the first that shows the comment on its own
    media owns it. When none does and one failed (a dead token, Instagram down), that failure is the answer."""
    failure: AppError | None = None
    # An account that needs reconnecting cannot be asked: its 401 is the answer if no other account has the comment.
    for account in await accounts_service.list_active(session, user_id):
        try:
            live = await _comment_on_own_media(session, ctx, account, comment_id)
        except AppError as exc:
            failure = failure or exc
            continue
        if live is None:
            continue
        assert live.media is not None
        await service.upsert(session, account.id, [service.from_instagram(live, live.media.id)])
        await session.commit()
        found = await service.find_owned(session, user_id, comment_id)
        assert found is not None
        return OwnedComment(*found)
    if failure is not None:
        raise failure
    raise comment_not_found()


async def _comment_on_own_media(
    session: AsyncSession, ctx: AppContext, account: Account, comment_id: str
) -> ig.InstagramComment | None:
    async with accounts_flows.instagram_token(session, ctx, account) as token:
        try:
            live = await ctx.instagram.get_comment(token, comment_id)
        except ig.InstagramError as exc:
            if ig.object_missing(exc):
                return None
            raise
        if live.media is None:
            return None
        if await _is_post_of(session, account.id, live.media.id):
            return live
        try:
            owner = await ctx.instagram.get_media_owner(token, live.media.id)
        except ig.InstagramError as exc:
            if ig.object_missing(exc):
                return None
            raise
        return live if owner == account.ig_user_id else None


async def _is_post_of(session: AsyncSession, account_id: int, media_id: str) -> bool:
    found = await session.scalar(select(exists().where(Post.account_id == account_id, Post.media_id == media_id)))
    return bool(found)


# --- writing ---------------------------------------------------------------------------------------


async def comment_on_post(
    session: AsyncSession, ctx: AppContext, post: Post, message: str, *, look_since: datetime | None = None
) -> CommentCreated:
    """Comment on a published post as its account; with `look_since` (a retried request), first look for the
    comment an earlier attempt may have made since then, and make none if it is there."""
    media_id = post.media_id
    assert media_id is not None
    account = await accounts_service.get(session, post.account_id)
    assert account is not None
    async with accounts_flows.instagram_token(session, ctx, account) as token:
        made = None
        if look_since is not None:
            made = await _find_made(
                account,
                message,
                look_since,
                lambda after: ctx.instagram.list_comments(
                    token, post.media_id or "", limit=SEARCH_PAGE_SIZE, after=after
                ),
                newest_first=True,
            )
        comment_id = made or await ctx.instagram.create_comment(token, media_id, message)
    await service.upsert(session, account.id, [_written(account, comment_id, media_id, None, message)])
    return CommentCreated(
        message="Comment created successfully", comment_id=comment_id, parent_id=None, media_id=media_id
    )


async def reply(
    session: AsyncSession, ctx: AppContext, owned: OwnedComment, message: str, *, look_since: datetime | None = None
) -> CommentCreated:
    """Reply as the account; a reply to a reply answers its top-level comment, as Instagram files it."""
    comment, account = owned.comment, owned.account
    parent_id = comment.parent_id or comment.ig_comment_id
    async with accounts_flows.instagram_token(session, ctx, account) as token:
        try:
            made = None
            if look_since is not None:
                made = await _find_made(
                    account,
                    message,
                    look_since,
                    lambda after: ctx.instagram.list_replies(token, parent_id, limit=SEARCH_PAGE_SIZE, after=after),
                    newest_first=False,
                )
            reply_id = made or await ctx.instagram.reply_to_comment(token, comment.ig_comment_id, message)
        except ig.InstagramError as exc:
            if not ig.object_missing(exc):
                raise
            reply_id = None
    if reply_id is None:
        await _gone(session, comment)
        raise comment_not_found()
    await service.upsert(session, account.id, [_written(account, reply_id, comment.media_id, parent_id, message)])
    return CommentCreated(
        message="Reply created successfully", comment_id=reply_id, parent_id=parent_id, media_id=comment.media_id
    )


async def hide(session: AsyncSession, ctx: AppContext, owned: OwnedComment, hidden: bool) -> CommentOut:
    """Hide the comment from the public (or show it again), on Instagram and in the stored copy."""
    comment = owned.comment
    async with accounts_flows.instagram_token(session, ctx, owned.account) as token:
        try:
            await ctx.instagram.hide_comment(token, comment.ig_comment_id, hidden=hidden)
            gone = False
        except ig.InstagramError as exc:
            if not ig.object_missing(exc):
                raise
            gone = True
    if gone:
        await _gone(session, comment)
        raise comment_not_found()
    await service.set_hidden(session, comment, hidden)
    return service.to_out(comment)


async def delete(session: AsyncSession, ctx: AppContext, owned: OwnedComment) -> None:
    """Delete the comment (and its replies) on Instagram; one already gone there counts as deleted, since a
    retry after a lost answer meets exactly that."""
    comment = owned.comment
    async with accounts_flows.instagram_token(session, ctx, owned.account) as token:
        try:
            await ctx.instagram.delete_comment(token, comment.ig_comment_id)
        except ig.InstagramError as exc:
            if not ig.object_missing(exc):
                raise
            logger.info("comment already gone on instagram", extra={"account_id": owned.account.id})
    await service.mark_deleted(session, comment.ig_comment_id)


async def _gone(session: AsyncSession, comment: Comment) -> None:
    """Instagram says the comment no longer exists: the stored copy says so too, even though the request fails."""
    await service.mark_deleted(session, comment.ig_comment_id)
    await session.commit()


def _written(
    account: Account, comment_id: str, media_id: str, parent_id: str | None, text: str
) -> service.StoredComment:
    return service.StoredComment(
        ig_comment_id=comment_id,
        media_id=media_id,
        parent_id=parent_id,
        text=text,
        username=account.username,
        from_id=None,
        commented_at=utcnow(),
        hidden=False,
    )


async def _find_made(
    account: Account,
    message: str,
    since: datetime,
    read_page: Callable[[str | None], Awaitable[ig.CommentPage]],
    *,
    newest_first: bool,
) -> str | None:
    """The id of a comment by the account with this text made since `since`, if Instagram lists one."""
    horizon = since - CLOCK_SLACK
    after: str | None = None
    for _ in range(SEARCH_PAGES):
        page = await read_page(after)
        for item in page.items:
            recent = item.timestamp is None or item.timestamp >= horizon
            if recent and item.text == message and (item.username or "").lower() == account.username.lower():
                return item.id
        older = [item for item in page.items if item.timestamp is not None and item.timestamp < horizon]
        if page.after is None or (newest_first and older):
            return None
        after = page.after
    return None
