"""What a post's media are, typed: what a request needs prepared, and what Instagram is given once it is.

A request lists its `MediaNeed`s in order (`PublishRequest.media_needed`); preparation turns each into a
`MediaItem` in the same order, stored on the post (`posts.media`, JSON, through `MEDIA_ITEMS`) and read back
typed. Images are prepared by this service and served from `PUBLIC_BASE_URL/media/<asset id>.jpg`; videos are
checked and handed to Instagram at their own URL.

A prepared image's URL is built when Instagram is called, never stored: only its asset id is. The public
address may change between the request and the publish (in development it follows the port), and a URL
stored with the old one would send Instagram to a dead address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from app.media.images import Fit, ImageUse
from app.media.video import VideoKind

ImageRole = Literal["image", "cover", "item"]
VideoRole = Literal["video", "item"]


@dataclass(frozen=True)
class ImageNeed:
    """An image to fetch, check for `use` and prepare (a story's `text` drawn onto it, fitted as `fit` says)."""

    field: str
    url: str
    use: ImageUse
    role: ImageRole
    text: str | None = None
    alt_text: str | None = None
    fit: Fit = Fit.REFUSE
    pad_color: str = "#FFFFFF"


@dataclass(frozen=True)
class VideoNeed:
    """A video to probe against its kind's rules (a reel's `thumb_offset_ms` must fall within it)."""

    field: str
    url: str
    role: VideoRole
    kind: VideoKind = VideoKind.REEL
    thumb_offset_ms: int | None = None


MediaNeed = ImageNeed | VideoNeed


@dataclass(frozen=True)
class MediaLinks:
    """Where Instagram fetches the media now: this service's public address (prepared images), and a short-lived
    signed URL per uploaded video (by storage key), made just before the container is asked for."""

    base_url: str
    uploads: Mapping[str, str] = field(default_factory=dict)

    def serves(self, url: str) -> bool:
        """Whether Instagram downloads `url` from this service (or its storage), not from the user's address."""
        return url.startswith(f"{self.base_url}/") or url in self.uploads.values()


def asset_url(base_url: str, asset_id: str) -> str:
    """Where Instagram fetches a prepared image: this service's `/media/<asset id>.jpg` (publishing/assets.py)."""
    return f"{base_url}/media/{asset_id}.jpg"


class ImageItem(BaseModel):
    """A prepared image: `asset_id` is the stored JPEG, served to Instagram on this service's address.

    (Rows written by older releases also carry the URL they built then: it is ignored.)"""

    role: ImageRole
    type: Literal["image"] = "image"
    source_url: str
    asset_id: str
    alt_text: str | None = None

    def instagram_url(self, links: MediaLinks) -> str:
        """The URL Instagram fetches the image from, on the service's public address now."""
        return asset_url(links.base_url, self.asset_id)


class VideoItem(BaseModel):
    """A checked video: Instagram downloads it from `url` itself, or (an upload) from a signed URL of its file."""

    role: VideoRole
    type: Literal["video"] = "video"
    source_url: str
    url: str = ""
    upload_key: str | None = None

    def instagram_url(self, links: MediaLinks) -> str:
        """The video's own URL (where its check ended, redirects followed), or its upload's signed URL."""
        return links.uploads[self.upload_key] if self.upload_key else self.url


MediaItem = Annotated[ImageItem | VideoItem, Field(discriminator="type")]
MEDIA_ITEMS: TypeAdapter[list[MediaItem]] = TypeAdapter(list[MediaItem])


def asset_ids(items: list[MediaItem]) -> list[str]:
    """The prepared images the items use."""
    return [item.asset_id for item in items if isinstance(item, ImageItem)]
