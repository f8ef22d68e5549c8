"""Publishing: containers of every kind, their status, `media_publish` and the publishing quota.

The options each kind takes are passed exactly as Meta documents them: `user_tags` as a JSON array of
`{username, x, y}` (usernames only on stories), `collaborators` as a JSON array of usernames,
`location_id`, and on reels `thumb_offset`, `audio_name` and `trial_params` (a JSON object).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.instagram.calls import GraphCalls, id_of, segment, string_list
from app.instagram.models import ContainerStatus, PublishingLimit

CONTAINER_STATUS_FIELDS = "id,status_code,status"
MAX_COLLABORATORS = 3

GraduationStrategy = Literal["MANUAL", "SS_PERFORMANCE"]


@dataclass(frozen=True)
class UserTag:
    """An account tagged on an image or a reel at (x, y), each 0–1 from the top left; a story's tag has no
    position."""

    username: str
    x: float | None = None
    y: float | None = None

    def as_json(self) -> dict[str, object]:
        if self.x is None or self.y is None:
            return {"username": self.username}
        return {"username": self.username, "x": self.x, "y": self.y}


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
        user_tags: Sequence[UserTag] = (),
        location_id: str | None = None,
        collaborators: Sequence[str] = (),
    ) -> str:
        """Create a feed image container; returns its id."""
        form = without_none(
            {
                "image_url": image_url,
                "caption": caption,
                "alt_text": alt_text,
                "user_tags": tags_param(user_tags),
                "location_id": location_id,
                "collaborators": collaborators_param(collaborators),
            }
        )
        return await self._create_container("create_image_container", token, ig_user_id, form)

    async def create_story_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
        user_tags: Sequence[UserTag] = (),
    ) -> str:
        """Create a story container from exactly one of an image or a video; returns its id. A story's tags
        are usernames only (any position given is not sent)."""
        exactly_one(image_url=image_url, video_url=video_url)
        tags = [UserTag(tag.username) for tag in user_tags]
        form = without_none(
            {"media_type": "STORIES", "image_url": image_url, "video_url": video_url, "user_tags": tags_param(tags)}
        )
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
        user_tags: Sequence[UserTag] = (),
        location_id: str | None = None,
        collaborators: Sequence[str] = (),
        audio_name: str | None = None,
        trial_strategy: GraduationStrategy | None = None,
    ) -> str:
        """Create a reel container; returns its id. Instagram prefers `cover_url` over `thumb_offset_ms`.
        `trial_strategy` makes it a trial reel (shown to non-followers first), graduated as it says."""
        form = without_none(
            {
                "media_type": "REELS",
                "video_url": video_url,
                "caption": caption,
                "cover_url": cover_url,
                "share_to_feed": form_bool(share_to_feed),
                "thumb_offset": str(thumb_offset_ms) if thumb_offset_ms is not None else None,
                "user_tags": tags_param(user_tags),
                "location_id": location_id,
                "collaborators": collaborators_param(collaborators),
                "audio_name": audio_name,
                "trial_params": compact_json({"graduation_strategy": trial_strategy}) if trial_strategy else None,
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
        user_tags: Sequence[UserTag] = (),
    ) -> str:
        """Create one carousel item (image or video); returns its id for `create_carousel_container`."""
        exactly_one(image_url=image_url, video_url=video_url)
        if video_url is not None and (alt_text is not None or user_tags):
            raise ValueError("alt_text and user_tags are only accepted for images")
        form = without_none(
            {
                "is_carousel_item": "true",
                # The one place VIDEO is still valid: standalone feed video was replaced by REELS in 2023.
                "media_type": "VIDEO" if video_url is not None else None,
                "image_url": image_url,
                "video_url": video_url,
                "alt_text": alt_text,
                "user_tags": tags_param(user_tags),
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
        location_id: str | None = None,
        collaborators: Sequence[str] = (),
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
                "location_id": location_id,
                "collaborators": collaborators_param(collaborators),
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


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tags_param(tags: Sequence[UserTag]) -> str | None:
    """`user_tags` as Instagram reads it: a JSON array of `{username, x, y}` (None when there are none)."""
    return compact_json([tag.as_json() for tag in tags]) if tags else None


def collaborators_param(usernames: Sequence[str]) -> str | None:
    """`collaborators` as Instagram reads it: a JSON array of up to 3 usernames (None when there are none)."""
    names = string_list(usernames, "collaborators")
    if len(names) > MAX_COLLABORATORS:
        raise ValueError(f"at most {MAX_COLLABORATORS} collaborators, got {len(names)}")
    return compact_json(names) if names else None
