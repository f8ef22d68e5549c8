"""`graph.instagram.com`: one route for every Graph path, versioned (`/v25.0/...`, any `vNN.N`) or not.

Each call goes through the same steps: receipt → hold → latency → fault → usage budget → token and
permission → handler → (lost response). The steps after receipt run in their own task, so a call completes
even when its caller gives up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from app.sandbox import auth, comments, insights, publishing, reads, subscriptions
from app.sandbox.calls import GraphCall, GraphContext, Handler
from app.sandbox.dependencies import SandboxDep, run_detached
from app.sandbox.errors import (
    GraphError,
    app_throttled,
    missing_permission,
    nonexisting_field,
    server_error,
    unknown_error,
    unsupported_method,
    unsupported_request,
    user_throttled,
)
from app.sandbox.params import bearer_token, read_params
from app.sandbox.pipeline import SandboxResetError, after_processing, before_processing
from app.sandbox.profiles import app_scoped_id
from app.sandbox.state import Sandbox
from app.sandbox.switches import Usage

logger = logging.getLogger(__name__)

router = APIRouter(tags=["graph"])

_VERSION = re.compile(r"^v\d+\.\d+$")


@dataclass(frozen=True, slots=True)
class GraphRoute:
    """What a path and method resolve to."""

    endpoint: str
    handler: Handler
    node_id: str | None = None
    authenticated: bool = True
    scope: str | None = None
    variant: str | None = None


def _failing(error: GraphError) -> Handler:
    async def handler(ctx: GraphContext) -> dict[str, Any]:
        raise error

    return handler


async def _exchange_token(ctx: GraphContext) -> dict[str, Any]:
    return auth.exchange_for_long_lived(ctx.sandbox, ctx.params, ctx.call.token)


async def _refresh_token(ctx: GraphContext) -> dict[str, Any]:
    return auth.refresh_long_lived(ctx.sandbox, ctx.params, ctx.call.token)


# (method, edge, node is a user) → (endpoint name, handler, scope needed beyond instagram_business_basic)
_EDGES: dict[tuple[str, str, bool], tuple[str, Handler, str | None]] = {
    ("GET", "media", True): ("media_list", reads.list_media, None),
    ("POST", "media", True): ("media_create", publishing.create_container, auth.PUBLISH_SCOPE),
    ("GET", "stories", True): ("stories", reads.list_stories, None),
    ("POST", "media_publish", True): ("media_publish", publishing.publish, auth.PUBLISH_SCOPE),
    ("GET", "content_publishing_limit", True): ("publishing_limit", publishing.publishing_limit, auth.PUBLISH_SCOPE),
    ("GET", "insights", True): ("user_insights", insights.user_insights, auth.INSIGHTS_SCOPE),
    ("GET", "insights", False): ("media_insights", insights.media_insights, auth.INSIGHTS_SCOPE),
    ("GET", "children", False): ("children", reads.list_children, None),
    ("GET", "subscribed_apps", True): ("subscribed_apps", subscriptions.subscribed, None),
    ("POST", "subscribed_apps", True): ("subscribed_apps", subscriptions.subscribe, None),
    ("DELETE", "subscribed_apps", True): ("subscribed_apps", subscriptions.unsubscribe, None),
    ("GET", "comments", False): ("comments", comments.list_comments, auth.COMMENTS_SCOPE),
    ("POST", "comments", False): ("comment_create", comments.create_comment, auth.COMMENTS_SCOPE),
}

# (method, edge) on a comment's id → (endpoint name, handler); every one needs the comments scope.
_COMMENT_ROUTES: dict[tuple[str, str | None], tuple[str, Handler]] = {
    ("GET", None): ("comment_get", comments.get_comment),
    ("POST", None): ("comment_hide", comments.hide_comment),
    ("DELETE", None): ("comment_delete", comments.delete_comment),
    ("GET", "replies"): ("comment_replies", comments.list_replies),
    ("POST", "replies"): ("reply_create", comments.create_reply),
}


def resolve(
    sandbox: Sandbox, method: str, segments: list[str], params: dict[str, str], own_ids: frozenset[str]
) -> GraphRoute:
    """The route for a Graph path (version prefix already removed)."""
    if not segments:
        return GraphRoute("unknown", _failing(unsupported_method(method)))
    if len(segments) > 2:
        error = GraphError(f"Unknown path components: /{'/'.join(segments[1:])}", code=2500)
        return GraphRoute("unknown", _failing(error))
    node = segments[0]
    edge = segments[1] if len(segments) == 2 else None
    if edge is None and node == "access_token" and method == "GET":
        return GraphRoute("exchange_token", _exchange_token, authenticated=False)
    if edge is None and node == "refresh_access_token" and method == "GET":
        return GraphRoute("refresh_token", _refresh_token, authenticated=False)
    world = sandbox.world
    if node in world.comments:
        return _comment_route(method, node, edge)
    is_user = node == "me" or world.find_user(node) is not None or node in own_ids
    if edge is None:
        if method != "GET":
            return GraphRoute("unknown", _failing(unsupported_request(method, node)))
        if node == "me":
            return GraphRoute("me", reads.get_me)
        if is_user:
            return GraphRoute("user", reads.get_user, node)
        return GraphRoute("object_get", publishing.get_object, node)
    edge_route = _EDGES.get((method, edge, is_user))
    if edge_route is not None:
        endpoint, handler, scope = edge_route
        variant = None
        if endpoint == "media_create":
            variant = publishing.create_variant(params)
        elif endpoint == "media_publish":
            variant = publishing.publish_variant(sandbox, params)
        return GraphRoute(endpoint, handler, node, scope=scope, variant=variant)
    if is_user and method == "GET":
        return GraphRoute("unknown", _failing(nonexisting_field(edge, "User")), node)
    return GraphRoute("unknown", _failing(unsupported_request(method, node)), node)


def _comment_route(method: str, node: str, edge: str | None) -> GraphRoute:
    """A comment's node and its `replies` edge (a deleted comment is no longer in the world: 100/33)."""
    comment_route = _COMMENT_ROUTES.get((method, edge))
    if comment_route is not None:
        endpoint, handler = comment_route
        return GraphRoute(endpoint, handler, node, scope=auth.COMMENTS_SCOPE)
    if method == "GET" and edge is not None:
        return GraphRoute("unknown", _failing(nonexisting_field(edge, "IGComment")), node)
    return GraphRoute("unknown", _failing(unsupported_request(method, node)), node)


@router.api_route("/graph/{path:path}", methods=["GET", "POST", "DELETE"])
async def graph(path: str, request: Request, sandbox: SandboxDep) -> Response:
    """Every Graph API path: `/graph/v25.0/me`, `/graph/{ig-user-id}/media`, `/graph/{container-id}`, ..."""
    try:
        params = await read_params(request)
    except GraphError as error:
        return JSONResponse(error.body(), status_code=error.http_status, headers=_idle_usage().headers())
    segments = [s for s in path.split("/") if s]
    if segments and _VERSION.match(segments[0]):
        segments = segments[1:]
    call = GraphCall(request.method, str(request.url), "/" + "/".join(segments), params, bearer_token(request, params))
    return await run_detached(sandbox, process(sandbox, call, segments))


THROTTLE_CODES = frozenset({4, 17, 32, 613, 80002})


def _idle_usage() -> Usage:
    return Usage(None, 0, 0, 0, 0)


async def process(sandbox: Sandbox, call: GraphCall, segments: list[str]) -> Response:
    """Run one Graph call through the pipeline and answer it with the usage headers."""
    peeked = auth.peek_claims(sandbox, call.token)
    # The token's own ids count as users even before a restarted sandbox has re-created the account.
    own_ids = frozenset({peeked.user_id, app_scoped_id(peeked.username)}) if peeked else frozenset()
    route = resolve(sandbox, call.method, segments, call.params, own_ids)
    usage = _idle_usage()
    try:
        fault = await before_processing(
            sandbox, route.endpoint, method=call.method, path=call.path, variant=route.variant
        )
        knobs = sandbox.knobs
        usage = sandbox.switches.usage.record(
            peeked.user_id if peeked else None,
            sandbox.timestamp(),
            app_budget=knobs.app_call_budget,
            app_window=knobs.app_window_seconds,
            user_budget=knobs.user_call_budget,
            user_window=knobs.user_window_seconds,
        )
        if fault is not None and fault.kind in {"error", "throttle", "server_error"}:
            raise fault.as_error()
        if usage.app_exhausted:
            raise app_throttled(usage.app_regain_minutes)
        if usage.user_exhausted:
            raise user_throttled(usage.user_regain_minutes)
        ctx = GraphContext(sandbox, call, route.node_id, fault=fault)
        if route.authenticated:
            ctx.claims, ctx.token_user = auth.authenticate(sandbox, call.token)
            if route.scope is not None and route.scope not in ctx.claims.scopes:
                raise missing_permission()
        body = await route.handler(ctx)
        lost = await after_processing(fault)
        if lost is not None:
            raise lost
        return JSONResponse(body, headers=usage.headers())
    except GraphError as error:
        # Throttling codes report a full budget (and the wait, when the error carries one).
        throttled = error.code in THROTTLE_CODES
        headers = usage.headers(throttled=throttled, throttled_minutes=error.regain_minutes if throttled else None)
        return JSONResponse(error.body(), status_code=error.http_status, headers=headers)
    except SandboxResetError:
        reset = server_error("The sandbox was reset while this call was held.")
        return JSONResponse(reset.body(), status_code=reset.http_status, headers=usage.headers())
    except Exception:
        logger.exception("sandbox graph call failed", extra={"path": call.path})
        unknown = unknown_error()
        return JSONResponse(unknown.body(), status_code=unknown.http_status, headers=usage.headers())
