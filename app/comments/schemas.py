"""Shapes of the comments routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from app.text_input import refuse_nul_characters

MAX_MESSAGE_CHARS = 2200

_COMMENT_EXAMPLE: JsonDict = {
    "comment_id": "17858893269000001",
    "media_id": "17892456789123456",
    "parent_id": None,
    "text": "Where can I buy this?",
    "username": "a_fan",
    "timestamp": "2026-11-29T10:00:00Z",
    "hidden": False,
    "like_count": 2,
    "replies": [
        {
            "comment_id": "17858893269000002",
            "media_id": "17892456789123456",
            "parent_id": "17858893269000001",
            "text": "In our shop, link in bio!",
            "username": "john_doe",
            "timestamp": "2026-11-29T10:05:00Z",
            "hidden": False,
            "like_count": 0,
            "replies": [],
        }
    ],
}


class CommentOut(BaseModel):
    """A comment on one of the caller's posts, or a reply to one (`parent_id`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_COMMENT_EXAMPLE]})

    comment_id: str = Field(description="Instagram's comment id: the id the comment routes take")
    media_id: str = Field(description="The Instagram media the comment is on")
    parent_id: str | None = Field(description="For a reply, the top-level comment it answers")
    text: str | None
    username: str | None = Field(description="Who wrote it")
    timestamp: datetime | None
    hidden: bool = Field(description="Hidden from the public (its author still sees it)")
    like_count: int | None = None
    replies: list[CommentOut] = Field(default_factory=list, description="Replies, oldest first (top-level only)")


class CommentsPage(BaseModel):
    """One page of a post's comments, newest first, each with its replies."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "db_id": 42,
                    "post_id": "17892456789123456",
                    "comments": [_COMMENT_EXAMPLE],
                    "next_cursor": "QVFIUm9fZA1pHNm1SZAUhvd",
                    "stale": False,
                    "stale_reason": None,
                }
            ]
        }
    )

    db_id: int
    post_id: str = Field(description="The post's Instagram media id")
    comments: list[CommentOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last one")
    stale: bool = Field(
        description="True when Instagram could not be reached and these are the comments stored before "
        "(the newest `limit`, no further pages)"
    )
    stale_reason: str | None = None


class CommentCreate(BaseModel):
    """A comment or a reply, written as the post's account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"message": "Thanks for the love!"}]})

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The text (up to 2,200 characters)")

    _no_nul = model_validator(mode="before")(refuse_nul_characters)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class CommentHide(BaseModel):
    """Hide a comment from the public, or show it again."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"hidden": True}]})

    hidden: bool = Field(description="true hides the comment, false shows it again")


class CommentCreated(BaseModel):
    """The comment or reply Instagram created."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Reply created successfully",
                    "comment_id": "17858893269000002",
                    "parent_id": "17858893269000001",
                    "media_id": "17892456789123456",
                }
            ]
        }
    )

    message: str
    comment_id: str
    parent_id: str | None
    media_id: str


class CommentDeleted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Comment deleted successfully", "comment_id": "17858893269000001"}]}
    )

    message: str
    comment_id: str
