"""Seed §2–4 and example 2, scenario 3: the curl examples' bodies, status codes and keys, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API, published

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def account_id(make: Factory) -> int:
    return (await make.connected_account("john_doe")).id


@pytest.fixture
async def committing_account_id(committing_make: Factory) -> int:
    return (await committing_make.connected_account("john_doe")).id


class TestFeedPost:
    @pytest.mark.parametrize(
        ("extra", "caption"),
        [
            (
                {
                    "caption": "Check out this amazing product! 🚀",
                    "hashtags": ["marketing", "instagood", "socialmedia"],
                },
                "Check out this amazing product! 🚀\n\n#marketing #instagood #socialmedia",
            ),
            ({"caption": "Beautiful sunset at the beach"}, "Beautiful sunset at the beach"),
        ],
        ids=["with_hashtags", "without_hashtags"],
    )
    async def test_seed_example(
        self, client: httpx.AsyncClient, account_id: int, extra: dict[str, Any], caption: str
    ) -> None:
        response = await client.post(
            f"{API}/posts",
            headers={**auth_headers(), **JSON},
            json={"account_id": account_id, "image_url": "https://example.com/product.jpg", **extra},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Post created successfully"
        assert isinstance(body["post_id"], str) and body["post_id"].isdigit()
        assert isinstance(body["db_id"], int)
        [media] = await published(client, "john_doe")
        assert media["media_id"] == body["post_id"]
        assert media["media_product_type"] == "FEED"
        assert media["caption"] == caption

    async def test_missing_required_field(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "caption": "No image provided",
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "account_id and image_url are required"
        assert await published(client) == []

    async def test_alt_text_reaches_instagram(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account_id,
                "image_url": "https://example.com/photo.jpg",
                "alt_text": "A red bicycle",
            },
        )
        assert response.status_code == 201
        media = await client.get(
            f"/sandbox/graph/v25.0/{response.json()['post_id']}",
            params={"fields": "alt_text", "access_token": await _token(client)},
        )
        assert media.json().get("alt_text") == "A red bicycle"


async def _token(client: httpx.AsyncClient) -> str:
    created = await client.post("/sandbox/control/users", json={"username": "john_doe"})
    return str(created.json()["access_token"])


class TestStory:
    @pytest.mark.parametrize(
        "media",
        [
            {"image_url": "https://example.com/story.jpg", "text": "Back in 5 minutes!"},
            {"image_url": "https://example.com/story.jpg"},
            {"video_url": "https://example.com/story_10s.mp4"},
        ],
        ids=["image_with_text", "image", "video"],
    )
    async def test_seed_example(
        self, committing_client: httpx.AsyncClient, committing_account_id: int, media: dict[str, str]
    ) -> None:
        # Committing: a video story may still be processing when first looked at, and then a job takes over.
        client = committing_client
        response = await client.post(
            f"{API}/stories", headers={**auth_headers(), **JSON}, json={"account_id": committing_account_id, **media}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Story created successfully"
        assert body["story_id"]
        [media_item] = await published(client)
        assert media_item["media_product_type"] == "STORY"


class TestReel:
    @pytest.mark.parametrize(
        "extra",
        [
            {
                "video_url": "https://example.com/tutorial.mp4",
                "caption": "Quick tutorial! Check it out 👇 #tutorial #reels",
                "thumbnail_url": "https://example.com/thumbnail.jpg",
            },
            {"video_url": "https://example.com/video.mp4", "caption": "Amazing content! #reels"},
        ],
        ids=["with_thumbnail", "without_thumbnail"],
    )
    async def test_seed_example(
        self, committing_client: httpx.AsyncClient, committing_account_id: int, extra: dict[str, str]
    ) -> None:
        # Committing: the worker's job publishes the reel while the request waits for it.
        client = committing_client
        response = await client.post(
            f"{API}/reels", headers={**auth_headers(), **JSON}, json={"account_id": committing_account_id, **extra}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Reel created successfully"
        assert body["reel_id"] and isinstance(body["db_id"], int)
        [media] = await published(client)
        assert (media["media_type"], media["media_product_type"]) == ("VIDEO", "REELS")


class TestCarousel:
    async def test_images_and_a_video(self, committing_client: httpx.AsyncClient, committing_account_id: int) -> None:
        # Committing: the video item may still be processing when first looked at, and then a job takes over.
        client = committing_client
        response = await client.post(
            f"{API}/carousels",
            headers=auth_headers(),
            json={
                "account_id": committing_account_id,
                "caption": "Three looks",
                "hashtags": ["fashion"],
                "items": [
                    {"image_url": "https://example.com/look1.jpg", "alt_text": "A red coat"},
                    {"image_url": "https://example.com/look2.png"},
                    {"video_url": "https://example.com/look3.mp4"},
                ],
            },
        )
        assert response.status_code == 201, response.text
        [media] = await published(client)
        assert media["media_type"] == "CAROUSEL_ALBUM"

    async def test_item_count_is_checked(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/carousels",
            headers=auth_headers(),
            json={
                "account_id": account_id,
                "items": [{"image_url": "https://example.com/only.jpg"}],
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "items must have at least 2 items"


class TestBadMedia:
    """Scenario 3: checked on the fetched bytes before any container is created."""

    @pytest.mark.parametrize(
        ("url", "error"),
        [
            ("https://example.com/animation.gif", "Invalid image format. Supported: JPEG, PNG"),
            ("https://example.com/photo.webp", "Invalid image format. Supported: JPEG, PNG"),
            ("https://example.com/tiny_200x200.jpg", "Image too small (min 320x320)"),
            ("https://example.com/narrow_320x319.jpg", "Image too small (min 320x320)"),
        ],
    )
    async def test_seed_messages(self, client: httpx.AsyncClient, account_id: int, url: str, error: str) -> None:
        response = await client.post(
            f"{API}/posts", headers=auth_headers(), json={"account_id": account_id, "image_url": url}
        )
        assert response.status_code == 400
        assert response.json()["error"] == error
        assert await published(client) == []
        assert (await client.get(f"{API}/posts", headers=auth_headers())).json()["posts"] == []

    async def test_aspect_ratio(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account_id, "image_url": "https://example.com/banner_1200x400.jpg"},
        )
        assert response.status_code == 400
        assert "aspect ratio 3.00" in response.json()["error"]
        assert "4:5" in response.json()["error"]

    async def test_png_is_converted_and_published(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account_id, "image_url": "https://example.com/logo_800x800.png"},
        )
        assert response.status_code == 201, response.text

    async def test_not_a_video(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/reels",
            headers=auth_headers(),
            json={"account_id": account_id, "video_url": "https://example.com/not-a-video.jpg"},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "Invalid video format. Supported: MP4, MOV"

    async def test_video_too_short(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/reels",
            headers=auth_headers(),
            json={"account_id": account_id, "video_url": "https://example.com/blink_1s.mp4"},
        )
        assert response.status_code == 400
        assert "duration" in response.json()["error"]

    async def test_unknown_synthetic_extension(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account_id, "image_url": "https://example.com/file.txt"},
        )
        assert response.status_code == 400
        assert "could not be fetched" in response.json()["error"]


class TestBatch:
    """Committing: a batch publishes its accounts side by side."""

    async def test_example_2_to_every_active_account(
        self, committing_client: httpx.AsyncClient, committing_make: Factory
    ) -> None:
        client = committing_client
        accounts = [await committing_make.connected_account(name) for name in ("john_doe", "marketing_team", "third")]
        await client.delete(f"{API}/accounts/{accounts[2].id}", headers=auth_headers())
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={
                "image_url": "https://example.com/launch.jpg",
                "caption": "We launched!",
                "hashtags": ["launch"],
            },
        )
        assert response.status_code == 207, response.text
        results = response.json()
        assert [r["account"] for r in results] == ["john_doe", "marketing_team"]
        for result in results:
            assert result["status"] == "success"
            assert result["post_id"]
            assert set(result) == {"account", "account_id", "db_id", "status", "post_id"}  # no empty error keys
        assert len(await published(client)) == 2

    async def test_one_failing_account_does_not_stop_the_others(
        self, committing_client: httpx.AsyncClient, committing_make: Factory
    ) -> None:
        client = committing_client
        good = await committing_make.connected_account("john_doe")
        bad = await committing_make.connected_account("banned_brand")
        await client.post("/sandbox/control/revoke", json={"username": "banned_brand"})
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={
                "image_url": "https://example.com/launch.jpg",
                "caption": "Hello",
                "account_ids": [good.id, bad.id],
            },
        )
        assert response.status_code == 207
        by_account = {r["account"]: r for r in response.json()}
        assert by_account["john_doe"]["status"] == "success"
        assert by_account["banned_brand"]["status"] == "failed"
        assert by_account["banned_brand"]["error"] == "Access token expired. Please re-authenticate."
        posts = (await client.get(f"{API}/posts", headers=auth_headers())).json()["posts"]
        assert sorted(p["status"] for p in posts) == ["failed", "published"]

    async def test_unknown_account_ids(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={"image_url": "https://example.com/launch.jpg", "account_ids": [account.id, 987654321]},
        )
        assert response.status_code == 404
        assert response.json()["error"] == "Accounts not found or disconnected: 987654321"

    async def test_no_accounts(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{API}/batch-post", headers=auth_headers(), json={"image_url": "https://example.com/launch.jpg"}
        )
        assert response.status_code == 409
