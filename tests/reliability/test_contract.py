"""The OpenAPI document and the service agree: every error status documented is one the service answers.

The requests are built from the document itself, for every operation: an invalid parameter or body (400),
no JWT (401), an id no record can have (404), and the database gone (503). Schemathesis (test_fuzz.py)
checks the other direction: nothing is answered that is not documented.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from app.ids import DB_ID_MAX
from app.main import create_app
from tests.conftest import auth_headers, make_settings, running_app
from tests.reliability.tcp_proxy import TcpProxy
from tests.reliability.test_outages import _via

DOCUMENT = create_app(make_settings("sqlite+aiosqlite://"), configure_logs=False).openapi()
OPERATIONS = [
    (path, method, operation)
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
    if path not in ("/healthz", "/readyz", "/metrics")
]


def _ids(operations: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method.upper()} {path}" for path, method, _ in operations]


def _documented(status: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, m, op in OPERATIONS if str(status) in op["responses"]]


def _schema(parameter: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = parameter.get("schema", {})
    for option in schema.get("anyOf", ()):
        if option.get("type") != "null":
            return dict(option)
    return schema


def _valid(parameter: dict[str, Any]) -> str:
    schema = _schema(parameter)
    if schema.get("type") == "integer":
        return "1"
    if "enum" in schema:
        return str(schema["enum"][0])
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return str(DOCUMENT["components"]["schemas"][name]["enum"][0])
    return "abc"


def _invalid(parameter: dict[str, Any]) -> str:
    schema = _schema(parameter)
    if schema.get("type") == "integer" or "enum" in schema or "$ref" in schema:
        return "not-a-number"
    if "pattern" in schema:
        return "no+such!name"
    return "x" * (int(schema.get("maxLength", 4096)) + 1)


def _body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    if "$ref" not in content["schema"]:  # a body read raw (a signed Instagram delivery): its own example
        inline: dict[str, Any] = content["example"]
        return inline
    name = content["schema"]["$ref"].rsplit("/", 1)[-1]
    example: dict[str, Any] = DOCUMENT["components"]["schemas"][name]["examples"][0]
    return example


def _request(
    path: str, operation: dict[str, Any], *, override: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The URL and query of a request with valid-looking parameters (some overridden)."""
    override = override or {}
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", ()):
        name = parameter["name"]
        value = override.get(name, _valid(parameter))
        if parameter["in"] == "path":
            path = path.replace("{" + name + "}", value)
        elif parameter["in"] == "query" and (parameter.get("required") or name in override):
            query[name] = value
    return path, query


@pytest_asyncio.fixture
async def app_client(pg_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(pg_database_url)) as (_, client):
        yield client


def test_no_operation_documents_422_and_every_one_with_input_documents_400() -> None:
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]
    for path, method, operation in OPERATIONS:
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}"
        if operation.get("parameters") or operation.get("requestBody"):
            schema = responses["400"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method} {path}"


def _bad_input_requests() -> Iterator[tuple[str, str, dict[str, Any], dict[str, str], str | None]]:
    for path, method, operation in _documented(400):
        body = _body(operation)
        # Required parameters first, and path parameters in the order of the path: a route's dependencies
        # (the account or endpoint lookup) run before its own parameters are validated, so those are not
        # the ones to spoil (a parent that doesn't exist is a 404 before its child is looked at).
        parameters = sorted(
            (p for p in operation.get("parameters", ()) if p["in"] in ("path", "query")),
            key=lambda p: (not p.get("required"), path.find("{" + p["name"] + "}") % (len(path) + 1)),
        )
        if body is not None:
            url, query = _request(path, operation)
            yield method, url, operation, query, "{not json"
        elif parameters:
            url, query = _request(path, operation, override={parameters[0]["name"]: _invalid(parameters[0])})
            yield method, url, operation, query, None


@pytest.mark.parametrize(
    ("method", "url", "operation", "query", "content"),
    list(_bad_input_requests()),
    ids=[f"{m.upper()} {u}" for m, u, *_ in _bad_input_requests()],
)
async def test_documented_400_is_answered(
    app_client: httpx.AsyncClient,
    method: str,
    url: str,
    operation: dict[str, Any],
    query: dict[str, str],
    content: str | None,
) -> None:
    headers = {**auth_headers(), "Content-Type": "application/json"}
    response = await app_client.request(method, url, params=query, content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) >= {"error", "code"}


def _behind_jwt() -> list[tuple[str, str, dict[str, Any]]]:
    # The callback documents 401 too, for a dead Instagram token; no JWT is asked there.
    return [(p, m, op) for p, m, op in _documented(401) if op.get("security")]


@pytest.mark.parametrize(("path", "method", "operation"), _behind_jwt(), ids=_ids(_behind_jwt()))
async def test_documented_401_is_answered(
    app_client: httpx.AsyncClient, path: str, method: str, operation: dict[str, Any]
) -> None:
    url, query = _request(path, operation)
    body = _body(operation)
    response = await app_client.request(method, url, params=query, json=body)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _with_id_parameter(status: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (p, m, op)
        for p, m, op in _documented(status)
        if any(_schema(param).get("maximum") == DB_ID_MAX for param in op.get("parameters", ()))
    ]


@pytest.mark.parametrize(("path", "method", "operation"), _with_id_parameter(404), ids=_ids(_with_id_parameter(404)))
async def test_documented_404_is_answered(
    app_client: httpx.AsyncClient, path: str, method: str, operation: dict[str, Any]
) -> None:
    ids = {
        p["name"]: str(DB_ID_MAX + 1)
        for p in operation.get("parameters", ())
        if _schema(p).get("maximum") == DB_ID_MAX and p["name"].endswith("id")
    }
    url, query = _request(path, operation, override=ids)
    response = await app_client.request(method, url, params=query, json=_body(operation), headers=auth_headers())
    assert response.status_code == 404, response.text
    assert response.json()["error"] in ("Account not found", "Post not found", "Webhook endpoint not found")


@pytest_asyncio.fixture
async def app_with_database_gone(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, TcpProxy]]:
    from urllib.parse import urlsplit

    target = urlsplit(pg_database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        async with running_app(make_settings(_via(pg_database_url, proxy.port))) as (app, client):
            await proxy.stop()
            yield app, client, proxy
            await proxy.start()
    finally:
        await proxy.stop()


async def test_documented_503_is_answered_by_every_operation(
    app_with_database_gone: tuple[FastAPI, httpx.AsyncClient, TcpProxy],
) -> None:
    _, client, _ = app_with_database_gone
    answered: dict[str, int] = {}
    for path, method, operation in _documented(503):
        url, query = _request(path, operation)
        if path.endswith("/callback"):
            query = {"state": "abc", "code": "abc"}
        body = _body(operation)
        response = await client.request(method, url, params=query, json=body, headers=auth_headers())
        answered[f"{method.upper()} {path}"] = response.status_code
        if response.status_code == 503:
            assert response.json()["code"] == "unavailable"
            assert response.headers["Retry-After"]
    not_503 = {operation: status for operation, status in answered.items() if status != 503}
    # The OAuth callback checks its signed state before the database: a forged one is a 400 whatever happens.
    # A webhook URL is checked (resolved, SSRF guard) before the database too, and the example's host
    # (app.example.com) does not resolve on this offline machine. An upload's form is read (and refused here:
    # this JSON body is no multipart form) before the database is touched. An Instagram delivery's signature is
    # checked before it is stored: this unsigned one is a 401. Meta's two callbacks verify their signed_request
    # before the database too: with none in the form, a 400.
    expected = {
        "POST /api/sns/instagram/deauthorize": 400,
        "POST /api/sns/instagram/data-deletion": 400,
        "POST /api/sns/instagram/webhooks/instagram": 401,
        "GET /api/sns/instagram/callback": 400,
        "POST /api/sns/instagram/webhooks": 400,
        "POST /api/sns/instagram/uploads": 400,
    }
    assert not_503 == expected, json.dumps(not_503, indent=1)
