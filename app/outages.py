"""A lost or refused database or Redis connection, told apart from a bug, so it answers 503 and not 500.

A PostgreSQL restart or a Redis blip surfaces as many exception types, depending on the moment: a refused
connection (OSError) while the pool connects, `CannotConnectNowError` while the server starts,
`AdminShutdownError` or a reset connection when it stops under a query, SQLAlchemy's wrappers around each,
redis-py's `ConnectionError`/`TimeoutError`. None of these is the client's fault or a bug of ours: the
answer is `503 {"error", "code": "unavailable"}` with `Retry-After`, and the client retries.
"""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions
import redis.exceptions
import sqlalchemy.exc

from app.errors import ServiceUnavailable

# Seconds a client should wait before retrying: a restarting PostgreSQL or Redis is back within seconds.
RETRY_AFTER_SECONDS = 5

_DB_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection does not exist / failed / rejected
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by the administrator (a restart)
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300: every server slot is taken for now
    asyncpg.exceptions.InterfaceError,  # "connection is closed" and the like, raised by the driver itself
    sqlalchemy.exc.TimeoutError,  # our own pool found no free connection in time
)
_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # refused, reset, closed (BusyLoadingError is one too)
    redis.exceptions.TimeoutError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def which_dependency(exc: BaseException) -> str | None:
    """ "database" or "redis" when `exc` (or what caused it) is a lost or refused connection; else None."""
    for error in _chain(exc):
        if isinstance(error, _REDIS_ERRORS):
            return "redis"
        if isinstance(error, _DB_CONNECTION_ERRORS):
            return "database"
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return "database"
        if isinstance(error, ConnectionError):
            # A refused or reset socket: whose it is is told by what wraps it; Instagram's and media
            # fetches never get here (the client turns them into its own errors).
            return _owner(exc) or "database"
        if isinstance(error, TimeoutError) and (owner := _owner(exc)) is not None:
            return owner
    return None


def _owner(exc: BaseException) -> str | None:
    for error in _chain(exc):
        if isinstance(error, redis.exceptions.RedisError):
            return "redis"
        if isinstance(error, sqlalchemy.exc.SQLAlchemyError | asyncpg.exceptions.PostgresError):
            return "database"
    return None


def as_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 answer for a dependency outage, or None when `exc` is something else (a bug: 500)."""
    dependency = which_dependency(exc)
    if dependency is None:
        return None
    what = "The database" if dependency == "database" else "The job queue (Redis)"
    return ServiceUnavailable(
        f"{what} is temporarily unreachable. Please retry in a few seconds.",
        code="unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        retry_after=RETRY_AFTER_SECONDS,
    )
