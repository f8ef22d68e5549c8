"""Seed §5: post insights read live, stored, kept as history, and answered stale when Instagram fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.accounts.models import Account
from app.accounts.tasks import refresh_expiring_tokens
from app.db import utcnow
from app.insights.models import AnalyticsSnapshot
from app.insights.refresh import refresh_recent
from app.insights.service import figures_from_metrics
from app.main import app_context
from app.publishing.models import Post, PostKind
from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API, future

SEED_KEYS = {"likes", "comments", "shares", "reach", "impressions", "saved", "engagement_rate"}


async def _age_everything(client: httpx.AsyncClient, days: float) -> None:
    await client.post("/sandbox/control/clock", json={"advance_seconds": days * 86400})


class TestPostInsights:
    async def test_seed_5(self, client: httpx.AsyncClient, make: Factory) -> None:
        post = await make.published_post(await make.connected_account())
        await _age_everything(client, 3)
        response = await client.get(
            f"{API}/{post.id}/insights", headers={**auth_headers(), "Content-Type": "application/json"}
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) >= SEED_KEYS
        assert body["reach"] > 0 and body["likes"] > 0
        assert body["impressions"] == body["views"]
        assert body["engagement_rate"] == round(body["total_interactions"] / body["reach"] * 100, 2)
        assert body["stale"] is False

    async def test_requests_at_once_for_one_post_all_answer(
        self, committing_client: httpx.AsyncClient, committing_make: Factory
    ) -> None:
        """The first figures of a post stored by several requests at once: each stores its own, none fails on
        the post's one row of latest figures (it was read, then inserted: the second insert answered 500)."""
        post = await committing_make.published_post(await committing_make.connected_account())
        # The sandbox answers the insights call in 0.2 s: every request has read "no figures yet" by then.
        await committing_client.put("/sandbox/control/latency", json={"endpoints": {"media_insights": 0.2}})
        answers = await asyncio.gather(
            *(committing_client.get(f"{API}/{post.id}/insights", headers=auth_headers()) for _ in range(8))
        )
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers if a.status_code != 200]
        async with committing_make.ctx.sessionmaker() as session:
            snapshots = (
                await session.scalars(select(AnalyticsSnapshot).where(AnalyticsSnapshot.post_id == post.id))
            ).all()
        assert len(snapshots) == 8

    async def test_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{API}/99999/insights", headers=auth_headers())
        assert response.status_code == 404
        assert response.json()["error"] == "Post not found"

    async def test_not_published_yet(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        scheduled = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/a.jpg",
                "scheduled_at": future(days=1),
            },
        )
        response = await client.get(f"{API}/{scheduled.json()['db_id']}/insights", headers=auth_headers())
        assert response.status_code == 409
        assert "not published" in response.json()["error"]

    @pytest.mark.parametrize("kind", [PostKind.REEL, PostKind.STORY, PostKind.CAROUSEL])
    async def test_each_kind_uses_its_metric_set(
        self, client: httpx.AsyncClient, make: Factory, kind: PostKind
    ) -> None:
        post = await make.published_post(await make.connected_account(), kind)
        await _age_everything(client, 0.5)
        response = await client.get(f"{API}/{post.id}/insights", headers=auth_headers())
        assert response.status_code == 200, response.text
        insights = response.json()
        assert insights["reach"] is not None
        if kind == PostKind.STORY:
            assert insights["likes"] is None and insights["replies"] is not None
        else:
            assert insights["likes"] is not None

    async def test_stored_history_and_stale_answer(self, client: httpx.AsyncClient, make: Factory) -> None:
        post = await make.published_post(await make.connected_account())
        await _age_everything(client, 1)
        first = (await client.get(f"{API}/{post.id}/insights", headers=auth_headers())).json()
        await _age_everything(client, 2)
        second = (await client.get(f"{API}/{post.id}/insights", headers=auth_headers())).json()
        assert second["reach"] >= first["reach"]
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_insights", "kind": "server_error", "count": 5}
        )
        stale = await client.get(f"{API}/{post.id}/insights", headers=auth_headers())
        assert stale.status_code == 200
        assert stale.json()["stale"] is True
        assert stale.json()["reach"] == second["reach"]
        assert stale.json()["updated_at"] == second["updated_at"]
        history = (await client.get(f"{API}/{post.id}/insights/history", headers=auth_headers())).json()
        assert [s["reach"] for s in history["snapshots"]] == [first["reach"], second["reach"]]

    async def test_failure_without_stored_figures_is_an_error(self, client: httpx.AsyncClient, make: Factory) -> None:
        post = await make.published_post(await make.connected_account())
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_insights", "kind": "server_error", "count": 5}
        )
        response = await client.get(f"{API}/{post.id}/insights", headers=auth_headers())
        assert response.status_code == 502

    async def test_throttled_without_stored_figures(self, client: httpx.AsyncClient, make: Factory) -> None:
        post = await make.published_post(await make.connected_account())
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_insights", "kind": "throttle", "count": 5}
        )
        response = await client.get(f"{API}/{post.id}/insights", headers=auth_headers())
        assert response.status_code == 429
        assert "retry-after" in response.headers

    async def test_dead_token(self, client: httpx.AsyncClient, make: Factory) -> None:
        post = await make.published_post(await make.connected_account())
        await client.post("/sandbox/control/revoke", json={"username": "john_doe"})
        response = await client.get(f"{API}/{post.id}/insights", headers=auth_headers())
        assert response.status_code == 401
        assert response.json()["action"] == "redirect"


def test_engagement_rate_definition() -> None:
    figures = figures_from_metrics({"reach": 3890, "likes": 245, "comments": 18, "shares": 5, "saved": 12})
    assert figures.total_interactions == 280
    assert figures.engagement_rate == 7.2
    assert figures_from_metrics({"reach": 0, "total_interactions": 0}).engagement_rate == 0.0
    assert figures_from_metrics({}).engagement_rate is None


async def test_account_insights(client: httpx.AsyncClient, make: Factory) -> None:
    account = await make.connected_account()
    response = await client.get(
        f"{API}/account/insights", params={"account_id": account.id, "period": "week"}, headers=auth_headers()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "week"
    assert body["metrics"]["reach"] > 0
    assert "impressions" not in body["metrics"]
    bad = await client.get(
        f"{API}/account/insights", params={"account_id": account.id, "period": "year"}, headers=auth_headers()
    )
    assert bad.status_code == 400


class TestBackgroundRefresh:
    async def test_insights_refresh_stores_snapshots_and_survives_failures(
        self, committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        # Committing: the refresh reads several posts side by side.
        app, client = committing_app_and_client
        make = Factory(app_context(app), client)
        good = await make.connected_account("john_doe")
        dead = await make.connected_account("gone_brand")
        posts = [await make.published_post(good) for _ in range(3)]
        await make.published_post(dead)
        await client.post("/sandbox/control/revoke", json={"username": "gone_brand"})
        ctx = app_context(app)
        # One post whose media no longer exists at Instagram: its refresh fails, the others go on.
        async with ctx.sessionmaker() as session:
            await session.execute(update(Post).where(Post.id == posts[0].id).values(media_id="17800000000000000"))
            await session.commit()
        progress: list[tuple[int, int, str]] = []
        report = await refresh_recent(ctx, progress=lambda done, total, detail: progress.append((done, total, detail)))
        assert report.refreshed == 2
        assert report.failed == 2
        assert sorted(done for done, _, _ in progress) == [1, 2, 3, 4]
        assert {total for _, total, _ in progress} == {4}
        async with ctx.sessionmaker() as session:
            snapshots = (await session.scalars(select(AnalyticsSnapshot))).all()
            statuses = {a.username: a.status for a in (await session.scalars(select(Account))).all()}
        assert {s.post_id for s in snapshots} == {p.id for p in posts[1:]}
        assert len(snapshots) == 2
        assert statuses == {"john_doe": "active", "gone_brand": "needs_reauth"}

    async def test_token_refresh(self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory) -> None:
        app, client = app_and_client
        old = await make.connected_account("old_brand")
        young = await make.connected_account("young_brand")
        dead = await make.connected_account("dead_brand")
        ctx = app_context(app)
        now = utcnow()
        async with ctx.sessionmaker() as session:
            await session.execute(
                update(Account)
                .where(Account.id.in_([old.id, dead.id]))
                .values(token_issued_at=now - timedelta(days=55), token_expires_at=now + timedelta(days=5))
            )
            await session.execute(
                update(Account).where(Account.id == young.id).values(token_expires_at=now + timedelta(days=5))
            )
            await session.commit()
        await client.post("/sandbox/control/clock", json={"advance_seconds": 2 * 86400})
        await client.post("/sandbox/control/revoke", json={"username": "dead_brand"})
        report = await refresh_expiring_tokens(ctx)
        # The factory connects without subscribing to webhooks: the job subscribes the two still active.
        assert report.as_dict() == {
            "refreshed": 1,
            "dead": 1,
            "failed": 0,
            "webhooks_subscribed": 2,
            "webhooks_failed": 0,
        }
        async with ctx.sessionmaker() as session:
            accounts = {a.username: a for a in (await session.scalars(select(Account))).all()}
        refreshed = accounts["old_brand"]
        assert refreshed.token_expires_at is not None and refreshed.token_expires_at > now + timedelta(days=50)
        assert refreshed.token_refreshed_at is not None
        assert accounts["dead_brand"].status == "needs_reauth"
        assert accounts["young_brand"].token_refreshed_at is None
        # The refreshed token works.
        info = await client.get(f"{API}/account/info", params={"account_id": old.id}, headers=auth_headers())
        assert info.status_code == 200
