"""Request and response shapes of the webhook endpoints and the events feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.events.types import SUBSCRIBABLE

MAX_EVENT_TYPES = len(SUBSCRIBABLE)
_URL_DESCRIPTION = (
    "An http(s) URL whose host resolves to public addresses only (checked now and at every delivery). "
    "Redirects are not followed."
)


def _event_types(value: list[str]) -> list[str]:
    names = list(dict.fromkeys(v.strip() for v in value))
    if "*" in names:
        if len(names) > 1:
            raise ValueError('must be ["*"] alone, or a list of event types')
        return names
    unknown = [n for n in names if n not in SUBSCRIBABLE]
    if unknown:
        raise ValueError(
            f"must name known event types, not {', '.join(unknown)} (known: {', '.join(SUBSCRIBABLE)}, or *)"
        )
    return names


EventTypes = Annotated[list[str], Field(min_length=1, max_length=MAX_EVENT_TYPES + 1), AfterValidator(_event_types)]
Description = Annotated[str, Field(max_length=500)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://app.example.com/hooks/instagram",
                    "events": ["post.published", "post.failed", "account.needs_reauth"],
                    "description": "production web app",
                }
            ]
        },
    )

    url: str = Field(max_length=2048, description=_URL_DESCRIPTION)
    events: EventTypes = Field(default_factory=lambda: ["*"], description='Event types, or `["*"]` for all.')
    description: Description | None = None


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True}, {"events": ["*"]}]})

    url: str | None = Field(default=None, max_length=2048, description=_URL_DESCRIPTION)
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None,
        description="false pauses deliveries (they stay pending); true resumes them, also after an automatic disable.",
    )


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why it is disabled (by you, or after failing for 3 days).")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="First failed attempt since the last success.")
    last_success_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then, the secret before the last rotation still signs every request too."
    )
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="The signing secret (`whsec_…`). Shown only here and when rotated: store it now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class SecretRotated(BaseModel):
    id: int
    secret: str = Field(description="The new signing secret (`whsec_…`), shown only here.")
    previous_secret_expires_at: datetime = Field(
        description="The old secret keeps signing beside the new one until then (24 hours)."
    )


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str = Field(description="The event's id: the payload's `id` and the `webhook-id` header.")
    event_type: str
    status: str = Field(description="`pending` (waiting for an attempt or its turn), `succeeded` or `failed`.")
    attempts: int
    last_status_code: int | None = Field(description="The receiver's HTTP status at the last attempt.")
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class EventOut(BaseModel):
    """Every payload's envelope, the same in webhooks and in the feed. Never a token."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_5f1c2a9b8e7d6c5b4a392817",
                    "type": "post.published",
                    "created_at": "2026-12-01T09:00:02.418Z",
                    "data": {
                        "db_id": 42,
                        "account_id": 1,
                        "account": "john_doe",
                        "kind": "feed",
                        "batch_id": None,
                        "media_id": "17892456789123456",
                        "permalink": "https://www.instagram.com/p/C0aB1cD2eF3/",
                        "published_at": "2026-12-01T09:00:02.411Z",
                    },
                }
            ]
        }
    )

    id: str = Field(description="`evt_…`, stable across retries: deduplicate on it.")
    type: str
    created_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventOut] = Field(description="Oldest first.")
    next_cursor: str = Field(description="Pass as `after` to get what comes next (keep it even when empty).")
    has_more: bool = Field(description="More events are waiting beyond this page: ask again at once.")


class MessageOut(BaseModel):
    message: str
