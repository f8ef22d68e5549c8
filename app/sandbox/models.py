"""The sandbox's records: users, media, containers, codes, and the published log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MediaType = Literal["IMAGE", "VIDEO", "CAROUSEL_ALBUM"]
ProductType = Literal["FEED", "REELS", "STORY"]
# What a container will publish as; carousel items are never published on their own.
ContainerKind = Literal[
    "IMAGE", "STORY_IMAGE", "STORY_VIDEO", "REELS", "CAROUSEL_IMAGE_ITEM", "CAROUSEL_VIDEO_ITEM", "CAROUSEL"
]
VIDEO_KINDS: frozenset[ContainerKind] = frozenset({"STORY_VIDEO", "REELS", "CAROUSEL_VIDEO_ITEM"})
ITEM_KINDS: frozenset[ContainerKind] = frozenset({"CAROUSEL_IMAGE_ITEM", "CAROUSEL_VIDEO_ITEM"})
StatusCode = Literal["IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"]


@dataclass(slots=True)
class User:
    """An Instagram professional (business) account, derived from its username."""

    ig_id: str
    app_scoped_id: str
    username: str
    name: str
    biography: str
    website: str
    followers_count: int
    follows_count: int
    created_at: datetime


@dataclass(slots=True)
class Media:
    """A published media object (or a carousel child)."""

    id: str
    owner_id: str
    username: str
    media_type: MediaType
    product_type: ProductType
    timestamp: datetime
    shortcode: str
    caption: str | None = None
    alt_text: str | None = None
    width: int = 1080
    height: int = 1080
    duration_seconds: float | None = None
    is_shared_to_feed: bool | None = None
    children: list[str] = field(default_factory=list)
    parent_id: str | None = None
    container_id: str | None = None


@dataclass(slots=True)
class Container:
    """A media container (`POST /{ig-user-id}/media`) on its way to being published."""

    id: str
    owner_id: str
    kind: ContainerKind
    created_at: datetime
    ready_at: datetime
    caption: str | None = None
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    share_to_feed: bool = True
    failure_subcode: int | None = None
    children: list[str] = field(default_factory=list)
    published_media_id: str | None = None
    published_at: datetime | None = None
    # The parameters the container was created with, as received (the token left out).
    params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Comment:
    """A comment on a media object, or a reply (`parent_id`). A mention is a comment on a fan's media
    (not in the sandbox) that @mentions an account (`mentions`)."""

    id: str
    media_id: str
    media_product_type: str
    text: str
    username: str
    from_id: str
    timestamp: datetime
    # The owner of the media (None for a fan's media) and the account mentioned, if any.
    media_owner_id: str | None
    mentions: str | None = None
    hidden: bool = False
    parent_id: str | None = None
    like_count: int = 0
    replies: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuthCode:
    """An authorization code: single use, 1 hour, bound to the client, redirect URI, scopes and user."""

    code: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    username: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PublishedEntry:
    """One successful `media_publish`, for `GET /control/published`."""

    media_id: str
    ig_user_id: str
    username: str
    container_id: str
    media_type: MediaType
    media_product_type: ProductType
    caption: str | None
    timestamp: str
    # What Instagram received: the container's parameters, and each carousel item's in order.
    params: dict[str, str] = field(default_factory=dict)
    children: list[dict[str, str]] = field(default_factory=list)
