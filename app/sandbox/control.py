"""`/control`: the sandbox's switches for tests and benchmarks (JSON in and out; not on Instagram)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.sandbox import auth
from app.sandbox.comments import comments_on
from app.sandbox.dependencies import SandboxDep
from app.sandbox.profiles import ig_user_id
from app.sandbox.state import Sandbox
from app.sandbox.switches import ENDPOINTS, Fault, FaultKind, check_endpoint, new_fault_id

router = APIRouter(prefix="/control", tags=["control"])


class ControlModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClockAdvance(ControlModel):
    advance_seconds: float = Field(ge=0, description="Seconds to move the sandbox clock forward.")


class KnobsPatch(ControlModel):
    quota_total: int | None = Field(default=None, ge=0)
    video_processing_seconds: float | None = Field(default=None, ge=0)
    token_response_shape: Literal["nested", "flat"] | None = None
    container_limit: int | None = Field(default=None, ge=1)
    app_call_budget: int | None = Field(default=None, ge=1)
    app_window_seconds: float | None = Field(default=None, gt=0)
    user_call_budget: int | None = Field(default=None, ge=1)
    user_window_seconds: float | None = Field(default=None, gt=0)
    withdrawn_media_metrics: dict[Literal["FEED", "REELS", "STORY"], list[str]] | None = Field(
        default=None,
        description="Metrics each product type no longer serves (answered with code 100), e.g. "
        '{"FEED": ["profile_visits"]}; {} serves every metric again.',
    )


class LatencyUpdate(ControlModel):
    profile: str | None = Field(default=None, description="none or seed: replaces all values.")
    endpoint: str | None = Field(default=None, description="An endpoint name, or endpoint:VARIANT.")
    seconds: float | None = Field(default=None, ge=0, description="0 or null clears the endpoint's value.")
    endpoints: dict[str, float] | None = Field(default=None, description="Several endpoint values at once.")


class FaultCreate(ControlModel):
    endpoint: str
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    code: int | None = None
    subcode: int | None = None
    http_status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    is_transient: bool | None = None
    seconds: float = Field(default=30.0, ge=0, description="timeout, response_lost in timeout mode: the sleep.")
    regain_minutes: int | None = Field(
        default=5,
        ge=0,
        description="throttle: estimated_time_to_regain_access in minutes; null sends none (nor Retry-After).",
    )
    mode: Literal["error", "timeout"] = Field(default="error", description="response_lost: how the answer is lost.")


class HoldCreate(ControlModel):
    endpoint: str
    count: int = Field(default=1, ge=1)


class HoldRelease(ControlModel):
    id: str | None = None
    endpoint: str | None = None
    all: bool = False


class RevokeRequest(ControlModel):
    username: str | None = None
    user_id: str | None = None
    access_token: str | None = None


class UserCreate(ControlModel):
    username: str
    scopes: list[str] | None = None
    token_kind: Literal["short", "long"] = "long"  # noqa: S105 - a token kind, not a secret


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _clock(sandbox: Sandbox) -> dict[str, Any]:
    return {"offset_seconds": sandbox.clock_offset, "now": sandbox.now().isoformat()}


@router.get("")
async def overview(sandbox: SandboxDep) -> dict[str, Any]:
    """Everything adjustable at a glance: clock, settings, latency, faults, holds, counts."""
    world = sandbox.world
    return {
        "clock": _clock(sandbox),
        "settings": asdict(sandbox.knobs),
        "latency": sandbox.switches.latency.describe(),
        "faults": sandbox.switches.faults.describe(),
        "holds": sandbox.switches.holds.describe(),
        "counts": {
            "users": len(world.users),
            "containers": len(world.containers),
            "media": len(world.media),
            "published": len(world.published),
        },
        "endpoints": list(ENDPOINTS),
        "webhooks": {
            "configured": sandbox.webhooks.config is not None,
            "subscriptions": len(world.subscriptions),
            "pending": len(sandbox.webhooks.pending),
            "attempts": len(sandbox.webhooks.log),
        },
    }


@router.post("/reset")
async def reset(sandbox: SandboxDep) -> dict[str, str]:
    """Back to a clean state: users, containers, media, codes, faults, holds, latency, settings, clock, webhook
    configuration, subscriptions and deliveries, callback URLs."""
    sandbox.reset()
    return {"status": "reset"}


@router.get("/clock")
async def get_clock(sandbox: SandboxDep) -> dict[str, Any]:
    """The sandbox clock's offset from real time and its current time."""
    return _clock(sandbox)


@router.post("/clock")
async def advance_clock(body: ClockAdvance, sandbox: SandboxDep) -> dict[str, Any]:
    """Move the sandbox clock forward (token and code expiry, video processing, container expiry, quotas)."""
    sandbox.advance_clock(body.advance_seconds)
    return _clock(sandbox)


@router.get("/settings")
async def get_settings(sandbox: SandboxDep) -> dict[str, Any]:
    """Quota, processing time, token response shape, container limit and call budgets."""
    return asdict(sandbox.knobs)


@router.patch("/settings")
async def patch_settings(body: KnobsPatch, sandbox: SandboxDep) -> dict[str, Any]:
    """Change some of the settings; the others keep their value."""
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(sandbox.knobs, name, value)
    return asdict(sandbox.knobs)


@router.get("/latency")
async def get_latency(sandbox: SandboxDep) -> dict[str, Any]:
    """The latency profile and the seconds waited per endpoint."""
    return sandbox.switches.latency.describe()


@router.put("/latency")
async def put_latency(body: LatencyUpdate, sandbox: SandboxDep) -> dict[str, Any]:
    """Select a profile (`none`, `seed`) and/or set one or several endpoints' seconds."""
    latency = sandbox.switches.latency
    try:
        if body.profile is not None:
            latency.use_profile(body.profile)
        if body.endpoint is not None:
            latency.set(body.endpoint, body.seconds)
        for endpoint, seconds in (body.endpoints or {}).items():
            latency.set(endpoint, seconds)
    except ValueError as exc:
        raise _bad_request(str(exc)) from exc
    return latency.describe()


@router.delete("/latency")
async def clear_latency(sandbox: SandboxDep) -> dict[str, Any]:
    """No latency anywhere."""
    sandbox.switches.latency.clear()
    return sandbox.switches.latency.describe()


@router.get("/faults")
async def list_faults(sandbox: SandboxDep) -> dict[str, Any]:
    """Faults still armed, with the calls they have left."""
    return {"faults": sandbox.switches.faults.describe()}


@router.post("/faults", status_code=201)
async def add_fault(body: FaultCreate, sandbox: SandboxDep) -> dict[str, Any]:
    """The next `count` calls to `endpoint` fail (or stall) as `kind` says."""
    try:
        check_endpoint(body.endpoint)
    except ValueError as exc:
        raise _bad_request(str(exc)) from exc
    if ":" in body.endpoint:
        raise _bad_request("faults apply to a whole endpoint: drop the :VARIANT")
    if body.kind == "container_error" and body.endpoint != "media_create":
        raise _bad_request("container_error applies to media_create only")
    fault = Fault(
        id=new_fault_id(),
        endpoint=body.endpoint,
        kind=body.kind,
        remaining=body.count,
        code=body.code,
        subcode=body.subcode,
        http_status=body.http_status,
        message=body.message,
        is_transient=body.is_transient,
        seconds=body.seconds,
        regain_minutes=body.regain_minutes,
        mode=body.mode,
    )
    return sandbox.switches.faults.add(fault).describe()


@router.delete("/faults")
async def clear_faults(sandbox: SandboxDep) -> dict[str, Any]:
    """Disarm every fault."""
    sandbox.switches.faults.clear()
    return {"faults": []}


@router.get("/holds")
async def list_holds(sandbox: SandboxDep) -> dict[str, Any]:
    """Holds still armed (per endpoint) and the calls waiting for a release."""
    return sandbox.switches.holds.describe()


@router.post("/holds", status_code=201)
async def arm_hold(body: HoldCreate, sandbox: SandboxDep) -> dict[str, Any]:
    """The next `count` calls to `endpoint` wait, once received, until released."""
    try:
        sandbox.switches.holds.arm(body.endpoint, body.count)
    except ValueError as exc:
        raise _bad_request(str(exc)) from exc
    return sandbox.switches.holds.describe()


@router.post("/holds/release")
async def release_holds(body: HoldRelease, sandbox: SandboxDep) -> dict[str, Any]:
    """Release one held call (`id`), those of an `endpoint`, or `all`; they are then processed."""
    if body.id is None and body.endpoint is None and not body.all:
        raise _bad_request("give id, endpoint or all=true")
    released = sandbox.switches.holds.release(body.id, body.endpoint)
    return {"released": released}


@router.delete("/holds")
async def clear_holds(sandbox: SandboxDep) -> dict[str, Any]:
    """Disarm the holds and release every held call."""
    holds = sandbox.switches.holds
    holds.armed.clear()
    return {"released": holds.release()}


@router.post("/revoke")
async def revoke(body: RevokeRequest, sandbox: SandboxDep) -> dict[str, Any]:
    """Invalidate a user's tokens issued so far (`username` or `user_id`), or one `access_token` (190/460)."""
    user_id = body.user_id or (ig_user_id(body.username.lower()) if body.username else None)
    if user_id is None and body.access_token is None:
        raise _bad_request("give username, user_id or access_token")
    try:
        auth.revoke(sandbox, user_id=user_id, token=body.access_token)
    except ValueError as exc:
        raise _bad_request(str(exc)) from exc
    return {"revoked": {"user_id": user_id, "access_token": body.access_token is not None}}


@router.get("/users")
async def list_users(sandbox: SandboxDep) -> dict[str, Any]:
    """The sandbox's accounts."""
    return {
        "data": [
            {
                "user_id": u.ig_id,
                "id": u.app_scoped_id,
                "username": u.username,
                "created_at": u.created_at.isoformat(),
            }
            for u in sandbox.world.users.values()
        ]
    }


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, sandbox: SandboxDep) -> dict[str, Any]:
    """Create (or find) an account and mint a token for it, skipping the OAuth dance."""
    username = auth.normalise_username(body.username)
    if username is None:
        raise _bad_request("username: up to 30 letters, digits, periods or underscores")
    scopes = tuple(body.scopes) if body.scopes else sandbox.settings.instagram_scopes
    unknown = [s for s in scopes if s not in auth.KNOWN_SCOPES]
    if unknown:
        raise _bad_request(f"unknown scopes: {', '.join(unknown)}")
    if auth.BASIC_SCOPE not in scopes:
        raise _bad_request(f"scopes must include {auth.BASIC_SCOPE}, as every Instagram login does")
    user = sandbox.world.ensure_user(username, sandbox.now())
    token, lifetime = auth.issue_access_token(sandbox, user, body.token_kind, scopes)
    return {
        "user_id": user.ig_id,
        "id": user.app_scoped_id,
        "username": user.username,
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "permissions": list(scopes),
    }


@router.get("/published")
async def published(sandbox: SandboxDep, username: str | None = None) -> dict[str, Any]:
    """Everything published through `media_publish`, in order (optionally for one `username`), each with the
    parameters its container was created with and the comments on it."""
    entries = [
        {**asdict(e), "comments": comments_on(sandbox, e.media_id)}
        for e in sandbox.world.published
        if username is None or e.username == username.lower()
    ]
    per_user: dict[str, int] = {}
    for entry in entries:
        per_user[entry["username"]] = per_user.get(entry["username"], 0) + 1
    return {"data": entries, "count": len(entries), "per_user": per_user}
