"""Dependencies shared by every router: settings, the process context, and the request's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.config import Settings
from app.context import AppContext
from app.db import unit_of_work
from app.public_urls import PublicLinks


# async: a plain `def` dependency is run in the threadpool, a thread hop on every request.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response is sent, rolled back on any error.

    Services only flush; this boundary commits. (A publishing request commits its record phase itself
    before it runs or enqueues the posts, so no job ever starts for a post that was rolled back.)
    """
    ctx: AppContext = request.app.state.ctx
    async with unit_of_work(ctx.sessionmaker) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The session of a read-only route: no transaction to commit on PostgreSQL (one round trip per query),
    a snapshot without the write lock on SQLite; flushing a change through it raises."""
    ctx: AppContext = request.app.state.ctx
    async with ctx.read_sessionmaker() as session:
        yield session


def read_bind(request: Request) -> AsyncEngine | AsyncConnection:
    """What read-only Core SELECTs that build no ORM objects run on (`app/direct_reads.py`): the read sessions'
    bind, the read engine (in tests, the one connection every session shares), without a session. A session's
    transaction bookkeeping (its snapshot, its connection wrapper, its close) was about a tenth of
    GET /accounts' CPU. Only SELECTs go through it: on PostgreSQL they run outside any transaction."""
    ctx: AppContext = request.app.state.ctx
    bind: AsyncEngine | AsyncConnection = ctx.read_sessionmaker.kw["bind"]
    return bind


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ContextDep = Annotated[AppContext, Depends(get_app_context)]
# scope="function": the exit code (the commit) runs before the response is sent, so a failed commit
# is an error answer, never a success answer for data that was not saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For routes that only read: use it instead of SessionDep (and never both in one route).
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def request_base_url(request: Request) -> str:
    """The public base URL for answers to this request: PUBLIC_BASE_URL, else the address it came to."""
    settings: Settings = request.app.state.settings
    if not settings.public_base_url_follows_request:
        return settings.public_base_url
    # Host header and scheme (X-Forwarded-Proto behind --proxy-headers), without the app's root path.
    return f"{request.url.scheme}://{request.url.netloc}"


def public_links_of(request: Request) -> PublicLinks:
    """The `PublicLinks` of the request being answered."""
    return PublicLinks(request.app.state.settings, request_base_url(request))


async def public_links(request: Request) -> PublicLinks:
    """`public_links_of` as a dependency. `async` though it awaits nothing: FastAPI runs a plain `def`
    dependency in its threadpool, a hop per request that costs more than the work."""
    return public_links_of(request)


PublicLinksDep = Annotated[PublicLinks, Depends(public_links)]
