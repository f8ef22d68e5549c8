"""Read-only routes: their sessions never wait for SQLite's write lock, run no transaction on PostgreSQL,
refuse to write; and a pooled PostgreSQL connection the server closed is replaced without a pre-ping."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import create_async_engine

from app.accounts.models import Account
from app.db import create_engine, create_read_engine, create_read_sessionmaker
from app.main import app_context
from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API, connect_account

# Far below SQLite's busy_timeout (30 s): a read that queued on the write lock would still be waiting.
NO_WAIT_SECONDS = 10.0


async def test_a_read_answers_while_a_writer_holds_the_sqlite_write_lock(sqlite_database_url: str) -> None:
    async with running_app(make_settings(sqlite_database_url)) as (_, client):
        account = await connect_account(client)
        writer = sqlite3.connect(
            sqlite_database_url.split("///", 1)[1], isolation_level=None, timeout=10, check_same_thread=False
        )
        try:
            # From another thread: the app's own background writes (the account's webhook subscription, right
            # after connecting) need the event loop to finish their transaction while this one waits for the lock.
            await asyncio.to_thread(writer.execute, "BEGIN IMMEDIATE")
            writer.execute("UPDATE accounts SET username = 'not_committed' WHERE id = ?", (account["id"],))
            answer = await asyncio.wait_for(
                client.get(f"{API}/accounts", headers=auth_headers()), timeout=NO_WAIT_SECONDS
            )
            # The read saw the last commit, not the writer's pending change.
            assert answer.status_code == 200, answer.text
            assert [a["account_name"] for a in answer.json()] == ["john_doe"]
        finally:
            writer.execute("ROLLBACK")
            writer.close()


async def test_sqlite_reads_have_a_pool_of_their_own(sqlite_database_url: str) -> None:
    """Every connection of the main pool taken (by writers queued on the lock, say): reads still answer."""
    async with running_app(make_settings(sqlite_database_url)) as (app, client):
        await connect_account(client)
        ctx = app_context(app)
        assert ctx.read_engine.sync_engine.pool is not ctx.engine.sync_engine.pool
        pool = ctx.engine.sync_engine.pool
        held = [await ctx.engine.connect() for _ in range(pool.size() + pool._max_overflow)]  # type: ignore[attr-defined]
        try:
            answer = await asyncio.wait_for(client.get(f"{API}/accounts", headers=auth_headers()), NO_WAIT_SECONDS)
            assert answer.status_code == 200, answer.text
            assert [a["account_name"] for a in answer.json()] == ["john_doe"]
        finally:
            for connection in held:
                await connection.close()


async def test_postgresql_reads_share_the_pool(pg_database_url: str) -> None:
    async with running_app(make_settings(pg_database_url)) as (app, _):
        ctx = app_context(app)
        assert ctx.read_engine.sync_engine.pool is ctx.engine.sync_engine.pool


async def test_a_read_only_session_refuses_to_write(database_url: str) -> None:
    engine = create_engine(make_settings(database_url))
    try:
        async with create_read_sessionmaker(create_read_engine(engine))() as session:
            session.add(Account(user_id="alice", ig_user_id="1784", username="never_written"))
            with pytest.raises(InvalidRequestError, match="read-only session"):
                await session.flush()
            await session.rollback()
            assert await session.scalar(select(Account).where(Account.username == "never_written")) is None
    finally:
        await engine.dispose()


async def test_reads_on_postgresql_run_outside_a_transaction(pg_database_url: str) -> None:
    engine = create_engine(make_settings(pg_database_url))
    try:
        async with create_read_sessionmaker(create_read_engine(engine))() as session:
            await session.execute(select(Account.id).limit(1))
            raw = await (await session.connection()).get_raw_connection()
            # No BEGIN was sent: the SELECT was the only round trip.
            assert not raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
        async with engine.connect() as connection:
            await connection.execute(select(Account.id).limit(1))
            raw = await connection.get_raw_connection()
            # The pool's other users still get their transactions.
            assert raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
    finally:
        await engine.dispose()


async def test_a_pooled_connection_the_server_closed_is_replaced_on_checkout(pg_database_url: str) -> None:
    engine = create_engine(make_settings(pg_database_url, database_pool_size=1, database_max_overflow=0))
    admin = create_async_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):  # the event loop reads the end of the socket
            if driver.is_closed():
                break
            await asyncio.sleep(0.02)
        assert driver.is_closed()
        # No error for the next user of the pool, and no ping: a new connection.
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()
        await admin.dispose()
