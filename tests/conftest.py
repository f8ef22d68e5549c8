"""Test infrastructure: real PostgreSQL and Redis (and a SQLite file), each migrated once per run.

- `pg_database_url` / `sqlite_database_url`: a database created and migrated for this run, dropped after.
- `database_url` is parametrized over both backends: a test that asks for it runs on each.
- `db_session`: a session inside one outer transaction rolled back at the end of the test (persistence tests).
- `client` / `app_and_client`: the whole app (lifespan included) behind an httpx client, every unit of work
  of the test (the request's, each publishing phase's, each step of the state machine's) a savepoint in one
  outer transaction rolled back at the end, as Polar's tests do. That serves anything done one unit of work
  after another: requests, inline publishing, reads and writes of the test itself. It cannot serve work done
  side by side on the one connection (jobs the queue runs while a request waits, batches, the refresh job):
- `committing_client` / `committing_app_and_client` commit for real and empty the tables after the test.
- `pg_...`: the same on PostgreSQL only, for tests whose subject is not the database.
- `make` / `pg_make` / `committing_make`: the factories (`tests.factories.Factory`) for those apps.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.auth.tokens import issue_development_token
from app.config import Settings
from app.context import AppContext
from app.db import create_read_sessionmaker
from app.jobs.queue import InProcessJobQueue
from app.main import app_context, create_app
from app.migrations import upgrade_to_head_async
from app.models import Base
from tests.factories import Factory

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def _this_workers_redis(url: str) -> str:
    """`make test` runs the suite in two processes (pytest-xdist, PYTEST_XDIST_WORKER gw0, gw1): each gets a
    Redis database of its own, the given one plus its number, since tests flush theirs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.lstrip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database}"))


REDIS_TEST_URL = _this_workers_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))
PUBLIC_BASE_URL = "http://localhost:8000"
JWT_SECRET = "test-jwt-secret-" + "x" * 40
TOKEN_KEY = Fernet.generate_key().decode()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: development, sandbox, fast timings; never read from the developer's .env."""
    values: dict[str, Any] = {
        "app_env": "development",
        "database_url": database_url,
        "redis_url": None,
        "jwt_secret": JWT_SECRET,
        "token_encryption_key": TOKEN_KEY,
        "public_base_url": PUBLIC_BASE_URL,
        "log_json": True,
        "database_auto_migrate": False,
        "gc_freeze_after_startup": False,
        "gc_young_threshold": 0,  # the test process keeps Python's collector settings
        "instagram_retry_budget_seconds": 0.5,
        "instagram_timeout_seconds": 2.0,
        "instagram_max_attempts": 2,
        "sandbox_video_processing_seconds": 0.3,
        "container_poll_initial_seconds": 0.1,
        "container_poll_max_interval_seconds": 0.3,
        "publish_reconcile_grace_seconds": 0.2,
        "reel_wait_seconds": 10.0,
        "publish_wait_seconds": 10.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def auth_headers(sub: str = "alice", settings: Settings | None = None) -> dict[str, str]:
    settings = settings or make_settings("sqlite+aiosqlite://")
    return {"Authorization": f"Bearer {issue_development_token(settings, sub)}"}


# --- databases ------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pg_database_url() -> AsyncIterator[str]:
    name = f"instagram_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        await upgrade_to_head_async(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "test.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_to_head_async(url)
    return url


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_database_url" if backend == "postgres" else "sqlite_database_url"))


async def empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        # TRUNCATE locks every table; a job of the app still finishing (a cron tick, an in-process job) may hold
        # one and wait for another, and PostgreSQL then aborts one of the two as a deadlock: try again.
        for attempt in range(5):
            try:
                async with engine.begin() as connection:
                    await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                return
            except DBAPIError as exc:
                if "deadlock" not in str(exc) or attempt == 4:
                    raise
                await asyncio.sleep(0.2)
    async with engine.begin() as connection:
        for table in tables:
            await connection.execute(text(f"DELETE FROM {table}"))
        if await connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")):
            await connection.execute(text("DELETE FROM sqlite_sequence"))


@pytest_asyncio.fixture
async def db_session(pg_database_url: str) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back at the end of the test, commits included (savepoints)."""
    engine = create_async_engine(pg_database_url)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
    await engine.dispose()


# --- the app --------------------------------------------------------------------------------------


@asynccontextmanager
async def running_app(
    settings: Settings, *, rollback: bool = False
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running, and a client that talks to it in-process.

    With `rollback`, everything the test writes is rolled back at the end; otherwise the tables are emptied.
    """
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url) as client:
            if rollback:
                async with rolled_back(app_context(app)):
                    yield app, client
                return
            try:
                yield app, client
            finally:
                await empty_tables(app_context(app).engine)


@asynccontextmanager
async def rolled_back(ctx: AppContext) -> AsyncIterator[None]:
    """Bind every session of the app to one connection, in one transaction rolled back at the end; each unit of
    work becomes a savepoint. The periodic jobs are stopped first: they would share the connection."""
    assert isinstance(ctx.jobs, InProcessJobQueue)
    await ctx.jobs.stop_crons()
    original = ctx.sessionmaker, ctx.read_sessionmaker
    async with ctx.engine.connect() as connection:
        transaction = await connection.begin()
        ctx.sessionmaker = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )
        # Read-only routes too (they still refuse to write), or they would not see the test's rows.
        ctx.read_sessionmaker = create_read_sessionmaker(connection, join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            await ctx.jobs.aclose()
            ctx.sessionmaker, ctx.read_sessionmaker = original
            await transaction.rollback()


@pytest_asyncio.fixture
async def app_and_client(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(make_settings(database_url), rollback=True) as pair:
        yield pair


@pytest_asyncio.fixture
async def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest_asyncio.fixture
async def make(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> Factory:
    return Factory(app_context(app_and_client[0]), app_and_client[1])


@pytest_asyncio.fixture
async def committing_app_and_client(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app committing for real (jobs run beside the request, or work runs side by side), on each database."""
    async with running_app(make_settings(database_url)) as pair:
        yield pair


@pytest_asyncio.fixture
async def committing_client(committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return committing_app_and_client[1]


@pytest_asyncio.fixture
async def committing_make(committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> Factory:
    return Factory(app_context(committing_app_and_client[0]), committing_app_and_client[1])


@pytest_asyncio.fixture
async def pg_app_and_client(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app on PostgreSQL only, rolled back (for tests whose subject is not the database)."""
    async with running_app(make_settings(pg_database_url), rollback=True) as pair:
        yield pair


@pytest_asyncio.fixture
async def pg_client(pg_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return pg_app_and_client[1]


@pytest_asyncio.fixture
async def pg_make(pg_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> Factory:
    return Factory(app_context(pg_app_and_client[0]), pg_app_and_client[1])


@pytest_asyncio.fixture
async def pg_committing_app_and_client(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app on PostgreSQL only, committing for real."""
    async with running_app(make_settings(pg_database_url)) as pair:
        yield pair


@pytest_asyncio.fixture
async def pg_committing_client(pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return pg_committing_app_and_client[1]
