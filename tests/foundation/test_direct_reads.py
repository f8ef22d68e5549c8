"""`DirectRead`: the same rows straight from the driver as through SQLAlchemy, on PostgreSQL and SQLite, and a pool
that stays usable when a read fails or is cancelled under it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import Integer, bindparam, delete, insert, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.accounts.models import Account
from app.db import create_engine, create_read_engine
from app.direct_reads import SQLITE_READER, DirectRead, SqliteReader
from tests.conftest import make_settings

READ = DirectRead(
    select(Account.id, Account.username, Account.followers_count, Account.token_expires_at, Account.name)
    .where(Account.user_id == bindparam("user_id"))
    .order_by(Account.id)
)
EXPIRES = datetime(2027, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest_asyncio.fixture
async def seeded(database_url: str) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine, and a user with two accounts (another user has one)."""
    engine = create_engine(make_settings(database_url))
    user = f"direct-{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(
            insert(Account),
            [
                {"user_id": user, "ig_user_id": "1", "username": "first", "followers_count": 7,
                 "token_expires_at": EXPIRES, "name": None},
                {"user_id": user, "ig_user_id": "2", "username": "second", "followers_count": None,
                 "token_expires_at": None, "name": "Second"},
                {"user_id": "someone-else", "ig_user_id": "3", "username": "not_theirs", "followers_count": 1,
                 "token_expires_at": None, "name": None},
            ],
        )  # fmt: skip
    try:
        yield engine, user
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(Account).where(Account.user_id.in_([user, "someone-else"])))
        await engine.dispose()


async def test_gives_the_rows_sqlalchemy_gives(seeded: tuple[AsyncEngine, str]) -> None:
    """On PostgreSQL through asyncpg, on SQLite through SQLAlchemy: the same values, timestamps in UTC."""
    engine, user = seeded
    direct = await READ.rows(create_read_engine(engine), {"user_id": user})
    async with engine.connect() as connection:
        expected = (await connection.execute(READ.statement, {"user_id": user})).all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in expected]
    assert [row[1] for row in direct] == ["first", "second"]
    assert direct[0][3] == EXPIRES and direct[0][3].utcoffset() == timedelta(0)


async def test_runs_on_a_shared_connection_inside_its_transaction(seeded: tuple[AsyncEngine, str]) -> None:
    """Tests bind every session to one connection: the read sees what that transaction wrote."""
    engine, _ = seeded
    async with engine.connect() as connection:
        values = {"user_id": "in-tx", "ig_user_id": "9", "username": "uncommitted"}
        await connection.execute(insert(Account), values)
        rows = await READ.rows(connection, {"user_id": "in-tx"})
        assert [row[1] for row in rows] == ["uncommitted"]
        await connection.rollback()


async def test_a_connection_killed_under_a_read_is_not_reused(pg_database_url: str) -> None:
    engine = create_engine(make_settings(pg_database_url, database_pool_size=1, database_max_overflow=0))
    admin = create_async_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    slow = DirectRead(select(literal_column("1", Integer)).where(text("pg_sleep(5) IS NOT NULL")))
    try:
        async with engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        read = asyncio.create_task(slow.rows(engine, {}))
        await asyncio.sleep(0.5)
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Exception, match=r"(?i)terminat|closed|connection"):
            await read
        # The pool's one connection was replaced, not handed out broken.
        assert await READ.rows(engine, {"user_id": "nobody"}) == []
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_a_cancelled_read_leaves_a_usable_pool(pg_database_url: str) -> None:
    engine = create_engine(make_settings(pg_database_url, database_pool_size=1, database_max_overflow=0))
    slow = DirectRead(select(literal_column("1", Integer)).where(text("pg_sleep(5) IS NOT NULL")))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow.rows(engine, {}), timeout=0.3)
        assert await asyncio.wait_for(READ.rows(engine, {"user_id": "nobody"}), timeout=5) == []
    finally:
        await engine.dispose()


async def test_converts_what_sqlalchemy_converts(seeded: tuple[AsyncEngine, str]) -> None:
    """A JSON column comes back decoded and a timestamp parameter is bound as SQLAlchemy binds it."""
    engine, user = seeded
    read = DirectRead(
        select(Account.username, Account.scopes, Account.created_at)
        .where(Account.user_id == bindparam("user_id"), Account.created_at > bindparam("since"))
        .order_by(Account.id)
    )
    parameters = {"user_id": user, "since": datetime(2020, 1, 1, tzinfo=UTC)}
    direct = await read.rows(create_read_engine(engine), parameters)
    async with engine.connect() as connection:
        expected = (await connection.execute(read.statement, parameters)).all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in expected]
    assert direct[0][1] == [] and direct[0][2].tzinfo is not None


def test_refuses_a_driver_it_does_not_know() -> None:
    from sqlalchemy.dialects.sqlite.pysqlite import dialect as pysqlite_dialect

    with pytest.raises(TypeError, match="asyncpg or aiosqlite, not pysqlite"):
        READ.compiled(pysqlite_dialect())


class TestOnASqliteFile:
    """The read engine of a SQLite file runs direct reads in the event loop's thread (`SqliteReader`)."""

    async def test_reads_without_the_pool(self, sqlite_database_url: str) -> None:
        settings = make_settings(sqlite_database_url)
        engine = create_engine(settings)
        readers = create_read_engine(engine, settings)
        user = f"direct-{uuid.uuid4().hex[:8]}"
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(Account), [{"user_id": user, "ig_user_id": "9", "username": "lite"}])
            # Every connection of the reads' pool is taken: a read through the pool would wait for one.
            held = await readers.connect()
            try:
                rows = await asyncio.wait_for(READ.rows(readers, {"user_id": user}), timeout=5)
            finally:
                await held.close()
            assert [row[1] for row in rows] == ["lite"]
        finally:
            await readers.dispose()
            await engine.dispose()

    async def test_says_so_instead_of_waiting_for_a_lock(self, sqlite_database_url: str) -> None:
        """A connection holding the file exclusively: the reader answers None at once (its caller then reads through
        the pool, which waits), and reads again once the lock is gone."""
        settings = make_settings(sqlite_database_url)
        readers = create_read_engine(create_engine(settings), settings)
        reader = readers.sync_engine.get_execution_options()[SQLITE_READER]
        assert isinstance(reader, SqliteReader)
        sql = "SELECT count(*) FROM accounts"
        assert reader.rows(sql, []) is not None
        reader.close()  # (an open connection keeps another from taking the file exclusively)
        holder = sqlite3.connect(sqlite_database_url.split("///", 1)[1], isolation_level=None, check_same_thread=False)
        try:
            holder.execute("PRAGMA locking_mode=EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("UPDATE accounts SET name = name")
            holder.execute("COMMIT")  # exclusive locking mode keeps the lock after the commit
            started = time.monotonic()
            assert reader.rows(sql, []) is None
            assert time.monotonic() - started < 1
            # A DirectRead then reads through the pool, whose connection waits for the lock to go.
            threading.Timer(0.3, holder.close).start()
            assert await asyncio.wait_for(READ.rows(readers, {"user_id": "nobody"}), timeout=10) == []
        finally:
            holder.close()
        assert reader.rows(sql, []) is not None
        await readers.dispose()
        assert reader._connection is None  # closed with its engine
