"""What Meta's two callbacks do to an Instagram user's data: disconnect it (deauthorize), or erase it (data deletion).

Both act on every account row with that Instagram user id (two web-app users may have connected the same
Instagram account) in the caller's transaction, through the one disconnect path (app/accounts/disconnect.py), and
neither calls Instagram: the user already removed the app, or asked Meta to forget them.

The data deletion runs inline, in the request's transaction: set-based statements over one user's rows (no
per-row loop over posts, comments, snapshots or media), plus one pass over the events and stored webhook
deliveries that name the user, so Meta gets an answer that is already true. What is kept is what the web app needs for
its history: the account row (its ids, status and timestamps, the profile replaced by a placeholder) and each
post's ids, kind, state and timestamps. Everything else the service holds about the user goes: the token, the
profile, captions and what the client sent to publish, permalinks, error texts (they may quote content),
comments, mentions, insights and their history, and the prepared media and uploads of their posts (upload files
are removed by the uploads job, which this request wakes at once); recorded events are redacted, stored
webhook deliveries lose the user's entries, and the answers kept for Idempotency-Key replays lose the permalinks,
error texts and usernames their posts no longer hold.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, LargeBinary, Select, case, delete, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from app.accounts import disconnect
from app.accounts.models import Account
from app.comments.models import Comment, Mention
from app.db import utcnow
from app.events.models import Event
from app.inbound.models import DataDeletionRequest, DataDeletionStatus, InboundDelivery
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.publishing import answers
from app.publishing.models import ACTIVE_STATUSES, FirstCommentStatus, IdempotencyKey, MediaAsset, Post, PostAsset
from app.uploads.models import PostUpload, Upload

# Meta's `issued_at` is in whole seconds, on Meta's clock: a connection counts as newer than a deauthorize request
# only when it is later by more than this (a minute of clock skew), so the request never misses the very
# authorization it is about.
RECONNECTED_MARGIN = timedelta(seconds=60)
# What an erased account's `username` becomes (the column is required; the account row stays for history).
ERASED_USERNAME = "deleted"


def new_confirmation_code() -> str:
    """24 random bytes, URL-safe: the code is the only key to the status page, so it cannot be guessed."""
    return secrets.token_urlsafe(24)


@dataclass
class Erasure:
    """What one data deletion changed (counts, for the log line; nothing about the user)."""

    accounts: int = 0
    disconnected: int = 0
    posts: int = 0
    comments: int = 0
    mentions: int = 0
    analytics: int = 0
    snapshots: int = 0
    media_assets: int = 0
    uploads: int = 0
    events: int = 0
    deliveries: int = 0
    stored_answers: int = 0
    upload_ids: list[str] = field(default_factory=list)


def _accounts_of(ig_user_id: str) -> Select[Account]:
    # FOR UPDATE: a connection, a disconnection or another callback for the same user waits for this one.
    return select(Account).where(Account.ig_user_id == ig_user_id).order_by(Account.id).with_for_update()


# --- deauthorize -----------------------------------------------------------------------------------


async def deauthorize(session: AsyncSession, ig_user_id: str, issued_at: datetime) -> list[Account]:
    """Disconnect every connected account of this Instagram user (all web-app users); the ones disconnected.

    An account connected again after Meta issued the request (its token is newer by more than the clock margin)
    is left alone: the request is about the authorization the user removed, not the one they gave since (a late
    or replayed callback).
    """
    accounts = (await session.scalars(_accounts_of(ig_user_id))).all()
    changed = []
    for account in accounts:
        if not account.is_active:
            continue
        if account.token_issued_at is not None and account.token_issued_at > issued_at + RECONNECTED_MARGIN:
            continue
        await disconnect.disconnect_account(session, account, cause="app_removed")
        changed.append(account)
    return changed


# --- data deletion ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionOutcome:
    """The request to answer with, and what it erased (None: an earlier request had already covered it)."""

    request: DataDeletionRequest
    erasure: Erasure | None


async def request_deletion(session: AsyncSession, ig_user_id: str, issued_at: datetime) -> DeletionOutcome:
    """Record a data-deletion request and carry it out now; a request already answered is answered again.

    Meta may send the same signed request more than once: a request for this user recorded at or after this
    one's `issued_at` already covered it, so its code is answered and nothing more is erased.
    """
    answered = await session.scalar(
        select(DataDeletionRequest)
        .where(DataDeletionRequest.ig_user_id == ig_user_id, DataDeletionRequest.requested_at >= issued_at)
        .order_by(DataDeletionRequest.requested_at.desc())
        .limit(1)
    )
    if answered is not None:
        return DeletionOutcome(answered, None)
    request = DataDeletionRequest(
        code=new_confirmation_code(),
        ig_user_id=ig_user_id,
        status=DataDeletionStatus.PENDING,
        requested_at=utcnow(),
    )
    session.add(request)
    await session.flush()
    erasure = await erase_instagram_user(session, ig_user_id)
    request.status = DataDeletionStatus.COMPLETED
    request.completed_at = utcnow()
    await session.flush()
    return DeletionOutcome(request, erasure)


async def get_request(session: AsyncSession, code: str) -> DataDeletionRequest | None:
    """The data-deletion request with this confirmation code, or None."""
    return await session.scalar(select(DataDeletionRequest).where(DataDeletionRequest.code == code))


def _erase_profile(account: Account) -> None:
    account.username = ERASED_USERNAME
    account.name = None
    account.profile_picture_url = None
    account.biography = None
    account.website = None
    account.followers_count = None
    account.following_count = None
    account.media_count = None
    account.webhook_subscription_error = None


async def erase_instagram_user(session: AsyncSession, ig_user_id: str) -> Erasure:
    """Erase what the service holds about this Instagram user, keeping the rows the web app's history needs."""
    erasure = Erasure()
    accounts = list((await session.scalars(_accounts_of(ig_user_id))).all())
    erasure.accounts = len(accounts)
    if not accounts:
        return erasure
    for account in accounts:
        # First, so that the account.disconnected event below carries the placeholder, not the username.
        _erase_profile(account)
        if account.is_active:
            await disconnect.disconnect_account(session, account, cause="data_deletion")
            erasure.disconnected += 1
        else:
            account.access_token_encrypted = None
            account.token_expires_at = None
            session.add(account)
    await session.flush()
    account_ids = [account.id for account in accounts]
    post_ids = select(Post.id).where(Post.account_id.in_(account_ids)).scalar_subquery()
    erasure.comments = await _delete_count(session, delete(Comment).where(Comment.account_id.in_(account_ids)))
    erasure.mentions = await _delete_count(session, delete(Mention).where(Mention.account_id.in_(account_ids)))
    erasure.analytics = await _delete_count(session, delete(PostAnalytics).where(PostAnalytics.post_id.in_(post_ids)))
    erasure.snapshots = await _delete_count(
        session, delete(AnalyticsSnapshot).where(AnalyticsSnapshot.post_id.in_(post_ids))
    )
    erasure.media_assets = await _erase_media_assets(session, account_ids)
    erasure.upload_ids = await _erase_uploads(session, account_ids)
    erasure.uploads = len(erasure.upload_ids)
    erasure.posts = await _erase_posts(session, account_ids)
    erasure.events = await _erase_from_events(session, accounts)
    erasure.deliveries = await _erase_from_deliveries(session, ig_user_id)
    erasure.stored_answers = await _erase_from_stored_answers(session, account_ids)
    return erasure


async def _delete_count(session: AsyncSession, statement: Delete) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class _SharedFiles:
    """What the user's posts link to (`theirs`) and whether another account's unfinished post still needs it."""

    erased_posts: Select[Any]
    theirs: Select[Any]
    needed: ColumnElement[bool]


def _shared_files(
    account_ids: Sequence[int],
    link: type[PostAsset] | type[PostUpload],
    key: str,
    target_id: InstrumentedAttribute[str],
) -> _SharedFiles:
    """Prepared images and uploads are linked to posts the same way (a post_id, `key` the file's id): the files
    linked to the user's posts, and the condition that keeps a file another account's unfinished post (a batch)
    still needs."""
    erased_posts = select(Post.id).where(Post.account_id.in_(account_ids))
    theirs = select(getattr(link, key)).where(link.post_id.in_(erased_posts))
    other_link = link.__table__.alias("other_link")
    needed = exists(
        select(Post.id)
        .join(other_link, other_link.c.post_id == Post.id)
        .where(
            other_link.c[key] == target_id,
            Post.account_id.not_in(account_ids),
            Post.status.in_(ACTIVE_STATUSES),
        )
    )
    return _SharedFiles(erased_posts, theirs, needed)


async def _erase_media_assets(session: AsyncSession, account_ids: Sequence[int]) -> int:
    """Prepared images of the user's posts go, unless another account's unfinished post (a batch) needs one."""
    files = _shared_files(account_ids, PostAsset, "asset_id", MediaAsset.id)
    removed = await _delete_count(session, delete(MediaAsset).where(MediaAsset.id.in_(files.theirs), ~files.needed))
    # The links of the user's posts to what stays (shared with another account) go too.
    await _delete_count(session, delete(PostAsset).where(PostAsset.post_id.in_(files.erased_posts)))
    return removed


async def _erase_uploads(session: AsyncSession, account_ids: Sequence[int]) -> list[str]:
    """Uploads used by the user's posts are due for removal now (rows, then files: the uploads job's rule),
    unless another account's unfinished post needs one; their file names are forgotten at once."""
    files = _shared_files(account_ids, PostUpload, "upload_id", Upload.id)
    theirs, needed, erased_posts = files.theirs, files.needed, files.erased_posts
    upload_ids = list((await session.scalars(select(Upload.id).where(Upload.id.in_(theirs), ~needed))).all())
    await _delete_count(session, delete(PostUpload).where(PostUpload.post_id.in_(erased_posts)))
    if upload_ids:
        await session.execute(
            update(Upload)
            .where(Upload.id.in_(upload_ids))
            .values(expires_at=utcnow(), keep=False, filename=None)
            .execution_options(synchronize_session=False)
        )
    return upload_ids


async def _erase_posts(session: AsyncSession, account_ids: Sequence[int]) -> int:
    """Posts keep their ids, kind, state and timestamps; what they said and showed goes."""
    result = await session.execute(
        update(Post)
        .where(Post.account_id.in_(account_ids))
        .values(
            caption=None,
            request={},
            media=[],
            permalink=None,
            error=None,
            first_comment_error=None,
            # A first comment still waiting could never be posted now (no token), and its text is gone.
            first_comment_status=case(
                (Post.first_comment_status == FirstCommentStatus.PENDING, FirstCommentStatus.FAILED),
                else_=Post.first_comment_status,
            ),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# What an event about an erased account may say about the user or their content, and what it becomes.
_EVENT_REDACTIONS: dict[str, object] = {
    "username": ERASED_USERNAME,
    "account": ERASED_USERNAME,
    "permalink": None,
    "caption": None,
    "text": None,
    "message": "",
}


async def _erase_from_events(session: AsyncSession, accounts: Sequence[Account]) -> int:
    """Events already recorded about the accounts (the feed keeps them EVENTS_RETENTION_DAYS, deliveries not
    yet sent would carry them) name the user and quote their content: those fields are redacted."""
    rows = (
        await session.execute(
            select(Event.id, Event.data).where(
                # user_id first: the index narrows the scan to the web-app users who connected the accounts.
                Event.user_id.in_({account.user_id for account in accounts}),
                Event.data["account_id"].as_integer().in_([account.id for account in accounts]),
            )
        )
    ).all()
    changes = []
    for event_id, data in rows:
        redacted = {key: value for key, value in _EVENT_REDACTIONS.items() if key in data and data[key] != value}
        if redacted:
            changes.append({"id": event_id, "data": {**data, **redacted}})
    if changes:
        # One statement executed for many rows (by primary key), not an ORM object per event.
        await session.execute(update(Event), changes)
    return len(changes)


def _without_user(body: bytes, ig_user_id: str) -> bytes:
    """A webhook delivery's body without the entries about this user (the envelope and others' entries stay)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return b""
    entries = payload.get("entry") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        return b""
    payload["entry"] = [e for e in entries if not (isinstance(e, dict) and str(e.get("id")) == ig_user_id)]
    return json.dumps(payload, separators=(",", ":")).encode()


async def _erase_from_deliveries(session: AsyncSession, ig_user_id: str) -> int:
    """Instagram's webhook deliveries are stored as received: the entries about this user are cut out of them.

    The body hash stays, so a replay of the original delivery is still recognised and stores nothing new; a
    delivery not processed yet is processed without those entries.
    """
    # The user id appears quoted in their entries (`"id": "1784…"`); only the bodies holding it are read.
    needle = f'"{ig_user_id}"'.encode()
    holds_it: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        holds_it = InboundDelivery.body.op("LIKE")(literal(b"%" + needle + b"%", LargeBinary))
    else:  # SQLite's LIKE does not look inside BLOBs; instr does
        holds_it = func.instr(InboundDelivery.body, literal(needle, LargeBinary)) > 0
    deliveries = (await session.scalars(select(InboundDelivery).where(holds_it))).all()
    changed = 0
    for delivery in deliveries:
        body = _without_user(delivery.body, ig_user_id)
        if body != delivery.body:
            delivery.body = body
            changed += 1
    await session.flush()
    return changed


async def _erase_from_stored_answers(session: AsyncSession, account_ids: Sequence[int]) -> int:
    """The answers kept for Idempotency-Key replays (IDEMPOTENCY_TTL_SECONDS) of requests that made the user's
    posts quote what the posts no longer hold: a replay answers the same status and ids without it."""
    keys = (
        await session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.id.in_(select(Post.idempotency_key_id).where(Post.account_id.in_(account_ids))),
                IdempotencyKey.response_status.is_not(None),
            )
        )
    ).all()
    erased_accounts = set(account_ids)
    changed = 0
    for key in keys:
        assert key.response_status is not None
        body = answers.without_user_content(
            key.response_status, key.response_body, erased_accounts, username=ERASED_USERNAME
        )
        if body != key.response_body:
            key.response_body = body
            changed += 1
    await session.flush()
    return changed
