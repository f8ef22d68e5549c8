"""The error envelope for each kind of bad input, and for the unexpected."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import auth_headers

POSTS = "/api/sns/instagram/posts"


class TestValidation:
    async def test_missing_fields_use_the_seeds_wording(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            POSTS, headers=auth_headers(), json={"account_id": 1, "caption": "No image provided"}
        )
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "account_id and image_url are required"
        assert body["details"] == [{"field": "image_url", "message": "image_url is required"}]

    async def test_both_missing(self, client: httpx.AsyncClient) -> None:
        response = await client.post(POSTS, headers=auth_headers(), json={})
        assert response.status_code == 400
        assert response.json()["error"] == "account_id and image_url are required"
        assert [d["field"] for d in response.json()["details"]] == ["account_id", "image_url"]

    async def test_one_required_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/sns/instagram/batch-post", headers=auth_headers(), json={"caption": "x"})
        assert response.status_code == 400
        assert response.json()["error"] == "image_url is required"

    async def test_missing_query_parameter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/sns/instagram/account/info", headers=auth_headers())
        assert response.status_code == 400
        assert response.json()["error"] == "account_id is required"

    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            (b'{"account_id": 1, "image_url": ', "not valid JSON"),
            (b"[1, 2]", "JSON object"),
            (b'"text"', "JSON object"),
        ],
    )
    async def test_malformed_json(self, client: httpx.AsyncClient, content: bytes, fragment: str) -> None:
        headers = {**auth_headers(), "Content-Type": "application/json"}
        response = await client.post(POSTS, headers=headers, content=content)
        assert response.status_code == 400
        assert fragment in response.json()["error"]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"account_id": "one", "image_url": "https://example.com/a.jpg"}, "account_id must be an integer"),
            ({"account_id": 0, "image_url": "https://example.com/a.jpg"}, "account_id must be at least 1"),
            (
                {"account_id": 1, "image_url": "ftp://example.com/a.jpg"},
                "image_url must be an absolute http or https URL",
            ),
            ({"account_id": 1, "image_url": "https://example.com/a.jpg", "hashtags": "x"}, "hashtags must be a list"),
            (
                {"account_id": 1, "image_url": "https://example.com/a.jpg", "caption": "x" * 2201},
                "caption must be at most 2200 characters",
            ),
            (
                {"account_id": 1, "image_url": "https://example.com/a.jpg", "scheduled_at": "2026-12-01T09:00:00"},
                "scheduled_at must include a UTC offset",
            ),
            (
                {"account_id": 1, "image_url": "https://example.com/a.jpg", "scheduled_at": "tomorrow"},
                "scheduled_at must be an ISO 8601 date-time",
            ),
        ],
    )
    async def test_wrong_types_and_ranges_name_the_field_and_rule(
        self, client: httpx.AsyncClient, body: dict[str, object], message: str
    ) -> None:
        response = await client.post(POSTS, headers=auth_headers(), json=body)
        assert response.status_code == 400
        assert message in response.json()["error"]

    async def test_query_out_of_range(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/sns/instagram/posts?limit=500", headers=auth_headers())
        assert response.status_code == 400
        assert response.json()["error"] == "query parameter limit must be at most 100"


class TestOtherErrors:
    async def test_unknown_route(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/sns/instagram/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"error": "Not found", "code": "not_found"}

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/healthz")
        assert response.status_code == 405
        assert response.json()["error"] == "Method not allowed"

    async def test_unexpected_error_is_a_500_with_the_request_id(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
    ) -> None:
        app, client = app_and_client

        async def boom() -> None:
            raise RuntimeError("database password is hunter2")

        app.add_api_route("/boom", boom)
        with caplog.at_level(logging.ERROR):
            response = await client.get("/boom", headers={"X-Request-ID": "req-123"})
        assert response.status_code == 500
        assert response.json() == {"error": "Internal server error", "code": "internal_error", "request_id": "req-123"}
        assert response.headers["x-request-id"] == "req-123"
        assert "hunter2" not in response.text
        assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
