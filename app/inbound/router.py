"""`/webhooks/instagram`: where Meta verifies the subscription (GET) and sends Instagram's webhooks (POST).

No Bearer JWT here: Meta proves who it is with the verify token (GET) and the `X-Hub-Signature-256` HMAC of
the body (POST). A verified delivery is stored as received and answered 200 at once; a job processes it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from app.dependencies import ContextDep
from app.errors import AppError, BadRequest, ErrorResponse, error_responses
from app.inbound import processing
from app.inbound.envelope import NotAnEnvelope, decode
from app.inbound.schemas import DeliveryReceived
from app.inbound.storage import store_delivery
from app.inbound.verification import SIGNATURE_HEADER, SignatureProblem, check_signature, handshake_accepted
from app.openapi import API_PREFIX

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/instagram"

router = APIRouter(prefix=API_PREFIX, tags=["instagram-webhooks"])


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message = "Forbidden"


class Unsigned(AppError):
    status_code = 401
    code = "signature_missing"
    message = f"{SIGNATURE_HEADER} is required: sha256= and the hex HMAC-SHA256 of the body with the app secret"


class TooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    message = "The delivery is too large"


@router.get(
    WEBHOOK_PATH,
    summary="Meta's webhook verification handshake",
    response_class=PlainTextResponse,
    responses={
        200: {"description": "`hub.challenge`, as plain text", "content": {"text/plain": {"example": "1158201444"}}},
        **error_responses(
            403,
            examples={403: {"error": "hub.verify_token does not match", "code": "verify_token_mismatch"}},
        ),
    },
)
async def verify_subscription(
    ctx: ContextDep,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=64, description="Always `subscribe`")] = None,
    challenge: Annotated[
        str | None, Query(alias="hub.challenge", max_length=256, description="Echoed back when the token matches")
    ] = None,
    verify_token: Annotated[
        str | None,
        Query(
            alias="hub.verify_token",
            max_length=1024,
            description="INSTAGRAM_WEBHOOK_VERIFY_TOKEN, as typed in the App Dashboard",
        ),
    ] = None,
) -> PlainTextResponse:
    """Meta calls this when the callback URL is saved in the App Dashboard (Webhooks product): with
    `hub.mode=subscribe` and `hub.verify_token` equal to INSTAGRAM_WEBHOOK_VERIFY_TOKEN, the answer is
    `hub.challenge` as plain text; anything else answers 403."""
    expected = ctx.settings.webhook_verify_token()
    if challenge is None or not handshake_accepted(mode, verify_token, expected):
        raise Forbidden("hub.verify_token does not match", code="verify_token_mismatch")
    return PlainTextResponse(challenge)


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body (the signature is over these exact bytes), refused past `limit` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The delivery is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The delivery is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    WEBHOOK_PATH,
    summary="Receive Instagram's webhooks (comments, mentions)",
    response_model=DeliveryReceived,
    responses=error_responses(
        400,
        401,
        403,
        503,
        examples={
            400: {"error": "the body is not JSON", "code": "bad_request"},
            401: {"error": Unsigned.message, "code": Unsigned.code},
            403: {"error": "X-Hub-Signature-256 does not match the body", "code": "signature_mismatch"},
        },
    )
    | {413: {"description": "Larger than INSTAGRAM_WEBHOOK_MAX_BODY_BYTES", "model": ErrorResponse}},
    openapi_extra={
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "description": "`sha256=` + hex HMAC-SHA256 of the raw body with the app secret",
                "schema": {"type": "string", "example": "sha256=" + "0" * 64},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "object": "instagram",
                        "entry": [
                            {
                                "id": "17841400000000001",
                                "time": 1764440000,
                                "changes": [
                                    {
                                        "field": "comments",
                                        "value": {
                                            "from": {"id": "1234567890123456", "username": "ana.souza"},
                                            "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                                            "id": "18000000000000001",
                                            "text": "Love this!",
                                        },
                                    }
                                ],
                            }
                        ],
                    },
                }
            },
        },
    },
)
async def receive_delivery(request: Request, ctx: ContextDep) -> DeliveryReceived:
    """Verifies `X-Hub-Signature-256` over the raw body (the Instagram app secret, or META_APP_SECRET when
    set), stores the body as received and answers 200 at once; a background job stores the comments and
    mentions for every connected account of that Instagram user and emits `comment.created` and
    `mention.created`. A replayed body stores nothing new and still answers 200 (`duplicate: true`), so Meta
    stops re-sending it. A body that is not a JSON object answers 400, a missing signature 401, a wrong one 403;
    none of them stores anything."""
    settings = ctx.settings
    body = await _read_body(request, settings.instagram_webhook_max_body_bytes)
    try:
        decode(body)
    except NotAnEnvelope as exc:
        raise BadRequest(str(exc)) from exc
    problem = check_signature(request.headers.get(SIGNATURE_HEADER), body, settings.webhook_signing_secrets())
    if problem is SignatureProblem.MISSING:
        raise Unsigned()
    if problem is SignatureProblem.MISMATCH:
        raise Forbidden(f"{SIGNATURE_HEADER} does not match the body", code="signature_mismatch")
    async with ctx.engine.begin() as connection:
        delivery_id, stored = await store_delivery(connection, body)
    if stored:
        try:
            await ctx.jobs.enqueue(processing.PROCESS_JOB, delivery_id, job_id=processing.job_id(delivery_id, 0))
        except Exception as exc:  # stored: the sweeper processes it within a minute
            logger.warning("inbound delivery not enqueued", extra={"delivery_id": delivery_id, "error": str(exc)})
    return DeliveryReceived(duplicate=not stored)
