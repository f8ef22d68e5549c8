"""Comments on the account's own media: the operations of `instagram_business_manage_comments` that publishing
needs (a post's first comment). A mixin of InstagramClient, which provides the call machinery (calls.py).

Creating a comment is retried only when no connection was made: a second attempt after a lost answer would
comment twice. Whoever creates one must be able to tell afterwards whether it exists (`list_comments`).
"""

from __future__ import annotations

from app.instagram.calls import GraphCalls, id_of, segment
from app.instagram.models import CommentPage

# What a comment is matched on when a caller checks whether its comment was made.
COMMENT_FIELDS = "id,text,username,timestamp"


class CommentCalls(GraphCalls):
    """Read a media's comments, and comment on it as the account."""

    async def list_comments(
        self, token: str, media_id: str, *, limit: int = 25, after: str | None = None
    ) -> CommentPage:
        """One page of a media's top-level comments, newest first; pass `page.after` for the next."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params = {"fields": COMMENT_FIELDS, "limit": str(limit)}
        if after is not None:
            params["after"] = after
        return await self._graph_get(
            "list_comments", f"{segment(media_id)}/comments", token, params=params, parse=CommentPage.from_api
        )

    async def create_comment(self, token: str, media_id: str, message: str) -> str:
        """Comment on one of the account's media; returns the new comment's id."""
        if not message.strip():
            raise ValueError("message must not be empty")
        return await self._call(
            "create_comment",
            "POST",
            self._graph_url(f"{segment(media_id)}/comments"),
            mode="connect_only",
            bearer=token,
            form={"message": message},
            parse=id_of,
        )
