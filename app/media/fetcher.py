"""Fetching a client's media: synthetic `example.com` media when enabled, else the network behind the SSRF guard.

One fetcher per process (one connection pool, one TLS context). Images are read whole (up to the cap) for
Pillow; videos only their first bytes, which FFmpeg probes (Instagram wants the `moov` index first, so the head
describes the whole video): Instagram downloads the whole video itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from app.config import Settings
from app.media.errors import MediaInvalid
from app.media.fetch import Fetched, FetchError, GuardedNetworkBackend, GuardedTransport, fetch
from app.media.synthetic import is_synthetic_host, synthetic_media
from app.media.video import LIMITS, VideoKind, VideoProbe, VideoUnreadable, probe_video, video_problem

# Enough for the `moov` index of a 15-minute video at 60 fps (about 4 bytes per frame and a little more).
VIDEO_HEAD_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class CheckedVideo:
    """A video that passed Instagram's documented rules for its kind, and what FFmpeg told of it."""

    url: str
    probe: VideoProbe
    size: int | None

    @property
    def container(self) -> str:
        return self.probe.container

    @property
    def duration_seconds(self) -> float | None:
        return self.probe.duration_seconds


async def check_probe(content: bytes, kind: VideoKind, size: int | None) -> VideoProbe:
    """Probe a video's bytes (off the event loop) and apply the kind's rules; raises MediaInvalid."""
    try:
        probe = await asyncio.to_thread(probe_video, content)
    except VideoUnreadable as exc:
        raise MediaInvalid(str(exc)) from exc
    problem = video_problem(probe, kind, size)
    if problem is not None:
        raise MediaInvalid(problem)
    return probe


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

    async def video(self, url: str, *, field: str, kind: VideoKind = VideoKind.REEL) -> CheckedVideo:
        """Size cap, then FFmpeg's probe of the first bytes against Instagram's rules for `kind` (codecs,
        duration, resolution, frame rate, bitrate, audio); Instagram downloads the whole video itself."""
        limit = min(LIMITS[kind].max_bytes, self._settings.media_max_video_bytes)
        fetched = await self.get(url, field=field, max_bytes=limit, head_only=VIDEO_HEAD_BYTES)
        size = (
            fetched.declared_size
            if fetched.declared_size is not None
            else (len(fetched.content) if fetched.complete else None)
        )
        if size is not None and size > limit:
            raise MediaInvalid(f"Video too large ({size // (1024 * 1024)} MB; max {limit // (1024 * 1024)} MB)")
        probe = await check_probe(fetched.content, kind, None)
        return CheckedVideo(url=fetched.url, probe=probe, size=size)
