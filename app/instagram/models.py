"""Typed results of the Instagram client, and the knowledge of which shapes Instagram sends for each.

Parsing is lenient where Instagram is inconsistent (flat vs `data[]`-wrapped answers, numeric vs string
ids) and strict where a wrong value would mislead the caller (a container status outside the documented
set fails). Tokens are `SecretStr`, so a model can be logged or printed without leaking one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from app.instagram.errors import InstagramError, classify_error


class ResponseShapeError(ValueError):
    """A JSON answer that lacks what the documented shape promises (the message names what, never values)."""


class _ApiModel(BaseModel):
    # Instagram adds fields over time; ignoring them keeps old clients working. Ids arrive as numbers in
    # some answers and strings in others; they are always strings here.
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


def _first_of_data(body: object) -> object:
    """Unwrap `{"data": [x]}` to `x`; return anything else as is (the flat shape)."""
    if isinstance(body, Mapping):
        data = body.get("data")
        if isinstance(data, list):
            if not data:
                raise ResponseShapeError("the response's data list is empty")
            return data[0]
    return body


def _data_list(body: object) -> list[Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise ResponseShapeError("the response has no data list")
    data: list[Any] = body["data"]
    return data


class ShortLivedToken(_ApiModel):
    """The one-hour token returned for an authorization code."""

    access_token: SecretStr
    user_id: str
    permissions: list[str] = []

    @field_validator("permissions", mode="before")
    @classmethod
    def _split_permissions(cls, value: object) -> object:
        # The documented shape sends "a,b,c"; the flat shape seen in practice sends ["a", "b", "c"].
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @classmethod
    def from_api(cls, body: object) -> Self:
        """Parse `{"data":[{...}]}` (documented) or the flat `{access_token, user_id, permissions}`."""
        return cls.model_validate(_first_of_data(body))


class LongLivedToken(_ApiModel):
    """A 60-day token, from the exchange of a short-lived one or from a refresh."""

    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int

    def expires_at(self, now: datetime) -> datetime:
        """When the token expires, counting `expires_in` from `now` (the moment the answer arrived)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now + timedelta(seconds=self.expires_in)

    @classmethod
    def from_api(cls, body: object) -> Self:
        return cls.model_validate(_first_of_data(body))


class InstagramProfile(_ApiModel):
    """A professional account as seen by `/me` or `/{ig-user-id}`."""

    id: str | None = None  # app-scoped id
    user_id: str  # the professional account id used in `/{ig-user-id}/...` paths and webhooks
    username: str
    name: str | None = None
    account_type: str | None = None
    profile_picture_url: str | None = None
    followers_count: int | None = None
    follows_count: int | None = None
    media_count: int | None = None
    biography: str | None = None
    website: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _user_id_defaults_to_id(cls, value: object) -> object:
        # `/{ig-user-id}` answers carry only `id`, which there is the professional account id.
        if isinstance(value, Mapping) and value.get("user_id") is None and value.get("id") is not None:
            return {**value, "user_id": value["id"]}
        return value

    @classmethod
    def from_api(cls, body: object) -> Self:
        """Parse a flat profile or one wrapped in `data[]` (both are seen)."""
        return cls.model_validate(_first_of_data(body))


class InstagramMedia(_ApiModel):
    """A published media object (feed post, reel, story or carousel album)."""

    id: str
    caption: str | None = None
    media_type: str | None = None  # IMAGE | VIDEO | CAROUSEL_ALBUM (a reel reports VIDEO)
    media_product_type: str | None = None  # AD | FEED | STORY | REELS
    media_url: str | None = None  # omitted for copyright-flagged media
    permalink: str | None = None
    thumbnail_url: str | None = None
    timestamp: AwareDatetime | None = None
    like_count: int | None = None
    comments_count: int | None = None
    shortcode: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        # Instagram sends `2019-09-26T22:36:43+0000`; normalise to datetime.UTC for clean comparisons.
        return value.astimezone(UTC) if value is not None else None


class MediaPage(_ApiModel):
    """One page of media; `after` is None on the last page."""

    items: list[InstagramMedia]
    after: str | None = None
    before: str | None = None

    @classmethod
    def from_api(cls, body: object) -> Self:
        """Parse `{data, paging{cursors{before, after}, next, previous}}`."""
        items = [InstagramMedia.model_validate(item) for item in _data_list(body)]
        after, before = _paging_cursors(body)
        return cls(items=items, after=after, before=before)


def _paging_cursors(body: object) -> tuple[str | None, str | None]:
    """The `after` and `before` cursors of a page, each None when there is no page in that direction."""
    paging = body.get("paging") if isinstance(body, Mapping) else None
    after = before = None
    if isinstance(paging, Mapping):
        cursors = paging.get("cursors")
        cursors = cursors if isinstance(cursors, Mapping) else {}
        # A cursor is only worth returning when there is a page in that direction: Instagram may
        # still send `cursors.after` on the last page, and following it loops or returns nothing.
        if paging.get("next"):
            after = _str_or_none(cursors.get("after"))
        if paging.get("previous"):
            before = _str_or_none(cursors.get("before"))
    return after, before


class CommentAuthor(_ApiModel):
    """Who wrote a comment: the Instagram-scoped id and the username."""

    id: str | None = None
    username: str | None = None


class CommentMedia(_ApiModel):
    """The media a comment is on (the comment's `media` field)."""

    id: str
    media_product_type: str | None = None


class InstagramComment(_ApiModel):
    """A comment on a media object, or a reply to one (`parent_id`), with its first replies when asked for."""

    id: str
    text: str | None = None
    username: str | None = None
    timestamp: AwareDatetime | None = None
    like_count: int | None = None
    hidden: bool | None = None
    parent_id: str | None = None
    author: CommentAuthor | None = Field(default=None, alias="from")
    media: CommentMedia | None = None
    replies: list[InstagramComment] = []

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    @field_validator("replies", mode="before")
    @classmethod
    def _unwrap_replies(cls, value: object) -> object:
        # The `replies{...}` field arrives as an edge: `{"data": [...], "paging": {...}}`.
        if isinstance(value, Mapping):
            data = value.get("data")
            return data if isinstance(data, list) else []
        return value if value is not None else []


class CommentPage(_ApiModel):
    """One page of a media's top-level comments; `after` is None on the last page."""

    items: list[InstagramComment]
    after: str | None = None
    before: str | None = None

    @classmethod
    def from_api(cls, body: object) -> Self:
        """Parse `{data, paging{cursors{before, after}, next, previous}}`."""
        items = [InstagramComment.model_validate(item) for item in _data_list(body)]
        after, before = _paging_cursors(body)
        return cls(items=items, after=after, before=before)


def parse_success(body: object) -> None:
    """`{"success": true}`, the answer of updates and deletions; anything else is an unexpected answer."""
    if not isinstance(body, Mapping) or body.get("success") is not True:
        raise ResponseShapeError("the response does not say success")


ContainerStatusCode = Literal["IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"]

# Status text seen on ERROR: "Error: Media upload has failed with error code 2207026".
_STATUS_SUBCODE = re.compile(r"error code\D{0,3}(\d+)", re.IGNORECASE)
_BARE_SUBCODE = re.compile(r"\b(22\d{5})\b")


class ContainerStatus(_ApiModel):
    """Where a media container is in its life: only FINISHED can be published."""

    id: str
    status_code: ContainerStatusCode
    status: str | None = None
    error_subcode: int | None = None  # parsed from `status` when the container failed

    @model_validator(mode="before")
    @classmethod
    def _subcode_from_status(cls, value: object) -> object:
        if isinstance(value, Mapping) and value.get("error_subcode") is None:
            status = value.get("status")
            if isinstance(status, str):
                match = _STATUS_SUBCODE.search(status) or _BARE_SUBCODE.search(status)
                if match:
                    return {**value, "error_subcode": int(match.group(1))}
        return value

    def error(self) -> InstagramError:
        """What a container in ERROR stands for, classified as an error answer with its subcode is (the one table
        of errors.py): the media could not be downloaded, Instagram is failing for now, or the media is refused."""
        envelope = {
            "error": {"message": self.status or "The media container failed", "error_subcode": self.error_subcode}
        }
        return classify_error(400, envelope, {}, operation="container_status")


class PublishingLimit(_ApiModel):
    """How much of the rolling publishing quota the account has used. The total varies; read it."""

    quota_usage: int
    quota_total: int
    quota_duration: int  # seconds of the rolling window

    @property
    def remaining(self) -> int:
        return max(0, self.quota_total - self.quota_usage)

    @classmethod
    def from_api(cls, body: object) -> Self:
        """Parse `{"data":[{"quota_usage":2,"config":{"quota_total":50,"quota_duration":86400}}]}`."""
        entry = _first_of_data(body)
        if not isinstance(entry, Mapping):
            raise ResponseShapeError("the publishing limit entry is not an object")
        config = entry.get("config")
        config = config if isinstance(config, Mapping) else {}
        return cls.model_validate(
            {
                "quota_usage": entry.get("quota_usage", 0),
                "quota_total": config.get("quota_total"),
                "quota_duration": config.get("quota_duration"),
            }
        )


def parse_insight_values(body: object) -> dict[str, int]:
    """Turn an insights answer into `{metric name: value}`.

    `total_value.value` wins when present; otherwise the `values[].value` are summed (one value for
    lifetime media metrics, one per day for a time series). Entries without a number are skipped: Meta
    answers "no data" with an empty list rather than a zero, and so do we.
    """
    result: dict[str, int] = {}
    for entry in _data_list(body):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        total = entry.get("total_value")
        if isinstance(total, Mapping) and (number := _as_int(total.get("value"))) is not None:
            result[entry["name"]] = number
            continue
        values = entry.get("values")
        if isinstance(values, list):
            numbers = [n for v in values if isinstance(v, Mapping) and (n := _as_int(v.get("value"))) is not None]
            if numbers:
                result[entry["name"]] = sum(numbers)
    return result


def _as_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return round(value)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
