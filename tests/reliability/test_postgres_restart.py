"""A real PostgreSQL restart under load: every answer is a success or a 503 with Retry-After, never a 500.

The cluster is the test's own (private_postgres.py), restarted with `pg_ctl restart -m fast` while four
clients read and publish: open sessions are terminated (AdminShutdown, reset connections), new ones are
refused while it is down and told "the database system is starting up" (CannotConnectNow) as it comes back.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter

import httpx
import pytest

from tests.conftest import auth_headers, make_settings, running_app
from tests.reliability.private_postgres import available, private_cluster
from tests.support import API, connect_account

pytestmark = pytest.mark.skipif(not available(), reason="needs PostgreSQL's server binaries (pg_ctl, initdb)")

RECOVERY_SECONDS = 5.0


async def test_a_restart_under_load_answers_503_never_500_and_recovers() -> None:
    with private_cluster() as cluster:
        url = await cluster.migrated_database()

        async with running_app(make_settings(url, database_pool_size=4)) as (_, client):
            account = await connect_account(client)
            statuses: Counter[tuple[str, int]] = Counter()
            unavailable: list[httpx.Response] = []
            stop = asyncio.Event()
            serial = itertools.count()

            async def one_client() -> None:
                while not stop.is_set():
                    headers = {**auth_headers(), "Idempotency-Key": uuid.uuid4().hex}
                    for name, request in (
                        ("account", client.get(f"{API}/accounts/{account['id']}", headers=auth_headers())),
                        ("posts", client.get(f"{API}/posts", headers=auth_headers())),
                        (
                            "publish",
                            client.post(
                                f"{API}/posts",
                                headers=headers,
                                json={
                                    "account_id": account["id"],
                                    "image_url": f"https://example.com/p{next(serial)}.jpg",
                                },
                            ),
                        ),
                    ):
                        response = await request
                        statuses[(name, response.status_code)] += 1
                        if response.status_code == 503:
                            unavailable.append(response)
                    await asyncio.sleep(0.02)

            clients = [asyncio.create_task(one_client()) for _ in range(4)]
            await asyncio.sleep(0.5)
            await asyncio.to_thread(cluster.restart)

            # Every request after the database is back succeeds within seconds.
            loop = asyncio.get_running_loop()
            back = loop.time()
            while (await client.get(f"{API}/accounts/{account['id']}", headers=auth_headers())).status_code != 200:
                assert loop.time() - back < RECOVERY_SECONDS, "no recovery within 5 s of the restart"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*clients)
            after = await client.get(f"{API}/posts", params={"limit": 100}, headers=auth_headers())
            assert after.status_code == 200
            # Nothing was published twice: one media per container, and no post claims another's media.
            published = (await client.get("/sandbox/control/published")).json()["data"]
            containers = [item["container_id"] for item in published]
            assert len(containers) == len(set(containers))
            media_ids = [post["post_id"] for post in after.json()["posts"] if post["post_id"]]
            assert len(media_ids) == len(set(media_ids))
            assert set(media_ids) <= {item["media_id"] for item in published}

    print(dict(statuses))  # shown with -s: how the load met the restart
    answered = {status for _, status in statuses}
    assert answered <= {200, 201, 503}, statuses
    assert unavailable, f"the restart was never seen: {statuses}"  # the test did exercise the outage
    for response in unavailable:
        assert response.json()["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
