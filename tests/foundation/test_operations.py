"""Health, readiness, metrics, request ids, JSON logs without secrets, and the offline API docs."""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.context import settle_after_startup
from app.observability.logging import JsonFormatter, redact
from tests.conftest import REDIS_TEST_URL, auth_headers, make_settings, running_app


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_everything_answers(pg_database_url: str) -> None:
    async with running_app(make_settings(pg_database_url, redis_url=REDIS_TEST_URL)) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] == "ok"
    assert "worker" in checks


async def test_readyz_names_the_database_when_it_is_down() -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    from app.main import create_app

    app = create_app(settings, configure_logs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "Not ready: database is down"
    assert body["checks"]["database"].startswith("down")


async def test_readyz_names_redis_when_it_is_down(sqlite_database_url: str) -> None:
    async with running_app(make_settings(sqlite_database_url, redis_url="redis://127.0.0.1:1/0")) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "Not ready: redis is down"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/sns/instagram/posts/12345")
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'route="/api/sns/instagram/posts/{db_id}"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "/posts/12345" not in text


async def test_the_openapi_document_is_counted_under_its_path(client: httpx.AsyncClient) -> None:
    """FastAPI serves /openapi.json on a plain Starlette route, which names no route in the request's scope."""
    assert (await client.get("/openapi.json")).status_code == 200
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/openapi.json",status="200"}' in text
    assert 'route="unmatched",status="200"' not in text


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    "line",
    [
        "GET https://graph.instagram.com/access_token?grant_type=ig_exchange_token&client_secret=abc123&access_token=IGAAxyz",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
        'body {"access_token": "IGQVJabcdefghijklmnopqrstuvwxyz0123456789"}',
        "token IGAAabcdefghijklmnopqrstuvwxyz0123456789 leaked",
        # Markers in any case: the bearer and OAuth patterns ignore case, and so must the quick pre-check.
        "authorization: BEARER abcdefghijklmnopqrstuvwxyz0123456789",
        "header OAuth abcdefghijklmnopqrstuvwxyz0123456789",
        "signing secret whsec_abcdefghijklmnopqrstuvwxyz0123456789",
    ],
)
def test_logs_redact_credentials(line: str) -> None:
    cleaned = redact(line)
    for secret in (
        "abc123",
        "IGAAxyz",
        "c2lnbmF0dXJl",
        "IGQVJabcdefghijklmnop",
        "abcdefghijklmnopqrstuvwxyz0123456789",
    ):
        assert secret not in cleaned


def test_json_log_lines_carry_extras_and_hide_secret_fields() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "connected %s", ("john",), None)
    record.access_token = "IGAAsecretsecretsecretsecret"
    record.account_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "connected john"
    assert line["account_id"] == 7
    assert line["access_token"] == "[redacted]"
    assert line["level"] == "info"


async def test_one_json_access_line_per_request_with_the_route_template_only(client: httpx.AsyncClient) -> None:
    """The line names the route template, never the path or the query (which may carry anything), and carries the
    request id the answer carries."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(JsonFormatter())
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    access = logging.getLogger("app.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        answer = await client.get(
            "/api/sns/instagram/posts/4242?access_token=IGAAsecretsecretsecretsecret", headers=auth_headers()
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert answer.status_code == 404
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["logger"] == "app.access" and line["level"] == "info"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/sns/instagram/posts/{db_id}", 404)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == answer.headers["x-request-id"]
    assert line["message"].startswith("GET /api/sns/instagram/posts/{db_id} 404 ")
    assert "4242" not in lines[0] and "IGAA" not in lines[0]


class TestOfflineDocs:
    async def test_swagger_ui_uses_local_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "cdn.jsdelivr" not in page.text and "unpkg" not in page.text
        assert "/docs-assets/swagger-ui-bundle.js" in page.text
        bundle = await client.get("/docs-assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200
        assert len(bundle.content) > 500_000
        css = await client.get("/docs-assets/swagger-ui.css")
        assert css.status_code == 200

    async def test_redoc_uses_local_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/redoc")
        assert page.status_code == 200
        assert "/docs-assets/redoc.offline.js" in page.text
        assert "fonts.googleapis" not in page.text
        bundle = await client.get("/docs-assets/redoc.offline.js")
        assert bundle.status_code == 200
        assert len(bundle.content) > 500_000
        # Its footer logo, hard-coded on a CDN in the bundle, comes from here instead.
        assert "cdn.redoc.ly" not in bundle.text
        assert "/docs-assets/redoc-logo-mini.svg" in bundle.text
        logo = await client.get("/docs-assets/redoc-logo-mini.svg")
        assert logo.status_code == 200
        assert logo.headers["content-type"].startswith("image/svg+xml")

    async def test_root_leads_to_the_docs_and_there_is_a_favicon(self, client: httpx.AsyncClient) -> None:
        root = await client.get("/")
        assert root.status_code in (302, 307)
        assert root.headers["location"].endswith("/docs")
        icon = await client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/png"
        assert icon.content.startswith(b"\x89PNG")
        assert 'href="/favicon.ico"' in (await client.get("/docs")).text

    async def test_swagger_ui_loads_nothing_from_elsewhere(self, client: httpx.AsyncClient) -> None:
        page = (await client.get("/docs")).text
        # Swagger UI's default validator badge is an image from validator.swagger.io.
        assert '"validatorUrl": null' in page

    async def test_every_load_of_the_docs_offers_a_new_idempotency_key(self, client: httpx.AsyncClient) -> None:
        def keys(spec: dict[str, Any]) -> dict[str, str]:
            found = {}
            for path, item in spec["paths"].items():
                for method, operation in item.items():
                    for param in operation.get("parameters", []):
                        if param["name"] == "Idempotency-Key":
                            found[f"{method} {path}"] = param["examples"]["generated"]["value"]
                            assert "Execute" in param["description"] and "409" in param["description"]
            return found

        first = keys((await client.get("/openapi.json")).json())
        second = keys((await client.get("/openapi.json")).json())
        assert set(first) >= {f"post /api/sns/instagram/{p}" for p in ("posts", "stories", "reels", "batch-post")}
        for operation, key in first.items():
            assert uuid.UUID(key) and uuid.UUID(second[operation])
            assert key != second[operation]

    async def test_the_docs_give_one_token_command(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        assert "make token SUB=alice" in spec["info"]["description"]
        assert "make token SUB=alice" in spec["components"]["securitySchemes"]["BearerJWT"]["description"]
        assert "python -m app token" not in json.dumps(spec)

    async def test_openapi_declares_bearer_and_errors(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.1")
        schemes = spec["components"]["securitySchemes"]
        assert schemes["BearerJWT"]["scheme"].lower() == "bearer"
        post = spec["paths"]["/api/sns/instagram/posts"]["post"]
        assert post["summary"]
        assert {"201", "202", "400", "401", "429"} <= set(post["responses"])
        assert "example" in post["responses"]["400"]["content"]["application/json"]
        callback = spec["paths"]["/api/sns/instagram/callback"]["get"]
        assert "security" not in callback


@pytest.mark.parametrize("created", [1_764_460_800.0, 1_764_460_800.0005, 1_764_460_859.999, 1_764_460_861.25])
def test_json_log_time_is_utc_to_the_millisecond(created: float) -> None:
    """The line's time, built from a cached second, reads as `datetime.isoformat` would write it."""
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "tick", (), None)
    record.created, record.msecs = created, int((created - int(created)) * 1000)
    line = json.loads(JsonFormatter().format(record))
    expected = datetime.fromtimestamp(int(created), UTC) + timedelta(milliseconds=record.msecs)
    assert line["time"] == expected.isoformat(timespec="milliseconds")
    assert line["time"].endswith("+00:00")


def test_uvicorn_builds_no_access_line_of_its_own() -> None:
    """Ours replaces it. uvicorn formats its line (client address, quoted path) whenever its logger has a handler
    somewhere up the tree, even at a level that drops it: it must find none. (In a process of its own: logging's
    set-up is process-wide.)"""
    check = (
        "import logging; from app.observability.logging import configure_logging; configure_logging('INFO'); "
        "print(logging.getLogger('uvicorn.access').hasHandlers(), logging.getLogger('uvicorn.error').hasHandlers())"
    )
    found = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60)
    assert found.stdout.split() == ["False", "True"]


def test_young_collections_are_spaced_as_configured(sqlite_database_url: str) -> None:
    """GC_YOUNG_THRESHOLD sets the collector's first threshold once started, and keeps the other two."""
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        settle_after_startup(make_settings(sqlite_database_url, gc_young_threshold=12_345))
        assert gc.get_threshold() == (12_345, 10, 10)
        settle_after_startup(make_settings(sqlite_database_url, gc_young_threshold=0))
        assert gc.get_threshold() == (12_345, 10, 10)
    finally:
        gc.set_threshold(*saved)
