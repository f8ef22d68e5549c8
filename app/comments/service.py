"""Every query of comments: the stored copies per connected account, found, upserted, hidden and deleted.

Functions take the caller's session and only flush; the boundary commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import instagram as ig
from app.accounts.models import Account, AccountStatus
from app.comments.models import Comment
from app.comments.schemas import CommentOut
from app.db import insert_for, utcnow


@dataclass(frozen=True)
class StoredComment:
    """A comment as this service keeps it, before it is stored (read from Instagram or just created)."""

    ig_comment_id: str
    media_id: str
    parent_id: str | None
    text: str | None
    username: str | None
    from_id: str | None
    commented_at: datetime | None
    hidden: bool


def from_instagram(comment: ig.InstagramComment, media_id: str, parent_id: str | None = None) -> StoredComment:
    """What is kept of a comment read from Instagram (its replies are kept on their own)."""
    return StoredComment(
        ig_comment_id=comment.id,
        media_id=comment.media.id if comment.media is not None else media_id,
        parent_id=comment.parent_id or parent_id,
        text=comment.text,
        username=comment.username or (comment.author.username if comment.author else None),
        from_id=comment.author.id if comment.author else None,
        commented_at=comment.timestamp,
        hidden=bool(comment.hidden),
    )


def flatten(comments: Iterable[ig.InstagramComment], media_id: str) -> list[StoredComment]:
    """Top-level comments and their replies, each as one row."""
    rows: list[StoredComment] = []
    for comment in comments:
        rows.append(from_instagram(comment, media_id))
        rows.extend(from_instagram(reply, media_id, parent_id=comment.id) for reply in comment.replies)
    return rows


async def upsert(session: AsyncSession, account_id: int, rows: Sequence[StoredComment]) -> None:
    """Insert the comments of this account, or refresh the stored copies (one statement; a webhook storing the
    same comment at the same moment cannot make it fail)."""
    if not rows:
        return
    now = utcnow()
    values = [
        {
            "account_id": account_id,
            "ig_comment_id": row.ig_comment_id,
            "media_id": row.media_id,
            "parent_id": row.parent_id,
            "text": row.text,
            "username": row.username,
            "from_id": row.from_id,
            "commented_at": row.commented_at,
            "hidden": row.hidden,
            "deleted_at": None,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    statement = insert_for(session.get_bind().dialect.name, Comment).values(values)
    # What Instagram said last wins; ids it did not send this time (a reply's parent, the author's id) are kept.
    kept = {
        name: func.coalesce(statement.excluded[name], Comment.__table__.c[name]) for name in ("parent_id", "from_id")
    }
    refreshed = {name: statement.excluded[name] for name in ("media_id", "text", "username", "commented_at", "hidden")}
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "ig_comment_id"],
        set_={**refreshed, **kept, "deleted_at": None, "updated_at": now},
    )
    await session.execute(statement)


async def find_owned(session: AsyncSession, user_id: str, ig_comment_id: str) -> tuple[Comment, Account] | None:
    """The stored comment with this Instagram id on media of one of the user's accounts (connected ones first)."""
    rows = await session.execute(
        select(Comment, Account)
        .join(Account, Comment.account_id == Account.id)
        .where(Account.user_id == user_id, Comment.ig_comment_id == ig_comment_id)
        .order_by((Account.status == AccountStatus.ACTIVE).desc(), Account.id)
    )
    found = rows.first()
    return (found[0], found[1]) if found is not None else None


async def stored_thread(session: AsyncSession, account_id: int, media_id: str, *, limit: int) -> list[CommentOut]:
    """The newest `limit` stored top-level comments on a media, each with its stored replies (deleted ones left out)."""
    top = await session.scalars(
        select(Comment)
        .where(
            Comment.account_id == account_id,
            Comment.media_id == media_id,
            Comment.parent_id.is_(None),
            Comment.deleted_at.is_(None),
        )
        .order_by(Comment.commented_at.desc(), Comment.ig_comment_id.desc())
        .limit(limit)
    )
    parents = list(top)
    if not parents:
        return []
    replies = await session.scalars(
        select(Comment)
        .where(
            Comment.account_id == account_id,
            Comment.parent_id.in_([p.ig_comment_id for p in parents]),
            Comment.deleted_at.is_(None),
        )
        .order_by(Comment.commented_at, Comment.ig_comment_id)
    )
    by_parent: dict[str, list[CommentOut]] = {}
    for reply in replies:
        by_parent.setdefault(reply.parent_id or "", []).append(to_out(reply))
    return [to_out(p, by_parent.get(p.ig_comment_id, [])) for p in parents]


async def set_hidden(session: AsyncSession, comment: Comment, hidden: bool) -> None:
    """The stored copy is hidden (or shown) like the comment on Instagram, in every account's copy."""
    await session.execute(
        update(Comment)
        .where(Comment.ig_comment_id == comment.ig_comment_id)
        .values(hidden=hidden, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    comment.hidden = hidden


async def mark_deleted(session: AsyncSession, ig_comment_id: str) -> None:
    """The comment and its replies are gone from Instagram: every stored copy says so (kept, never shown)."""
    now = utcnow()
    await session.execute(
        update(Comment)
        .where(
            (Comment.ig_comment_id == ig_comment_id) | (Comment.parent_id == ig_comment_id),
            Comment.deleted_at.is_(None),
        )
        .values(deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def to_out(comment: Comment, replies: list[CommentOut] | None = None) -> CommentOut:
    return CommentOut(
        comment_id=comment.ig_comment_id,
        media_id=comment.media_id,
        parent_id=comment.parent_id,
        text=comment.text,
        username=comment.username,
        timestamp=comment.commented_at,
        hidden=comment.hidden,
        replies=replies or [],
    )


def live_out(comment: ig.InstagramComment, media_id: str, parent_id: str | None = None) -> CommentOut:
    """A comment read from Instagram as the API answers it, with its replies."""
    return CommentOut(
        comment_id=comment.id,
        media_id=comment.media.id if comment.media is not None else media_id,
        parent_id=comment.parent_id or parent_id,
        text=comment.text,
        username=comment.username or (comment.author.username if comment.author else None),
        timestamp=comment.timestamp,
        hidden=bool(comment.hidden),
        like_count=comment.like_count,
        replies=[live_out(reply, media_id, comment.id) for reply in comment.replies],
    )
