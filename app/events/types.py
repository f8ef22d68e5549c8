"""The event catalogue: every event type and the shape of its `data`.

Adding an event type is one payload class here and one line in `EVENT_TYPES`; the outbox, the deliveries,
the events feed and the OpenAPI `webhooks` section all read that table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """The `data` of an event. Never a token or a secret."""

    model_config = ConfigDict(frozen=True)

    def ordering_key(self) -> str | None:
        """Events with the same key reach each endpoint in the order they happened (None: no order needed)."""
        return None


class _PostEvent(EventData):
    db_id: int = Field(description="The post's id in this service (`GET /posts/{db_id}`).")
    account_id: int = Field(description="The connected account's id.")
    account: str = Field(description="The account's Instagram username.")
    kind: Literal["feed", "story", "reel", "carousel"]
    batch_id: str | None = Field(default=None, description="Set when the post came from `POST /batch-post`.")

    def ordering_key(self) -> str:
        return f"post:{self.db_id}"


class PostPublished(_PostEvent):
    """A post is on Instagram."""

    media_id: str | None = Field(description="Instagram's media id (null only if Instagram never told it).")
    permalink: str | None = Field(description="The post's Instagram URL, when Instagram gave it.")
    published_at: datetime


class PostFailed(_PostEvent):
    """A post failed in a way the user sees (once per failure, not per internal retry)."""

    code: str = Field(description="A stable code, e.g. `media_rejected`, `instagram_reauth_required`.")
    message: str
    retryable: bool = Field(description="`POST /posts/{db_id}/retry` may succeed (after fixing the cause).")


class PostCancelled(_PostEvent):
    """A post will not be published: cancelled by the user, or its account was disconnected."""

    reason: str


class _AccountEvent(EventData):
    account_id: int
    username: str
    platform_user_id: str = Field(description="The Instagram user id.")

    def ordering_key(self) -> str:
        return f"account:{self.account_id}"


class AccountConnected(_AccountEvent):
    """An account was connected through OAuth (or connected again)."""

    reconnected: bool = Field(description="The account had been connected by this user before.")


class AccountNeedsReauth(_AccountEvent):
    """Instagram no longer accepts the account's token: send the user through `auth_url` again."""

    auth_url: str
    cause: Literal["token_refresh", "api_call"] = Field(
        description="`token_refresh`: the daily refresh found it dead; `api_call`: a call to Instagram was refused."
    )
    reason: str


class AccountDisconnected(_AccountEvent):
    """The account was disconnected: token destroyed, unpublished posts cancelled, history kept."""

    cancelled_posts: int
    cause: Literal["user", "app_removed", "data_deletion"] = Field(
        default="user",
        description="`user`: disconnected through this API; `app_removed`: the user removed the app in Instagram "
        "(Meta's deauthorize callback); `data_deletion`: the user asked Meta to delete their data (the account's "
        "profile, `username` included, is erased too).",
    )


class InsightsRefreshed(EventData):
    """One background insights refresh run finished for an account (one event per account, not per post)."""

    account_id: int
    username: str
    post_count: int = Field(description="Posts whose figures were refreshed.")
    failed_count: int = Field(description="Posts that could not be refreshed this time.")
    refreshed_at: datetime


class _HeardEvent(EventData):
    account_id: int = Field(description="The connected account the comment or mention is for.")
    username: str = Field(description="The account's Instagram username.")
    platform_user_id: str = Field(description="The account's Instagram user id.")
    media_id: str = Field(description="The Instagram media the comment is on.")
    text: str | None = Field(description="What the person wrote.")
    from_username: str | None = Field(description="Who wrote it (their Instagram username).")
    from_id: str | None = Field(description="Their Instagram-scoped id.")


class CommentCreated(_HeardEvent):
    """Instagram told us (by webhook) that someone commented on, or replied under, one of the account's media."""

    comment_id: str = Field(description="Instagram's comment id.")
    parent_id: str | None = Field(description="The top-level comment when this is a reply.")
    hidden: bool = False
    commented_at: datetime | None = Field(description="When Instagram says it was written (the delivery's time).")


class MentionCreated(_HeardEvent):
    """Someone @mentioned the account: in a comment (`comment_id`), or in a caption (`comment_id` null)."""

    comment_id: str | None = Field(description="The comment that mentions the account; null for a caption.")
    mentioned_at: datetime | None


class WebhookTest(EventData):
    """Sent by `POST /webhooks/{id}/test` to that endpoint only (never in the events feed)."""

    endpoint_id: int
    message: str = "This is a test event from the Instagram integration service."


WEBHOOK_TEST = "webhook.test"

EVENT_TYPES: dict[str, type[EventData]] = {
    "post.published": PostPublished,
    "post.failed": PostFailed,
    "post.cancelled": PostCancelled,
    "account.connected": AccountConnected,
    "account.needs_reauth": AccountNeedsReauth,
    "account.disconnected": AccountDisconnected,
    "insights.refreshed": InsightsRefreshed,
    "comment.created": CommentCreated,
    "mention.created": MentionCreated,
    WEBHOOK_TEST: WebhookTest,
}

# What an endpoint may subscribe to (a test event goes to the endpoint it tests, whatever it subscribed to).
SUBSCRIBABLE = tuple(name for name in EVENT_TYPES if name != WEBHOOK_TEST)
