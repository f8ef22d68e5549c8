"""Every query of uploads, and the rules of their life: owned by one user, extended while a post needs them,
released when it is published (unless kept), removed when expired.

Functions take the caller's session and only flush; files in storage are removed by `tasks.expire_uploads`
after the rows are gone, so a rolled-back transaction never loses a file a row still names.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, Update, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.publishing.models import ACTIVE_STATUSES, Post
from app.uploads.checks import Checked
from app.uploads.models import PostUpload, Upload

UPLOAD_ID = re.compile(r"upl_[A-Za-z0-9_-]{32}")


def new_upload_id() -> str:
    """24 random bytes: the id names the file in storage and never repeats."""
    return "upl_" + secrets.token_urlsafe(24)


def is_upload_id(value: str) -> bool:
    return UPLOAD_ID.fullmatch(value) is not None


def new_upload(
    upload_id: str, user_id: str, checked: Checked, *, size: int, filename: str | None, keep: bool, ttl: float
) -> Upload:
    now = utcnow()
    return Upload(
        id=upload_id,
        user_id=user_id,
        kind=checked.kind,
        content_type=checked.content_type,
        filename=filename,
        size=size,
        width=checked.width,
        height=checked.height,
        duration_seconds=checked.duration_seconds,
        probe=checked.probe.as_json() if checked.probe else None,
        storage_key=f"{upload_id}.{checked.extension}",
        keep=keep,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )


async def get_owned(session: AsyncSession, user_id: str, upload_id: str) -> Upload | None:
    """The user's upload, unless expired (another user's is None too)."""
    return await session.scalar(
        select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id, Upload.expires_at > utcnow())
    )


async def owned_many(session: AsyncSession, user_id: str, upload_ids: Sequence[str]) -> dict[str, Upload]:
    if not upload_ids:
        return {}
    rows = await session.scalars(
        select(Upload).where(Upload.id.in_(upload_ids), Upload.user_id == user_id, Upload.expires_at > utcnow())
    )
    return {row.id: row for row in rows.all()}


async def in_use_by(session: AsyncSession, upload_id: str) -> list[int]:
    """The unfinished posts that use the upload."""
    rows = await session.scalars(
        select(PostUpload.post_id)
        .join(Post, Post.id == PostUpload.post_id)
        .where(PostUpload.upload_id == upload_id, Post.status.in_(ACTIVE_STATUSES))
    )
    return list(rows.all())


def link(session: AsyncSession, post_id: int, upload_ids: Sequence[str]) -> None:
    for upload_id in dict.fromkeys(upload_ids):
        session.add(PostUpload(post_id=post_id, upload_id=upload_id))


async def keep_until(session: AsyncSession, upload_ids: Sequence[str], until: datetime) -> None:
    """A post needs these uploads until `until` (its time, and a margin for retries): they live at least that long."""
    if upload_ids:
        await session.execute(
            update(Upload)
            .where(Upload.id.in_(upload_ids), Upload.expires_at < until)
            .values(expires_at=until)
            .execution_options(synchronize_session=False)
        )


def _expire_uploads_of_published() -> Update:
    """The uploads of the post `published_post_id` that are not kept and that no other unfinished post needs,
    expiring at `expire_at`. Built once: every publication runs it."""
    published_post: BindParameter[int] = bindparam("published_post_id")
    other_users = (
        select(PostUpload.post_id)
        .join(Post, Post.id == PostUpload.post_id)
        .where(
            PostUpload.upload_id == Upload.id,
            PostUpload.post_id != published_post,
            Post.status.in_(ACTIVE_STATUSES),
        )
    )
    mine = select(PostUpload.upload_id).where(PostUpload.post_id == published_post)
    return (
        update(Upload)
        .where(Upload.id.in_(mine), Upload.keep.is_(False), ~exists(other_users))
        .values(expires_at=bindparam("expire_at"))
        .execution_options(synchronize_session=False)
    )


_EXPIRE_UPLOADS_OF_PUBLISHED = _expire_uploads_of_published()


async def published(session: AsyncSession, post_id: int) -> None:
    """The post is published: its uploads not kept and needed by no other unfinished post expire now."""
    await session.execute(_EXPIRE_UPLOADS_OF_PUBLISHED, {"published_post_id": post_id, "expire_at": utcnow()})


async def expired(session: AsyncSession, now: datetime, limit: int) -> list[Upload]:
    """Uploads past their time that no unfinished post needs, oldest first."""
    needed = (
        select(PostUpload.post_id)
        .join(Post, Post.id == PostUpload.post_id)
        .where(PostUpload.upload_id == Upload.id, Post.status.in_(ACTIVE_STATUSES))
    )
    rows = await session.scalars(
        select(Upload).where(Upload.expires_at <= now, ~exists(needed)).order_by(Upload.expires_at).limit(limit)
    )
    return list(rows.all())


async def remove(session: AsyncSession, upload_ids: Sequence[str]) -> None:
    """Delete the rows (their links go with them); the caller removes the files once this is committed."""
    if upload_ids:
        await session.execute(
            delete(Upload).where(Upload.id.in_(upload_ids)).execution_options(synchronize_session=False)
        )
