"""The reference for goal 3: GET /accounts written as barely as FastAPI allows, on an asyncpg pool.

It does what the service's route must do and nothing more: check the caller's JWT (the same library and
algorithm), run the same SELECT (the columns the answer shows, of the caller's accounts, by id), and answer the
same JSON.
Served by uvicorn exactly like the API (`Stack.uvicorn_command`). DATABASE_URL and JWT_SECRET as for the API.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Header, HTTPException
from jose import JWTError, jwt

# The service's query (app/accounts/service.py `OWNED_ANSWERS`): the columns the answer shows, by user, by id.
SELECT_ACCOUNTS = (
    "SELECT id, platform, username, status, ig_user_id, profile_picture_url, account_type, followers_count, "
    "following_count, token_expires_at, created_at, name, webhook_subscription, webhook_subscription_error "
    "FROM accounts WHERE user_id = $1 ORDER BY id"
)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")


def _dsn() -> str:
    # The service's SQLAlchemy URL names its driver; asyncpg takes the plain one.
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=10, max_size=10)  # type: ignore[no-untyped-call]
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


def _user_id(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401, detail="missing bearer token")
    try:
        claims = jwt.decode(token, os.environ["JWT_SECRET"], algorithms=["HS256"])
    except JWTError as exc:
        raise HTTPException(status_code=401, detail="invalid token") from exc
    return str(claims["sub"])


def _absolute(url: str | None) -> str | None:
    return PUBLIC_BASE_URL + url if url and url.startswith("/") else url


def _account(row: Mapping[str, Any]) -> dict[str, Any]:
    expires: datetime | None = row["token_expires_at"]
    return {
        "id": row["id"],
        "platform": row["platform"],
        "account_name": row["username"],
        "is_active": row["status"] != "disconnected",
        "platform_user_id": row["ig_user_id"],
        "profile_picture_url": _absolute(row["profile_picture_url"]),
        "account_type": row["account_type"],
        "followers_count": row["followers_count"],
        "following_count": row["following_count"],
        "token_expires_at": expires,
        "created_at": row["created_at"],
        "status": row["status"],
        "name": row["name"],
        "webhooks": row["webhook_subscription"] if row["webhook_subscription"] in ("subscribed", "failed") else None,
        "webhooks_error": row["webhook_subscription_error"],
    }


@app.get("/api/sns/instagram/accounts")
async def list_accounts(authorization: str | None = Header(default=None)) -> list[dict[str, Any]]:
    """The caller's accounts."""
    user_id = _user_id(authorization)
    async with app.state.pool.acquire() as connection:
        rows = await connection.fetch(SELECT_ACCOUNTS, user_id)
    return [_account(row) for row in rows]
