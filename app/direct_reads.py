"""Hot read-only SELECTs run straight on the database driver, with SQLAlchemy's own SQL and type conversions.

For a small SELECT, SQLAlchemy's execution layer (the Connection, the execution context, the DBAPI cursor adapter,
the greenlet hops, the result rows) costs more CPU than the driver's own call: on GET /accounts it was about half
of the request on PostgreSQL, and on SQLite each of its cursor steps is a hop to aiosqlite's thread. A
`DirectRead` keeps the statement written once with SQLAlchemy. For each dialect it compiles it once and takes
the bind and result processors SQLAlchemy would apply to its parameters and columns (the UTC timestamps, SQLite's
text dates, JSON). It then runs that SQL on a pooled connection's driver in one call: asyncpg's `fetch`
(prepared and cached per connection) or, on a SQLite file, the event loop's own SQLite connection (`SqliteReader`;
aiosqlite's `execute_fetchall`, one thread hop, where there is none), the service's two drivers. The rows are the
ones SQLAlchemy gives, as tuples.

Only for SELECTs without a transaction of their own (the read-only routes'): on PostgreSQL they run outside any
transaction, and on SQLite as a lone statement, which reads the last commit without taking the write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util.concurrency import await_, greenlet_spawn

Processor = Callable[[Any], Any] | None
_DRIVERS = ("asyncpg", "aiosqlite")


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The statement as one dialect runs it."""

    sql: str
    parameter_order: tuple[str, ...]
    bind_processors: tuple[Processor, ...]
    # (column index, conversion) of the columns that have one: most need none.
    result_processors: tuple[tuple[int, Callable[[Any], Any]], ...]


class DirectRead:
    """One SELECT, as SQLAlchemy Core built it, run on the driver directly (see the module's docstring)."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}  # by driver

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The SQL, its parameters in order and the conversions SQLAlchemy applies, for `dialect` (built once)."""
        found = self._compiled.get(dialect.driver)
        if found is None:
            if dialect.driver not in _DRIVERS:
                # The service runs on these two (app/db.py gives every database URL its async driver).
                raise TypeError(f"a DirectRead runs on asyncpg or aiosqlite, not {dialect.driver}")
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ())
            found = _Compiled(
                sql=str(compiled),
                parameter_order=order,
                bind_processors=tuple(
                    compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
                ),
                result_processors=tuple(
                    (index, process)
                    for index, column in enumerate(self.statement.selected_columns)
                    if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
                ),
            )
            self._compiled[dialect.driver] = found
        return found

    async def rows(self, bind: AsyncEngine | AsyncConnection, parameters: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """The rows, as tuples of column values in the statement's order. `bind` is the read engine (or, in
        tests, the one connection every session shares)."""
        dialect = bind.dialect
        compiled = self.compiled(dialect)
        arguments = [
            value if process is None else process(value)
            for value, process in zip(
                (parameters[name] for name in compiled.parameter_order), compiled.bind_processors, strict=True
            )
        ]
        if isinstance(bind, AsyncConnection):
            records = await _fetch(dialect, await bind.get_raw_connection(), compiled.sql, arguments)
        elif (reader := bind.sync_engine.get_execution_options().get(SQLITE_READER)) is not None and (
            found := reader.rows(compiled.sql, arguments)
        ) is not None:
            records = found
        else:
            # Straight from the pool, in one greenlet: the pool is synchronous code that awaits through
            # SQLAlchemy's greenlet bridge, and each greenlet costs about 9 µs (mostly the kernel mapping and
            # unmapping its frame stack). An engine's `connect()` would also set and reset the isolation
            # level around the statement, which costs more CPU than the query.
            records = await greenlet_spawn(_fetch_on_pooled_connection, bind.sync_engine, compiled.sql, arguments)
        if not compiled.result_processors:
            return records
        return [_converted(record, compiled.result_processors) for record in records]


# The execution option of a SQLite read engine that carries its `SqliteReader` (app/db.py `create_read_engine`).
SQLITE_READER = "sqlite_reader"


class SqliteReader:
    """A SQLite file's direct reads, run in the event loop's own thread on a connection of their own.

    Through the pool, every statement on SQLite is a hop to aiosqlite's thread and back (a queue, a wake-up of
    the event loop through its self-pipe, the GIL changing hands twice), which costs more CPU than a SELECT on an
    indexed column. With WAL a read takes no lock that a writer holds, so the loop's thread runs it itself. When
    SQLite would make it wait (another connection recovering the WAL after a crash), `rows` says so at once and
    the read goes through the pool, which waits: the event loop never does."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def rows(self, sql: str, arguments: list[Any]) -> list[Any] | None:
        """The rows, or None when SQLite asks to wait."""
        try:
            if self._connection is None:
                # Autocommit: each SELECT reads the last commit. No busy timeout: this thread never waits.
                self._connection = sqlite3.connect(self._path, isolation_level=None, timeout=0)
            return self._connection.execute(sql, arguments).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _fetch_on_pooled_connection(engine: Engine, sql: str, arguments: list[Any]) -> Sequence[Any]:
    """Check a connection out, run the SELECT on its driver, check it back in (in a greenlet)."""
    raw = engine.raw_connection()
    try:
        return await_(_fetch(engine.dialect, raw, sql, arguments))
    except BaseException as exc:
        # Lost, cancelled mid-query or refused: whatever state the connection is in, it never goes back
        # to the pool (a new one is opened when needed; a read rarely fails, a reconnect is cheap).
        raw.invalidate(exc)
        raise
    finally:
        raw.close()


async def _fetch(dialect: Dialect, raw: PoolProxiedConnection, sql: str, arguments: list[Any]) -> Sequence[Any]:
    driver: Any = raw.driver_connection
    if dialect.driver == "asyncpg":
        return await driver.fetch(sql, *arguments)  # type: ignore[no-any-return]
    return await driver.execute_fetchall(sql, arguments)  # type: ignore[no-any-return]


def _converted(record: Sequence[Any], processors: tuple[tuple[int, Callable[[Any], Any]], ...]) -> tuple[Any, ...]:
    row = list(record)
    for index, process in processors:
        row[index] = process(row[index])
    return tuple(row)
