"""Fetching a client's media: synthetic `example.com` media when enabled, else the network behind the SSRF guard.

One fetcher per process (one connection pool, one TLS context). Images are read whole (up to the cap) for
Pillow; videos only their first bytes, for a size check and a sniff of the container and its duration:
Instagram downloads the whole video itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from app.config import Settings
from app.media.errors import MediaInvalid
from app.media.fetch import Fetched, FetchError, GuardedNetworkBackend, GuardedTransport, fetch
from app.media.synthetic import is_synthetic_host, synthetic_media
from app.media.video import sniff_video

VIDEO_HEAD_BYTES = 256 * 1024
STORY_VIDEO_MAX_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class CheckedVideo:
    url: str
    container: str
    duration_seconds: float | None
    size: int | None


class MediaFetcher:
    """Fetches client media: synthetic `example.com` media when enabled, else the network behind the guard."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(GuardedNetworkBackend(allow_private=settings.media_allow_private_hosts)),
            timeout=httpx.Timeout(settings.media_fetch_timeout_seconds, connect=5.0),
            headers={"User-Agent": "instagram-service-media-check/1.0"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, field: str, max_bytes: int, head_only: int | None = None) -> Fetched:
        if self._settings.synthetic_media and is_synthetic_host(url):
            media = synthetic_media(url)
            if media is None:
                raise MediaInvalid(
                    f"{field} could not be fetched: example.com media must end in .jpg, .jpeg, .png, .gif, "
                    ".webp, .mp4 or .mov"
                )
            body = media.content if head_only is None else media.content[:head_only]
            return Fetched(
                url=url,
                content=body,
                content_type=media.content_type,
                declared_size=len(media.content),
                complete=head_only is None,
            )
        try:
            return await fetch(self._client, url, field=field, max_bytes=max_bytes, head_only=head_only)
        except FetchError as exc:
            raise MediaInvalid(str(exc)) from exc

    async def image(self, url: str, *, field: str) -> bytes:
        fetched = await self.get(url, field=field, max_bytes=self._settings.media_max_image_bytes)
        return fetched.content

    async def video(self, url: str, *, field: str, story: bool = False) -> CheckedVideo:
        """Size cap and a container sniff on the first bytes; Instagram downloads the whole video itself."""
        limit = STORY_VIDEO_MAX_BYTES if story else self._settings.media_max_video_bytes
        fetched = await self.get(url, field=field, max_bytes=limit, head_only=VIDEO_HEAD_BYTES)
        size = (
            fetched.declared_size
            if fetched.declared_size is not None
            else (len(fetched.content) if fetched.complete else None)
        )
        if size is not None and size > limit:
            raise MediaInvalid(f"Video too large ({size // (1024 * 1024)} MB; max {limit // (1024 * 1024)} MB)")
        info = sniff_video(fetched.content)
        if info is None:
            raise MediaInvalid("Invalid video format. Supported: MP4, MOV")
        duration = info.duration_seconds
        if duration is not None:
            low, high = (3.0, 60.0) if story else (3.0, 15 * 60.0)
            if not low <= duration <= high:
                allowed = "3 to 60 seconds" if story else "3 seconds to 15 minutes"
                kind = "a story video" if story else "a reel"
                raise MediaInvalid(
                    f"Video duration {duration:.1f} s is outside what Instagram accepts for {kind} ({allowed})"
                )
        return CheckedVideo(url=fetched.url, container=info.container, duration_seconds=duration, size=size)
