"""The OpenAPI document made to say what the service really answers.

FastAPI documents `422 HTTPValidationError` on every operation with parameters, but our validation errors
answer 400 with the error envelope (app/errors.py). This module rewrites the generated document once:

- 422 is removed everywhere; every operation that takes parameters or a body documents 400;
- every operation that uses the database documents 503 `unavailable` with `Retry-After` (a lost or refused
  database or Redis connection, app/outages.py);
- every operation that calls Instagram on an account's behalf (it documents 502) also documents the other
  answers Instagram's failures become (401, 403, 429: app/instagram_failures.py);
- every operation behind the Bearer JWT documents 401;
- OpenAPI links say where an answer's ids lead (a post's `db_id` to its state, insights and retry), so
  clients and stateful fuzzers can follow them.

`tests/foundation/test_contract.py` checks every documented status against what the service answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.dependencies import bearer_scheme
from app.dependencies import get_session
from app.errors import error_example
from app.ids import DB_ID_MAX
from app.openapi import API_PREFIX
from app.outages import RETRY_AFTER_SECONDS

_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
# Answers an Instagram failure can become on any operation that calls Instagram for an account.
_INSTAGRAM_STATUSES = (400, 401, 403, 429, 502)
_STATUS_DESCRIPTIONS = {
    403: "Instagram refused: a permission was not granted (connect the account again)",
    503: "The database or Redis is unreachable; retry after Retry-After seconds",
}


def _error_response(status: int) -> dict[str, Any]:
    description, example = error_example(status)
    if status == 503:
        example = {
            "error": "The database is temporarily unreachable. Please retry in a few seconds.",
            "code": "unavailable",
            "retry_after": RETRY_AFTER_SECONDS,
        }
    response: dict[str, Any] = {
        "description": _STATUS_DESCRIPTIONS.get(status, description),
        "content": {"application/json": {"schema": _ERROR_REF, "example": example}},
    }
    if status in (429, 502, 503):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def _takes_db_id(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return any(option.get("maximum") == DB_ID_MAX for option in [schema, *schema.get("anyOf", ())])


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


@dataclass(frozen=True)
class _Operation:
    path: str
    method: str
    name: str
    dependant: Dependant


def _operations(app: FastAPI) -> Iterator[_Operation]:
    # Included routers are walked through their route contexts (the path carries every prefix).
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema and context.path_format:
            for method in context.methods or ():
                yield _Operation(context.path_format, method.lower(), route.name, route.dependant)


# --- links -----------------------------------------------------------------------------------------

_POST = f"{API_PREFIX}/posts/{{db_id}}"
_ACCOUNT = f"{API_PREFIX}/accounts/{{account_id}}"


def _link(operation_id: str, parameters: dict[str, str], description: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters, "description": description}


def _post_links(db_id: str) -> dict[str, Any]:
    """Where a post's db_id leads (its state, cancel, retry, insights)."""
    return {
        "GetPost": _link("get_post", {"db_id": db_id}, "The post's state"),
        "CancelPost": _link("cancel_post", {"db_id": db_id}, "Cancel it while it is scheduled"),
        "RetryPost": _link("retry_post", {"db_id": db_id}, "Retry it once it has failed"),
        "GetPostInsights": _link("post_insights", {"db_id": db_id}, "Its insights once published"),
        "GetPostInsightsHistory": _link("post_insights_history", {"db_id": db_id}, "Its insights history"),
    }


def _account_links(account_id: str) -> dict[str, Any]:
    """Where an account id leads (the account, its profile, media, insights, posts, disconnecting it)."""
    query = {"query.account_id": account_id}
    return {
        "GetAccount": _link("get_account", {"account_id": account_id}, "The account"),
        "GetAccountInfo": _link("account_info", query, "Its live profile"),
        "ListMedia": _link("recent_media", query, "Its recent media"),
        "GetAccountInsights": _link("account_insights", query, "Its insights"),
        "ListPosts": _link("list_posts", query, "Its posts"),
        "DisconnectAccount": _link("disconnect_account", {"account_id": account_id}, "Disconnect it"),
    }


# (path, method, status) → links. Ids come from the answer's body (JSON pointers).
_LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    **{
        (f"{API_PREFIX}/{kind}", "post", status): _post_links("$response.body#/db_id")
        for kind in ("posts", "stories", "reels", "carousels")
        for status in ("201", "202")
    },
    (f"{_POST}/retry", "post", "201"): _post_links("$response.body#/db_id"),
    (f"{_POST}/retry", "post", "202"): _post_links("$response.body#/db_id"),
    (_POST, "get", "200"): {
        **_post_links("$response.body#/db_id"),
        "GetAccount": _link("get_account", {"account_id": "$response.body#/account_id"}, "The post's account"),
    },
    (f"{API_PREFIX}/posts", "get", "200"): _post_links("$response.body#/posts/0/db_id"),
    (f"{API_PREFIX}/batch-post", "post", "207"): _post_links("$response.body#/0/db_id"),
    (f"{API_PREFIX}/accounts", "get", "200"): _account_links("$response.body#/0/id"),
    (_ACCOUNT, "get", "200"): _account_links("$response.body#/id"),
    (f"{API_PREFIX}/callback", "get", "200"): _account_links("$response.body#/account/id"),
}


# --- the rewrite -----------------------------------------------------------------------------------


def _complete(schema: dict[str, Any], app: FastAPI) -> None:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    # Links name their target by operationId; ours are FastAPI's generated ones, found by route name.
    operations = list(_operations(app))
    operation_ids = {
        op.name: paths[op.path][op.method]["operationId"]
        for op in operations
        if "operationId" in paths.get(op.path, {}).get(op.method, {})
    }
    for op in operations:
        operation = paths.get(op.path, {}).get(op.method)
        if operation is None:
            continue
        responses: dict[str, Any] = operation.setdefault("responses", {})
        responses.pop("422", None)
        calls = set(_calls(op.dependant))
        wanted: set[int] = set()
        if operation.get("parameters") or operation.get("requestBody"):
            wanted.add(400)
        if any(_takes_db_id(parameter) for parameter in operation.get("parameters", ())):
            wanted.add(404)  # an id beyond 64 bits names no record (app/ids.py)
        if bearer_scheme in calls:
            wanted.add(401)
        if "502" in responses:
            wanted.update(_INSTAGRAM_STATUSES)
        if get_session in calls:
            wanted.add(503)
        for status in sorted(wanted):
            responses.setdefault(str(status), _error_response(status))
        for answered, response in responses.items():
            links = _LINKS.get((op.path, op.method, answered))
            if links:
                response["links"] = {
                    name: {**link, "operationId": operation_ids[link["operationId"]]} for name, link in links.items()
                }
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install_openapi_contract(app: FastAPI) -> None:
    """Make `app.openapi()` document 400 (never 422), 503, the Instagram answers and the links."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _complete(schema, app)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
