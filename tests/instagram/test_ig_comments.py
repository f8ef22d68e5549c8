"""Comments: reading with replies, one comment with its media, replying, hiding, deleting, and the retry modes
(a reply is never sent twice after a lost answer; hide and delete are retried like reads)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.instagram import BadRequest, InstagramUnavailable, TransientError, UnexpectedResponse, object_missing
from app.instagram.comments import COMMENT_FIELDS, DETAIL_FIELDS, THREAD_FIELDS

from .support import TOKEN, Harness, V, form_of, graph_error, params_of

MEDIA_ID = "17900000000000001"
COMMENT_ID = "18000000000000011"
REPLY_ID = "18000000000000012"
THREAD = {
    "id": COMMENT_ID,
    "text": "Where can I buy this?",
    "username": "a_fan",
    "timestamp": "2026-11-29T10:00:00+0000",
    "hidden": False,
    "from": {"id": "1234567890123456", "username": "a_fan"},
    "replies": {
        "data": [
            {
                "id": REPLY_ID,
                "text": "In our shop!",
                "username": "ada.bakes",
                "parent_id": COMMENT_ID,
                "timestamp": "2026-11-29T10:05:00+0000",
            }
        ]
    },
}
MISSING = graph_error(
    100,
    f"Unsupported delete request. Object with ID '{COMMENT_ID}' does not exist, cannot be loaded due to missing "
    "permissions, or does not support this operation",
    subcode=33,
)


class TestListComments:
    async def test_with_replies_asks_for_the_thread_and_parses_it(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{MEDIA_ID}/comments").respond(
            200, json={"data": [THREAD], "paging": {"cursors": {"before": "b1", "after": "a1"}, "next": "https://n"}}
        )

        page = await ig.client.list_comments(TOKEN, MEDIA_ID, limit=10, after="a0", with_replies=True)

        assert params_of(route.calls.last.request) == {"fields": THREAD_FIELDS, "limit": "10", "after": "a0"}
        assert "replies{" in THREAD_FIELDS
        [comment] = page.items
        assert comment.author is not None and comment.author.username == "a_fan"
        assert comment.hidden is False
        assert comment.timestamp == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
        assert [(r.id, r.parent_id) for r in comment.replies] == [(REPLY_ID, COMMENT_ID)]
        assert page.after == "a1"

    async def test_without_replies_keeps_the_short_fields(self, ig: Harness) -> None:
        route = ig.router.get(f"{V}/{MEDIA_ID}/comments").respond(200, json={"data": []})

        page = await ig.client.list_comments(TOKEN, MEDIA_ID)

        assert params_of(route.calls.last.request)["fields"] == COMMENT_FIELDS
        assert page.items == [] and page.after is None


class TestGetComment:
    async def test_reads_the_comment_and_its_media(self, ig: Harness) -> None:
        body = {"id": COMMENT_ID, "text": "Nice", "media": {"id": MEDIA_ID, "media_product_type": "FEED"}}
        route = ig.router.get(f"{V}/{COMMENT_ID}").respond(200, json=body)

        comment = await ig.client.get_comment(TOKEN, COMMENT_ID)

        assert params_of(route.calls.last.request) == {"fields": DETAIL_FIELDS}
        assert comment.media is not None and comment.media.id == MEDIA_ID

    async def test_a_missing_comment_is_recognisable(self, ig: Harness) -> None:
        ig.router.get(f"{V}/{COMMENT_ID}").respond(400, json=MISSING)

        with pytest.raises(BadRequest) as caught:
            await ig.client.get_comment(TOKEN, COMMENT_ID)

        assert object_missing(caught.value)
        assert not object_missing(BadRequest("other", operation="x", code=100))


class TestReply:
    async def test_posts_the_message_as_a_form(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/{COMMENT_ID}/replies").respond(200, json={"id": REPLY_ID})

        reply_id = await ig.client.reply_to_comment(TOKEN, COMMENT_ID, "Thanks!")

        assert reply_id == REPLY_ID
        assert form_of(route.calls.last.request) == {"message": "Thanks!"}
        assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_a_lost_answer_is_not_sent_again(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/{COMMENT_ID}/replies").mock(side_effect=httpx.ReadTimeout("lost"))

        with pytest.raises(InstagramUnavailable) as caught:
            await ig.client.reply_to_comment(TOKEN, COMMENT_ID, "Thanks!")

        assert caught.value.request_sent
        assert route.call_count == 1

    async def test_no_connection_is_tried_again(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/{COMMENT_ID}/replies").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"id": REPLY_ID})]
        )

        assert await ig.client.reply_to_comment(TOKEN, COMMENT_ID, "Thanks!") == REPLY_ID
        assert route.call_count == 2

    @pytest.mark.parametrize("message", ["", "   ", "x" * 2201])
    async def test_a_bad_message_is_refused_before_any_call(self, ig: Harness, message: str) -> None:
        with pytest.raises(ValueError, match="message"):
            await ig.client.reply_to_comment(TOKEN, COMMENT_ID, message)


class TestHide:
    @pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
    async def test_sends_hide(self, ig: Harness, hidden: bool, sent: str) -> None:
        route = ig.router.post(f"{V}/{COMMENT_ID}").respond(200, json={"success": True})

        await ig.client.hide_comment(TOKEN, COMMENT_ID, hidden=hidden)

        assert form_of(route.calls.last.request) == {"hide": sent}

    async def test_is_retried_after_a_server_error(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/{COMMENT_ID}").mock(
            side_effect=[
                httpx.Response(500, json=graph_error(2, "Service temporarily unavailable", is_transient=True)),
                httpx.Response(200, json={"success": True}),
            ]
        )

        await ig.client.hide_comment(TOKEN, COMMENT_ID, hidden=True)

        assert route.call_count == 2


class TestDelete:
    async def test_sends_delete(self, ig: Harness) -> None:
        route = ig.router.delete(f"{V}/{COMMENT_ID}").respond(200, json={"success": True})

        await ig.client.delete_comment(TOKEN, COMMENT_ID)

        assert route.calls.last.request.method == "DELETE"
        assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_a_lost_answer_is_retried_and_the_retry_may_find_it_gone(self, ig: Harness) -> None:
        route = ig.router.delete(f"{V}/{COMMENT_ID}").mock(
            side_effect=[httpx.ReadTimeout("lost"), httpx.Response(400, json=MISSING)]
        )

        with pytest.raises(BadRequest) as caught:
            await ig.client.delete_comment(TOKEN, COMMENT_ID)

        assert route.call_count == 2
        assert object_missing(caught.value)

    async def test_an_answer_without_success_is_an_error(self, ig: Harness) -> None:
        ig.router.delete(f"{V}/{COMMENT_ID}").respond(200, json={"success": False})

        with pytest.raises(UnexpectedResponse):
            await ig.client.delete_comment(TOKEN, COMMENT_ID)

    async def test_a_failing_instagram_is_reported_after_the_retries(self, ig: Harness) -> None:
        ig.router.delete(f"{V}/{COMMENT_ID}").respond(500, json={"error": {"message": "boom", "code": 1}})

        with pytest.raises(TransientError):
            await ig.client.delete_comment(TOKEN, COMMENT_ID)
