"""Profiles and media: paths with the version, the bearer header, parsing, paging, base URL prefixes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.instagram import UnexpectedResponse
from app.instagram.client import MEDIA_FIELDS, PROFILE_FIELDS, USER_AGENT

from .support import TOKEN, Harness, V, make_config, make_harness, params_of

IG_USER = "17841400000000001"
PROFILE = {
    "id": "7012345678901234",
    "user_id": IG_USER,
    "username": "ada.bakes",
    "name": "Ada Bakes",
    "account_type": "BUSINESS",
    "profile_picture_url": "https://cdn.test/p.jpg",
    "followers_count": 1520,
    "follows_count": 31,
    "media_count": 88,
    "biography": "Sourdough every day",
    "website": "https://ada.test",
}
MEDIA = {
    "id": "18000000000000001",
    "caption": "Crumb shot 🍞",
    "media_type": "IMAGE",
    "media_product_type": "FEED",
    "media_url": "https://cdn.test/m.jpg",
    "permalink": "https://www.instagram.com/p/Cx1/",
    "timestamp": "2019-09-26T22:36:43+0000",
    "like_count": 12,
    "comments_count": 3,
}


class TestProfile:
    async def test_get_me_sends_bearer_and_fields(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/me").respond(200, json=PROFILE)
        profile = await ig.client.get_me(TOKEN)

        request = route.calls.last.request
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "access_token" not in request.url.params
        assert params_of(request) == {"fields": PROFILE_FIELDS}
        assert request.headers["user-agent"] == USER_AGENT
        assert profile.user_id == IG_USER
        assert profile.id == "7012345678901234"
        assert profile.username == "ada.bakes"
        assert profile.followers_count == 1520

    async def test_get_me_accepts_the_data_wrapped_shape(self, ig: Harness) -> None:
        ig.router.get(f"{V}/me").respond(200, json={"data": [PROFILE]})
        profile = await ig.client.get_me(TOKEN)
        assert profile.user_id == IG_USER

    async def test_user_id_falls_back_to_id(self, ig: Harness) -> None:
        ig.router.get(f"{V}/{IG_USER}").respond(200, json={"id": int(IG_USER), "username": "ada.bakes"})
        profile = await ig.client.get_user(TOKEN, IG_USER)
        assert profile.user_id == IG_USER
        assert profile.name is None

    async def test_get_user_path(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{IG_USER}").respond(200, json=PROFILE)
        await ig.client.get_user(TOKEN, IG_USER)
        assert route.calls.last.request.url.params["fields"] == PROFILE_FIELDS

    async def test_a_profile_without_username_is_an_unexpected_response(self, ig: Harness) -> None:
        ig.router.get(f"{V}/me").respond(200, json={"id": "1"})
        with pytest.raises(UnexpectedResponse, match="username"):
            await ig.client.get_me(TOKEN)

    async def test_a_non_json_success_is_an_unexpected_response(self, ig: Harness) -> None:
        ig.router.get(f"{V}/me").respond(200, text="<html>ok</html>")
        with pytest.raises(UnexpectedResponse, match="not JSON"):
            await ig.client.get_me(TOKEN)
        assert [outcome for _, outcome, _ in ig.calls] == ["UnexpectedResponse"]


class TestMedia:
    async def test_first_page_with_a_next_page(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{IG_USER}/media").respond(
            200,
            json={
                "data": [MEDIA, {**MEDIA, "id": "18000000000000002"}],
                "paging": {
                    "cursors": {"before": "QVFIb", "after": "QVFIa"},
                    "next": f"{V}/{IG_USER}/media?after=QVFIa",
                },
            },
        )
        page = await ig.client.list_media(TOKEN, IG_USER, limit=2)

        assert params_of(route.calls.last.request) == {"fields": MEDIA_FIELDS, "limit": "2"}
        assert [m.id for m in page.items] == ["18000000000000001", "18000000000000002"]
        assert page.after == "QVFIa"
        assert page.before is None  # no `previous`: this is the first page

    async def test_last_page_has_no_after(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{IG_USER}/media").respond(
            200,
            json={
                "data": [MEDIA],
                "paging": {
                    "cursors": {"before": "QVFIb", "after": "QVFIz"},
                    "previous": f"{V}/{IG_USER}/media?before=QVFIb",
                },
            },
        )
        page = await ig.client.list_media(TOKEN, IG_USER, after="QVFIa")
        assert route.calls.last.request.url.params["after"] == "QVFIa"
        assert route.calls.last.request.url.params["limit"] == "25"
        assert page.after is None
        assert page.before == "QVFIb"

    async def test_empty_account(self, ig: Harness) -> None:
        ig.router.get(f"{V}/{IG_USER}/media").respond(200, json={"data": []})
        page = await ig.client.list_media(TOKEN, IG_USER)
        assert page.items == []
        assert page.after is None

    async def test_get_media_parses_timestamp_to_aware_utc(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/18000000000000001").respond(200, json=MEDIA)
        media = await ig.client.get_media(TOKEN, "18000000000000001")
        assert params_of(route.calls.last.request) == {"fields": MEDIA_FIELDS}
        assert media.timestamp == datetime(2019, 9, 26, 22, 36, 43, tzinfo=UTC)
        assert media.timestamp is not None
        assert media.timestamp.tzinfo is UTC
        assert media.caption == "Crumb shot 🍞"
        assert media.thumbnail_url is None

    async def test_get_media_converts_offsets_to_utc(self, ig: Harness) -> None:
        ig.router.get(f"{V}/1").respond(200, json={"id": 1, "timestamp": "2019-09-27T00:36:43+0200"})
        media = await ig.client.get_media(TOKEN, "1")
        assert media.id == "1"
        assert media.timestamp == datetime(2019, 9, 26, 22, 36, 43, tzinfo=UTC)

    async def test_stories_follow_every_page(self, ig: Harness) -> None:
        story = {**MEDIA, "media_product_type": "STORY"}
        route = ig.router.get(f"{V}/{IG_USER}/stories")
        route.side_effect = [
            httpx.Response(
                200,
                json={
                    "data": [{**story, "id": "s1"}],
                    "paging": {"cursors": {"after": "c1"}, "next": f"{V}/{IG_USER}/stories?after=c1"},
                },
            ),
            httpx.Response(200, json={"data": [{**story, "id": "s2"}], "paging": {"cursors": {"after": "c2"}}}),
        ]
        stories = await ig.client.list_stories(TOKEN, IG_USER)
        assert [s.id for s in stories] == ["s1", "s2"]
        assert params_of(route.calls[0].request) == {"fields": MEDIA_FIELDS}
        assert params_of(route.calls[1].request) == {"fields": MEDIA_FIELDS, "after": "c1"}

    @pytest.mark.parametrize("bad_id", ["123/media_publish", "..", "", "1?x=2", "a b"])
    async def test_ids_cannot_change_the_path(self, ig: Harness, bad_id: str) -> None:
        with pytest.raises(ValueError, match="Instagram id"):
            await ig.client.get_media(TOKEN, bad_id)
        assert ig.router.calls.call_count == 0


class TestBaseUrls:
    async def test_sandbox_prefixes_are_kept(self) -> None:
        harness = make_harness(
            make_config(
                authorize_base_url="http://localhost:8000/sandbox",
                token_base_url="http://localhost:8000/sandbox",
                graph_base_url="http://localhost:8000/sandbox/graph",
            )
        )
        async with harness.client as client:
            me = harness.router.get("http://localhost:8000/sandbox/graph/v25.0/me").respond(200, json=PROFILE)
            code = harness.router.post("http://localhost:8000/sandbox/oauth/access_token").respond(
                200, json={"access_token": "t", "user_id": 1, "permissions": []}
            )
            refresh = harness.router.get("http://localhost:8000/sandbox/graph/refresh_access_token").respond(
                200, json={"access_token": "t2", "token_type": "bearer", "expires_in": 10}
            )

            url = client.authorize_url(redirect_uri="http://localhost:9000/cb", scopes=["a"], state="s")
            await client.get_me(TOKEN)
            await client.exchange_code("c", redirect_uri="http://localhost:9000/cb")
            await client.refresh_token("t")

        assert url.startswith("http://localhost:8000/sandbox/oauth/authorize?")
        assert me.calls.last.request.url.path == "/sandbox/graph/v25.0/me"
        assert code.calls.last.request.url.path == "/sandbox/oauth/access_token"
        assert refresh.calls.last.request.url.path == "/sandbox/graph/refresh_access_token"

    async def test_trailing_slashes_and_version_are_honoured(self) -> None:
        harness = make_harness(make_config(graph_base_url="https://graph.instagram.test/", graph_version="v24.0"))
        async with harness.client as client:
            route = harness.router.get("https://graph.instagram.test/v24.0/me").respond(200, json=PROFILE)
            await client.get_me(TOKEN)
        assert route.calls.last.request.url.path == "/v24.0/me"

    def test_config_refuses_a_url_without_scheme(self) -> None:
        with pytest.raises(ValueError, match="graph_base_url"):
            make_config(graph_base_url="localhost:8000/sandbox/graph")


class TestTransport:
    async def test_timeouts_come_from_the_config(self) -> None:
        harness = make_harness(make_config(timeout_seconds=12.0))
        async with harness.client as client:
            route = harness.router.get(f"{V}/me").respond(200, json=PROFILE)
            await client.get_me(TOKEN)
        timeout = route.calls.last.request.extensions["timeout"]
        assert timeout["read"] == 12.0
        assert timeout["connect"] == 5.0

    async def test_short_timeouts_cap_connect_too(self) -> None:
        harness = make_harness(make_config(timeout_seconds=2.0))
        async with harness.client as client:
            route = harness.router.get(f"{V}/me").respond(200, json=PROFILE)
            await client.get_me(TOKEN)
        assert route.calls.last.request.extensions["timeout"]["connect"] == 2.0
