"""The containers a post asks Instagram for, typed per kind, and the one call that creates each.

A request model turns its prepared media into one of these (`PublishRequest.container`); the state machine
only says "create it", whatever the kind (and reads `media_urls`, what Instagram downloads for it). A carousel is
the exception it must know about: its items are containers of their own, created (and saved) one by one before the
carousel itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import instagram as ig


@dataclass(frozen=True)
class ImagePost:
    """A feed image, with its tags, location and collaborators."""

    image_url: str
    caption: str | None
    alt_text: str | None
    user_tags: tuple[ig.UserTag, ...] = ()
    location_id: str | None = None
    collaborators: tuple[str, ...] = ()

    @property
    def media_urls(self) -> tuple[str, ...]:
        return (self.image_url,)

    async def create(self, client: ig.InstagramClient, token: str, user_id: str) -> str:
        return await client.create_image_container(
            token,
            user_id,
            image_url=self.image_url,
            caption=self.caption,
            alt_text=self.alt_text,
            user_tags=self.user_tags,
            location_id=self.location_id,
            collaborators=self.collaborators,
        )


@dataclass(frozen=True)
class Story:
    """An image or a video story (Instagram takes no caption for stories; tags are usernames only)."""

    image_url: str | None = None
    video_url: str | None = None
    user_tags: tuple[ig.UserTag, ...] = ()

    @property
    def media_urls(self) -> tuple[str, ...]:
        return _present(self.image_url, self.video_url)

    async def create(self, client: ig.InstagramClient, token: str, user_id: str) -> str:
        if self.image_url is not None:
            return await client.create_story_container(
                token, user_id, image_url=self.image_url, user_tags=self.user_tags
            )
        return await client.create_story_container(token, user_id, video_url=self.video_url, user_tags=self.user_tags)


@dataclass(frozen=True)
class Reel:
    """A reel, with its cover (or the frame at `thumb_offset_ms`) and its options."""

    video_url: str
    caption: str | None
    cover_url: str | None
    share_to_feed: bool
    thumb_offset_ms: int | None = None
    user_tags: tuple[ig.UserTag, ...] = ()
    location_id: str | None = None
    collaborators: tuple[str, ...] = ()
    audio_name: str | None = None
    trial_strategy: ig.GraduationStrategy | None = None

    @property
    def media_urls(self) -> tuple[str, ...]:
        return _present(self.video_url, self.cover_url)

    async def create(self, client: ig.InstagramClient, token: str, user_id: str) -> str:
        return await client.create_reel_container(
            token,
            user_id,
            video_url=self.video_url,
            caption=self.caption,
            cover_url=self.cover_url,
            share_to_feed=self.share_to_feed,
            thumb_offset_ms=self.thumb_offset_ms,
            user_tags=self.user_tags,
            location_id=self.location_id,
            collaborators=self.collaborators,
            audio_name=self.audio_name,
            trial_strategy=self.trial_strategy,
        )


@dataclass(frozen=True)
class CarouselItem:
    """One image or video of a carousel: a container of its own (tags on images only)."""

    image_url: str | None = None
    video_url: str | None = None
    alt_text: str | None = None
    user_tags: tuple[ig.UserTag, ...] = ()

    @property
    def media_urls(self) -> tuple[str, ...]:
        return _present(self.image_url, self.video_url)

    async def create(self, client: ig.InstagramClient, token: str, user_id: str) -> str:
        if self.image_url is not None:
            return await client.create_carousel_item_container(
                token, user_id, image_url=self.image_url, alt_text=self.alt_text, user_tags=self.user_tags
            )
        return await client.create_carousel_item_container(token, user_id, video_url=self.video_url)


@dataclass(frozen=True)
class Carousel:
    """2–10 items under one caption; created once every item's container exists."""

    items: tuple[CarouselItem, ...]
    caption: str | None
    location_id: str | None = None
    collaborators: tuple[str, ...] = ()

    @property
    def media_urls(self) -> tuple[str, ...]:
        return tuple(url for item in self.items for url in item.media_urls)

    async def create(self, client: ig.InstagramClient, token: str, user_id: str, children: list[str]) -> str:
        return await client.create_carousel_container(
            token,
            user_id,
            children=children,
            caption=self.caption,
            location_id=self.location_id,
            collaborators=self.collaborators,
        )


Container = ImagePost | Story | Reel | Carousel


def _present(*urls: str | None) -> tuple[str, ...]:
    """The URLs Instagram downloads for a container (`media_urls`), without the absent ones."""
    return tuple(url for url in urls if url is not None)
