"""Containers, status, media_publish and the publishing quota."""

from __future__ import annotations

import httpx
import pytest

from app.instagram import (
    BadRequest,
    ContainerNotReady,
    ContainerStatus,
    InstagramError,
    InstagramUnavailable,
    MediaDownloadFailed,
    MediaRejected,
    PublishBlocked,
    PublishingQuotaExceeded,
    RateLimited,
    RetrySoon,
    TransientError,
    UnexpectedResponse,
)
from app.instagram.publishing import CONTAINER_STATUS_FIELDS

from .support import TOKEN, Harness, V, form_of, graph_error, params_of

IG_USER = "17841400000000001"
MEDIA_URL = f"{V}/{IG_USER}/media"
PUBLISH_URL = f"{V}/{IG_USER}/media_publish"


class TestContainers:
    async def test_image(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-img"})
        container_id = await ig.client.create_image_container(
            TOKEN, IG_USER, image_url="https://cdn.test/a.jpg", caption="Hello #bread", alt_text="A loaf"
        )
        request = route.calls.last.request
        assert container_id == "c-img"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert params_of(request) == {}  # parameters travel in the form body, not the URL
        assert form_of(request) == {
            "image_url": "https://cdn.test/a.jpg",
            "caption": "Hello #bread",
            "alt_text": "A loaf",
        }

    async def test_image_without_optional_fields(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": 17900000000000001})
        container_id = await ig.client.create_image_container(TOKEN, IG_USER, image_url="https://cdn.test/a.jpg")
        assert container_id == "17900000000000001"
        assert form_of(route.calls.last.request) == {"image_url": "https://cdn.test/a.jpg"}

    async def test_story_image_and_video(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-story"})
        await ig.client.create_story_container(TOKEN, IG_USER, image_url="https://cdn.test/s.jpg")
        assert form_of(route.calls.last.request) == {
            "media_type": "STORIES",
            "image_url": "https://cdn.test/s.jpg",
        }
        await ig.client.create_story_container(TOKEN, IG_USER, video_url="https://cdn.test/s.mp4")
        assert form_of(route.calls.last.request) == {
            "media_type": "STORIES",
            "video_url": "https://cdn.test/s.mp4",
        }

    @pytest.mark.parametrize(
        ("image_url", "video_url"), [(None, None), ("https://cdn.test/s.jpg", "https://cdn.test/s.mp4")]
    )
    async def test_story_needs_exactly_one_media(
        self, ig: Harness, image_url: str | None, video_url: str | None
    ) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            await ig.client.create_story_container(TOKEN, IG_USER, image_url=image_url, video_url=video_url)
        assert ig.router.calls.call_count == 0

    async def test_reel(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-reel"})
        await ig.client.create_reel_container(
            TOKEN,
            IG_USER,
            video_url="https://cdn.test/r.mp4",
            caption="Shaping",
            share_to_feed=False,
            thumb_offset_ms=1500,
        )
        assert form_of(route.calls.last.request) == {
            "media_type": "REELS",
            "video_url": "https://cdn.test/r.mp4",
            "caption": "Shaping",
            "share_to_feed": "false",
            "thumb_offset": "1500",
        }

    async def test_reel_defaults_share_to_feed(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-reel"})
        await ig.client.create_reel_container(
            TOKEN, IG_USER, video_url="https://cdn.test/r.mp4", cover_url="https://cdn.test/c.jpg"
        )
        form = form_of(route.calls.last.request)
        assert form["share_to_feed"] == "true"
        assert form["cover_url"] == "https://cdn.test/c.jpg"
        assert "thumb_offset" not in form

    async def test_carousel_items_only_videos_say_video(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-item"})
        await ig.client.create_carousel_item_container(
            TOKEN, IG_USER, image_url="https://cdn.test/1.jpg", alt_text="First"
        )
        assert form_of(route.calls.last.request) == {
            "is_carousel_item": "true",
            "image_url": "https://cdn.test/1.jpg",
            "alt_text": "First",
        }
        await ig.client.create_carousel_item_container(TOKEN, IG_USER, video_url="https://cdn.test/2.mp4")
        assert form_of(route.calls.last.request) == {
            "is_carousel_item": "true",
            "media_type": "VIDEO",
            "video_url": "https://cdn.test/2.mp4",
        }

    async def test_carousel(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL).respond(200, json={"id": "c-carousel"})
        container_id = await ig.client.create_carousel_container(
            TOKEN, IG_USER, children=["c1", "c2", "c3"], caption="Three loaves"
        )
        assert container_id == "c-carousel"
        assert form_of(route.calls.last.request) == {
            "media_type": "CAROUSEL",
            "children": "c1,c2,c3",
            "caption": "Three loaves",
        }

    @pytest.mark.parametrize("count", [0, 1, 11])
    async def test_carousel_needs_two_to_ten_children(self, ig: Harness, count: int) -> None:
        with pytest.raises(ValueError, match="2 to 10"):
            await ig.client.create_carousel_container(TOKEN, IG_USER, children=[f"c{i}" for i in range(count)])
        assert ig.router.calls.call_count == 0

    async def test_rejected_media_keeps_instagrams_words(self, ig: Harness) -> None:
        ig.router.post(MEDIA_URL).respond(
            400,
            json=graph_error(
                36001,
                "The image format is not supported.",
                subcode=2207005,
                error_user_title="Unsupported format",
                error_user_msg="The image format is not supported. Please use JPEG.",
            ),
        )
        with pytest.raises(MediaRejected) as caught:
            await ig.client.create_image_container(TOKEN, IG_USER, image_url="https://cdn.test/a.webp")
        assert caught.value.user_msg == "The image format is not supported. Please use JPEG."
        assert caught.value.subcode == 2207005

    async def test_container_creation_is_retried(self, ig: Harness) -> None:
        route = ig.router.post(MEDIA_URL)
        route.side_effect = [httpx.ReadTimeout("timed out"), httpx.Response(200, json={"id": "c-img"})]
        container_id = await ig.client.create_image_container(TOKEN, IG_USER, image_url="https://cdn.test/a.jpg")
        assert container_id == "c-img"
        assert route.call_count == 2


class TestContainerStatus:
    async def test_finished(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/c-img").respond(200, json={"id": "c-img", "status_code": "FINISHED"})
        status = await ig.client.get_container_status(TOKEN, "c-img")
        assert params_of(route.calls.last.request) == {"fields": CONTAINER_STATUS_FIELDS}
        assert status.status_code == "FINISHED"
        assert status.status is None
        assert status.error_subcode is None

    async def test_error_status_carries_the_subcode(self, ig: Harness) -> None:
        ig.router.get(f"{V}/c-vid").respond(
            200,
            json={"status_code": "ERROR", "status": "Error: Media upload has failed with error code 2207026"},
        )
        status = await ig.client.get_container_status(TOKEN, "c-vid")
        assert status.id == "c-vid"
        assert status.status_code == "ERROR"
        assert status.error_subcode == 2207026

    @pytest.mark.parametrize(
        ("subcode", "error"),
        [
            (2207052, MediaDownloadFailed),  # the media could not be downloaded
            (2207003, RetrySoon),  # the download timed out: try again in 30 s to 2 minutes
            (2207001, TransientError),  # server, create and upload errors: make the container again
            (2207053, TransientError),
            (2207026, MediaRejected),  # the media itself
            (None, BadRequest),  # a status naming no subcode
        ],
    )
    def test_an_error_status_is_the_error_its_subcode_stands_for(
        self, subcode: int | None, error: type[InstagramError]
    ) -> None:
        text = f"Error: Media upload has failed with error code {subcode}" if subcode else "Error"
        found = ContainerStatus(id="c", status_code="ERROR", status=text).error()
        assert type(found) is error
        assert (found.subcode, found.message, found.operation) == (subcode, text, "container_status")
        assert found.retry_after == (30.0 if error is RetrySoon else None)

    async def test_an_undocumented_status_is_not_guessed(self, ig: Harness) -> None:
        ig.router.get(f"{V}/c-x").respond(200, json={"id": "c-x", "status_code": "DONE"})
        with pytest.raises(UnexpectedResponse, match="status_code"):
            await ig.client.get_container_status(TOKEN, "c-x")


class TestPublish:
    async def test_publish(self, ig: Harness) -> None:
        route = ig.router.post(PUBLISH_URL).respond(200, json={"id": "18000000000000009"})
        media_id = await ig.client.publish_container(TOKEN, IG_USER, "c-img")
        request = route.calls.last.request
        assert media_id == "18000000000000009"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert form_of(request) == {"creation_id": "c-img"}

    async def test_never_retried_on_a_server_error(self, ig: Harness) -> None:
        route = ig.router.post(PUBLISH_URL).respond(500, json=graph_error(2, "Service unavailable", is_transient=True))
        with pytest.raises(TransientError):
            await ig.client.publish_container(TOKEN, IG_USER, "c-img")
        assert route.call_count == 1
        assert ig.sleeps == []

    async def test_a_timeout_says_the_request_may_have_landed(self, ig: Harness) -> None:
        route = ig.router.post(PUBLISH_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
        with pytest.raises(InstagramUnavailable) as caught:
            await ig.client.publish_container(TOKEN, IG_USER, "c-img")
        assert caught.value.request_sent is True
        assert route.call_count == 1

    @pytest.mark.parametrize("exception", [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out")])
    async def test_a_failed_connection_says_nothing_was_sent_and_is_still_not_retried(
        self, ig: Harness, exception: Exception
    ) -> None:
        route = ig.router.post(PUBLISH_URL).mock(side_effect=exception)
        with pytest.raises(InstagramUnavailable) as caught:
            await ig.client.publish_container(TOKEN, IG_USER, "c-img")
        assert caught.value.request_sent is False
        assert route.call_count == 1

    async def test_never_retried_when_rate_limited(self, ig: Harness) -> None:
        route = ig.router.post(PUBLISH_URL).respond(
            400, json=graph_error(4, "Application request limit reached"), headers={"Retry-After": "1"}
        )
        with pytest.raises(RateLimited) as caught:
            await ig.client.publish_container(TOKEN, IG_USER, "c-img")
        assert caught.value.retry_after == 1.0
        assert route.call_count == 1

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (graph_error(9, "Application request limit reached", subcode=2207042), PublishingQuotaExceeded),
            (graph_error(9007, "Media ID is not available", subcode=2207027), ContainerNotReady),
            (graph_error(4, "Application request limit reached", subcode=2207051), PublishBlocked),
        ],
    )
    async def test_publishing_errors(self, ig: Harness, body: object, expected: type[Exception]) -> None:
        ig.router.post(PUBLISH_URL).respond(400, json=body)
        with pytest.raises(expected):
            await ig.client.publish_container(TOKEN, IG_USER, "c-img")


class TestPublishingLimit:
    async def test_reads_usage_and_total(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{IG_USER}/content_publishing_limit").respond(
            200, json={"data": [{"quota_usage": 2, "config": {"quota_total": 50, "quota_duration": 86400}}]}
        )
        limit = await ig.client.get_publishing_limit(TOKEN, IG_USER)
        assert params_of(route.calls.last.request) == {"fields": "quota_usage,config"}
        assert (limit.quota_usage, limit.quota_total, limit.quota_duration) == (2, 50, 86400)
        assert limit.remaining == 48

    async def test_total_is_read_not_assumed(self, ig: Harness) -> None:
        ig.router.get(f"{V}/{IG_USER}/content_publishing_limit").respond(
            200,
            json={"data": [{"quota_usage": 100, "config": {"quota_total": 100, "quota_duration": 86400}}]},
        )
        limit = await ig.client.get_publishing_limit(TOKEN, IG_USER)
        assert limit.quota_total == 100
        assert limit.remaining == 0
