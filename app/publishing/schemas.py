"""Request shapes of the publishing routes (the seed's §2–4 and example 2), one typed model per kind of post.

Each model is the post's truth from the request to the Instagram call: it says which media it needs
(`media_needed`), which caption Instagram gets, and which container its prepared media make (`container`).
It is stored on the post as JSON and read back as the same model (`stored_request`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.ids import DbId
from app.media.images import ImageUse
from app.publishing import containers
from app.publishing.media_items import ImageItem, ImageNeed, MediaItem, MediaNeed, VideoNeed
from app.publishing.models import PostKind
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


class PublishRequest(BaseModel):
    """What every publishing request shares; each kind says what media it needs and what container it makes."""

    kind: ClassVar[PostKind]
    # PostgreSQL text cannot hold NUL: refused as bad input, naming the field (app/text_input.py).
    _no_nul = model_validator(mode="before")(refuse_nul_characters)

    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description="Publish later: ISO 8601 with an offset, in the future (e.g. 2026-12-01T09:00:00+09:00). "
        "Answers 202 with the scheduled post.",
    )

    def media_needed(self) -> list[MediaNeed]:
        """The media to fetch, check and prepare, in the order `container` reads them back."""
        raise NotImplementedError

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        """The container Instagram is asked for, from the prepared media (in `media_needed`'s order); a prepared
        image's URL is built on `base_url`, this service's public address now."""
        raise NotImplementedError

    def instagram_caption(self) -> str | None:
        """The caption Instagram receives (none for stories: Instagram takes no caption for them)."""
        return None


class _Captioned(PublishRequest):
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

    def instagram_caption(self) -> str | None:
        return compose_caption(self.caption, self.hashtags)


def _feed_image(url: str, alt_text: str | None) -> list[MediaNeed]:
    return [ImageNeed("image_url", url, ImageUse.FEED, "image", alt_text=alt_text)]


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

    kind: ClassVar[PostKind] = PostKind.FEED

    account_id: DbId
    image_url: MediaUrl
    alt_text: str | None = Field(default=None, max_length=1000, description="Accessibility text for the image.")

    def media_needed(self) -> list[MediaNeed]:
        return _feed_image(self.image_url, self.alt_text)

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        return containers.ImagePost(media[0].instagram_url(base_url), caption, self.alt_text)


class StoryCreate(PublishRequest):
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

    kind: ClassVar[PostKind] = PostKind.STORY

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

    def media_needed(self) -> list[MediaNeed]:
        if self.image_url:
            return [ImageNeed("image_url", self.image_url, ImageUse.STORY, "image", text=self.text)]
        assert self.video_url is not None
        return [VideoNeed("video_url", self.video_url, "video", story=True)]

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        if isinstance(media[0], ImageItem):
            return containers.Story(image_url=media[0].instagram_url(base_url))
        return containers.Story(video_url=media[0].instagram_url(base_url))


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

    kind: ClassVar[PostKind] = PostKind.REEL

    account_id: DbId
    video_url: MediaUrl
    thumbnail_url: MediaUrl | None = Field(default=None, description="Cover image (JPEG or PNG).")
    share_to_feed: bool = Field(default=True, description="Also show the reel in the profile's feed grid.")

    def media_needed(self) -> list[MediaNeed]:
        needs: list[MediaNeed] = [VideoNeed("video_url", self.video_url, "video")]
        if self.thumbnail_url:
            needs.append(ImageNeed("thumbnail_url", self.thumbnail_url, ImageUse.COVER, "cover"))
        return needs

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        cover = media[1].instagram_url(base_url) if len(media) > 1 else None
        return containers.Reel(media[0].instagram_url(base_url), caption, cover, self.share_to_feed)


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

    kind: ClassVar[PostKind] = PostKind.CAROUSEL

    account_id: DbId
    items: list[CarouselItem] = Field(min_length=2, max_length=10)

    def media_needed(self) -> list[MediaNeed]:
        needs: list[MediaNeed] = []
        for index, item in enumerate(self.items):
            if item.image_url:
                field = f"items[{index}].image_url"
                needs.append(ImageNeed(field, item.image_url, ImageUse.CAROUSEL, "item", alt_text=item.alt_text))
            else:
                assert item.video_url is not None
                needs.append(VideoNeed(f"items[{index}].video_url", item.video_url, "item"))
        return needs

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        items = tuple(
            containers.CarouselItem(image_url=medium.instagram_url(base_url), alt_text=item.alt_text)
            if isinstance(medium, ImageItem)
            else containers.CarouselItem(video_url=medium.instagram_url(base_url))
            for item, medium in zip(self.items, media, strict=True)
        )
        return containers.Carousel(items, caption)


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

    kind: ClassVar[PostKind] = PostKind.FEED

    image_url: MediaUrl
    alt_text: str | None = Field(default=None, max_length=1000)
    account_ids: list[DbId] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A subset of your accounts; all your active accounts when absent.",
    )

    def media_needed(self) -> list[MediaNeed]:
        return _feed_image(self.image_url, self.alt_text)

    def container(self, media: Sequence[MediaItem], caption: str | None, base_url: str) -> containers.Container:
        return containers.ImagePost(media[0].instagram_url(base_url), caption, self.alt_text)


SingleRequest = PostCreate | StoryCreate | ReelCreate | CarouselCreate
AnyRequest = SingleRequest | BatchPostCreate

_SINGLE: Mapping[PostKind, type[SingleRequest]] = {
    PostKind.FEED: PostCreate,
    PostKind.STORY: StoryCreate,
    PostKind.REEL: ReelCreate,
    PostKind.CAROUSEL: CarouselCreate,
}


def stored_request(kind: str, data: Mapping[str, object], *, batch: bool) -> AnyRequest:
    """A post's request, read back from its JSON as the model it was made from."""
    model: type[AnyRequest] = BatchPostCreate if batch else _SINGLE[PostKind(kind)]
    return model.model_validate(data)
