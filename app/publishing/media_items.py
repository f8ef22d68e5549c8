"""What a post's media are, typed: what a request needs prepared, and what Instagram is given once it is.

A request lists its `MediaNeed`s in order (`PublishRequest.media_needed`); preparation turns each into a
`MediaItem` in the same order, stored on the post (`posts.media`, JSON, through `MEDIA_ITEMS`) and read back
typed. Images are prepared by this service and served from `PUBLIC_BASE_URL/media/<asset id>.jpg`; videos are
checked and handed to Instagram at their own URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from app.media.images import ImageUse

ImageRole = Literal["image", "cover", "item"]
VideoRole = Literal["video", "item"]


@dataclass(frozen=True)
class ImageNeed:
    """An image to fetch, check for `use` and prepare (a story's `text` drawn onto it)."""

    field: str
    url: str
    use: ImageUse
    role: ImageRole
    text: str | None = None
    alt_text: str | None = None


@dataclass(frozen=True)
class VideoNeed:
    """A video to check from its first bytes (a story video has tighter limits)."""

    field: str
    url: str
    role: VideoRole
    story: bool = False


MediaNeed = ImageNeed | VideoNeed


class ImageItem(BaseModel):
    """A prepared image: `url` is where Instagram fetches it, `asset_id` the stored JPEG behind it."""

    role: ImageRole
    type: Literal["image"] = "image"
    source_url: str
    url: str
    asset_id: str
    alt_text: str | None = None


class VideoItem(BaseModel):
    """A checked video: Instagram downloads it from `url` itself."""

    role: VideoRole
    type: Literal["video"] = "video"
    source_url: str
    url: str


MediaItem = Annotated[ImageItem | VideoItem, Field(discriminator="type")]
MEDIA_ITEMS: TypeAdapter[list[MediaItem]] = TypeAdapter(list[MediaItem])


def asset_ids(items: list[MediaItem]) -> list[str]:
    """The prepared images the items use."""
    return [item.asset_id for item in items if isinstance(item, ImageItem)]
