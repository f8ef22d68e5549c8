"""Meta's deauthorize and data-deletion callbacks, end to end: the sandbox (Meta's side) sends the signed requests
to the running service, which disconnects or erases the Instagram user's accounts; and the same routes called with
signed requests built by hand (forged, malformed, replayed, late).

The app commits for real (the deletion wakes the uploads job, which runs beside the request), on both databases.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select

from app.accounts.models import Account
from app.comments.models import Comment, Mention
from app.db import unit_of_work, utcnow
from app.inbound.models import DataDeletionRequest, InboundDelivery
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.main import app_context
from app.publishing.models import MediaAsset, Post, PostAsset, PostKind, PostStatus
from app.uploads.models import PostUpload, Upload
from tests.callbacks.signing import signed_request
from tests.conftest import PUBLIC_BASE_URL, auth_headers, make_settings, running_app
from tests.factories import Factory
from tests.support import API

DEAUTHORIZE_URL = f"{PUBLIC_BASE_URL}{API}/deauthorize"
DELETION_URL = f"{PUBLIC_BASE_URL}{API}/data-deletion"

AppClient = tuple[FastAPI, httpx.AsyncClient]


@pytest_asyncio.fixture
async def app_and_client(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppClient]:
    """The whole app committing for real, its uploads in a directory of this test's own."""
    folder = tmp_path_factory.mktemp("uploads")
    async with running_app(make_settings(database_url, upload_dir=str(folder))) as pair:
        _, client = pair
        # What the App Dashboard would hold: the service's own callback URLs (answered in-process).
        urls = {"deauthorize_url": DEAUTHORIZE_URL, "data_deletion_url": DELETION_URL}
        assert (await client.put("/sandbox/control/callbacks", json=urls)).status_code == 200
        yield pair


@pytest_asyncio.fixture
async def client(app_and_client: AppClient) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest_asyncio.fixture
async def make(app_and_client: AppClient) -> Factory:
    return Factory(app_context(app_and_client[0]), app_and_client[1])


def secret(make: Factory) -> str:
    return make.ctx.settings.app_secret


async def sandbox_callback(client: httpx.AsyncClient, kind: str, username: str) -> dict[str, Any]:
    """Make Meta's servers send a callback about `username`; what the service answered them."""
    response = await client.post(f"/sandbox/control/callbacks/{kind}", json={"username": username})
    assert response.status_code == 200, response.text
    callback: dict[str, Any] = response.json()["callback"]
    assert callback["error"] is None, callback
    return callback


async def accounts_of(client: httpx.AsyncClient, sub: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/accounts", headers=auth_headers(sub))
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.json()
    return listed


async def events_of(client: httpx.AsyncClient, sub: str, type: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/events", headers=auth_headers(sub), params={"type": type})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def count(make: Factory, model: Any, *where: Any) -> int:
    async with unit_of_work(make.ctx.sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class TestDeauthorize:
    async def test_the_sandbox_removing_the_app_disconnects_every_users_account(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        alices = await make.connected_account("leaving_brand", sub="alice")
        bobs = await make.connected_account("leaving_brand", sub="bob")
        other = await make.connected_account("staying_brand", sub="alice")
        scheduled = Post(
            user_id="alice",
            account_id=alices.id,
            kind=PostKind.FEED,
            status=PostStatus.SCHEDULED,
            caption="later",
            scheduled_at=utcnow() + timedelta(days=1),
        )
        async with unit_of_work(make.ctx.sessionmaker) as session:
            session.add(scheduled)

        callback = await sandbox_callback(client, "deauthorize", "leaving_brand")
        assert callback["status"] == 200
        assert '"accounts_disconnected":2' in callback["body"]

        for sub, account in (("alice", alices), ("bob", bobs)):
            [listed] = [a for a in await accounts_of(client, sub) if a["id"] == account.id]
            assert listed["is_active"] is False and listed["status"] == "disconnected"
            [event] = await events_of(client, sub, "account.disconnected")
            assert event["data"]["cause"] == "app_removed"
            assert event["data"]["username"] == "leaving_brand"
        assert event["data"]["cancelled_posts"] == 0
        [alices_event] = await events_of(client, "alice", "account.disconnected")
        assert alices_event["data"]["cancelled_posts"] == 1
        async with unit_of_work(make.ctx.sessionmaker) as session:
            rows = {a.id: a for a in (await session.scalars(select(Account))).all()}
            post = await session.get(Post, scheduled.id)
        assert rows[alices.id].access_token_encrypted is None and rows[bobs.id].access_token_encrypted is None
        assert rows[alices.id].status_reason == "the user removed the app in Instagram"
        assert post is not None and post.status == PostStatus.CANCELLED
        # Someone else's account is untouched.
        assert rows[other.id].status == "active" and rows[other.id].access_token_encrypted is not None

        # Meta calling again changes nothing and still answers 200.
        again = await sandbox_callback(client, "deauthorize", "leaving_brand")
        assert again["status"] == 200 and '"accounts_disconnected":0' in again["body"]
        assert len(await events_of(client, "alice", "account.disconnected")) == 1

    async def test_an_account_connected_again_since_is_left_alone(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        account = await make.connected_account("came_back")
        issued_before = int((utcnow() - timedelta(hours=1)).timestamp())
        late = signed_request(secret(make), account.ig_user_id, issued_at=issued_before)
        response = await client.post(f"{API}/deauthorize", data={"signed_request": late})
        assert response.status_code == 200 and response.json()["accounts_disconnected"] == 0
        assert (await accounts_of(client, "alice"))[0]["is_active"] is True

    async def test_an_unknown_user_answers_200(self, client: httpx.AsyncClient, make: Factory) -> None:
        response = await client.post(
            f"{API}/deauthorize", data={"signed_request": signed_request(secret(make), "17841499999999999")}
        )
        assert response.status_code == 200
        assert response.json() == {"message": "Deauthorization recorded", "accounts_disconnected": 0}


class TestBadSignedRequests:
    """400 with the error envelope, and nothing changed, on both callbacks."""

    @pytest.mark.parametrize("path", ["/deauthorize", "/data-deletion"])
    async def test_forged_malformed_or_missing(self, client: httpx.AsyncClient, make: Factory, path: str) -> None:
        account = await make.connected_account("targeted")
        forged = signed_request("not-the-app-secret", account.ig_user_id)
        wrong_algorithm = signed_request(secret(make), account.ig_user_id, algorithm="HMAC-SHA1")
        no_user = signed_request(secret(make), None)
        for body, fragment in (
            ({"signed_request": forged}, "signature does not match"),
            ({"signed_request": wrong_algorithm}, "algorithm must be HMAC-SHA256"),
            ({"signed_request": no_user}, "no user_id"),
            ({"signed_request": "a*c.def"}, "base64url"),
            ({"signed_request": ""}, "signed_request"),
            ({}, "signed_request is required"),
        ):
            response = await client.post(f"{API}{path}", data=body)
            assert response.status_code == 400, (body, response.text)
            assert fragment in response.json()["error"], response.json()
        json_body = await client.post(f"{API}{path}", json={"signed_request": forged})
        assert json_body.status_code == 400 and "signed_request is required" in json_body.json()["error"]
        assert (await accounts_of(client, "alice"))[0]["is_active"] is True
        assert await count(make, DataDeletionRequest) == 0
        assert await events_of(client, "alice", "account.disconnected") == []


class TestDataDeletion:
    async def test_the_sandbox_deletion_request_erases_the_users_data(
        self, app_and_client: AppClient, make: Factory
    ) -> None:
        app, client = app_and_client
        ctx = app_context(app)
        alices = await make.connected_account("erased_brand", sub="alice")
        bobs = await make.connected_account("erased_brand", sub="bob")
        bystander = await make.connected_account("bystander_brand", sub="alice")
        published = await make.published_post(alices)
        bystanders_post = await make.published_post(bystander)
        upload_id = await _upload(client)
        upload_key = f"{upload_id}.jpg"
        assert await ctx.uploads.exists(upload_key)
        pending_batch = await _seed_history(make, alices, bobs, bystander, published, bystanders_post, upload_id)

        callback = await sandbox_callback(client, "data-deletion", "erased_brand")
        assert callback["status"] == 200
        confirmation = callback["confirmation"]
        assert confirmation["valid"] is True, confirmation
        code = confirmation["confirmation_code"]
        assert confirmation["url"] == f"{PUBLIC_BASE_URL}{API}/data-deletion/{code}"
        assert len(code) >= 32

        status = await client.get(f"{API}/data-deletion/{code}")
        assert status.status_code == 200
        body = status.json()
        assert set(body) == {"confirmation_code", "status", "requested_at", "completed_at"}
        assert body["confirmation_code"] == code and body["status"] == "completed"
        assert body["completed_at"] >= body["requested_at"]

        erased = [alices.id, bobs.id]
        async with unit_of_work(make.ctx.sessionmaker) as session:
            accounts = {a.id: a for a in (await session.scalars(select(Account))).all()}
            post = await session.get(Post, published.id)
            kept_post = await session.get(Post, bystanders_post.id)
        for account_id in erased:
            account = accounts[account_id]
            assert account.username == "deleted" and account.status == "disconnected"
            assert account.access_token_encrypted is None
            assert (account.name, account.biography, account.profile_picture_url, account.followers_count) == (
                None,
                None,
                None,
                None,
            )
            assert account.ig_user_id == alices.ig_user_id  # the row stays, for the web app's history
        assert post is not None
        assert (post.caption, post.request, post.media, post.permalink, post.error) == (None, {}, [], None, None)
        assert (post.status, post.media_id, post.published_at) == (
            PostStatus.PUBLISHED,
            published.media_id,
            published.published_at,
        )
        assert await count(make, Comment, Comment.account_id.in_(erased)) == 0
        assert await count(make, Mention, Mention.account_id.in_(erased)) == 0
        assert await count(make, PostAnalytics, PostAnalytics.post_id == published.id) == 0
        assert await count(make, AnalyticsSnapshot, AnalyticsSnapshot.post_id == published.id) == 0
        assert await count(make, MediaAsset, MediaAsset.id == "asset_only_theirs") == 0
        # What the bystander has, and what a batch post of theirs still needs, stays.
        assert kept_post is not None and kept_post.caption == bystanders_post.caption
        assert await count(make, Comment, Comment.account_id == bystander.id) == 1
        assert await count(make, PostAnalytics, PostAnalytics.post_id == bystanders_post.id) == 1
        assert await count(make, MediaAsset, MediaAsset.id == "asset_shared") == 1
        assert await count(make, PostAsset, PostAsset.post_id == pending_batch) == 1
        assert accounts[bystander.id].username == "bystander_brand"
        # The upload's row and then its file go (the uploads job, woken by the deletion).
        await _until(lambda: _gone(make, upload_id, upload_key))

        for sub, account in (("alice", alices), ("bob", bobs)):
            [event] = await events_of(client, sub, "account.disconnected")
            assert event["data"]["cause"] == "data_deletion"
            assert event["data"]["account_id"] == account.id
            assert event["data"]["username"] == "deleted"
        # Events recorded before the deletion no longer name the user; the bystander's still do.
        connected = {e["data"]["account_id"]: e["data"] for e in await events_of(client, "alice", "account.connected")}
        assert connected[alices.id]["username"] == "deleted"
        assert connected[alices.id]["platform_user_id"] == alices.ig_user_id
        assert connected[bystander.id]["username"] == "bystander_brand"
        # Instagram's stored webhook deliveries lose the user's entries, and keep their hash (replays still match).
        async with unit_of_work(make.ctx.sessionmaker) as session:
            deliveries = {d.body_sha256: d for d in (await session.scalars(select(InboundDelivery))).all()}
        mixed, others = deliveries["mixed"], deliveries["others"]
        assert json.loads(mixed.body)["entry"] == [_entry(bystander.ig_user_id)]
        assert others.body == _delivery(bystander.ig_user_id)

    async def test_replayed_answers_no_longer_quote_the_user(self, client: httpx.AsyncClient, make: Factory) -> None:
        """Answers kept for Idempotency-Key replays lose what the erased posts lose; a replay still answers the same
        status and ids, creates nothing, and the bystander's entry of a shared batch stays as it was."""
        erased = await make.connected_account("erased_brand", sub="alice")
        bystander = await make.connected_account("bystander_brand", sub="alice")
        post_body = {"account_id": erased.id, "image_url": "https://example.com/a.jpg", "caption": "secret plans"}
        accounts = [erased.id, bystander.id]
        batch_body = {"image_url": "https://example.com/b.jpg", "caption": "all", "account_ids": accounts}
        sent = {
            "posts": (post_body, {**auth_headers("alice"), "Idempotency-Key": "erased-post"}),
            "batch-post": (batch_body, {**auth_headers("alice"), "Idempotency-Key": "erased-batch"}),
        }
        first = {path: await client.post(f"{API}/{path}", json=body, headers=h) for path, (body, h) in sent.items()}
        assert first["posts"].status_code == 201 and first["posts"].json()["permalink"]
        assert first["batch-post"].status_code == 207
        assert {r["account"] for r in first["batch-post"].json()} == {"erased_brand", "bystander_brand"}

        await sandbox_callback(client, "data-deletion", "erased_brand")

        again = {path: await client.post(f"{API}/{path}", json=body, headers=h) for path, (body, h) in sent.items()}
        post = again["posts"]
        assert post.status_code == 201 and post.headers["Idempotent-Replayed"] == "true"
        assert post.json() == {**first["posts"].json(), "permalink": None}
        results = {r["account_id"]: r for r in again["batch-post"].json()}
        assert again["batch-post"].status_code == 207
        before = {r["account_id"]: r for r in first["batch-post"].json()}
        assert results[erased.id] == {**before[erased.id], "account": "deleted"}
        assert results[bystander.id] == before[bystander.id]
        assert await count(make, Post) == 3

    async def test_the_same_request_again_answers_the_same_code(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account("twice")
        request = signed_request(secret(make), account.ig_user_id)
        first = await client.post(f"{API}/data-deletion", data={"signed_request": request})
        second = await client.post(f"{API}/data-deletion", data={"signed_request": request})
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert await count(make, DataDeletionRequest) == 1
        assert len(await events_of(client, "alice", "account.disconnected")) == 1
        # A new request, issued later, gets a code of its own (and finds nothing more to erase).
        later = signed_request(secret(make), account.ig_user_id, issued_at=int(utcnow().timestamp()) + 5)
        third = await client.post(f"{API}/data-deletion", data={"signed_request": later})
        assert third.status_code == 200 and third.json()["confirmation_code"] != first.json()["confirmation_code"]
        assert len(await events_of(client, "alice", "account.disconnected")) == 1

    async def test_a_user_with_nothing_connected_gets_a_completed_request(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        callback = await sandbox_callback(client, "data-deletion", "never_connected")
        assert callback["status"] == 200 and callback["confirmation"]["valid"] is True
        status = await client.get(callback["confirmation"]["url"].removeprefix(PUBLIC_BASE_URL))
        assert status.status_code == 200 and status.json()["status"] == "completed"

    async def test_an_unknown_code_is_404(self, client: httpx.AsyncClient) -> None:
        for code in ("unknown", "x" * 64):
            response = await client.get(f"{API}/data-deletion/{code}")
            assert response.status_code == 404
            assert response.json()["error"] == "No data-deletion request has this confirmation code"

    async def test_a_code_no_request_can_have_is_400(self, client: httpx.AsyncClient) -> None:
        # Codes are URL-safe base64 of at most 64 characters (as documented): anything else is bad input.
        for code in ("x" * 65, "%20", "a.b"):
            response = await client.get(f"{API}/data-deletion/{code}")
            assert response.status_code == 400, code
            assert "code" in response.json()["error"]

    async def test_a_reconnection_after_erasure_restores_the_profile(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        account = await make.connected_account("returning")
        request = signed_request(secret(make), account.ig_user_id)
        assert (await client.post(f"{API}/data-deletion", data={"signed_request": request})).status_code == 200
        again = await make.connected_account("returning")
        assert again.id == account.id and again.username == "returning" and again.status == "active"


# --- helpers ----------------------------------------------------------------------------------------


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), (200, 30, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(client: httpx.AsyncClient) -> str:
    response = await client.post(
        f"{API}/uploads", headers=auth_headers("alice"), files={"file": ("me.jpg", _jpeg(), "image/jpeg")}
    )
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["upload_id"]
    return upload_id


async def _seed_history(
    make: Factory,
    alices: Account,
    bobs: Account,
    bystander: Account,
    published: Post,
    bystanders_post: Post,
    upload_id: str,
) -> int:
    """Comments, mentions, insights, prepared media and an upload, for the erased user and for a bystander.
    Returns the id of the bystander's unfinished batch post that shares a prepared image with the erased post."""
    now = utcnow()
    async with unit_of_work(make.ctx.sessionmaker) as session:
        pending = Post(
            user_id="alice",
            account_id=bystander.id,
            kind=PostKind.FEED,
            status=PostStatus.SCHEDULED,
            caption="batch",
            scheduled_at=now + timedelta(days=1),
        )
        session.add(pending)
        for account in (alices, bobs, bystander):
            session.add(Comment(account_id=account.id, ig_comment_id=f"c{account.id}", media_id="m1", text="love it"))
        session.add(Mention(account_id=alices.id, media_id="m2", text="@erased_brand look", username="fan"))
        for post in (published, bystanders_post):
            session.add(PostAnalytics(post_id=post.id, likes=3, reach=10, metrics={}))
            session.add(AnalyticsSnapshot(post_id=post.id, likes=3, reach=10, metrics={}))
        for asset_id in ("asset_only_theirs", "asset_shared"):
            session.add(
                MediaAsset(
                    id=asset_id, content_type="image/jpeg", content=b"jpeg", size=4, expires_at=now + timedelta(days=1)
                )
            )
        await session.flush()
        session.add_all(
            [
                PostAsset(post_id=published.id, asset_id="asset_only_theirs"),
                PostAsset(post_id=published.id, asset_id="asset_shared"),
                PostAsset(post_id=pending.id, asset_id="asset_shared"),
                PostUpload(post_id=published.id, upload_id=upload_id),
            ]
        )
        session.add(InboundDelivery(body_sha256="mixed", body=_delivery(alices.ig_user_id, bystander.ig_user_id)))
        session.add(InboundDelivery(body_sha256="others", body=_delivery(bystander.ig_user_id)))
        erased_post = await session.get(Post, published.id)
        assert erased_post is not None
        erased_post.permalink = "https://www.instagram.com/p/abc/"
        erased_post.request = {"caption": "secret plans"}
        return pending.id


def _entry(ig_user_id: str) -> dict[str, Any]:
    comment = {"id": "c1", "text": "love it", "from": {"id": "1", "username": "fan"}, "media": {"id": "m1"}}
    return {"id": ig_user_id, "time": 1764442379, "changes": [{"field": "comments", "value": comment}]}


def _delivery(*ig_user_ids: str) -> bytes:
    return json.dumps({"object": "instagram", "entry": [_entry(i) for i in ig_user_ids]}).encode()


async def _gone(make: Factory, upload_id: str, key: str) -> bool:
    return await count(make, Upload, Upload.id == upload_id) == 0 and not await make.ctx.uploads.exists(key)


async def _until(condition: Any, timeout: float = 10.0) -> None:
    import asyncio

    for _ in range(int(timeout / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
