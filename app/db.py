"""Database: the declarative base, a UTC datetime type that behaves the same on PostgreSQL and SQLite,
engine and sessionmaker construction, and the request-scoped session (the unit of work)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from app.config import Settings
from app.direct_reads import SQLITE_READER, SqliteReader

if TYPE_CHECKING:
    from sqlalchemy.dialects import sqlite

# Explicit constraint names, so migrations can drop and alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the only kind of time this service handles)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    PostgreSQL keeps `timestamptz`; SQLite has no timezone type, so values are stored as naive UTC text
    and the zone is re-attached on the way out. Naive input is refused: it is always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def create_engine(settings: Settings) -> AsyncEngine:
    """The process's engine: pooled asyncpg for PostgreSQL, aiosqlite with WAL and a busy timeout for SQLite."""
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": 30},
        )
        _tune_sqlite(engine)
        return engine
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        # No pre-ping: it costs a round trip (three outside a transaction) on every checkout. A connection the
        # server closed is replaced on checkout instead (below); one that dies under a query invalidates the
        # whole pool, and that request answers 503 (app/outages.py).
        pool_pre_ping=False,
        pool_recycle=1800,
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # asyncpg learns that the server closed a connection (a restart, an idle timeout) as soon as the event loop
    # reads the end of its socket, with no round trip: the pool then invalidates it and hands out a new one.
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def create_read_engine(engine: AsyncEngine, settings: Settings | None = None) -> AsyncEngine:
    """The engine of read-only work: no transaction on PostgreSQL, a deferred one on SQLite.

    A lone SELECT needs no BEGIN and COMMIT around it on PostgreSQL (AUTOCOMMIT: one round trip instead of
    three); it shares the process's pool. On SQLite a deferred BEGIN takes no lock: with WAL, a reader sees the
    last commit and never waits for the write lock that `BEGIN IMMEDIATE` (every other transaction) queues on.
    With `settings`, SQLite's reads also get a pool of their own (SQLITE_READ_CONNECTIONS), so they never
    queue for a connection that a writer holds while it waits for the lock; dispose of it with the engine.
    """
    if engine.dialect.name != "sqlite":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    if settings is None:
        return engine.execution_options(**{_DEFERRED_BEGIN: True})
    readers = create_async_engine(
        settings.database_url,
        connect_args={"timeout": 30},
        pool_size=settings.sqlite_read_connections,
        max_overflow=0,
    )
    _tune_sqlite(readers)
    options: dict[str, Any] = {_DEFERRED_BEGIN: True}
    path = readers.url.database
    if path and path != ":memory:" and not readers.url.query:
        # A file: the direct reads run in the event loop's thread (app/direct_reads.py), closed with the engine.
        reader = options[SQLITE_READER] = SqliteReader(path)
        event.listen(readers.sync_engine, "engine_disposed", lambda _engine: reader.close())
    return readers.execution_options(**options)


# An execution option of the read engine on SQLite (the "begin" listener below reads it).
_DEFERRED_BEGIN = "sqlite_deferred_begin"


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (its implicit BEGIN breaks savepoints
        # and isolation) and begin explicitly below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while a writer commits; foreign keys are off by default in SQLite.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_DEFERRED_BEGIN):
            # A read-only unit of work (create_read_engine): a snapshot, no lock.
            connection.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front: concurrent writers wait (busy_timeout) instead of
        # failing with SQLITE_BUSY when a read transaction tries to become a write transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after the boundary commits (responses are built after).
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class ReadOnlySession(Session):
    """A session of a read-only route: flushing a change through it is a bug (outside a transaction it would not
    be atomic), so it raises."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise exc.InvalidRequestError("a read-only session was asked to write: the route is not read-only")


def create_read_sessionmaker(bind: AsyncEngine | AsyncConnection, **options: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions for read-only routes, on `create_read_engine(engine)` (tests bind them to one connection)."""
    return async_sessionmaker(
        bind, expire_on_commit=False, autoflush=False, sync_session_class=ReadOnlySession, **options
    )


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work outside a request (jobs, CLI): commit on success, roll back on any error."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


@asynccontextmanager
async def single_statement(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work of ONE statement: on PostgreSQL it runs autocommitted, since a lone statement is atomic and
    durable by itself once it returns (one round trip instead of BEGIN, it, COMMIT). Elsewhere (SQLite, or a
    sessionmaker bound to a connection, as some tests do) an ordinary unit of work."""
    async with unit_of_work(sessionmaker) as session:
        bind = session.bind
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


def insert_for(dialect_name: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT for the bind's dialect (`session.get_bind().dialect.name`). SQLite's dialect module
    is imported only where the database is SQLite: a PostgreSQL process never needs it."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
