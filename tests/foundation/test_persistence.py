"""The schema: migrations, time zones and constraints, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.crypto import TokenCipher, TokenDecryptionError
from app.db import utcnow
from app.models import Account, Base, Post
from tests.conftest import TOKEN_KEY


def _account(**values: object) -> Account:
    defaults: dict[str, object] = {"user_id": "alice", "ig_user_id": "17841400000000001", "username": "john_doe"}
    defaults.update(values)
    return Account(**defaults)


class TestInTransaction:
    """Each test runs inside a transaction that is rolled back: nothing it writes survives it."""

    async def test_times_come_back_aware_and_in_utc(self, db_session: AsyncSession) -> None:
        seoul = timezone(timedelta(hours=9))
        account = _account(token_expires_at=datetime(2026, 12, 1, 9, 0, tzinfo=seoul))
        db_session.add(account)
        await db_session.commit()
        account_id = account.id
        db_session.expire_all()
        loaded = await db_session.scalar(select(Account).where(Account.id == account_id))
        assert loaded is not None and loaded.token_expires_at is not None
        assert loaded.token_expires_at.tzinfo is not None
        assert loaded.token_expires_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

    async def test_naive_datetimes_are_refused(self, db_session: AsyncSession) -> None:
        db_session.add(_account(token_expires_at=datetime(2026, 12, 1, 9, 0)))
        with pytest.raises(Exception, match="naive datetime"):
            await db_session.flush()

    async def test_one_row_per_user_and_instagram_account(self, db_session: AsyncSession) -> None:
        db_session.add(_account())
        await db_session.flush()
        db_session.add(_account())
        with pytest.raises(IntegrityError):
            await db_session.flush()

    async def test_two_users_may_connect_the_same_instagram_account(self, db_session: AsyncSession) -> None:
        db_session.add_all([_account(), _account(user_id="bob")])
        await db_session.flush()

    async def test_rollback_isolation_left_nothing_behind(self, db_session: AsyncSession) -> None:
        # The tests above committed rows; each was rolled back at its end.
        assert (await db_session.scalars(select(Account))).all() == []


async def test_migrations_match_the_models(database_url: str) -> None:
    """The migrated schema has every table and column the models declare, on both backends."""
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        post_columns = await connection.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("posts")})
    await engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert {c.name for c in Post.__table__.columns} == post_columns


def test_token_cipher_rotation() -> None:
    from cryptography.fernet import Fernet

    old = TokenCipher([TOKEN_KEY])
    ciphertext = old.encrypt("IGAAsecret")
    assert "IGAAsecret" not in ciphertext
    new_key = Fernet.generate_key().decode()
    rotated = TokenCipher([new_key, TOKEN_KEY])
    assert rotated.decrypt(ciphertext) == "IGAAsecret"
    rewritten = rotated.rotate(ciphertext)
    assert TokenCipher([new_key]).decrypt(rewritten) == "IGAAsecret"
    with pytest.raises(TokenDecryptionError):
        TokenCipher([new_key]).decrypt(ciphertext)


def test_utcnow_is_aware() -> None:
    assert utcnow().tzinfo is UTC
