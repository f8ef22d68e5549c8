"""Checklist 5–9: containers, their state machine, media checks, carousels, media_publish, the quota."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from app.config import Settings

from .helpers import (
    BASE_URL,
    GRAPH,
    IMAGE_URL,
    REEL_URL,
    advance,
    container_status,
    control,
    create_container,
    error_of,
    long_token,
    me,
    mounted,
    post_image,
    publish,
    wait_finished,
)

FEED_ERROR = "Error: Media upload has failed with error code 2207026"


def _jpeg(width: int = 1080, height: int = 1080) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _remote(request: httpx.Request) -> httpx.Response:
    """The media server behind `https://media.test/...` for the fetch tests."""
    path = request.url.path
    if path == "/ok.jpg":
        return httpx.Response(200, content=_jpeg(), headers={"content-type": "image/jpeg"})
    if path == "/big.jpg":
        return httpx.Response(200, content=b"\xff\xd8\xff\xe0" + bytes(9 * 1024 * 1024))
    if path == "/photo.png":
        buffer = io.BytesIO()
        Image.new("RGB", (1080, 1080)).save(buffer, format="PNG")
        return httpx.Response(200, content=buffer.getvalue())
    if path == "/garbage.jpg" or path == "/garbage.mp4":
        return httpx.Response(200, content=b"this is not media" * 100)
    if path == "/refused.jpg":
        raise httpx.ConnectError("connection refused", request=request)
    if path == "/slow.jpg":
        raise httpx.ReadTimeout("timed out", request=request)
    return httpx.Response(404, text="not found")


@pytest.fixture
async def remote_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = mounted(settings, httpx.MockTransport(_remote))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def token(client: httpx.AsyncClient, settings: Settings) -> str:
    return await long_token(client, settings)


@pytest.fixture
async def user_id(client: httpx.AsyncClient, token: str) -> str:
    return str((await me(client, token))["user_id"])


async def created_id(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    container_id: str = response.json()["id"]
    return container_id


def assert_error(response: httpx.Response, code: int, subcode: int | None = None, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error.get("error_subcode") == subcode
    assert error["fbtrace_id"] and error["error_user_title"] and error["error_user_msg"]
    return error


async def published_log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await control(client, "GET", "/published"))["data"]
    return data


class TestContainers:
    async def test_image_container_is_finished_at_once(
        self, client: httpx.AsyncClient, token: str, user_id: str
    ) -> None:
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        assert len(container_id) == 17
        assert await container_status(client, token, container_id) == {
            "id": container_id,
            "status_code": "FINISHED",
            "status": "Finished: Media has been uploaded and it is ready to be published.",
        }
        only_id = await client.get(f"{GRAPH}/{container_id}", params={"access_token": token})
        assert only_id.json() == {"id": container_id}
        unknown = await client.get(f"{GRAPH}/{container_id}", params={"access_token": token, "fields": "caption"})
        assert "ShadowIGMediaBuilder" in assert_error(unknown, 100)["message"]

    async def test_parameters_in_query_form_or_json(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        url = f"{GRAPH}/{user_id}/media"
        by_query = await client.post(url, params={"image_url": IMAGE_URL, "access_token": token})
        by_json = await client.post(url, json={"image_url": IMAGE_URL, "caption": "hi", "access_token": token})
        by_form = await client.post(url, data={"image_url": IMAGE_URL, "access_token": token})
        for response in (by_query, by_json, by_form):
            assert response.status_code == 200, response.text

    async def test_reel_processing_then_finished(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(
            await create_container(client, token, user_id, media_type="REELS", video_url=REEL_URL, caption="reel")
        )
        assert (await container_status(client, token, container_id))["status_code"] == "IN_PROGRESS"
        assert (await wait_finished(client, token, container_id))["status_code"] == "FINISHED"

    async def test_processing_time_is_adjustable_and_follows_the_clock(
        self, client: httpx.AsyncClient, token: str, user_id: str
    ) -> None:
        await control(client, "PATCH", "/settings", {"video_processing_seconds": 120})
        container_id = await created_id(
            await create_container(client, token, user_id, media_type="REELS", video_url=REEL_URL)
        )
        await asyncio.sleep(0.25)
        assert (await container_status(client, token, container_id))["status_code"] == "IN_PROGRESS"
        await advance(client, 121)
        assert (await container_status(client, token, container_id))["status_code"] == "FINISHED"

    @pytest.mark.parametrize(
        ("media_type", "video_url"),
        [
            ("REELS", "https://example.com/short_2s.mp4"),
            ("REELS", "https://example.com/long_901s.mp4"),
            ("STORIES", "https://example.com/story_61s.mp4"),
            # The other documented rules, on real videos FFmpeg probes (app/media/video.py):
            ("REELS", "https://example.com/codec_mpeg4.mp4"),
            ("REELS", "https://example.com/audio_mp3.mp4"),
            ("REELS", "https://example.com/slow_10fps.mp4"),
            ("REELS", "https://example.com/wide_3840x2160.mp4"),
        ],
    )
    async def test_bad_video_ends_in_error(
        self, client: httpx.AsyncClient, token: str, user_id: str, media_type: str, video_url: str
    ) -> None:
        container_id = await created_id(
            await create_container(client, token, user_id, media_type=media_type, video_url=video_url)
        )
        assert (await container_status(client, token, container_id))["status_code"] == "IN_PROGRESS"
        status = await wait_finished(client, token, container_id)
        assert status == {"id": container_id, "status_code": "ERROR", "status": FEED_ERROR}
        failed = await publish(client, token, user_id, container_id)
        assert_error(failed, 24, 2207006)

    async def test_not_a_video_ends_in_error(self, remote_client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(remote_client, settings)
        user_id = (await me(remote_client, token))["user_id"]
        container_id = await created_id(
            await create_container(
                remote_client, token, user_id, media_type="REELS", video_url="https://media.test/garbage.mp4"
            )
        )
        assert (await wait_finished(remote_client, token, container_id))["status"] == FEED_ERROR

    async def test_story_video_within_limits(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(
            await create_container(
                client, token, user_id, media_type="STORIES", video_url="https://example.com/s_1080x1920_30s.mov"
            )
        )
        assert (await wait_finished(client, token, container_id))["status_code"] == "FINISHED"
        media_id = (await publish(client, token, user_id, container_id)).json()["id"]
        node = await client.get(
            f"{GRAPH}/{media_id}", params={"access_token": token, "fields": "media_type,media_product_type"}
        )
        assert node.json() == {"media_type": "VIDEO", "media_product_type": "STORY", "id": media_id}

    async def test_containers_expire_after_24_hours(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        await advance(client, 23 * 3600)
        assert (await container_status(client, token, container_id))["status_code"] == "FINISHED"
        await advance(client, 3600)
        assert (await container_status(client, token, container_id))["status_code"] == "EXPIRED"
        error = assert_error(await publish(client, token, user_id, container_id), 24, 2207008)
        assert "expired" in error["message"]

    async def test_container_limit(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await control(client, "PATCH", "/settings", {"container_limit": 3})
        for _ in range(3):
            await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        error = assert_error(await create_container(client, token, user_id, image_url=IMAGE_URL), 4)
        assert "3 media containers" in error["message"]
        await advance(client, 24 * 3600)
        await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))

    async def test_other_users_container_is_invisible(
        self, client: httpx.AsyncClient, settings: Settings, token: str, user_id: str
    ) -> None:
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        other = await long_token(client, settings, "intruder")
        other_id = (await me(client, other))["user_id"]
        response = await client.get(f"{GRAPH}/{container_id}", params={"access_token": other, "fields": "status_code"})
        assert_error(response, 100, 33)
        assert_error(await publish(client, other, other_id, container_id), 24, 2207008)
        assert_error(await create_container(client, other, user_id, image_url=IMAGE_URL), 100, 33)


class TestMediaChecks:
    @pytest.mark.parametrize(
        ("params", "code", "subcode"),
        [
            ({"image_url": "https://example.com/file.txt"}, 9004, 2207052),
            ({"image_url": "ftp://example.org/photo.jpg"}, 9004, 2207052),
            ({"image_url": "https://example.com/photo.png"}, 36001, 2207005),
            ({"image_url": "https://example.com/photo.gif"}, 36001, 2207005),
            ({"image_url": "https://example.com/photo.webp"}, 36001, 2207005),
            ({"image_url": "https://example.com/tall_1000x2000.jpg"}, 36003, 2207009),
            ({"image_url": "https://example.com/wide_2000x1000.jpg"}, 36003, 2207009),
            ({"image_url": IMAGE_URL, "caption": "x" * 2201}, 36004, 2207010),
            ({"image_url": IMAGE_URL, "caption": " ".join(f"#tag{i}" for i in range(31))}, 36004, 2207010),
            ({"image_url": IMAGE_URL, "caption": " ".join(f"@user{i}" for i in range(21))}, 100, 2207040),
            ({"image_url": IMAGE_URL, "alt_text": "a" * 1001}, 100, None),
            ({"caption": "no image"}, 100, None),
            ({"media_type": "VIDEO", "video_url": REEL_URL}, 100, 2207023),
            ({"media_type": "GIF", "image_url": IMAGE_URL}, 100, 2207023),
            ({"media_type": "REELS"}, 100, None),
            ({"media_type": "STORIES"}, 100, None),
            ({"media_type": "REELS", "video_url": REEL_URL, "cover_url": "https://example.com/c.png"}, 36001, 2207005),
            ({"media_type": "REELS", "video_url": "https://example.com/nothing.txt"}, 9004, 2207052),
            ({"is_carousel_item": "true", "image_url": "https://example.com/i_1000x2000.jpg"}, 36003, 2207009),
            ({"is_carousel_item": "true", "media_type": "REELS", "video_url": REEL_URL}, 100, 2207023),
            ({"media_type": "REELS", "video_url": REEL_URL, "thumb_offset": "999999"}, 1, 2207057),
            ({"media_type": "REELS", "video_url": REEL_URL, "share_to_feed": "maybe"}, 100, None),
        ],
    )
    async def test_rejections(
        self,
        client: httpx.AsyncClient,
        token: str,
        user_id: str,
        params: dict[str, str],
        code: int,
        subcode: int | None,
    ) -> None:
        assert_error(await create_container(client, token, user_id, **params), code, subcode)

    async def test_video_media_type_message(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        response = await create_container(client, token, user_id, media_type="VIDEO", video_url=REEL_URL)
        assert "REELS" in error_of(response)["message"]

    @pytest.mark.parametrize(
        "params",
        [
            {"image_url": "https://example.com/portrait_1080x1350.jpg"},
            {"image_url": "https://example.com/landscape_1910x1000.jpg"},
            {"image_url": IMAGE_URL, "caption": " ".join(f"#tag{i}" for i in range(30)) + " @a @b"},
            {"image_url": IMAGE_URL, "caption": "x" * 2200, "alt_text": "a" * 1000},
            {"media_type": "STORIES", "image_url": "https://example.com/story_1080x1920.jpg"},
            {"media_type": "STORIES", "image_url": "https://example.com/any_3000x1000.jpg"},
        ],
    )
    async def test_accepted(self, client: httpx.AsyncClient, token: str, user_id: str, params: dict[str, str]) -> None:
        await created_id(await create_container(client, token, user_id, **params))

    @pytest.mark.parametrize(
        ("path", "code", "subcode"),
        [
            ("/missing.jpg", 9004, 2207052),
            ("/refused.jpg", 9004, 2207052),
            ("/slow.jpg", -2, 2207003),
            ("/photo.png", 36001, 2207005),
            ("/garbage.jpg", 36001, 2207005),
            ("/big.jpg", 36000, 2207004),
        ],
    )
    async def test_fetched_media(
        self, remote_client: httpx.AsyncClient, settings: Settings, path: str, code: int, subcode: int
    ) -> None:
        token = await long_token(remote_client, settings)
        user_id = (await me(remote_client, token))["user_id"]
        response = await create_container(remote_client, token, user_id, image_url=f"https://media.test{path}")
        assert_error(response, code, subcode)

    async def test_fetched_jpeg_is_accepted(self, remote_client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(remote_client, settings)
        user_id = (await me(remote_client, token))["user_id"]
        await created_id(await create_container(remote_client, token, user_id, image_url="https://media.test/ok.jpg"))

    async def test_own_cdn_urls_are_fetchable(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        picture = await client.get(f"{GRAPH}/me", params={"access_token": token, "fields": "profile_picture_url"})
        await created_id(
            await create_container(client, token, user_id, image_url=picture.json()["profile_picture_url"])
        )


class TestCarousel:
    async def _item(self, client: httpx.AsyncClient, token: str, user_id: str, **params: str) -> str:
        params.setdefault("image_url", IMAGE_URL)
        return await created_id(await create_container(client, token, user_id, is_carousel_item="true", **params))

    async def test_publish_a_carousel(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        image = await self._item(client, token, user_id, alt_text="first")
        video = await self._item(client, token, user_id, media_type="VIDEO", video_url="https://example.com/v_10s.mp4")
        carousel = await created_id(
            await create_container(
                client, token, user_id, media_type="CAROUSEL", children=f"{image},{video}", caption="album"
            )
        )
        assert (await container_status(client, token, carousel))["status_code"] == "IN_PROGRESS"
        assert_error(await publish(client, token, user_id, carousel), 9007, 2207027)
        assert (await wait_finished(client, token, carousel))["status_code"] == "FINISHED"
        media_id = (await publish(client, token, user_id, carousel)).json()["id"]
        node = await client.get(
            f"{GRAPH}/{media_id}",
            params={"access_token": token, "fields": "media_type,media_product_type,caption,children{media_type}"},
        )
        body = node.json()
        assert (body["media_type"], body["media_product_type"], body["caption"]) == ("CAROUSEL_ALBUM", "FEED", "album")
        assert [c["media_type"] for c in body["children"]["data"]] == ["IMAGE", "VIDEO"]
        for child in (image, video, carousel):
            assert (await container_status(client, token, child))["status_code"] == "PUBLISHED"
        log = await published_log(client)
        assert [(e["media_id"], e["media_type"]) for e in log] == [(media_id, "CAROUSEL_ALBUM")]
        limit = await client.get(f"{GRAPH}/{user_id}/content_publishing_limit", params={"access_token": token})
        assert limit.json() == {"data": [{"quota_usage": 1}]}

    async def test_json_children_list(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        children = [await self._item(client, token, user_id) for _ in range(2)]
        response = await client.post(
            f"{GRAPH}/{user_id}/media",
            json={"media_type": "CAROUSEL", "children": children, "access_token": token},
        )
        await created_id(response)

    async def test_child_error_fails_the_carousel(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        good = await self._item(client, token, user_id)
        bad = await self._item(client, token, user_id, media_type="VIDEO", video_url="https://example.com/x_1s.mp4")
        carousel = await created_id(
            await create_container(client, token, user_id, media_type="CAROUSEL", children=f"{good},{bad}")
        )
        assert (await wait_finished(client, token, carousel))["status_code"] == "ERROR"

    async def test_rules(self, client: httpx.AsyncClient, settings: Settings, token: str, user_id: str) -> None:
        items = [await self._item(client, token, user_id) for _ in range(11)]
        plain = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        reel = await created_id(await create_container(client, token, user_id, media_type="REELS", video_url=REEL_URL))
        other_token = await long_token(client, settings, "someone")
        other_id = (await me(client, other_token))["user_id"]
        foreign = await self._item(client, other_token, other_id)
        for children in (
            items[:1],
            items,
            [items[0], plain],
            [items[0], reel],
            [items[0], foreign],
            [items[0], "17800000000000000"],
            [items[0], items[0]],
            [],
        ):
            response = await create_container(
                client, token, user_id, media_type="CAROUSEL", children=",".join(children)
            )
            assert_error(response, 100, 2207028)
        await created_id(
            await create_container(client, token, user_id, media_type="CAROUSEL", children=",".join(items[:10]))
        )
        assert (
            "reels"
            in error_of(
                await create_container(client, token, user_id, media_type="CAROUSEL", children=f"{items[0]},{reel}")
            )["message"]
        )

    async def test_item_cannot_be_published_alone(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        item = await self._item(client, token, user_id)
        assert_error(await publish(client, token, user_id, item), 100)


class TestPublish:
    async def test_image_post(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(
            await create_container(client, token, user_id, image_url=IMAGE_URL, caption="Hello #sandbox", alt_text="a")
        )
        response = await publish(client, token, user_id, container_id)
        assert response.status_code == 200
        media_id = response.json()["id"]
        assert set(response.json()) == {"id"} and media_id != container_id
        assert (await container_status(client, token, container_id))["status_code"] == "PUBLISHED"
        fields = "id,caption,media_type,media_product_type,alt_text,like_count,comments_count,permalink"
        node = (await client.get(f"{GRAPH}/{media_id}", params={"access_token": token, "fields": fields})).json()
        assert node["caption"] == "Hello #sandbox" and node["alt_text"] == "a"
        assert (node["media_type"], node["media_product_type"]) == ("IMAGE", "FEED")
        assert node["like_count"] == 0 and node["comments_count"] == 0
        first = await client.get(f"{GRAPH}/{user_id}/media", params={"access_token": token, "limit": 1})
        assert first.json()["data"] == [{"id": media_id}]
        (entry,) = await published_log(client)
        assert entry == {
            "media_id": media_id,
            "ig_user_id": user_id,
            "username": "john_doe",
            "container_id": container_id,
            "media_type": "IMAGE",
            "media_product_type": "FEED",
            "caption": "Hello #sandbox",
            "timestamp": entry["timestamp"],
            # What Instagram received, the token left out.
            "params": {"image_url": IMAGE_URL, "caption": "Hello #sandbox", "alt_text": "a"},
            "children": [],
            "comments": [],
        }

    async def test_counts_grow_with_age(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        media_id = await post_image(client, token, user_id)
        params = {"access_token": token, "fields": "like_count,comments_count"}
        likes = []
        for step_hours in (0, 2, 22, 24 * 6):
            await advance(client, step_hours * 3600)
            likes.append((await client.get(f"{GRAPH}/{media_id}", params=params)).json()["like_count"])
        assert likes == sorted(likes) and likes[-1] > likes[0] == 0

    async def test_reel_share_to_feed(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(
            await create_container(
                client,
                token,
                user_id,
                media_type="REELS",
                video_url=REEL_URL,
                share_to_feed="false",
                cover_url="https://example.com/cover_1080x1920.jpg",
                thumb_offset="1000",
            )
        )
        assert_error(await publish(client, token, user_id, container_id), 9007, 2207027)
        await wait_finished(client, token, container_id)
        media_id = (await publish(client, token, user_id, container_id)).json()["id"]
        fields = "media_type,media_product_type,is_shared_to_feed,permalink,thumbnail_url,media_url"
        node = (await client.get(f"{GRAPH}/{media_id}", params={"access_token": token, "fields": fields})).json()
        assert (node["media_type"], node["media_product_type"]) == ("VIDEO", "REELS")
        assert node["is_shared_to_feed"] is False
        assert "/reel/" in node["permalink"] and node["media_url"].endswith(".mp4")

    async def test_publish_twice(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        assert (await publish(client, token, user_id, container_id)).status_code == 200
        error = assert_error(await publish(client, token, user_id, container_id), 24, 2207008)
        assert error["message"] == "The media container has already been published"
        assert len(await published_log(client)) == 1

    async def test_concurrent_publishes_publish_once(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        await control(client, "PUT", "/latency", {"endpoint": "media_publish", "seconds": 0.05})
        responses = await asyncio.gather(*(publish(client, token, user_id, container_id) for _ in range(8)))
        assert sorted(r.status_code for r in responses) == [200] + [400] * 7
        assert all(error_of(r)["error_subcode"] == 2207008 for r in responses if r.status_code == 400)
        assert len(await published_log(client)) == 1

    async def test_unknown_and_missing_creation_id(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        assert_error(await publish(client, token, user_id, "17899999999999999"), 24, 2207008)
        response = await client.post(f"{GRAPH}/{user_id}/media_publish", params={"access_token": token})
        assert_error(response, 100)

    async def test_quota(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await control(client, "PATCH", "/settings", {"quota_total": 2})
        for _ in range(2):
            await post_image(client, token, user_id)
        container_id = await created_id(await create_container(client, token, user_id, image_url=IMAGE_URL))
        error = assert_error(await publish(client, token, user_id, container_id), 9, 2207042)
        assert error["message"] == (
            "The user has reached the maximum number of posts that can be published through API in 24 hours"
        )
        limit = await client.get(
            f"{GRAPH}/{user_id}/content_publishing_limit",
            params={"access_token": token, "fields": "quota_usage,config"},
        )
        assert limit.json() == {"data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]}
        await advance(client, 86400 + 1)
        assert (await publish(client, token, user_id, container_id)).status_code == 400  # the container expired
        await post_image(client, token, user_id)
        assert len(await published_log(client)) == 3

    async def test_publishing_limit_since(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await post_image(client, token, user_id)
        await advance(client, 3600)
        clock = await control(client, "GET", "/clock")
        since = int(datetime.fromisoformat(clock["now"]).timestamp()) - 60
        await post_image(client, token, user_id)
        url = f"{GRAPH}/{user_id}/content_publishing_limit"
        recent = await client.get(url, params={"access_token": token, "since": since})
        assert recent.json() == {"data": [{"quota_usage": 1}]}
        assert (await client.get(url, params={"access_token": token})).json() == {"data": [{"quota_usage": 2}]}
        assert_error(await client.get(url, params={"access_token": token, "fields": "foo"}), 100)

    async def test_permissions(self, client: httpx.AsyncClient, settings: Settings) -> None:
        basic = await long_token(client, settings, scope="instagram_business_basic")
        user_id = (await me(client, basic))["user_id"]
        for response in (
            await create_container(client, basic, user_id, image_url=IMAGE_URL),
            await publish(client, basic, user_id, "17800000000000000"),
            await client.get(f"{GRAPH}/{user_id}/content_publishing_limit", params={"access_token": basic}),
        ):
            error = assert_error(response, 10, status=403)
            assert error["message"] == "(#10) Application does not have permission for this action"
