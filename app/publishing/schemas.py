"""Request and response shapes of the publishing routes (the seed's §2–4 and example 2)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.ids import DbId
from app.text_input import refuse_nul_characters

MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")


def _http_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/?#]+", value, re.IGNORECASE):
        raise ValueError("must be an absolute http or https URL")
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port out of range raises here
    except ValueError as exc:
        raise ValueError("must be an absolute http or https URL") from exc
    if not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return value


def _hashtag(value: str) -> str:
    tag = value.strip().lstrip("#")
    if not tag or not re.fullmatch(r"\w+", tag):
        raise ValueError("hashtags must be words without spaces or punctuation (the # is optional)")
    return tag


MediaUrl = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
Hashtag = Annotated[str, Field(max_length=100), AfterValidator(_hashtag)]


def compose_caption(caption: str | None, hashtags: list[str]) -> str | None:
    """The caption Instagram receives: the text, then the hashtags on their own paragraph."""
    tags = " ".join(f"#{tag}" for tag in dict.fromkeys(hashtags))
    parts = [p for p in ((caption or "").strip(), tags) if p]
    return "\n\n".join(parts) or None


def check_caption(caption: str | None) -> None:
    """Instagram's caption limits, checked before anything is created."""
    if caption is None:
        return
    if len(caption) > MAX_CAPTION:
        raise ValueError(f"caption with hashtags is {len(caption)} characters; Instagram allows {MAX_CAPTION}")
    hashtags = len(_HASHTAG.findall(caption))
    if hashtags > MAX_HASHTAGS:
        raise ValueError(f"caption has {hashtags} hashtags; Instagram allows {MAX_HASHTAGS}")
    mentions = len(_MENTION.findall(caption))
    if mentions > MAX_MENTIONS:
        raise ValueError(f"caption has {mentions} @mentions; Instagram allows {MAX_MENTIONS}")


class _Publication(BaseModel):
    # PostgreSQL text cannot hold NUL: refused as bad input, naming the field (app/text_input.py).
    _no_nul = model_validator(mode="before")(refuse_nul_characters)

    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description="Publish later: ISO 8601 with an offset, in the future (e.g. 2026-12-01T09:00:00+09:00). "
        "Answers 202 with the scheduled post.",
    )


class _Captioned(_Publication):
    caption: str | None = Field(default=None, max_length=MAX_CAPTION)
    hashtags: list[Hashtag] = Field(
        default_factory=list,
        max_length=MAX_HASHTAGS,
        description="Words without '#'; appended to the caption.",
    )

    @model_validator(mode="after")
    def _caption_limits(self) -> _Captioned:
        check_caption(compose_caption(self.caption, self.hashtags))
        return self

    def full_caption(self) -> str | None:
        return compose_caption(self.caption, self.hashtags)


class PostCreate(_Captioned):
    """A feed post with one image (seed §2).

    Missing fields are reported in schema order, which pydantic follows: base-class fields come first,
    so a missing account_id and image_url read "account_id and image_url are required" only if no
    required field is declared on a base class (none is).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": 1,
                    "image_url": "https://example.com/product.jpg",
                    "caption": "Check out this amazing product! 🚀",
                    "hashtags": ["marketing", "instagood", "socialmedia"],
                }
            ]
        }
    )

    account_id: DbId
    image_url: MediaUrl
    alt_text: str | None = Field(default=None, max_length=1000, description="Accessibility text for the image.")


class StoryCreate(_Publication):
    """A story: one image (optionally with text drawn onto it) or one video (seed §3)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": 1,
                    "image_url": "https://example.com/story.jpg",
                    "text": "Back in 5 minutes!",
                }
            ]
        }
    )

    account_id: DbId
    image_url: MediaUrl | None = None
    video_url: MediaUrl | None = Field(default=None, description="Instead of image_url: a 3–60 s MP4/MOV.")
    text: str | None = Field(
        default=None,
        max_length=300,
        description="Drawn onto the image (Instagram's API has no text stickers).",
    )

    @model_validator(mode="after")
    def _one_medium(self) -> StoryCreate:
        if not self.image_url and not self.video_url:
            raise ValueError("image_url or video_url is required")
        if self.image_url and self.video_url:
            raise ValueError("give either image_url or video_url, not both")
        if self.text and self.video_url:
            raise ValueError("text can only be drawn onto an image story")
        return self


class ReelCreate(_Captioned):
    """A reel (seed §4); `thumbnail_url` becomes the cover."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": 1,
                    "video_url": "https://example.com/tutorial.mp4",
                    "caption": "Quick tutorial! Check it out 👇 #tutorial #reels",
                    "thumbnail_url": "https://example.com/thumbnail.jpg",
                }
            ]
        }
    )

    account_id: DbId
    video_url: MediaUrl
    thumbnail_url: MediaUrl | None = Field(default=None, description="Cover image (JPEG or PNG).")
    share_to_feed: bool = Field(default=True, description="Also show the reel in the profile's feed grid.")


class CarouselItem(BaseModel):
    image_url: MediaUrl | None = None
    video_url: MediaUrl | None = None
    alt_text: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_medium(self) -> CarouselItem:
        if bool(self.image_url) == bool(self.video_url):
            raise ValueError("each item needs exactly one of image_url or video_url")
        if self.alt_text and self.video_url:
            raise ValueError("alt_text applies to image items only")
        return self


class CarouselCreate(_Captioned):
    """A carousel of 2–10 images and videos with one caption."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": 1,
                    "caption": "Three looks for autumn",
                    "hashtags": ["fashion"],
                    "items": [
                        {"image_url": "https://example.com/look1.jpg", "alt_text": "A red coat"},
                        {"image_url": "https://example.com/look2.jpg"},
                        {"video_url": "https://example.com/look3.mp4"},
                    ],
                }
            ]
        }
    )

    account_id: DbId
    items: list[CarouselItem] = Field(min_length=2, max_length=10)


class BatchPostCreate(_Captioned):
    """The same feed post to several accounts (example 2)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "image_url": "https://example.com/launch.jpg",
                    "caption": "We launched!",
                    "hashtags": ["launch"],
                }
            ]
        }
    )

    image_url: MediaUrl
    alt_text: str | None = Field(default=None, max_length=1000)
    account_ids: list[DbId] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A subset of your accounts; all your active accounts when absent.",
    )


# --- answers ---------------------------------------------------------------------------------------


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


class PostCancelled(BaseModel):
    message: str = "Post cancelled"
    post: PostOut


class PostPage(BaseModel):
    posts: list[PostOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


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
