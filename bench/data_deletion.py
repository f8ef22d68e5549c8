"""Benchmark: how long does Meta's data-deletion callback keep its request waiting, for a user with a long history?

The deletion runs inline, in the request's transaction (app/inbound/deletion.py). This seeds a fresh, migrated
PostgreSQL database with one Instagram user connected by two web-app users and, beside them, a bystander with the
same history (the statements must find the user's rows among others'): per account `--posts` published posts,
each with 4 insights snapshots and its latest figures, 5 comments per post, a mention every 10 posts, a prepared
image every 10 posts, an event per post, and a stored webhook delivery every 10 posts. It then times
`request_deletion` (the route's work, without HTTP) and its commit, and checks what is left.
`python -m bench.data_deletion --posts 5000`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.accounts.models import Account
from app.comments.models import Comment
from app.db import utcnow
from app.events.models import Event
from app.inbound import deletion
from app.inbound.models import InboundDelivery
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.publishing.models import MediaAsset, Post, PostAsset
from bench.harness import create_database, drop_database

ERASED = "17841400000000001"
BYSTANDER = "17841400000000002"


async def _seed_account(session: Any, user_id: str, ig_user_id: str, username: str, posts: int) -> None:
    now = utcnow()
    account = Account(user_id=user_id, ig_user_id=ig_user_id, username=username)
    session.add(account)
    await session.flush()
    post_rows = [
        {
            "user_id": user_id,
            "account_id": account.id,
            "kind": "feed",
            "status": "published",
            "caption": f"caption {i} by {username}",
            "request": {"caption": f"caption {i}"},
            "media": [],
            "children": [],
            "permalink": f"https://www.instagram.com/p/{username}{i}/",
            "media_id": f"{ig_user_id}{i}",
            "published_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(posts)
    ]
    ids = list((await session.scalars(insert(Post).returning(Post.id), post_rows)).all())
    figures = {"likes": 3, "reach": 10, "metrics": {}}
    await session.execute(insert(PostAnalytics), [{"post_id": i, **figures} for i in ids])
    await session.execute(insert(AnalyticsSnapshot), [{"post_id": i, **figures} for i in ids for _ in range(4)])
    comments = [
        {"account_id": account.id, "ig_comment_id": f"{p}-{c}", "media_id": str(p), "text": "nice"}
        for p in ids
        for c in range(5)
    ]
    await session.execute(insert(Comment), comments)
    assets = [f"asset-{user_id}-{i}" for i in range(0, posts, 10)]
    await session.execute(
        insert(MediaAsset),
        [
            {
                "id": a,
                "content_type": "image/jpeg",
                "content": b"x" * 100,
                "size": 100,
                "expires_at": now + timedelta(1),
            }
            for a in assets
        ],
    )
    await session.execute(insert(PostAsset), [{"post_id": ids[n * 10], "asset_id": a} for n, a in enumerate(assets)])
    events = [
        {
            "public_id": f"evt_{user_id}_{n}",
            "user_id": user_id,
            "type": "post.published",
            "data": {"db_id": i, "account_id": account.id, "account": username, "permalink": "https://x/p/"},
        }
        for n, i in enumerate(ids)
    ]
    await session.execute(insert(Event), events)
    deliveries = [
        {
            "body_sha256": f"{user_id}-{n}",
            "body": json.dumps({"object": "instagram", "entry": [{"id": ig_user_id, "changes": []}]}).encode(),
        }
        for n in range(0, posts, 10)
    ]
    await session.execute(insert(InboundDelivery), deliveries)


async def run(posts: int) -> None:
    url, name = await create_database()
    engine = create_async_engine(url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    try:
        started = time.perf_counter()
        async with sessionmaker() as session:
            await _seed_account(session, "alice", ERASED, "erased", posts)
            await _seed_account(session, "bob", ERASED, "erased", posts)
            await _seed_account(session, "carol", BYSTANDER, "bystander", posts)
            await session.commit()
        print(f"seeded 3 accounts x {posts} posts in {time.perf_counter() - started:.1f} s")
        async with sessionmaker() as session:
            started = time.perf_counter()
            outcome = await deletion.request_deletion(session, ERASED, utcnow())
            erased_in = time.perf_counter() - started
            await session.commit()
            total = time.perf_counter() - started
        assert outcome.erasure is not None
        counts = {k: v for k, v in vars(outcome.erasure).items() if isinstance(v, int)}
        print(f"data deletion: {erased_in * 1000:.0f} ms, with its commit {total * 1000:.0f} ms; {counts}")
        async with sessionmaker() as session:
            left = await session.scalar(select(func.count()).select_from(Post).where(Post.caption.is_not(None)))
        assert left == posts, f"the bystander's {posts} captions should be left, found {left}"
    finally:
        await engine.dispose()
        await drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5000, help="published posts per account (default 5000)")
    args = parser.parse_args()
    asyncio.run(run(args.posts))


if __name__ == "__main__":
    main()
