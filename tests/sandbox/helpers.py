"""Plain-HTTP helpers: the documented Instagram flows, spelled out (no client library)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Settings
from app.sandbox import create_sandbox_app

BASE_URL = "http://localhost:8000"
SANDBOX = "/sandbox"
GRAPH = "/sandbox/graph/v25.0"
ALL_SCOPES = "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights"
IMAGE_URL = "https://example.com/photo.jpg"
REEL_URL = "https://example.com/reel_1080x1920_30s.mp4"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "development",
        "jwt_secret": SecretStr("x" * 40),
        "token_encryption_key": SecretStr(Fernet.generate_key().decode()),
        "public_base_url": BASE_URL,
        "sandbox_video_processing_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def mounted(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """An app that mounts the sandbox at /sandbox, as the service does."""
    outer = FastAPI()
    outer.mount("/sandbox", create_sandbox_app(settings, fetch_transport=transport))
    return outer


def authorize_query(settings: Settings, *, scope: str = ALL_SCOPES, state: str = "xyz") -> dict[str, str]:
    return {
        "client_id": settings.app_id,
        "redirect_uri": settings.oauth_redirect_uri,
        "response_type": "code",
        "scope": scope,
        "state": state,
    }


async def get_code(
    client: httpx.AsyncClient, settings: Settings, username: str = "john_doe", scope: str = ALL_SCOPES
) -> str:
    """Approve the consent form as `username`; the code from the redirect."""
    response = await client.post(
        f"{SANDBOX}/oauth/authorize",
        params=authorize_query(settings, scope=scope),
        data={"username": username, "action": "allow"},
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.endswith("#_")
    return parse_qs(urlsplit(location.removesuffix("#_")).query)["code"][0]


async def exchange_code(client: httpx.AsyncClient, settings: Settings, code: str) -> httpx.Response:
    return await client.post(
        f"{SANDBOX}/oauth/access_token",
        data={
            "client_id": settings.app_id,
            "client_secret": settings.app_secret,
            "grant_type": "authorization_code",
            "redirect_uri": settings.oauth_redirect_uri,
            "code": code,
        },
    )


async def short_token(
    client: httpx.AsyncClient, settings: Settings, username: str = "john_doe", scope: str = ALL_SCOPES
) -> str:
    response = await exchange_code(client, settings, await get_code(client, settings, username, scope))
    assert response.status_code == 200, response.text
    token: str = response.json()["data"][0]["access_token"]
    return token


async def long_token(
    client: httpx.AsyncClient, settings: Settings, username: str = "john_doe", scope: str = ALL_SCOPES
) -> str:
    short = await short_token(client, settings, username, scope)
    response = await client.get(
        f"{SANDBOX}/graph/access_token",
        params={"grant_type": "ig_exchange_token", "client_secret": settings.app_secret, "access_token": short},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(f"{GRAPH}/me", params={"fields": "id,user_id,username", "access_token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def control(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
    response = await client.request(method, f"{SANDBOX}/control{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json()


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    await control(client, "POST", "/clock", {"advance_seconds": seconds})


async def create_container(client: httpx.AsyncClient, token: str, user_id: str, **params: str) -> httpx.Response:
    return await client.post(f"{GRAPH}/{user_id}/media", data=params, headers={"Authorization": f"Bearer {token}"})


async def container_status(client: httpx.AsyncClient, token: str, container_id: str) -> dict[str, Any]:
    response = await client.get(
        f"{GRAPH}/{container_id}", params={"fields": "id,status_code,status", "access_token": token}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_finished(client: httpx.AsyncClient, token: str, container_id: str) -> dict[str, Any]:
    """Poll the container (quickly: tests use a 0.2 s processing time) until it leaves IN_PROGRESS."""
    for _ in range(50):
        status = await container_status(client, token, container_id)
        if status["status_code"] != "IN_PROGRESS":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("container still IN_PROGRESS")


async def publish(client: httpx.AsyncClient, token: str, user_id: str, creation_id: str) -> httpx.Response:
    return await client.post(
        f"{GRAPH}/{user_id}/media_publish", params={"creation_id": creation_id, "access_token": token}
    )


async def post_image(client: httpx.AsyncClient, token: str, user_id: str, **params: str) -> str:
    """Create an image container and publish it; the media id."""
    created = await create_container(client, token, user_id, image_url=params.pop("image_url", IMAGE_URL), **params)
    assert created.status_code == 200, created.text
    published = await publish(client, token, user_id, created.json()["id"])
    assert published.status_code == 200, published.text
    media_id: str = published.json()["id"]
    return media_id


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body
