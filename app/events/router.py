"""Routes: webhook endpoints (create, list, change, delete, rotate the secret, test), their deliveries
(list, send again), and the events feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.auth.dependencies import CurrentUser
from app.db import utcnow
from app.dependencies import ContextDep, SessionDep
from app.errors import BadRequest, Conflict, NotFound, error_responses
from app.events import delivery, service
from app.events.dependencies import OwnedEndpoint
from app.events.models import DeliveryStatus
from app.events.outbox import record_test
from app.events.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    EventPage,
    MessageOut,
    SecretRotated,
)
from app.events.sender import EndpointUrlInvalid, check_endpoint_url
from app.events.types import SUBSCRIBABLE, WebhookTest
from app.ids import INT64_MAX, DbId
from app.openapi import API_PREFIX

router = APIRouter(prefix=API_PREFIX)

_NOT_FOUND = {404: {"error": "Webhook endpoint not found", "code": "webhook_not_found"}}
_DISABLED = {
    409: {
        "error": 'Webhook endpoint 3 is disabled: enable it with PATCH {"enabled": true} first',
        "code": "webhook_disabled",
    }
}
_BAD_URL = {400: {"error": "url points to a private or internal address, which is not allowed", "code": "invalid_url"}}


async def _checked_url(ctx: ContextDep, url: str) -> str:
    try:
        await check_endpoint_url(url, ctx.settings)
    except EndpointUrlInvalid as exc:
        raise BadRequest(str(exc), code="invalid_url") from exc
    return url


def _require_enabled(endpoint_id: int, enabled: bool) -> None:
    if not enabled:
        raise Conflict(
            f'Webhook endpoint {endpoint_id} is disabled: enable it with PATCH {{"enabled": true}} first',
            code="webhook_disabled",
        )


@router.post(
    "/webhooks",
    tags=["webhooks"],
    summary="Register a webhook endpoint",
    status_code=201,
    response_model=EndpointCreated,
    responses=error_responses(
        400,
        401,
        409,
        examples={
            **_BAD_URL,
            409: {"error": "You can register at most 20 webhook endpoints", "code": "too_many_webhooks"},
        },
    ),
)
async def create_webhook(
    session: SessionDep, ctx: ContextDep, user: CurrentUser, body: EndpointCreate
) -> EndpointCreated:
    """Events are POSTed to `url` as JSON signed the Standard Webhooks way (see the `webhooks` section).
    The answer holds the signing `secret`: it is shown only here and when rotated."""
    url = await _checked_url(ctx, body.url)
    if await service.count_endpoints(session, user.id) >= service.MAX_ENDPOINTS_PER_USER:
        raise Conflict(
            f"You can register at most {service.MAX_ENDPOINTS_PER_USER} webhook endpoints",
            code="too_many_webhooks",
        )
    endpoint, secret = await service.create_endpoint(
        session, ctx.cipher, user_id=user.id, url=url, events=body.events, description=body.description
    )
    return EndpointCreated(**service.to_endpoint_out(endpoint).model_dump(), secret=secret)


@router.get(
    "/webhooks",
    tags=["webhooks"],
    summary="List webhook endpoints",
    response_model=list[EndpointOut],
    responses=error_responses(401),
)
async def list_webhooks(session: SessionDep, user: CurrentUser) -> list[EndpointOut]:
    """Your endpoints, with whether each is enabled and why not. Secrets are never shown again."""
    return [service.to_endpoint_out(e) for e in await service.list_owned(session, user.id)]


@router.get(
    "/webhooks/{webhook_id}",
    tags=["webhooks"],
    summary="Get a webhook endpoint",
    response_model=EndpointOut,
    responses=error_responses(401, 404, examples=_NOT_FOUND),
)
async def get_webhook(endpoint: OwnedEndpoint) -> EndpointOut:
    """One endpoint; `disabled_reason` says why it stopped receiving (by you, or after 3 days of failures)."""
    return service.to_endpoint_out(endpoint)


@router.patch(
    "/webhooks/{webhook_id}",
    tags=["webhooks"],
    summary="Change a webhook endpoint",
    response_model=EndpointOut,
    responses=error_responses(400, 401, 404, examples={**_NOT_FOUND, **_BAD_URL}),
)
async def update_webhook(
    session: SessionDep, ctx: ContextDep, endpoint: OwnedEndpoint, body: EndpointUpdate
) -> EndpointOut:
    """Change `url`, `events`, `description`, or `enabled`. `enabled: true` (also after an automatic disable)
    resumes the deliveries kept pending, in order; `enabled: false` pauses them."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise BadRequest("Nothing to change: send url, events, description or enabled", code="validation_error")
    for field in ("url", "events", "enabled"):
        if field in changes and changes[field] is None:
            raise BadRequest(f"{field} must not be null", code="validation_error")
    if body.url is not None:
        endpoint.url = await _checked_url(ctx, body.url)
    if body.events is not None:
        endpoint.events = body.events
    if "description" in changes:
        endpoint.description = body.description
    endpoint.updated_at = utcnow()
    if body.enabled is True and not endpoint.enabled:
        await service.enable(session, endpoint)
    elif body.enabled is False and endpoint.enabled:
        service.disable(endpoint, "disabled by the user")
    await session.flush()
    return service.to_endpoint_out(endpoint)


@router.delete(
    "/webhooks/{webhook_id}",
    tags=["webhooks"],
    summary="Delete a webhook endpoint",
    response_model=MessageOut,
    responses=error_responses(401, 404, examples=_NOT_FOUND),
)
async def delete_webhook(session: SessionDep, endpoint: OwnedEndpoint) -> MessageOut:
    """Nothing more is sent to it; its deliveries are forgotten. Events stay in `GET /events`."""
    await service.delete_endpoint(session, endpoint)
    return MessageOut(message="Webhook endpoint deleted successfully")


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    tags=["webhooks"],
    summary="Rotate a webhook endpoint's signing secret",
    response_model=SecretRotated,
    responses=error_responses(401, 404, examples=_NOT_FOUND),
)
async def rotate_webhook_secret(ctx: ContextDep, endpoint: OwnedEndpoint) -> SecretRotated:
    """A new secret, shown only here. For 24 hours every request is signed with both the old and the new
    secret (two signatures in `webhook-signature`), so receivers can switch without missing anything."""
    secret, endpoint = service.rotate_secret(endpoint, ctx.cipher)
    assert endpoint.previous_secret_expires_at is not None
    return SecretRotated(id=endpoint.id, secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at)


@router.post(
    "/webhooks/{webhook_id}/test",
    tags=["webhooks"],
    summary="Send a test event",
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409, examples={**_NOT_FOUND, **_DISABLED}),
)
async def test_webhook(session: SessionDep, ctx: ContextDep, endpoint: OwnedEndpoint) -> DeliveryOut:
    """Sends a signed `webhook.test` event to the endpoint now and answers how it went (`status`,
    `last_status_code`, `last_error`). A test is tried once, and never listed in `GET /events`."""
    _require_enabled(endpoint.id, endpoint.enabled)
    test = await record_test(session, endpoint, WebhookTest(endpoint_id=endpoint.id))
    await session.commit()
    await delivery.deliver(ctx, test.id)
    found = await service.get_delivery(session, endpoint, test.id)
    assert found is not None
    await session.refresh(found[0])
    return service.to_delivery_out(*found)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    tags=["webhooks"],
    summary="List a webhook endpoint's deliveries",
    response_model=DeliveryPage,
    responses=error_responses(400, 401, 404, examples=_NOT_FOUND),
)
async def list_webhook_deliveries(
    session: SessionDep,
    endpoint: OwnedEndpoint,
    status: Annotated[DeliveryStatus | None, Query(description="pending, succeeded or failed")] = None,
    cursor: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> DeliveryPage:
    """Newest first: the event, status, attempts, the last HTTP status and error, and the next attempt."""
    rows, next_cursor = await service.list_deliveries(session, endpoint, status=status, before_id=cursor, limit=limit)
    return DeliveryPage(
        deliveries=[service.to_delivery_out(d, e) for d, e in rows],
        next_cursor=str(next_cursor) if next_cursor else None,
    )


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    tags=["webhooks"],
    summary="Send a delivery again",
    status_code=202,
    response_model=DeliveryOut,
    responses=error_responses(
        401, 404, 409, examples={404: {"error": "Delivery not found", "code": "delivery_not_found"}, **_DISABLED}
    ),
)
async def redeliver_webhook(
    session: SessionDep,
    endpoint: OwnedEndpoint,
    delivery_id: Annotated[DbId, Path(description="The delivery's id")],
) -> DeliveryOut:
    """A pending delivery is sent now instead of at its next retry; a succeeded or failed one is sent again as a
    new delivery of the same event (same `webhook-id`). Answers the delivery that will be sent."""
    found = await service.get_delivery(session, endpoint, delivery_id)
    if found is None:
        raise NotFound("Delivery not found", code="delivery_not_found")
    _require_enabled(endpoint.id, endpoint.enabled)
    target = await service.redeliver(session, found[0])
    return service.to_delivery_out(target, found[1])


@router.get(
    "/events",
    tags=["events"],
    summary="Read your events (the feed)",
    response_model=EventPage,
    responses=error_responses(400, 401),
)
async def list_events(
    session: SessionDep,
    user: CurrentUser,
    after: Annotated[
        str | None,
        Query(
            max_length=64,
            description="`next_cursor` of the previous page, or the id of the last event you handled (`evt_…`). "
            "Omit it to start from the oldest kept event.",
        ),
    ] = None,
    type: Annotated[str | None, Query(max_length=1000, description="Only these event types (comma-separated).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    """Every event of yours, oldest first, the same payloads as the webhooks. A consumer that was down (or
    cannot receive webhooks) keeps `next_cursor` and asks again; nothing is skipped, and an event seen by
    webhook too has the same `id`. Events are kept EVENTS_RETENTION_DAYS (30)."""
    types = _event_types(type)
    position = await _after_position(session, user.id, after)
    events, cursor, more = await service.read_feed(session, user.id, after=position, types=types, limit=limit)
    return EventPage(events=[delivery.event_out(e) for e in events], next_cursor=str(cursor), has_more=more)


def _event_types(value: str | None) -> list[str]:
    types = [t.strip() for t in (value or "").split(",") if t.strip()]
    unknown = [t for t in types if t not in SUBSCRIBABLE]
    if unknown:
        raise BadRequest(
            f"query parameter type has unknown event types: {', '.join(unknown)} (known: {', '.join(SUBSCRIBABLE)})",
            code="validation_error",
        )
    return types


async def _after_position(session: SessionDep, user_id: str, after: str | None) -> int:
    if not after:
        return 0
    # isascii: str.isdigit() also accepts digits int() refuses ("²"); a cursor beyond 64 bits was never given.
    if after.isascii() and after.isdigit() and int(after) <= INT64_MAX:
        return int(after)
    if after.startswith("evt_"):
        position = await service.position_of(session, user_id, after)
        if position is None:
            raise BadRequest(f"query parameter after: no event {after} in your feed", code="validation_error")
        return position
    raise BadRequest(
        "query parameter after must be a next_cursor from a previous page or an event id (evt_…)",
        code="validation_error",
    )
