"""Request shapes of the publishing routes (the seed's §2–4 and example 2), one typed model per kind of post.

Each model is the post's truth from the request to the Instagram call: it says which media it needs
(`media_needed`), which caption Instagram gets, and which container its prepared media make (`container`).
It is stored on the post as JSON and read back as the same model (`stored_request`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.ids import DbId
from app.media.images import ImageUse
from app.media.video import VideoKind
from app.publishing import containers, examples
from app.publishing.captions import MAX_CAPTION, MAX_HASHTAGS, Hashtag, MediaUrl, check_caption, compose_caption
from app.publishing.media_items import ImageItem, ImageNeed, MediaItem, MediaLinks, MediaNeed, VideoNeed
from app.publishing.models import PostKind
from app.publishing.options import (
    Collaborators,
    FirstComment,
    ImageFit,
    LocationId,
    StoryUserTags,
    TrialParams,
    UserTags,
)
from app.text_input import refuse_nul_characters

# Options of the other kinds that a story cannot have.
STORY_REFUSED = ("caption", "hashtags", "location_id", "collaborators", "first_comment", "alt_text")


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

    @abstractmethod
    def media_needed(self) -> list[MediaNeed]:
        """The media to fetch, check and prepare, in the order `container` reads them back."""

    @abstractmethod
    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        """The container Instagram is asked for, from the prepared media (in `media_needed`'s order), at the URLs
        `links` gives (this service's public address now, and signed URLs of uploads)."""

    def instagram_caption(self) -> str | None:
        """The caption Instagram receives (none for stories: Instagram takes no caption for them)."""
        return None

    def first_comment_text(self) -> str | None:
        """The comment to post on the media once published (stories take none)."""
        return None

    def first_comment_delay(self) -> int:
        return 0


class _Captioned(FirstComment, PublishRequest):
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

    def first_comment_text(self) -> str | None:
        return self.first_comment

    def first_comment_delay(self) -> int:
        return self.first_comment_delay_seconds


class _FeedOptions(ImageFit, _Captioned):
    """What a feed image takes beyond its caption: tags, a location, collaborators, and how to fit it."""

    alt_text: str | None = Field(default=None, max_length=1000, description="Accessibility text for the image.")
    user_tags: UserTags = Field(default_factory=list)
    location_id: LocationId | None = None
    collaborators: Collaborators = Field(default_factory=list)

    def _image_need(self, url: str) -> list[MediaNeed]:
        return [
            ImageNeed(
                "image_url", url, ImageUse.FEED, "image", alt_text=self.alt_text, fit=self.fit, pad_color=self.pad_color
            )
        ]

    def _image_post(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.ImagePost:
        return containers.ImagePost(
            media[0].instagram_url(links),
            caption,
            self.alt_text,
            tuple(tag.instagram() for tag in self.user_tags),
            self.location_id,
            tuple(self.collaborators),
        )


class PostCreate(_FeedOptions):
    """A feed post with one image (seed §2).

    Missing fields are reported in schema order, which pydantic follows: base-class fields come first,
    so a missing account_id and image_url read "account_id and image_url are required" only if no
    required field is declared on a base class (none is).
    """

    model_config = ConfigDict(json_schema_extra={"examples": examples.POST_EXAMPLES})

    kind: ClassVar[PostKind] = PostKind.FEED

    account_id: DbId
    image_url: MediaUrl

    def media_needed(self) -> list[MediaNeed]:
        return self._image_need(self.image_url)

    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        return self._image_post(media, caption, links)


class StoryCreate(ImageFit, PublishRequest):
    """A story: one image (optionally with text drawn onto it) or one video (seed §3)."""

    model_config = ConfigDict(json_schema_extra={"examples": examples.STORY_EXAMPLES})

    kind: ClassVar[PostKind] = PostKind.STORY

    account_id: DbId
    image_url: MediaUrl | None = None
    video_url: MediaUrl | None = Field(default=None, description="Instead of image_url: a 3–60 s MP4/MOV.")
    text: str | None = Field(
        default=None,
        max_length=300,
        description="Drawn onto the image (Instagram's API has no text stickers).",
    )
    user_tags: StoryUserTags = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_feed_options(cls, data: object) -> object:
        # Ignoring these would let a client believe they took effect; Instagram takes none of them on stories.
        if isinstance(data, dict):
            given = [name for name in STORY_REFUSED if data.get(name) not in (None, [], "")]
            if given:
                raise ValueError(f"{given[0]} is not taken by stories (Instagram accepts none on a story)")
        return data

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
            need = ImageNeed(
                "image_url",
                self.image_url,
                ImageUse.STORY,
                "image",
                text=self.text,
                fit=self.fit,
                pad_color=self.pad_color,
            )
            return [need]
        assert self.video_url is not None
        return [VideoNeed("video_url", self.video_url, "video", kind=VideoKind.STORY)]

    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        tags = tuple(tag.instagram() for tag in self.user_tags)
        if isinstance(media[0], ImageItem):
            return containers.Story(image_url=media[0].instagram_url(links), user_tags=tags)
        return containers.Story(video_url=media[0].instagram_url(links), user_tags=tags)


class ReelCreate(_Captioned):
    """A reel (seed §4); `thumbnail_url` becomes the cover."""

    model_config = ConfigDict(json_schema_extra={"examples": examples.REEL_EXAMPLES})

    kind: ClassVar[PostKind] = PostKind.REEL

    account_id: DbId
    video_url: MediaUrl
    thumbnail_url: MediaUrl | None = Field(default=None, description="Cover image (JPEG or PNG).")
    share_to_feed: bool = Field(default=True, description="Also show the reel in the profile's feed grid.")
    thumb_offset: int | None = Field(
        default=None,
        ge=0,
        le=15 * 60 * 1000,
        description="The cover as the frame at this many milliseconds (Instagram's `thumb_offset`); "
        "`thumbnail_url` wins when both are given, and thumb_offset is then not sent.",
    )
    audio_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Names the reel's original audio (`audio_name`)."
    )
    trial_params: TrialParams | None = Field(default=None, description="Publish as a trial reel (`trial_params`).")
    user_tags: UserTags = Field(default_factory=list)
    location_id: LocationId | None = None
    collaborators: Collaborators = Field(default_factory=list)

    def media_needed(self) -> list[MediaNeed]:
        offset = None if self.thumbnail_url else self.thumb_offset
        needs: list[MediaNeed] = [VideoNeed("video_url", self.video_url, "video", thumb_offset_ms=offset)]
        if self.thumbnail_url:
            needs.append(ImageNeed("thumbnail_url", self.thumbnail_url, ImageUse.COVER, "cover"))
        return needs

    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        cover = media[1].instagram_url(links) if len(media) > 1 else None
        return containers.Reel(
            media[0].instagram_url(links),
            caption,
            cover,
            self.share_to_feed,
            thumb_offset_ms=None if cover else self.thumb_offset,
            user_tags=tuple(tag.instagram() for tag in self.user_tags),
            location_id=self.location_id,
            collaborators=tuple(self.collaborators),
            audio_name=self.audio_name,
            trial_strategy=self.trial_params.graduation_strategy if self.trial_params else None,
        )


class CarouselItem(BaseModel):
    image_url: MediaUrl | None = None
    video_url: MediaUrl | None = None
    alt_text: str | None = Field(default=None, max_length=1000)
    user_tags: UserTags = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_medium(self) -> CarouselItem:
        if bool(self.image_url) == bool(self.video_url):
            raise ValueError("each item needs exactly one of image_url or video_url")
        if self.alt_text and self.video_url:
            raise ValueError("alt_text applies to image items only")
        if self.user_tags and self.video_url:
            raise ValueError("user_tags apply to image items only")
        return self


class CarouselCreate(ImageFit, _Captioned):
    """A carousel of 2–10 images and videos with one caption."""

    model_config = ConfigDict(json_schema_extra={"examples": examples.CAROUSEL_EXAMPLES})

    kind: ClassVar[PostKind] = PostKind.CAROUSEL

    account_id: DbId
    items: list[CarouselItem] = Field(min_length=2, max_length=10)
    location_id: LocationId | None = None
    collaborators: Collaborators = Field(default_factory=list)

    def media_needed(self) -> list[MediaNeed]:
        needs: list[MediaNeed] = []
        for index, item in enumerate(self.items):
            if item.image_url:
                field = f"items[{index}].image_url"
                fit, colour = self.fit, self.pad_color
                needs.append(
                    ImageNeed(
                        field,
                        item.image_url,
                        ImageUse.CAROUSEL,
                        "item",
                        alt_text=item.alt_text,
                        fit=fit,
                        pad_color=colour,
                    )
                )
            else:
                assert item.video_url is not None
                needs.append(VideoNeed(f"items[{index}].video_url", item.video_url, "item", kind=VideoKind.CAROUSEL))
        return needs

    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        items = tuple(
            containers.CarouselItem(
                image_url=medium.instagram_url(links),
                alt_text=item.alt_text,
                user_tags=tuple(tag.instagram() for tag in item.user_tags),
            )
            if isinstance(medium, ImageItem)
            else containers.CarouselItem(video_url=medium.instagram_url(links))
            for item, medium in zip(self.items, media, strict=True)
        )
        return containers.Carousel(items, caption, self.location_id, tuple(self.collaborators))


class BatchPostCreate(_FeedOptions):
    """The same feed post to several accounts (example 2)."""

    model_config = ConfigDict(json_schema_extra={"examples": examples.BATCH_EXAMPLES})

    kind: ClassVar[PostKind] = PostKind.FEED

    image_url: MediaUrl
    account_ids: list[DbId] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A subset of your accounts; all your active accounts when absent.",
    )

    def media_needed(self) -> list[MediaNeed]:
        return self._image_need(self.image_url)

    def container(self, media: Sequence[MediaItem], caption: str | None, links: MediaLinks) -> containers.Container:
        return self._image_post(media, caption, links)


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
