"""Async factories, in the style of Polar's tests: the records a test needs, made directly and named for what
they are, instead of the same arrange block in every test.

- `connected_account`: an account as the OAuth callback leaves it. The sandbox mints its token (as its
  consent page would), the profile is read from the sandbox, the row is written by the accounts service.
- `published_post`: a post Instagram published and this service recorded. The media is published in the
  sandbox with the account's token (the container the post's kind makes), the row written as published.

Tests whose subject is connecting or publishing go through the API instead (`tests.support`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import httpx

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.publishing import containers
from app.publishing.models import Post, PostKind, PostStatus

# What each kind of post publishes in the sandbox (synthetic media on example.com).
_CONTAINERS: dict[PostKind, containers.Container] = {
    PostKind.FEED: containers.ImagePost("https://example.com/product.jpg", "Made by a factory", None),
    PostKind.STORY: containers.Story(image_url="https://example.com/story.jpg"),
    PostKind.REEL: containers.Reel("https://example.com/clip.mp4", "Made by a factory", None, share_to_feed=True),
    PostKind.CAROUSEL: containers.Carousel(
        (
            containers.CarouselItem(image_url="https://example.com/look1.jpg"),
            containers.CarouselItem(image_url="https://example.com/look2.jpg"),
        ),
        "Made by a factory",
    ),
}


@dataclass(frozen=True)
class Factory:
    """Makes records in a service's database (through `ctx`), and their counterparts in its sandbox (`sandbox`
    reaches `/sandbox/control`: the app's own client in-process, or the stand-alone sandbox's)."""

    ctx: AppContext
    sandbox: httpx.AsyncClient

    async def connected_account(
        self, username: str = "john_doe", *, sub: str = "alice", scopes: list[str] | None = None
    ) -> Account:
        """`username`'s Instagram account, connected by web-app user `sub` (granting `scopes`, else the defaults)."""
        ctx = self.ctx
        body: dict[str, object] = {"username": username, **({"scopes": scopes} if scopes else {})}
        minted = await self.sandbox.post("/sandbox/control/users", json=body)
        assert minted.status_code == 201, minted.text
        grant = minted.json()
        profile = await ctx.instagram.get_me(grant["access_token"])
        async with unit_of_work(ctx.sessionmaker) as session:
            return await accounts_service.upsert_connected(
                session,
                user_id=sub,
                profile=profile,
                settings=ctx.settings,
                token_ciphertext=ctx.cipher.encrypt(grant["access_token"]),
                token_expires_at=utcnow() + timedelta(seconds=grant["expires_in"]),
                scopes=grant["permissions"],
            )

    async def published_post(self, account: Account, kind: PostKind = PostKind.FEED) -> Post:
        """A `kind` post of `account`, published at Instagram and recorded as published."""
        ctx = self.ctx
        token = accounts_service.access_token(account, ctx.cipher)
        assert token is not None
        spec = _CONTAINERS[kind]
        if isinstance(spec, containers.Carousel):
            children = [await item.create(ctx.instagram, token, account.ig_user_id) for item in spec.items]
            container_id = await spec.create(ctx.instagram, token, account.ig_user_id, children)
        else:
            container_id = await spec.create(ctx.instagram, token, account.ig_user_id)
        for _ in range(200):  # a video processes for SANDBOX_VIDEO_PROCESSING_SECONDS
            if (await ctx.instagram.get_container_status(token, container_id)).status_code != "IN_PROGRESS":
                break
            await asyncio.sleep(0.05)
        media_id = await ctx.instagram.publish_container(token, account.ig_user_id, container_id)
        now = utcnow()
        post = Post(
            user_id=account.user_id,
            account_id=account.id,
            kind=kind,
            status=PostStatus.PUBLISHED,
            caption=getattr(spec, "caption", None),
            request={},
            media=[],
            children=[],
            container_id=container_id,
            container_created_at=now,
            media_id=media_id,
            published_at=now,
            attempts=1,
            retryable=False,
            created_at=now,
            updated_at=now,
        )
        async with unit_of_work(ctx.sessionmaker) as session:
            session.add(post)
        return post
