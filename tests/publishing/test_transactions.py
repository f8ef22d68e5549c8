"""How many transactions a publishing request takes (README, docs/architecture.md): counted, not assumed.

Every transaction begins on a connection; the engine's `begin` event counts them, with the statements each
one ran, while one request is served. The periodic jobs are stopped first so that only the request counts.
Instagram fetching the prepared image (GET /media/<id>.jpg, a read of its own) is told apart and left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.jobs.queue import InProcessJobQueue
from app.main import app_context
from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API


@dataclass
class Transactions:
    """Each transaction's first statements (enough to tell which step it was)."""

    statements: list[list[str]] = field(default_factory=list)
    # Per unit of work, whether it ran autocommitted (no BEGIN and COMMIT sent: a lone statement).
    autocommitted: list[bool] = field(default_factory=list)

    @property
    def ours(self) -> list[list[str]]:
        """The request's own transactions (not the ones serving Instagram's fetches of prepared images)."""
        return [t for t in self.statements if not all(s.startswith("SELECT media_assets") for s in t)]

    @property
    def writing(self) -> int:
        return sum(any(s.split()[0] in ("INSERT", "UPDATE", "DELETE") for s in t) for t in self.ours)


@contextmanager
def counted(app: FastAPI) -> Iterator[Transactions]:
    engine = app_context(app).engine.sync_engine
    seen = Transactions()
    current: dict[int, list[str]] = {}

    def begin(connection: Any) -> None:
        current[id(connection)] = []
        seen.statements.append(current[id(connection)])
        seen.autocommitted.append(connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT")

    def before_execute(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if id(connection) in current and not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            current[id(connection)].append(" ".join(statement.split()[:3]))

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", before_execute)


@pytest.fixture
async def quiet(pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> tuple[FastAPI, httpx.AsyncClient]:
    app, _ = pg_committing_app_and_client
    jobs = app_context(app).jobs
    assert isinstance(jobs, InProcessJobQueue)
    await jobs.stop_crons()
    return pg_committing_app_and_client


@pytest.mark.parametrize(("key", "expected"), [(None, 6), ("k-1", 7)])
async def test_an_inline_post(quiet: tuple[FastAPI, httpx.AsyncClient], key: str | None, expected: int) -> None:
    """One read (the account, the key); the record (key, image, post, link); the container id; publish_sent_at;
    the publication; the permalink; with a key, the answer it replays."""
    app, client = quiet
    account = await Factory(app_context(app), client).connected_account()
    headers = {**auth_headers(), **({"Idempotency-Key": key} if key else {})}
    with counted(app) as transactions:
        response = await client.post(
            f"{API}/posts", headers=headers, json={"account_id": account.id, "image_url": "https://example.com/a.jpg"}
        )
    assert response.status_code == 201
    assert (len(transactions.ours), transactions.writing) == (expected, expected - 1), transactions.ours
    assert transactions.ours[1][0].startswith("INSERT")  # the record phase: all of it in one transaction
    assert len(transactions.ours[1]) == (4 if key else 3)
    # The container id and publish_sent_at: one UPDATE each, autocommitted; the publication: a transaction.
    steps = [(units[0], auto) for units, auto in zip(transactions.statements, transactions.autocommitted, strict=True)]
    writes = [step for step in steps if step[0].startswith("UPDATE posts")]
    assert [auto for _, auto in writes[:3]] == [True, True, False], steps


async def test_a_batch(quiet: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """One read, one record for every account's post, then four steps per post."""
    app, client = quiet
    make = Factory(app_context(app), client)
    for name in ("one", "two", "three"):
        await make.connected_account(name)
    with counted(app) as transactions:
        response = await client.post(
            f"{API}/batch-post", headers=auth_headers(), json={"image_url": "https://example.com/a.jpg"}
        )
    assert response.status_code == 207
    assert (len(transactions.ours), transactions.writing) == (2 + 4 * 3, 1 + 4 * 3), transactions.ours
