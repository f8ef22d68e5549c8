"""Publishing: containers of every kind, their status, `media_publish` and the publishing quota."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.instagram.calls import GraphCalls, id_of, segment, string_list
from app.instagram.models import ContainerStatus, PublishingLimit

CONTAINER_STATUS_FIELDS = "id,status_code,status"


class PublishingCalls(GraphCalls):
    """Containers and publishing; `publish_container` is never retried (retry.py)."""

    async def create_image_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str,
        caption: str | None = None,
        alt_text: str | None = None,
    ) -> str:
        """Create a feed image container; returns its id."""
        form = without_none({"image_url": image_url, "caption": caption, "alt_text": alt_text})
        return await self._create_container("create_image_container", token, ig_user_id, form)

    async def create_story_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
    ) -> str:
        """Create a story container from exactly one of an image or a video; returns its id."""
        exactly_one(image_url=image_url, video_url=video_url)
        form = without_none({"media_type": "STORIES", "image_url": image_url, "video_url": video_url})
        return await self._create_container("create_story_container", token, ig_user_id, form)

    async def create_reel_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        video_url: str,
        caption: str | None = None,
        cover_url: str | None = None,
        share_to_feed: bool = True,
        thumb_offset_ms: int | None = None,
    ) -> str:
        """Create a reel container; returns its id. Instagram prefers `cover_url` over `thumb_offset_ms`."""
        form = without_none(
            {
                "media_type": "REELS",
                "video_url": video_url,
                "caption": caption,
                "cover_url": cover_url,
                "share_to_feed": form_bool(share_to_feed),
                "thumb_offset": str(thumb_offset_ms) if thumb_offset_ms is not None else None,
            }
        )
        return await self._create_container("create_reel_container", token, ig_user_id, form)

    async def create_carousel_item_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
        alt_text: str | None = None,
    ) -> str:
        """Create one carousel item (image or video); returns its id for `create_carousel_container`."""
        exactly_one(image_url=image_url, video_url=video_url)
        if video_url is not None and alt_text is not None:
            raise ValueError("alt_text is only accepted for images")
        form = without_none(
            {
                "is_carousel_item": "true",
                # The one place VIDEO is still valid: standalone feed video was replaced by REELS in 2023.
                "media_type": "VIDEO" if video_url is not None else None,
                "image_url": image_url,
                "video_url": video_url,
                "alt_text": alt_text,
            }
        )
        return await self._create_container("create_carousel_item_container", token, ig_user_id, form)

    async def create_carousel_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        children: Sequence[str],
        caption: str | None = None,
    ) -> str:
        """Create a carousel from 2 to 10 item containers; returns its id."""
        child_ids = string_list(children, "children")
        # Checked here because Instagram's answer (2207028) arrives only after a round trip.
        if not 2 <= len(child_ids) <= 10:
            raise ValueError(f"a carousel needs 2 to 10 children, got {len(child_ids)}")
        form = without_none(
            {
                "media_type": "CAROUSEL",
                "children": ",".join(segment(child) for child in child_ids),
                "caption": caption,
            }
        )
        return await self._create_container("create_carousel_container", token, ig_user_id, form)

    async def get_container_status(self, token: str, container_id: str) -> ContainerStatus:
        """Where a container is: IN_PROGRESS, FINISHED (publishable), PUBLISHED, ERROR or EXPIRED."""

        def parse(body: object) -> ContainerStatus:
            if isinstance(body, Mapping) and body.get("id") is None:
                body = {**body, "id": container_id}
            return ContainerStatus.model_validate(body)

        return await self._graph_get(
            "get_container_status",
            segment(container_id),
            token,
            params={"fields": CONTAINER_STATUS_FIELDS},
            parse=parse,
        )

    async def publish_container(self, token: str, ig_user_id: str, creation_id: str) -> str:
        """Publish a FINISHED container; returns the new media id. Never retried, see retry.py."""
        return await self._call(
            "publish_container",
            "POST",
            self._graph_url(f"{segment(ig_user_id)}/media_publish"),
            mode="never",
            bearer=token,
            form={"creation_id": segment(creation_id)},
            parse=id_of,
        )

    async def get_publishing_limit(self, token: str, ig_user_id: str) -> PublishingLimit:
        """How much of the rolling 24-hour publishing quota is used, and its current total."""
        return await self._graph_get(
            "get_publishing_limit",
            f"{segment(ig_user_id)}/content_publishing_limit",
            token,
            params={"fields": "quota_usage,config"},
            parse=PublishingLimit.from_api,
        )

    async def _create_container(self, operation: str, token: str, ig_user_id: str, form: Mapping[str, str]) -> str:
        # "safe": a duplicate container is never published, because only the id we return is.
        return await self._call(
            operation,
            "POST",
            self._graph_url(f"{segment(ig_user_id)}/media"),
            mode="safe",
            bearer=token,
            form=form,
            parse=id_of,
        )


def exactly_one(**urls: str | None) -> None:
    given = [name for name, url in urls.items() if url is not None]
    if len(given) != 1:
        raise ValueError(f"pass exactly one of {', '.join(urls)}")


def without_none(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value is not None}


def form_bool(value: bool) -> str:
    return "true" if value else "false"
