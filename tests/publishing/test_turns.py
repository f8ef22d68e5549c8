"""A batch's posts take turns getting ready to publish (app/publishing/turns.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.main import app_context
from app.publishing.models import Post
from app.publishing.state_machine import Mode, advance_post
from app.publishing.turns import Turns
from tests.conftest import auth_headers
from tests.support import API, connect_account, future, published


async def _taken_soon(turns: Turns, seconds: float = 0.05) -> bool:
    """Whether a new turn is given within `seconds` (it is given back at once)."""
    try:
        async with asyncio.timeout(seconds), turns.turn():
            return True
    except TimeoutError:
        return False


async def test_only_so_many_posts_get_ready_at_once() -> None:
    turns = Turns(at_once=2)
    async with turns.turn(), turns.turn():
        assert not await _taken_soon(turns)
    assert await _taken_soon(turns)


async def test_a_turn_passed_on_frees_its_place_once() -> None:
    turns = Turns(at_once=1)
    async with turns.turn() as turn:
        turn.pass_on()
        turn.pass_on()
        async with turns.turn():
            # The place freed by the first turn is taken: passing it on twice did not free a second one.
            assert not await _taken_soon(turns)
    assert await _taken_soon(turns)


async def test_a_run_that_fails_gives_its_turn_back() -> None:
    turns = Turns(at_once=1)
    with pytest.raises(RuntimeError):
        async with turns.turn():
            raise RuntimeError("the run failed before publishing")
    assert await _taken_soon(turns)


async def test_the_turn_passes_on_as_the_publication_is_sent(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """The next post gets ready while Instagram is still publishing this one, and this one is published once."""
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg", "scheduled_at": future(days=1)}
    db_id = (await client.post(f"{API}/posts", headers=auth_headers(), json=body)).json()["db_id"]
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        await session.execute(update(Post).where(Post.id == db_id).values(status="pending", scheduled_at=None))
        await session.commit()
    await client.put("/sandbox/control/latency", json={"endpoint": "media_publish", "seconds": 1.0})
    turns = Turns(at_once=1)

    async def run() -> str:
        async with turns.turn() as turn:
            return (await advance_post(ctx, db_id, Mode.BACKGROUND, turn)).kind

    running = asyncio.create_task(run())
    await asyncio.sleep(0)  # the run takes its turn (the only one)
    async with asyncio.timeout(5), turns.turn():
        assert not running.done()  # media_publish takes a second: the run is still waiting on it
    assert await running == "published"
    assert len(await published(client)) == 1
