"""The answers of Meta's deauthorize and data-deletion callbacks, and of the deletion status page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.inbound.models import DataDeletionStatus

EXAMPLE_CODE = "u3M6zq0yH1fQm2bVxJ8kT4nR9sLw7pEa"
# A real signed request: `user_id` 17841400000000001, signed with the sandbox's app secret (the embedded default).
EXAMPLE_SIGNED_REQUEST = (
    "TtaaRDLfe-FuHHWRK1Iztb72Etayzg_AZcW2GRtvVvk."
    "eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MTc2NDQ0MjM3OSwidXNlcl9pZCI6IjE3ODQxNDAwMDAwMDAwMDAxIn0"
)


class MetaSignedRequest(BaseModel):
    """The form body Meta POSTs to both callbacks."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"signed_request": EXAMPLE_SIGNED_REQUEST}]})

    signed_request: str = Field(
        description="`<base64url(HMAC-SHA256(app secret, payload))>.<base64url(payload)>`, padding stripped; the "
        'payload is `{"algorithm": "HMAC-SHA256", "issued_at": <unix time>, "user_id": "<Instagram user id>"}`.',
        examples=[EXAMPLE_SIGNED_REQUEST],
    )


class DeauthorizeOut(BaseModel):
    """Meta ignores the body of this answer; it says what was done, for a person testing the URL."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Deauthorization recorded", "accounts_disconnected": 2}]}
    )

    message: str
    accounts_disconnected: int = Field(
        description="Accounts disconnected by this call (0 when they already were: the call is idempotent)."
    )


class DataDeletionOut(BaseModel):
    """What Meta requires from a data-deletion callback: where the user follows their request, and its code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": f"https://api.example.com/api/sns/instagram/data-deletion/{EXAMPLE_CODE}",
                    "confirmation_code": EXAMPLE_CODE,
                }
            ]
        }
    )

    url: str = Field(description="The status page of this request (no authentication), shown to the user by Meta.")
    confirmation_code: str = Field(description="Random and unguessable; the only key to the status page.")


class DataDeletionStatusOut(BaseModel):
    """A data-deletion request's status, and nothing about whose data it was."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "confirmation_code": EXAMPLE_CODE,
                    "status": "completed",
                    "requested_at": "2026-11-29T18:52:59Z",
                    "completed_at": "2026-11-29T18:52:59Z",
                }
            ]
        }
    )

    confirmation_code: str
    status: DataDeletionStatus = Field(description="`pending` while the deletion runs, then `completed`.")
    requested_at: datetime
    completed_at: datetime | None
