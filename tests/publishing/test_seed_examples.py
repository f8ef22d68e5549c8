"""Seed §2–4 and example 2, scenario 3: the curl examples' bodies, status codes and keys, on both databases."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import auth_headers
from tests.support import API, connect_account, published

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def account_id(client: httpx.AsyncClient) -> int:
    account = await connect_account(client, "john_doe")
    return int(account["id"])


class TestFeedPost:
    async def test_simple_post(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "image_url": "https://example.com/product.jpg",
                "caption": "Check out this amazing product! 🚀",
                "hashtags": ["marketing", "instagood", "socialmedia"],
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Post created successfully"
        assert isinstance(body["post_id"], str) and body["post_id"].isdigit()
        assert isinstance(body["db_id"], int)
        [media] = await published(client, "john_doe")
        assert media["media_id"] == body["post_id"]
        assert media["media_product_type"] == "FEED"
        assert media["caption"] == "Check out this amazing product! 🚀\n\n#marketing #instagood #socialmedia"

    async def test_post_without_hashtags(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/posts",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "image_url": "https://example.com/photo.jpg",
                "caption": "Beautiful sunset at the beach",
            },
        )
        assert response.status_code == 201
        assert (await published(client))[0]["caption"] == "Beautiful sunset at the beach"

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
    async def test_story_with_text(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/stories",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "image_url": "https://example.com/story.jpg",
                "text": "Back in 5 minutes!",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Story created successfully"
        assert body["story_id"]
        [media] = await published(client)
        assert media["media_product_type"] == "STORY"

    async def test_story_without_text(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/stories",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "image_url": "https://example.com/story.jpg",
            },
        )
        assert response.status_code == 201
        assert set(response.json()) >= {"message", "story_id"}

    async def test_video_story(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/stories",
            headers=auth_headers(),
            json={
                "account_id": account_id,
                "video_url": "https://example.com/story_10s.mp4",
            },
        )
        assert response.status_code == 201, response.text


class TestReel:
    async def test_reel_with_video(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/reels",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "video_url": "https://example.com/tutorial.mp4",
                "caption": "Quick tutorial! Check it out 👇 #tutorial #reels",
                "thumbnail_url": "https://example.com/thumbnail.jpg",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Reel created successfully"
        assert body["reel_id"] and isinstance(body["db_id"], int)
        [media] = await published(client)
        assert (media["media_type"], media["media_product_type"]) == ("VIDEO", "REELS")

    async def test_reel_without_thumbnail(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/reels",
            headers={**auth_headers(), **JSON},
            json={
                "account_id": account_id,
                "video_url": "https://example.com/video.mp4",
                "caption": "Amazing content! #reels",
            },
        )
        assert response.status_code == 201
        assert response.json()["message"] == "Reel created successfully"


class TestCarousel:
    async def test_images_and_a_video(self, client: httpx.AsyncClient, account_id: int) -> None:
        response = await client.post(
            f"{API}/carousels",
            headers=auth_headers(),
            json={
                "account_id": account_id,
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
    async def test_example_2_to_every_active_account(self, client: httpx.AsyncClient) -> None:
        accounts = [await connect_account(client, name) for name in ("john_doe", "marketing_team", "third_brand")]
        await client.delete(f"{API}/accounts/{accounts[2]['id']}", headers=auth_headers())
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
        assert len(await published(client)) == 2

    async def test_one_failing_account_does_not_stop_the_others(self, client: httpx.AsyncClient) -> None:
        good = await connect_account(client, "john_doe")
        bad = await connect_account(client, "banned_brand")
        await client.post("/sandbox/control/revoke", json={"username": "banned_brand"})
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={
                "image_url": "https://example.com/launch.jpg",
                "caption": "Hello",
                "account_ids": [good["id"], bad["id"]],
            },
        )
        assert response.status_code == 207
        by_account = {r["account"]: r for r in response.json()}
        assert by_account["john_doe"]["status"] == "success"
        assert by_account["banned_brand"]["status"] == "failed"
        assert by_account["banned_brand"]["error"] == "Access token expired. Please re-authenticate."
        posts = (await client.get(f"{API}/posts", headers=auth_headers())).json()["posts"]
        assert sorted(p["status"] for p in posts) == ["failed", "published"]

    async def test_unknown_account_ids(self, client: httpx.AsyncClient) -> None:
        await connect_account(client)
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={"image_url": "https://example.com/launch.jpg", "account_ids": [1, 77]},
        )
        assert response.status_code == 404
        assert "77" in response.json()["error"]

    async def test_no_accounts(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{API}/batch-post", headers=auth_headers(), json={"image_url": "https://example.com/launch.jpg"}
        )
        assert response.status_code == 409
