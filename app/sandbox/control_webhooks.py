"""`/control/webhooks` and `/control/callbacks`: what the App Dashboard holds (the webhook callback URL, the
deauthorize and data-deletion URLs) and the switches that make Meta's servers call them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.sandbox import auth
from app.sandbox.callbacks import CallbackKind, send_callback
from app.sandbox.dependencies import SandboxDep
from app.sandbox.models import Media, User
from app.sandbox.profiles import ig_user_id
from app.sandbox.state import Sandbox
from app.sandbox.webhooks import (
    DEFAULT_INITIAL_BACKOFF_SECONDS,
    DEFAULT_RETRY_SECONDS,
    IG_LOGIN_FIELDS,
    MESSAGING_FIELDS,
    WebhookConfig,
    default_value,
    make_entry,
    new_base_id,
)

router = APIRouter(prefix="/control", tags=["control"])

MAX_EVENTS_PER_REQUEST = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookConfigBody(_Body):
    callback_url: str = Field(description="Where Meta sends the handshake and the events (http or https).")
    verify_token: str = Field(min_length=1, description="Sent back as hub.verify_token in the handshake.")
    secret: str | None = Field(default=None, min_length=1, description="Signing secret; default: the app secret.")
    retry_seconds: float = Field(default=DEFAULT_RETRY_SECONDS, gt=0, description="Total retry window.")
    initial_backoff_seconds: float = Field(default=DEFAULT_INITIAL_BACKOFF_SECONDS, gt=0)


class WebhookEventBody(_Body):
    username: str | None = None
    user_id: str | None = None
    field: str
    value: dict[str, Any] | None = Field(default=None, description="Default: a plausible value for the field.")
    envelope: Literal["flat", "changes", "messaging"] = "changes"
    duplicate: bool = False
    out_of_order: bool = False
    count: int = Field(default=1, ge=1, le=MAX_EVENTS_PER_REQUEST)


class CallbackUrlsBody(_Body):
    deauthorize_url: str | None = None
    data_deletion_url: str | None = None


class CallbackUserBody(_Body):
    username: str | None = None
    user_id: str | None = None


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _check_url(name: str, url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) < len("http://x"):
        raise _bad_request(f"{name}: an http(s) URL is required")
    return url


def _subscriptions(sandbox: Sandbox) -> list[dict[str, Any]]:
    world = sandbox.world
    return [
        {
            "user_id": user_id,
            "username": world.users[user_id].username if user_id in world.users else None,
            "subscribed_fields": list(fields),
        }
        for user_id, fields in world.subscriptions.items()
    ]


# --- webhooks -------------------------------------------------------------------------------------


@router.get("/webhooks")
async def get_webhooks(sandbox: SandboxDep) -> dict[str, Any]:
    """The webhook configuration (without its secret), the accounts' subscriptions, pending deliveries and
    the delivery log (one line per attempt)."""
    return {**sandbox.webhooks.describe(), "subscriptions": _subscriptions(sandbox)}


@router.put("/webhooks", response_model=None)
async def put_webhooks(body: WebhookConfigBody, sandbox: SandboxDep) -> dict[str, Any] | JSONResponse:
    """Verify the callback URL (the `hub.challenge` handshake) and, if it answers right, keep the configuration."""
    url = _check_url("callback_url", body.callback_url)
    verification = await sandbox.webhooks.verify(url, body.verify_token)
    if not verification.ok:
        return JSONResponse({"error": verification.problem, "verification": verification.describe()}, status_code=400)
    config = WebhookConfig(
        callback_url=url,
        verify_token=body.verify_token,
        secret=body.secret,
        retry_seconds=body.retry_seconds,
        initial_backoff_seconds=body.initial_backoff_seconds,
        verified_at=sandbox.now().isoformat(),
    )
    sandbox.webhooks.configure(config)
    return {"configuration": config.describe(), "verification": verification.describe()}


@router.delete("/webhooks")
async def delete_webhooks(sandbox: SandboxDep) -> dict[str, Any]:
    """Remove the webhook configuration; deliveries still pending are dropped (the log stays)."""
    had_config = sandbox.webhooks.config is not None
    dropped = sandbox.webhooks.remove()
    return {"removed": had_config, "dropped_pending": dropped}


def _event_user(sandbox: Sandbox, username: str | None, user_id: str | None) -> User:
    world = sandbox.world
    if user_id:
        user = world.find_user(user_id)
    elif username:
        found = world.usernames.get(username.strip().lstrip("@").lower())
        user = world.users.get(found) if found else None
    else:
        raise _bad_request("give username or user_id")
    if user is None:
        raise HTTPException(status_code=404, detail=f"no sandbox account {user_id or username!r}")
    return user


def _latest_media(sandbox: Sandbox, user: User) -> Media | None:
    """The account's newest post or reel (stories take no comments)."""
    world = sandbox.world
    candidates = [world.media[mid] for mid in world.user_media.get(user.ig_id, [])]
    candidates = [m for m in candidates if m.product_type != "STORY"]
    return max(candidates, key=lambda m: m.timestamp, default=None)


@router.post("/webhooks/events", response_model=None)
async def emit_events(body: WebhookEventBody, sandbox: SandboxDep) -> dict[str, Any] | JSONResponse:
    """Queue `count` events of `field` for an account; sent only if it subscribed to that field."""
    if sandbox.webhooks.config is None:
        return JSONResponse({"error": "no webhook configuration: PUT /control/webhooks first"}, status_code=409)
    user = _event_user(sandbox, body.username, body.user_id)
    if body.field not in IG_LOGIN_FIELDS:
        raise _bad_request(f"field: unknown webhook field {body.field!r}; known: {', '.join(IG_LOGIN_FIELDS)}")
    if body.envelope == "messaging" and body.field not in MESSAGING_FIELDS:
        raise _bad_request(f"envelope: the messaging envelope carries messaging fields only, not {body.field!r}")
    answer: dict[str, Any] = {
        "user_id": user.ig_id,
        "username": user.username,
        "field": body.field,
        "envelope": body.envelope,
    }
    fields = sandbox.world.subscriptions.get(user.ig_id, [])
    if body.field not in fields:
        reason = (
            f"{user.username} has not enabled {body.field!r} for the app (POST /me/subscribed_apps)"
            if fields
            else f"{user.username} has no webhook subscription for the app (POST /me/subscribed_apps)"
        )
        return {**answer, "sent": False, "queued": 0, "reason": reason, "deliveries": []}
    now = sandbox.timestamp()
    base_id = new_base_id()
    media = _latest_media(sandbox, user)
    entries = []
    for seq in range(body.count):
        value = body.value
        if value is None:
            value = default_value(
                body.field, user, media, timestamp=now, base_id=base_id, seq=seq, app_id=sandbox.settings.app_id
            )
        entries.append(make_entry(user.ig_id, body.field, value, body.envelope, now))
    deliveries = sandbox.webhooks.enqueue(entries, duplicate=body.duplicate, out_of_order=body.out_of_order)
    return {
        **answer,
        "sent": True,
        "queued": body.count,
        "deliveries": [d.describe() for d in deliveries],
        "entries": entries[:10],
    }


@router.post("/webhooks/flush")
async def flush_webhooks(sandbox: SandboxDep) -> dict[str, Any]:
    """Send every delivery due now on the sandbox clock, and wait for the answers."""
    attempts = await sandbox.webhooks.deliver_due()
    pending = sandbox.webhooks.describe()["pending"]
    return {"attempts": [a.describe() for a in attempts], "pending": pending}


# --- deauthorize and data-deletion callbacks ------------------------------------------------------


@router.get("/callbacks")
async def get_callbacks(sandbox: SandboxDep) -> dict[str, Any]:
    """The configured deauthorize and data-deletion callback URLs."""
    urls = sandbox.callbacks
    return {"deauthorize_url": urls.deauthorize_url, "data_deletion_url": urls.data_deletion_url}


@router.put("/callbacks")
async def put_callbacks(body: CallbackUrlsBody, sandbox: SandboxDep) -> dict[str, Any]:
    """Set both URLs (one left out is unset)."""
    urls = sandbox.callbacks
    urls.deauthorize_url = _check_url("deauthorize_url", body.deauthorize_url) if body.deauthorize_url else None
    urls.data_deletion_url = _check_url("data_deletion_url", body.data_deletion_url) if body.data_deletion_url else None
    return {"deauthorize_url": urls.deauthorize_url, "data_deletion_url": urls.data_deletion_url}


@router.delete("/callbacks")
async def delete_callbacks(sandbox: SandboxDep) -> dict[str, Any]:
    """Unset both URLs."""
    sandbox.callbacks.deauthorize_url = None
    sandbox.callbacks.data_deletion_url = None
    return {"deauthorize_url": None, "data_deletion_url": None}


def _callback_user(sandbox: Sandbox, body: CallbackUserBody) -> tuple[str, str | None]:
    """The professional account id (what webhooks call the user) and the username when known."""
    if body.user_id:
        user = sandbox.world.find_user(body.user_id.strip())
        if user is not None:
            return user.ig_id, user.username
        if not body.user_id.strip().isdigit():
            raise _bad_request("user_id: a numeric Instagram user id is required")
        return body.user_id.strip(), None
    if body.username:
        username = auth.normalise_username(body.username)
        if username is None:
            raise _bad_request("username: up to 30 letters, digits, periods or underscores")
        # Derived, so it works for accounts of a sandbox that restarted since.
        return ig_user_id(username), username
    raise _bad_request("give username or user_id")


async def _call(sandbox: Sandbox, kind: CallbackKind, user_id: str) -> dict[str, Any] | None:
    url = sandbox.callbacks.url_for(kind)
    if url is None:
        return None
    return await send_callback(
        sandbox.outbound,
        kind,
        url,
        secret=sandbox.settings.app_secret,
        user_id=user_id,
        issued_at=int(sandbox.timestamp()),
    )


@router.post("/callbacks/deauthorize")
async def deauthorize(body: CallbackUserBody, sandbox: SandboxDep) -> dict[str, Any]:
    """The user removed the app: their tokens are revoked (190/460), their webhook subscription is gone, and
    the deauthorize callback (if configured) receives the signed request."""
    user_id, username = _callback_user(sandbox, body)
    auth.revoke(sandbox, user_id=user_id)
    removed = sandbox.world.subscriptions.pop(user_id, None)
    callback = await _call(sandbox, "deauthorize", user_id)
    answer: dict[str, Any] = {
        "user_id": user_id,
        "username": username,
        "tokens_revoked": True,
        "subscription_removed": removed is not None,
        "callback": callback,
    }
    if callback is None:
        answer["note"] = "no deauthorize_url configured (PUT /control/callbacks): nothing was sent"
    return answer


@router.post("/callbacks/data-deletion", response_model=None)
async def data_deletion(body: CallbackUserBody, sandbox: SandboxDep) -> dict[str, Any] | JSONResponse:
    """The user asked for their data to be deleted: the data-deletion callback receives the signed request and
    must answer `{"url", "confirmation_code"}` (`callback.confirmation.valid` says whether it did)."""
    user_id, username = _callback_user(sandbox, body)
    if sandbox.callbacks.data_deletion_url is None:
        return JSONResponse({"error": "no data_deletion_url configured: PUT /control/callbacks first"}, status_code=409)
    callback = await _call(sandbox, "data_deletion", user_id)
    return {"user_id": user_id, "username": username, "callback": callback}
