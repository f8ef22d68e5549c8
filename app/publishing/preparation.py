"""From the media a request needs to what Instagram will be given: prepared images (to store) and media items.

Everything here runs before any container exists, so bad media is a 400 (`MediaInvalid`) and nothing is
created. Which media a post needs is its request model's to say (`PublishRequest.media_needed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.errors import BadRequest
from app.media.errors import MediaInvalid
from app.media.fetcher import MediaFetcher
from app.media.images import PreparedImage, prepare_image
from app.memory import release_freed_memory
from app.publishing.assets import new_asset, new_asset_id
from app.publishing.captions import is_upload_ref
from app.publishing.media_items import ImageItem, ImageNeed, MediaItem, MediaNeed, VideoItem, VideoNeed
from app.publishing.models import MediaAsset
from app.publishing.uploaded import UploadSource


@dataclass
class PreparedMedia:
    """The post's media items, and the images prepared for them (by asset id) still to be stored."""

    items: list[MediaItem] = field(default_factory=list)
    images: dict[str, PreparedImage] = field(default_factory=dict)

    def assets(self, *, expires_at: datetime) -> list[MediaAsset]:
        return [new_asset(asset_id, image, expires_at=expires_at) for asset_id, image in self.images.items()]


async def prepare(
    fetcher: MediaFetcher, needs: Sequence[MediaNeed], uploads: UploadSource | None = None
) -> PreparedMedia:
    """Fetch (or read from `uploads`), check and prepare each medium, in order (raises MediaInvalid naming the
    field)."""
    prepared = PreparedMedia()
    uploads = uploads or UploadSource()
    for need in needs:
        try:
            if isinstance(need, ImageNeed):
                prepared.items.append(await _prepare_image(fetcher, uploads, prepared, need))
            else:
                prepared.items.append(await _check_video(fetcher, uploads, need))
        except MediaInvalid as exc:
            # One item of many: say which (a post's single medium keeps the check's own words, the seed's).
            if "[" in need.field and not str(exc).startswith(need.field):
                raise MediaInvalid(f"{need.field}: {exc}") from exc
            raise
    return prepared


def _prepare_and_release(data: bytes, need: ImageNeed) -> PreparedImage:
    image = prepare_image(data, need.use, text=need.text, fit=need.fit, pad_color=need.pad_color)
    # The decoded pixels are freed by now, but the allocator would keep them resident (app/memory.py).
    release_freed_memory()
    return image


async def _prepare_image(
    fetcher: MediaFetcher, uploads: UploadSource, prepared: PreparedMedia, need: ImageNeed
) -> ImageItem:
    if is_upload_ref(need.url):
        data = await uploads.image(need.url, need.field)
    else:
        data = await fetcher.image(need.url, field=need.field)
    # Pillow work is CPU-bound: keep it off the event loop.
    image = await asyncio.to_thread(_prepare_and_release, data, need)
    asset_id = new_asset_id()
    prepared.images[asset_id] = image
    return ImageItem(
        role=need.role,
        source_url=need.url,
        asset_id=asset_id,
        alt_text=need.alt_text or None,
    )


async def _check_video(fetcher: MediaFetcher, uploads: UploadSource, need: VideoNeed) -> VideoItem:
    if is_upload_ref(need.url):
        upload, probe = uploads.video(need.url, need.field, need.kind)
        _check_thumb_offset(need, probe.duration_seconds)
        return VideoItem(role=need.role, source_url=need.url, upload_key=upload.storage_key)
    checked = await fetcher.video(need.url, field=need.field, kind=need.kind)
    _check_thumb_offset(need, checked.duration_seconds)
    return VideoItem(role=need.role, source_url=need.url, url=checked.url)


def _check_thumb_offset(need: VideoNeed, duration: float | None) -> None:
    if need.thumb_offset_ms is not None and duration is not None and need.thumb_offset_ms > duration * 1000:
        raise MediaInvalid(
            f"thumb_offset {need.thumb_offset_ms} ms is past the end of the video ({duration:.1f} s); "
            "Instagram takes a frame within it"
        )


async def prepare_or_refuse(
    fetcher: MediaFetcher, needs: Sequence[MediaNeed], uploads: UploadSource | None = None
) -> PreparedMedia:
    """`prepare`, with bad media answered 400 in the check's own words."""
    try:
        return await prepare(fetcher, needs, uploads)
    except MediaInvalid as exc:
        raise BadRequest(str(exc), code="invalid_media") from exc
