"""The publishing options end to end: what the API takes, and exactly what the sandbox says Instagram received."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PUBLIC_BASE_URL, auth_headers
from tests.support import API, connect_account, published, until_published

TAG = {"username": "jane_doe", "x": 0.5, "y": 0.8}
LOCATION = "110843418940484"


async def _publish(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    account = await connect_account(client)
    return await client.post(f"{API}/{path}", headers=auth_headers(), json={"account_id": account["id"], **body})


async def _received(client: httpx.AsyncClient) -> dict[str, Any]:
    (entry,) = await published(client)
    return entry


def _prepared_image(url: str) -> bool:
    return url.startswith(f"{PUBLIC_BASE_URL}/media/") and url.endswith(".jpg")


class TestWhatInstagramReceives:
    async def test_feed_post_with_tags_location_and_collaborators(self, pg_client: httpx.AsyncClient) -> None:
        response = await _publish(
            pg_client,
            "posts",
            {
                "image_url": "https://example.com/a.jpg",
                "caption": "Launch",
                "user_tags": [TAG, {"username": "@Second.Friend", "x": 0, "y": 1}],
                "location_id": LOCATION,
                "collaborators": ["partner_brand"],
            },
        )
        assert response.status_code == 201, response.text
        params = (await _received(pg_client))["params"]
        assert _prepared_image(params.pop("image_url"))
        assert params == {
            "caption": "Launch",
            "user_tags": '[{"username":"jane_doe","x":0.5,"y":0.8},{"username":"second.friend","x":0.0,"y":1.0}]',
            "location_id": LOCATION,
            "collaborators": '["partner_brand"]',
        }

    async def test_story_tags_are_usernames_only(self, pg_client: httpx.AsyncClient) -> None:
        response = await _publish(
            pg_client, "stories", {"image_url": "https://example.com/s.jpg", "user_tags": [{"username": "jane_doe"}]}
        )
        assert response.status_code == 201, response.text
        entry = await _received(pg_client)
        assert entry["media_product_type"] == "STORY"
        params = entry["params"]
        assert _prepared_image(params.pop("image_url"))
        assert params == {"media_type": "STORIES", "user_tags": '[{"username":"jane_doe"}]'}

    async def test_reel_with_every_option(self, pg_committing_client: httpx.AsyncClient) -> None:
        client = pg_committing_client
        response = await _publish(
            client,
            "reels",
            {
                "video_url": "https://example.com/clip.mp4",
                "caption": "Behind the scenes",
                "share_to_feed": False,
                "thumb_offset": 2500,
                "audio_name": "Studio session",
                "user_tags": [TAG],
                "collaborators": ["partner_brand", "other.brand"],
                "location_id": LOCATION,
                "trial_params": {"graduation_strategy": "SS_PERFORMANCE"},
            },
        )
        await until_published(client, response)
        assert (await _received(client))["params"] == {
            "media_type": "REELS",
            "video_url": "https://example.com/clip.mp4",
            "caption": "Behind the scenes",
            "share_to_feed": "false",
            "thumb_offset": "2500",
            "user_tags": '[{"username":"jane_doe","x":0.5,"y":0.8}]',
            "location_id": LOCATION,
            "collaborators": '["partner_brand","other.brand"]',
            "audio_name": "Studio session",
            "trial_params": '{"graduation_strategy":"SS_PERFORMANCE"}',
        }

    async def test_a_reel_cover_wins_over_thumb_offset(self, pg_committing_client: httpx.AsyncClient) -> None:
        client = pg_committing_client
        response = await _publish(
            client,
            "reels",
            {
                "video_url": "https://example.com/clip.mp4",
                "thumbnail_url": "https://example.com/cover.jpg",
                "thumb_offset": 1000,
            },
        )
        await until_published(client, response)
        params = (await _received(client))["params"]
        assert _prepared_image(params["cover_url"])
        assert "thumb_offset" not in params

    async def test_carousel_location_collaborators_and_item_tags(self, pg_committing_client: httpx.AsyncClient) -> None:
        client = pg_committing_client
        response = await _publish(
            client,
            "carousels",
            {
                "caption": "Looks",
                "location_id": LOCATION,
                "collaborators": ["partner_brand"],
                "items": [
                    {"image_url": "https://example.com/1.jpg", "user_tags": [TAG]},
                    {"video_url": "https://example.com/2.mp4"},
                ],
            },
        )
        await until_published(client, response)
        entry = await _received(client)
        params = entry["params"]
        assert params.pop("children").count(",") == 1
        assert params == {
            "media_type": "CAROUSEL",
            "caption": "Looks",
            "location_id": LOCATION,
            "collaborators": '["partner_brand"]',
        }
        first, second = entry["children"]
        assert _prepared_image(first.pop("image_url"))
        assert first == {"is_carousel_item": "true", "user_tags": '[{"username":"jane_doe","x":0.5,"y":0.8}]'}
        assert second == {"is_carousel_item": "true", "media_type": "VIDEO", "video_url": "https://example.com/2.mp4"}

    async def test_batch_posts_carry_the_options_to_every_account(
        self, pg_committing_client: httpx.AsyncClient
    ) -> None:
        client = pg_committing_client
        await connect_account(client, "john_doe")
        await connect_account(client, "marketing_team")
        response = await client.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={"image_url": "https://example.com/b.jpg", "location_id": LOCATION, "user_tags": [TAG]},
        )
        assert response.status_code == 207, response.text
        entries = await published(client)
        assert len(entries) == 2
        assert {e["params"]["location_id"] for e in entries} == {LOCATION}

    async def test_an_image_outside_the_feed_ratios_is_cropped_when_asked(self, pg_client: httpx.AsyncClient) -> None:
        account = await connect_account(pg_client)
        body = {"account_id": account["id"], "image_url": "https://example.com/tall_1080x1920.jpg"}
        refused = await pg_client.post(f"{API}/posts", headers=auth_headers(), json=body)
        assert refused.status_code == 400
        assert '"fit": "crop" or "pad"' in refused.json()["error"]
        cropped = await pg_client.post(f"{API}/posts", headers=auth_headers(), json={**body, "fit": "crop"})
        # The sandbox refuses a feed image outside 4:5–1.91:1, as Instagram does: it accepted the cropped one.
        assert cropped.status_code == 201, cropped.text


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("posts", {"user_tags": [{"username": "jane", "x": 1.5, "y": 0}]}, "user_tags[0].x must be at most 1"),
    ("posts", {"user_tags": [{"username": "jane"}]}, "user_tags[0].x and user_tags[0].y are required"),
    ("posts", {"user_tags": [{"username": "not a name", "x": 0, "y": 0}]}, "user_tags[0].username"),
    ("posts", {"user_tags": [TAG, TAG]}, "must not name the same account twice"),
    ("posts", {"collaborators": ["a", "b", "c", "d"]}, "collaborators must have at most 3 items"),
    ("posts", {"location_id": "downtown"}, "location_id must be the numeric id of a location"),
    ("posts", {"first_comment": "x" * 2201}, "first_comment must be at most 2200 characters"),
    ("posts", {"first_comment_delay_seconds": 60}, "first_comment_delay_seconds needs a first_comment"),
    ("posts", {"fit": "stretch"}, "fit must be one of"),
    ("posts", {"pad_color": "white"}, "pad_color must be a colour as #RRGGBB"),
    ("stories", {"user_tags": [TAG]}, "a story's user tags take a username only"),
    ("stories", {"location_id": LOCATION}, "location_id is not taken by stories"),
    ("reels", {"trial_params": {"graduation_strategy": "LATER"}}, "trial_params.graduation_strategy must be one of"),
    ("reels", {"thumb_offset": -1}, "thumb_offset must be at least 0"),
]


@pytest.mark.parametrize(("path", "extra", "message"), BAD_BODIES)
async def test_bad_options_are_400_naming_the_field(
    pg_client: httpx.AsyncClient, path: str, extra: dict[str, Any], message: str
) -> None:
    media = {"reels": {"video_url": "https://example.com/v.mp4"}}.get(path, {"image_url": "https://example.com/a.jpg"})
    response = await pg_client.post(f"{API}/{path}", headers=auth_headers(), json={"account_id": 1, **media, **extra})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await published(pg_client) == []


async def test_a_thumb_offset_past_the_end_of_the_video_is_refused(pg_client: httpx.AsyncClient) -> None:
    body = {"video_url": "https://example.com/v_10s.mp4", "thumb_offset": 12000}
    response = await _publish(pg_client, "reels", body)
    assert response.status_code == 400
    assert "thumb_offset 12000 ms is past the end of the video (10.0 s)" in response.json()["error"]
    assert await published(pg_client) == []
