"""The OpenAPI 3.1 `webhooks` section: one entry per event type, with its payload, headers and signature."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, Response
from pydantic import BaseModel, Field, create_model

from app.events.types import EVENT_TYPES, EventData

SIGNATURE_HELP = """
Sent as `POST <your url>` with a JSON body `{id, type, created_at, data}`, signed as
[Standard Webhooks](https://www.standardwebhooks.com) specify:

- `webhook-id`: the event id (`evt_…`), the same on every retry: deduplicate on it;
- `webhook-timestamp`: Unix seconds of this attempt (refuse it if far from now);
- `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}">` keyed with
  your secret (the base64 after `whsec_`); during a secret rotation two signatures, separated by a space.

Verify with any Standard Webhooks library (`pip install standardwebhooks`:
`Webhook(secret).verify(raw_body, headers)`). Answer any 2xx within 10 s; anything else (redirects included)
is retried with backoff for about 3 days. Events of one post (or account) arrive in order.
"""


def _envelope(name: str, payload: type[EventData]) -> type[BaseModel]:
    model: type[BaseModel] = create_model(
        f"{payload.__name__}Event",
        __doc__=payload.__doc__,
        id=(str, Field(description="`evt_…`, stable across retries.")),
        type=(Literal[name], ...),  # type: ignore[arg-type]  # a literal built from the name at run time
        created_at=(datetime, ...),
        data=(payload, ...),
    )
    return model


def _receiver(envelope: type[BaseModel]) -> Any:
    async def receive(**_: Any) -> None:
        """Documentation only: this is what your endpoint receives."""

    header = inspect.Parameter.KEYWORD_ONLY
    receive.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("body", header, annotation=envelope),
            inspect.Parameter("webhook_id", header, annotation=Annotated[str, Header(alias="webhook-id")]),
            inspect.Parameter(
                "webhook_timestamp", header, annotation=Annotated[str, Header(alias="webhook-timestamp")]
            ),
            inspect.Parameter(
                "webhook_signature", header, annotation=Annotated[str, Header(alias="webhook-signature")]
            ),
        ]
    )
    return receive


def webhooks_router() -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    for name, payload in EVENT_TYPES.items():
        router.add_api_route(
            name,
            _receiver(_envelope(name, payload)),
            methods=["POST"],
            summary=(payload.__doc__ or name).strip().splitlines()[0],
            description=SIGNATURE_HELP,
            operation_id=f"webhook_{name.replace('.', '_')}",
            response_class=Response,
            responses={
                200: {"description": "Any 2xx answer means received."},
                "default": {"description": "Anything else (redirects too) is retried, with backoff, for about 3 days."},
            },
        )
    return router


def install_webhook_docs(app: FastAPI) -> None:
    """List every event payload under the OpenAPI document's `webhooks`."""
    app.webhooks.include_router(webhooks_router())
