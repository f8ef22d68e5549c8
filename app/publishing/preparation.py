"""From a validated request to what Instagram will be given: prepared images (to store) and media items.

Media items (stored on the post) look like
`{"role": "image"|"video"|"cover"|"item", "type": "image"|"video", "source_url": <the client's URL>,
"url": <what Instagram fetches>, "asset_id": <prepared image id, images only>, "alt_text": ...}`.
Everything here runs before any container exists, so bad media is a 400 and nothing is created.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings
from app.media.fetcher import MediaFetcher
from app.media.images import ImageUse, PreparedImage, prepare_image
from app.publishing.assets import new_asset_id, public_url
from app.publishing.models import PostKind


@dataclass
class PreparedMedia:
    items: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, PreparedImage] = field(default_factory=dict)

    def asset_ids(self) -> list[str]:
        return list(self.images)


async def _image_item(
    fetcher: MediaFetcher,
    settings: Settings,
    prepared: PreparedMedia,
    url: str,
    *,
    field_name: str,
    use: ImageUse,
    role: str,
    text: str | None = None,
    alt_text: str | None = None,
) -> dict[str, Any]:
    data = await fetcher.image(url, field=field_name)
    # Pillow work is CPU-bound: keep it off the event loop.
    image = await asyncio.to_thread(prepare_image, data, use, text=text)
    asset_id = new_asset_id()
    prepared.images[asset_id] = image
    item: dict[str, Any] = {
        "role": role,
        "type": "image",
        "source_url": url,
        "url": public_url(settings, asset_id),
        "asset_id": asset_id,
    }
    if alt_text:
        item["alt_text"] = alt_text
    return item


async def _video_item(
    fetcher: MediaFetcher, url: str, *, field_name: str, role: str, story: bool = False
) -> dict[str, Any]:
    checked = await fetcher.video(url, field=field_name, story=story)
    return {"role": role, "type": "video", "source_url": url, "url": checked.url}


async def prepare_media(fetcher: MediaFetcher, settings: Settings, kind: str, request: dict[str, Any]) -> PreparedMedia:
    """Fetch, check and prepare the media a post's request names (raises MediaInvalid)."""
    prepared = PreparedMedia()
    if kind == PostKind.FEED:
        prepared.items.append(
            await _image_item(
                fetcher,
                settings,
                prepared,
                request["image_url"],
                field_name="image_url",
                use=ImageUse.FEED,
                role="image",
                alt_text=request.get("alt_text"),
            )
        )
    elif kind == PostKind.STORY:
        if request.get("image_url"):
            prepared.items.append(
                await _image_item(
                    fetcher,
                    settings,
                    prepared,
                    request["image_url"],
                    field_name="image_url",
                    use=ImageUse.STORY,
                    role="image",
                    text=request.get("text"),
                )
            )
        else:
            prepared.items.append(
                await _video_item(fetcher, request["video_url"], field_name="video_url", role="video", story=True)
            )
    elif kind == PostKind.REEL:
        prepared.items.append(await _video_item(fetcher, request["video_url"], field_name="video_url", role="video"))
        if request.get("thumbnail_url"):
            prepared.items.append(
                await _image_item(
                    fetcher,
                    settings,
                    prepared,
                    request["thumbnail_url"],
                    field_name="thumbnail_url",
                    use=ImageUse.COVER,
                    role="cover",
                )
            )
    elif kind == PostKind.CAROUSEL:
        for index, entry in enumerate(request["items"]):
            if entry.get("image_url"):
                prepared.items.append(
                    await _image_item(
                        fetcher,
                        settings,
                        prepared,
                        entry["image_url"],
                        field_name=f"items[{index}].image_url",
                        use=ImageUse.CAROUSEL,
                        role="item",
                        alt_text=entry.get("alt_text"),
                    )
                )
            else:
                prepared.items.append(
                    await _video_item(
                        fetcher,
                        entry["video_url"],
                        field_name=f"items[{index}].video_url",
                        role="item",
                    )
                )
    else:  # pragma: no cover - kinds are a closed set
        raise ValueError(f"unknown post kind {kind!r}")
    return prepared
