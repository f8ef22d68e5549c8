"""Meta's callbacks across real processes: the stand-alone sandbox (Meta's side, holding the live app secret) POSTs
the signed requests over HTTP to the API under uvicorn (live mode, its own INSTAGRAM_APP_SECRET), with the arq
worker beside it, on PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import REDIS_TEST_URL, auth_headers
from tests.worker.stack import API, Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    logs = tmp_path_factory.mktemp("callbacks-stack")
    async with running_stack(pg_database_url, REDIS_TEST_URL, logs) as running:
        async with running.sandbox() as sandbox:
            urls = {"deauthorize_url": f"{running.api_url}{API}/deauthorize"}
            urls["data_deletion_url"] = f"{running.api_url}{API}/data-deletion"
            assert (await sandbox.put("/control/callbacks", json=urls)).status_code == 200
        yield running


async def _meta_sends(stack: Stack, kind: str, username: str) -> dict[str, Any]:
    async with stack.sandbox() as sandbox:
        response = await sandbox.post(f"/control/callbacks/{kind}", json={"username": username})
    assert response.status_code == 200, response.text
    callback: dict[str, Any] = response.json()["callback"]
    assert callback["error"] is None and callback["status"] == 200, callback
    return callback


async def _account(stack: Stack, sub: str, account_id: int) -> dict[str, Any]:
    async with stack.api() as api:
        listed = (await api.get(f"{API}/accounts", headers=auth_headers(sub))).json()
    [account] = [a for a in listed if a["id"] == account_id]
    return dict(account)


async def test_removing_the_app_in_instagram_disconnects_the_account(stack: Stack) -> None:
    account = await stack.connect("proc_leaving", sub="proc_alice")
    callback = await _meta_sends(stack, "deauthorize", "proc_leaving")
    assert '"accounts_disconnected":1' in callback["body"]
    after = await _account(stack, "proc_alice", account["id"])
    assert after["is_active"] is False and after["status"] == "disconnected"
    async with stack.api() as api:
        events = (
            await api.get(f"{API}/events", headers=auth_headers("proc_alice"), params={"type": "account.disconnected"})
        ).json()["events"]
    assert [e["data"]["cause"] for e in events] == ["app_removed"]


async def test_a_data_deletion_request_erases_and_answers_a_status_page(stack: Stack) -> None:
    account = await stack.connect("proc_erased", sub="proc_bob")
    async with stack.api() as api:
        posted = await api.post(
            f"{API}/posts",
            headers=auth_headers("proc_bob"),
            json={"account_id": account["id"], "image_url": "https://example.com/me.jpg", "caption": "my face"},
        )
    assert posted.status_code in (201, 202), posted.text
    db_id = posted.json()["db_id"]

    callback = await _meta_sends(stack, "data-deletion", "proc_erased")
    confirmation = callback["confirmation"]
    assert confirmation["valid"] is True, confirmation
    assert confirmation["url"].startswith(f"{stack.api_url}{API}/data-deletion/")
    async with stack.api() as api:
        status = (await api.get(confirmation["url"])).json()
        post = (await api.get(f"{API}/posts/{db_id}", headers=auth_headers("proc_bob"))).json()
    assert status["confirmation_code"] == confirmation["confirmation_code"] and status["status"] == "completed"
    assert post["caption"] is None
    after = await _account(stack, "proc_bob", account["id"])
    assert after["account_name"] == "deleted" and after["is_active"] is False
