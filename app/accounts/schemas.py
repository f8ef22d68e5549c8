"""Request and response shapes of the accounts routes (the seed's §1, §6–9)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AuthorizeUrl(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "auth_url": "https://www.instagram.com/oauth/authorize?client_id=123456789&redirect_uri=http%3A%2F%2F"
                    "localhost%3A8000%2Fapi%2Fsns%2Finstagram%2Fcallback&response_type=code&scope=instagram_business_basic"
                    "%2Cinstagram_business_content_publish%2Cinstagram_business_manage_insights&state=eyJ1Ijoi...",
                    "expires_at": "2026-11-27T10:10:00Z",
                }
            ]
        }
    )

    auth_url: str = Field(description="Open it in the user's browser; Instagram redirects back to the callback.")
    expires_at: datetime = Field(description="The embedded state (and so this URL) is valid until then.")


class AccountOut(BaseModel):
    """A connected account, in the seed's shape (never a token)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "platform": "instagram",
                    "account_name": "john_doe",
                    "is_active": True,
                    "platform_user_id": "17841400000000001",
                    "profile_picture_url": "https://instagram.fxxx-1.fna.fbcdn.net/v/...",
                    "account_type": "business",
                    "followers_count": 15420,
                    "following_count": 850,
                    "token_expires_at": "2026-04-26T00:00:00Z",
                    "created_at": "2026-02-26T10:00:00Z",
                    "status": "active",
                    "name": "John Doe",
                    "webhooks": "subscribed",
                    "webhooks_error": None,
                }
            ]
        }
    )

    id: int
    platform: str
    account_name: str
    is_active: bool
    platform_user_id: str
    profile_picture_url: str | None
    account_type: str | None
    followers_count: int | None
    following_count: int | None
    token_expires_at: datetime | None
    created_at: datetime
    status: str = Field(description="active, needs_reauth (connect it again) or disconnected")
    name: str | None = None
    webhooks: Literal["subscribed", "failed"] | None = Field(
        default=None,
        description="The account's Instagram webhooks (comments and mentions): `subscribed`, `failed` (retried by "
        "the daily token job; `webhooks_error` says why) or null (not tried yet, or unsubscribed on disconnect).",
    )
    webhooks_error: str | None = Field(default=None, description="Why the last subscription attempt failed.")


class ConnectedAccount(BaseModel):
    message: str = "Instagram account connected successfully"
    account: AccountOut


class MessageOut(BaseModel):
    message: str


class AccountInfo(BaseModel):
    """Live profile of an account (seed §6)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "17841400000000001",
                    "username": "john_doe",
                    "name": "John Doe",
                    "bio": "Marketing expert 🚀\nEntrepreneur | Content Creator",
                    "followers_count": 15420,
                    "following_count": 850,
                    "profile_picture_url": "https://instagram.fxxx-1.fna.fbcdn.net/v/...",
                    "website": "https://johndoe.com",
                    "account_type": "business",
                    "media_count": 128,
                }
            ]
        }
    )

    id: str
    username: str
    name: str | None
    bio: str | None
    followers_count: int | None
    following_count: int | None
    profile_picture_url: str | None
    website: str | None
    account_type: str | None
    media_count: int | None = None


class MediaItem(BaseModel):
    id: str
    caption: str | None
    media_type: str | None = Field(description="IMAGE, VIDEO, CAROUSEL_ALBUM, or REELS for reels")
    media_url: str | None
    timestamp: datetime | None
    likes: int | None
    comments: int | None
    permalink: str | None = None
    thumbnail_url: str | None = None


class MediaPage(BaseModel):
    """Recent media (seed §7): pass `next_cursor` as `after` for the next page; null on the last page."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "posts": [
                        {
                            "id": "17892456789123456",
                            "caption": "Great day at the office!",
                            "media_type": "IMAGE",
                            "media_url": "https://instagram.fxxx-1.fna.fbcdn.net/v/...",
                            "timestamp": "2026-02-26T10:30:00Z",
                            "likes": 245,
                            "comments": 18,
                        }
                    ],
                    "next_cursor": "QASFZ5U5E6CZ2s...",
                }
            ]
        }
    )

    posts: list[MediaItem]
    next_cursor: str | None
