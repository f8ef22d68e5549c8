"""Validators that chain: an endpoint id becomes the caller's own endpoint, or a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import CurrentUser
from app.dependencies import SessionDep
from app.errors import NotFound
from app.events import service
from app.events.models import WebhookEndpoint
from app.ids import DbId


async def owned_endpoint(
    session: SessionDep,
    user: CurrentUser,
    webhook_id: Annotated[DbId, Path(description="The webhook endpoint's id")],
) -> WebhookEndpoint:
    endpoint = await service.get_owned(session, user.id, webhook_id)
    if endpoint is None:
        # Another user's endpoint is indistinguishable from a missing one.
        raise NotFound("Webhook endpoint not found", code="webhook_not_found")
    return endpoint


OwnedEndpoint = Annotated[WebhookEndpoint, Depends(owned_endpoint)]
