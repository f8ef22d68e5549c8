"""How the sandbox gets the bytes behind `image_url`, `video_url` and `cover_url`, as Instagram would.

example.com URLs become synthetic media (no network); the sandbox's own `/cdn/` URLs are answered in-process;
anything else is downloaded with httpx (through the `fetch_transport` the service passes, if any), streamed and
cut at the caller's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.media.synthetic import is_synthetic_host, synthetic_media
from app.sandbox.errors import GraphError

FETCH_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Fetched:
    """The first `limit` bytes of a resource; `exceeded` when it has more."""

    content: bytes
    content_type: str | None
    exceeded: bool


def download_failed() -> GraphError:
    return GraphError(
        "Media download has failed. The media URI doesn't meet our requirements.",
        code=9004,
        subcode=2207052,
        user_title="Media Download Failed",
        user_msg="The media could not be fetched from the URI: check that it is public and serves the media.",
    )


def download_timeout() -> GraphError:
    return GraphError(
        "Timeout while downloading the media. Please try again.",
        code=-2,
        subcode=2207003,
        is_transient=True,
        user_title="Media Download Timed Out",
        user_msg="The media took too long to download.",
    )


class MediaFetcher:
    """Fetches media URLs; one httpx client, created on first use."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None,
        local_prefix: str,
        local_lookup: Callable[[str], tuple[bytes, str] | None],
    ) -> None:
        self._transport = transport
        self._local_prefix = local_prefix
        self._local_lookup = local_lookup
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(FETCH_TIMEOUT_SECONDS),
                follow_redirects=True,
                headers={"User-Agent": "facebookexternalhit/1.1 (instagram-platform-sandbox)"},
            )
        return self._client

    async def fetch(self, url: str, limit: int) -> Fetched:
        """Up to `limit` bytes of the URL (and whether there were more); GraphError when not fetchable."""
        if is_synthetic_host(url):
            media = synthetic_media(url)
            if media is None:
                raise download_failed()
            return Fetched(media.content[:limit], media.content_type, len(media.content) > limit)
        if url.startswith(self._local_prefix):
            found = self._local_lookup(url[len(self._local_prefix) :].split("?", 1)[0])
            if found is None:
                raise download_failed()
            content, content_type = found
            return Fetched(content[:limit], content_type, len(content) > limit)
        if not url.lower().startswith(("http://", "https://")):
            raise download_failed()
        try:
            async with self._http().stream("GET", url) as response:
                if not response.is_success:
                    raise download_failed()
                chunks: list[bytes] = []
                size = 0
                exceeded = False
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        exceeded = True
                        break
                content = b"".join(chunks)[:limit]
                return Fetched(content, response.headers.get("content-type"), exceeded)
        except httpx.TimeoutException as exc:
            raise download_timeout() from exc
        except (httpx.HTTPError, ValueError) as exc:  # DNS, refused connection, bad URL, broken stream
            raise download_failed() from exc

    async def aclose(self) -> None:
        # A transport handed in by the service belongs to the service: closing our client would close it.
        if self._client is not None and self._transport is None:
            await self._client.aclose()
        self._client = None
