"""/metrics behind METRICS_TOKEN: Prometheus sends it as a Bearer token; nobody else reads the metrics."""

from __future__ import annotations

import pytest

from app.config import ConfigurationError
from tests.conftest import make_settings, running_app

TOKEN = "metrics-token-" + "k" * 32


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        (f"Basic {TOKEN}", 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
    ],
)
async def test_metrics_need_the_token_when_it_is_set(
    sqlite_database_url: str, authorization: str | None, status: int
) -> None:
    async with running_app(make_settings(sqlite_database_url, metrics_token=TOKEN)) as (_, client):
        headers = {"Authorization": authorization} if authorization else {}
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert TOKEN not in response.text
    else:
        assert "http_requests_total" in response.text


async def test_metrics_are_open_without_a_token(sqlite_database_url: str) -> None:
    async with running_app(make_settings(sqlite_database_url)) as (_, client):
        assert (await client.get("/metrics")).status_code == 200


def test_a_placeholder_token_stops_production_start_up() -> None:
    settings = make_settings(
        "postgresql+asyncpg://x@127.0.0.1/x",
        app_env="production",
        jwt_secret="j" * 40,
        instagram_app_id="123",
        instagram_app_secret="real-app-secret-value",
        synthetic_media=False,
        metrics_token="change-me",
    )
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        settings.check_production()


def test_the_token_is_documented_in_openapi() -> None:
    from app.main import create_app

    document = create_app(make_settings("sqlite+aiosqlite://"), configure_logs=False).openapi()
    assert "401" in document["paths"]["/metrics"]["get"]["responses"]
