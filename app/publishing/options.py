"""The publishing options beyond caption and media, as request fields: each validated with Instagram's own limits
and documented once, then shared by the kinds that take them (schemas.py).

| option | kinds | Instagram parameter |
|---|---|---|
| `user_tags` | feed, reels, carousel images, stories (usernames only) | `user_tags` |
| `location_id` | feed, reels, carousels | `location_id` |
| `collaborators` | feed, reels, carousels | `collaborators` |
| `thumb_offset`, `audio_name`, `trial_params` | reels | the same names |
| `first_comment` (+ `first_comment_delay_seconds`) | feed, reels, carousels | `POST /{media-id}/comments` |
| `fit` (+ `pad_color`) | images | none: the service crops or pads before Instagram sees the image |
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app import instagram as ig
from app.media.images import Fit

MAX_USER_TAGS = 20
MAX_COLLABORATORS = 3
MAX_FIRST_COMMENT = 2200
MAX_FIRST_COMMENT_DELAY = 86_400
_USERNAME = re.compile(r"[A-Za-z0-9._]{1,30}")
_HEX_COLOUR = re.compile(r"#?([0-9A-Fa-f]{6})")


def _username(value: str) -> str:
    name = value.strip().removeprefix("@")
    if not _USERNAME.fullmatch(name):
        raise ValueError("must be an Instagram username: 1 to 30 letters, digits, '.' or '_' (the @ is optional)")
    return name.lower()


def _location_id(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,25}", value.strip()):
        raise ValueError("must be the numeric id of a location (a Facebook Page with a location)")
    return value.strip()


def _number_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _colour(value: str) -> str:
    match = _HEX_COLOUR.fullmatch(value.strip())
    if match is None:
        raise ValueError("must be a colour as #RRGGBB (e.g. #FFFFFF)")
    return "#" + match.group(1).upper()


def _distinct(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("must not name the same account twice")
    return names


Username = Annotated[str, Field(max_length=31, examples=["jane_doe"]), AfterValidator(_username)]
LocationId = Annotated[
    str,
    BeforeValidator(_number_as_text),
    Field(
        max_length=25,
        description="The id of a location: a Facebook Page that has a location (Instagram's `location_id`). "
        "Feed posts, reels and carousels.",
        examples=["110843418940484"],
    ),
    AfterValidator(_location_id),
]
Collaborators = Annotated[
    list[Username],
    Field(
        max_length=MAX_COLLABORATORS,
        description="Up to 3 usernames invited as collaborators (Instagram's `collaborators`); the post appears on "
        "their profiles once they accept. Feed posts, reels and carousels.",
        examples=[["partner_brand"]],
    ),
    AfterValidator(_distinct),
]
PadColour = Annotated[str, Field(max_length=7), AfterValidator(_colour)]


class UserTag(BaseModel):
    """An account tagged on the image (or reel) at (x, y): 0–1 from the top-left corner."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"username": "jane_doe", "x": 0.5, "y": 0.8}]}
    )

    username: Username
    x: float = Field(ge=0, le=1, description="0 (left edge) to 1 (right edge)")
    y: float = Field(ge=0, le=1, description="0 (top edge) to 1 (bottom edge)")

    def instagram(self) -> ig.UserTag:
        return ig.UserTag(self.username, self.x, self.y)


class StoryUserTag(BaseModel):
    """An account tagged on a story: Instagram takes usernames only, without a position."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "jane_doe"}]})

    username: Username

    @model_validator(mode="before")
    @classmethod
    def _no_position(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("x" in data or "y" in data):
            raise ValueError("a story's user tags take a username only: Instagram places no tag at x, y on stories")
        return data

    def instagram(self) -> ig.UserTag:
        return ig.UserTag(self.username)


def _distinct_tags(tags: list[Any]) -> list[Any]:
    _distinct([tag.username for tag in tags])
    return tags


UserTags = Annotated[
    list[UserTag],
    Field(
        max_length=MAX_USER_TAGS,
        description="Accounts tagged on the image or reel, at x, y in 0–1 (Instagram's `user_tags`, at most 20).",
    ),
    AfterValidator(_distinct_tags),
]
StoryUserTags = Annotated[
    list[StoryUserTag],
    Field(
        max_length=MAX_USER_TAGS,
        description="Accounts tagged on the story: usernames only (Instagram's `user_tags`, at most 20).",
    ),
    AfterValidator(_distinct_tags),
]


class TrialParams(BaseModel):
    """A trial reel: shown to non-followers first, then shared with followers by hand or on its performance."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"graduation_strategy": "MANUAL"}]})

    graduation_strategy: Literal["MANUAL", "SS_PERFORMANCE"] = Field(
        description="`MANUAL`: you share it with followers in the app; `SS_PERFORMANCE`: Instagram shares it if it "
        "performs well with non-followers."
    )


class FirstComment(BaseModel):
    """The first comment, posted on the published media by the account itself (feed posts, reels, carousels)."""

    first_comment: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FIRST_COMMENT,
        description="Posted as the account's own first comment right after publishing (exactly once; its failure "
        "never fails the post). The answer and GET /posts/{db_id} report it as `first_comment: {status, "
        "comment_id, error}`.",
        examples=["More hashtags here #marketing #instagood"],
    )
    first_comment_delay_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_FIRST_COMMENT_DELAY,
        description="Wait this long after publishing before commenting (0–86400; 0: at once).",
    )

    @model_validator(mode="after")
    def _delay_needs_comment(self) -> FirstComment:
        if self.first_comment_delay_seconds and not self.first_comment:
            raise ValueError("first_comment_delay_seconds needs a first_comment")
        return self


class ImageFit(BaseModel):
    """What to do with an image outside the kind's aspect ratios (feed 4:5–1.91:1, story 9:16)."""

    fit: Fit = Field(
        default=Fit.REFUSE,
        description="`refuse` (default): an image outside the ratios is a 400; `crop`: centre-cropped into the "
        "nearest allowed ratio; `pad`: padded with `pad_color` to it. On stories, `crop` and `pad` frame the image "
        "at 9:16 (with `refuse` a story image is published as it is).",
    )
    pad_color: PadColour = Field(default="#FFFFFF", description="The colour `fit: pad` pads with, as #RRGGBB.")
