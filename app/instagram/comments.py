"""Comments on the account's own media (`instagram_business_manage_comments`): read them with their replies,
comment, reply, hide or show, delete. A mixin of InstagramClient, which provides the call machinery (calls.py).

Retries follow what each call does twice:
- creating a comment or a reply is retried only when no connection was made: a second attempt after a lost
  answer would comment twice. Whoever creates one must be able to tell afterwards whether it exists (read the
  media's comments or the comment's replies);
- hiding (to the same value) and deleting change nothing the second time, so they are retried like reads. A
  delete whose first answer was lost meets "does not exist" on the retry: `object_missing` tells that apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.instagram.calls import GraphCalls, id_of, segment
from app.instagram.errors import BadRequest, InstagramError
from app.instagram.models import CommentPage, InstagramComment, parse_success

# What a caller matches on when it checks whether its comment was made.
COMMENT_FIELDS = "id,text,username,timestamp"
# A comment as moderation shows it: who wrote it, whether it is hidden, what it answers.
_NODE_FIELDS = "id,text,username,timestamp,like_count,hidden,parent_id,from"
THREAD_FIELDS = f"{_NODE_FIELDS},replies{{{_NODE_FIELDS}}}"
DETAIL_FIELDS = f"{_NODE_FIELDS},media{{id,media_product_type}}"
MAX_COMMENT_CHARS = 2200


def object_missing(error: InstagramError) -> bool:
    """Instagram's "Object with ID ... does not exist" (100/33): deleted, never existed, or not the token's."""
    return isinstance(error, BadRequest) and error.code == 100 and error.subcode == 33


def _check_message(message: str) -> str:
    if not message.strip():
        raise ValueError("message must not be empty")
    if len(message) > MAX_COMMENT_CHARS:
        raise ValueError(f"message must be at most {MAX_COMMENT_CHARS} characters")
    return message


def _owner_id(body: object) -> str | None:
    owner = body.get("owner") if isinstance(body, Mapping) else None
    value = owner.get("id") if isinstance(owner, Mapping) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


class CommentCalls(GraphCalls):
    """Read a media's comments, comment on it as the account, and moderate the comments."""

    async def list_comments(
        self, token: str, media_id: str, *, limit: int = 25, after: str | None = None, with_replies: bool = False
    ) -> CommentPage:
        """One page of a media's top-level comments, newest first; pass `page.after` for the next.

        `with_replies` also reads who wrote each, whether it is hidden, and its replies (oldest first)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params = {"fields": THREAD_FIELDS if with_replies else COMMENT_FIELDS, "limit": str(limit)}
        if after is not None:
            params["after"] = after
        return await self._graph_get(
            "list_comments", f"{segment(media_id)}/comments", token, params=params, parse=CommentPage.from_api
        )

    async def get_comment(self, token: str, comment_id: str) -> InstagramComment:
        """One comment (or reply) with the media it is on."""
        return await self._graph_get(
            "get_comment",
            segment(comment_id),
            token,
            params={"fields": DETAIL_FIELDS},
            parse=InstagramComment.model_validate,
        )

    async def list_replies(
        self, token: str, comment_id: str, *, limit: int = 50, after: str | None = None
    ) -> CommentPage:
        """One page of a comment's replies, oldest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params = {"fields": _NODE_FIELDS, "limit": str(limit)}
        if after is not None:
            params["after"] = after
        return await self._graph_get(
            "list_replies", f"{segment(comment_id)}/replies", token, params=params, parse=CommentPage.from_api
        )

    async def get_media_owner(self, token: str, media_id: str) -> str | None:
        """The id of the account that owns a media; None when Instagram does not say (not the token's media:
        Instagram names the owner only to the owner)."""
        return await self._graph_get(
            "get_media_owner", segment(media_id), token, params={"fields": "id,owner{id}"}, parse=_owner_id
        )

    async def create_comment(self, token: str, media_id: str, message: str) -> str:
        """Comment on one of the account's media; returns the new comment's id."""
        return await self._call(
            "create_comment",
            "POST",
            self._graph_url(f"{segment(media_id)}/comments"),
            mode="connect_only",
            bearer=token,
            form={"message": _check_message(message)},
            parse=id_of,
        )

    async def reply_to_comment(self, token: str, comment_id: str, message: str) -> str:
        """Reply to a comment on the account's media; returns the reply's id (a reply to a reply joins its
        top-level comment)."""
        return await self._call(
            "reply_to_comment",
            "POST",
            self._graph_url(f"{segment(comment_id)}/replies"),
            mode="connect_only",
            bearer=token,
            form={"message": _check_message(message)},
            parse=id_of,
        )

    async def hide_comment(self, token: str, comment_id: str, *, hidden: bool) -> None:
        """Hide a comment from the public (`hidden=True`) or show it again."""
        await self._call(
            "hide_comment",
            "POST",
            self._graph_url(segment(comment_id)),
            mode="safe",
            bearer=token,
            form={"hide": "true" if hidden else "false"},
            parse=parse_success,
        )

    async def delete_comment(self, token: str, comment_id: str) -> None:
        """Delete a comment (a top-level one takes its replies with it)."""
        await self._call(
            "delete_comment",
            "DELETE",
            self._graph_url(segment(comment_id)),
            mode="safe",
            bearer=token,
            parse=parse_success,
        )
