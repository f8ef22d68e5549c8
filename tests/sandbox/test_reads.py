"""Graph reads: /me, the user node, media listing with cursors, stories, media nodes, children, the CDN."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from app.config import Settings

from .helpers import GRAPH, SANDBOX, advance, create_container, error_of, long_token, me, post_image, publish

USER_FIELDS = (
    "id,user_id,username,name,account_type,profile_picture_url,followers_count,follows_count,media_count,"
    "biography,website"
)
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,shortcode,thumbnail_url,timestamp,like_count,"
    "comments_count,username,owner,is_shared_to_feed,alt_text"
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


@pytest.fixture
async def token(client: httpx.AsyncClient, settings: Settings) -> str:
    return await long_token(client, settings)


@pytest.fixture
async def user_id(client: httpx.AsyncClient, token: str) -> str:
    return str((await me(client, token))["user_id"])


async def get(client: httpx.AsyncClient, path: str, token: str, **params: Any) -> httpx.Response:
    return await client.get(f"{GRAPH}{path}", params={"access_token": token, **params})


class TestMe:
    async def test_all_fields(self, client: httpx.AsyncClient, token: str) -> None:
        response = await get(client, "/me", token, fields=USER_FIELDS)
        assert response.status_code == 200
        body = response.json()
        assert list(body) == USER_FIELDS.split(",")
        assert body["username"] == "john_doe"
        assert body["name"] == "John Doe"
        assert body["account_type"] == "BUSINESS"
        assert re.fullmatch(r"1784140\d{10}", body["user_id"])
        assert body["id"] != body["user_id"]
        assert "\n" in body["biography"]
        assert body["website"] == "https://john-doe.example.com"
        assert 100 <= body["followers_count"] <= 50_000
        assert 50 <= body["follows_count"] <= 2_000
        assert 3 <= body["media_count"] <= 6
        assert body["profile_picture_url"] == f"http://localhost:8000/sandbox/cdn/{body['user_id']}/profile.jpg"

    async def test_profile_is_deterministic(self, client: httpx.AsyncClient, settings: Settings) -> None:
        first = await get(client, "/me", await long_token(client, settings, "stable_name"), fields=USER_FIELDS)
        await client.post(f"{SANDBOX}/control/reset")
        second = await get(client, "/me", await long_token(client, settings, "stable_name"), fields=USER_FIELDS)
        assert first.json() == second.json()

    async def test_without_fields_only_id(self, client: httpx.AsyncClient, token: str) -> None:
        body = (await get(client, "/me", token)).json()
        assert list(body) == ["id"]

    async def test_unknown_field(self, client: httpx.AsyncClient, token: str) -> None:
        response = await get(client, "/me", token, fields="id,favourite_colour")
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == 100
        assert error["message"] == "(#100) Tried accessing nonexisting field (favourite_colour) on node type (User)"

    @pytest.mark.parametrize("prefix", ["/sandbox/graph", "/sandbox/graph/v21.0", "/sandbox/graph/v99.9"])
    async def test_any_version_or_none(self, client: httpx.AsyncClient, token: str, prefix: str) -> None:
        response = await client.get(f"{prefix}/me", params={"fields": "username", "access_token": token})
        assert response.json()["username"] == "john_doe"

    async def test_usage_headers(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        response = await get(client, "/me", token)
        app_usage = response.headers["x-app-usage"]
        buc = response.headers["x-business-use-case-usage"]
        assert set(json.loads(app_usage)) == {"call_count", "total_time", "total_cputime"}
        (entry,) = json.loads(buc)[user_id]
        assert entry["type"] == "instagram"
        assert set(entry) == {"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}
        error = await get(client, "/me", token, fields="nope")
        assert "x-app-usage" in error.headers and "x-business-use-case-usage" in error.headers


class TestUserNode:
    async def test_own_user(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        body = (await get(client, f"/{user_id}", token, fields="id,username,media_count")).json()
        assert body["id"] == user_id
        assert body["username"] == "john_doe"

    async def test_other_user(self, client: httpx.AsyncClient, settings: Settings, token: str) -> None:
        other_id = (await me(client, await long_token(client, settings, "other_user")))["user_id"]
        for path in (f"/{other_id}", f"/{other_id}/media", "/17841400000000000"):
            response = await get(client, path, token, fields="id")
            assert response.status_code == 400
            error = error_of(response)
            assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "IGApiException")
            assert error["message"].startswith("Unsupported get request. Object with ID")


class TestMediaListing:
    async def test_fields(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        body = (await get(client, f"/{user_id}/media", token, fields=MEDIA_FIELDS)).json()
        kinds = {(m["media_type"], m["media_product_type"]) for m in body["data"]}
        assert kinds <= {("IMAGE", "FEED"), ("VIDEO", "REELS"), ("CAROUSEL_ALBUM", "FEED")}
        assert len(kinds) >= 2
        stamps = [m["timestamp"] for m in body["data"]]
        assert stamps == sorted(stamps, reverse=True)
        for media in body["data"]:
            assert TIMESTAMP.match(media["timestamp"])
            assert media["owner"] == {"id": user_id}
            assert media["username"] == "john_doe"
            assert media["media_url"].startswith(f"http://localhost:8000/sandbox/cdn/{user_id}/")
            assert media["like_count"] > media["comments_count"] >= 0
            if media["media_product_type"] == "REELS":
                assert media["permalink"] == f"https://www.instagram.com/reel/{media['shortcode']}/"
                assert media["thumbnail_url"].endswith("_thumb.jpg")
                assert media["is_shared_to_feed"] is True
            else:
                assert media["permalink"] == f"https://www.instagram.com/p/{media['shortcode']}/"
                assert "thumbnail_url" not in media and "is_shared_to_feed" not in media

    async def test_without_fields_only_ids(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        body = (await get(client, f"/{user_id}/media", token)).json()
        assert all(list(item) == ["id"] for item in body["data"])
        assert "next" not in body["paging"]

    async def test_paging_to_the_last_page_and_back(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        for n in range(4):
            await post_image(client, token, user_id, caption=f"post {n}")
        total = (await get(client, "/me", token, fields="media_count")).json()["media_count"]
        assert total >= 7
        seen: list[str] = []
        response = await get(client, f"/{user_id}/media", token, fields="id,caption", limit=2)
        pages = 0
        while True:
            body = response.json()
            assert len(body["data"]) <= 2
            seen += [m["id"] for m in body["data"]]
            pages += 1
            assert ("previous" in body["paging"]) is (pages > 1)
            if "next" not in body["paging"]:
                break
            response = await client.get(body["paging"]["next"])
            assert response.status_code == 200
        assert len(seen) == len(set(seen)) == total
        assert pages == (total + 1) // 2
        # The newest first: the last post created is on top.
        assert (await get(client, f"/{user_id}/media", token, fields="caption", limit=1)).json()["data"][0][
            "caption"
        ] == "post 3"
        back = await client.get(body["paging"]["previous"])
        assert [m["id"] for m in back.json()["data"]] == seen[-len(body["data"]) - 2 : -len(body["data"])]

    async def test_limit_rules(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        capped = await get(client, f"/{user_id}/media", token, limit=500)
        assert capped.status_code == 200
        assert error_of(await get(client, f"/{user_id}/media", token, limit=0))["code"] == 100
        assert error_of(await get(client, f"/{user_id}/media", token, after="bogus!"))["code"] == 100

    async def test_me_media_alias(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        via_me = (await get(client, "/me/media", token)).json()["data"]
        via_id = (await get(client, f"/{user_id}/media", token)).json()["data"]
        assert via_me == via_id


class TestStoriesAndNodes:
    async def test_stories_listed_only_for_24_hours(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        created = await create_container(
            client, token, user_id, media_type="STORIES", image_url="https://example.com/story_1080x1920.jpg"
        )
        story_id = (await publish(client, token, user_id, created.json()["id"])).json()["id"]
        stories = (await get(client, f"/{user_id}/stories", token, fields="id,media_product_type,media_type")).json()
        assert stories["data"] == [{"id": story_id, "media_product_type": "STORY", "media_type": "IMAGE"}]
        feed = (await get(client, f"/{user_id}/media", token)).json()["data"]
        assert story_id not in {m["id"] for m in feed}
        await advance(client, 24 * 3600 + 1)
        assert (await get(client, f"/{user_id}/stories", token)).json()["data"] == []

    async def test_media_node_and_children(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        listing = (await get(client, f"/{user_id}/media", token, fields="id,media_type", limit=100)).json()["data"]
        for item in listing:
            node = (await get(client, f"/{item['id']}", token, fields="id,media_type,children{id,media_url}")).json()
            assert node["media_type"] == item["media_type"]
            if item["media_type"] == "CAROUSEL_ALBUM":
                children = (await get(client, f"/{item['id']}/children", token, fields="id,media_type")).json()
                assert 2 <= len(children["data"]) <= 3
                assert [c["id"] for c in node["children"]["data"]] == [c["id"] for c in children["data"]]
            else:
                assert "children" not in node
        assert error_of(await get(client, f"/{listing[0]['id']}", token, fields="plays"))["code"] == 100

    async def test_unknown_edge_and_path(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        assert error_of(await get(client, f"/{user_id}/tags", token))["code"] == 100
        assert error_of(await get(client, f"/{user_id}/media/extra", token))["code"] == 2500
        delete = await client.delete(f"{GRAPH}/me", params={"access_token": token})
        assert error_of(delete)["type"] == "IGApiException"


class TestCdn:
    async def test_profile_picture_and_media_images(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        picture_url = (await get(client, "/me", token, fields="profile_picture_url")).json()["profile_picture_url"]
        picture = await client.get(picture_url)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(picture.content)).format == "JPEG"
        listing = (await get(client, f"/{user_id}/media", token, fields="media_url,thumbnail_url")).json()["data"]
        for item in listing:
            for key in ("media_url", "thumbnail_url"):
                if key in item:
                    served = await client.get(item[key])
                    assert served.status_code == 200, item[key]
                    assert served.headers["content-type"] in {"image/jpeg", "video/mp4"}
        assert (await client.get(f"{SANDBOX}/cdn/{user_id}/12345.jpg")).status_code == 404
