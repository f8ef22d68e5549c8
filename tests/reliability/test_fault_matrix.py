"""The fault matrix, on real processes: two APIs and two workers (`deployment.py`) on a PostgreSQL cluster and
a Redis server of their own, every recovery setting at its default.

- PostgreSQL restarted under load: no 500; from 5 s after it is back every request succeeds; every post a
  client asked for (each Idempotency-Key, retried on 503 as a client does) exists once and is published once.
- Redis down while posts are scheduled (FAULT_REDIS_OUTAGE_SECONDS, 20 s here; `make test-faults` runs the
  90 s of the issue): no 500; every publishing request answers for its stored post; a worker started during
  the outage waits for Redis; once Redis is back (empty) every post is published and every `post.published`
  webhook delivered without the client sending anything again; both workers still run.
- A worker and an API SIGKILLed mid-publish (their `media_publish` sent): both posts are published within
  30 s, once; the client's resend (same Idempotency-Key) answers the published post.
- An Instagram 5xx storm and lost publish answers: every post published, none twice.

After each test, every post in the database is published and the sandbox published each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import auth_headers
from tests.events.receiver import Receiver
from tests.reliability import private_postgres, private_redis
from tests.reliability.deployment import APIS, WORKERS, Deployment
from tests.support import future
from tests.worker.stack import API

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (private_postgres.available() and private_redis.available()),
        reason="needs PostgreSQL's server binaries and redis-server",
    ),
]

REDIS_OUTAGE_SECONDS = float(os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "20"))
RECOVERY_SECONDS = 5.0
KILL_RECOVERY_SECONDS = 30.0
# What a client resends with the same Idempotency-Key: a passing failure, by its answer.
PASSING = {502, 503}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    logs = tmp_path_factory.mktemp("fault-matrix")
    with private_postgres.private_cluster() as cluster, private_redis.private_redis() as redis:
        database_url = await cluster.migrated_database()
        redis.start()
        deployment = Deployment(database_url=database_url, redis_url=redis.url, logs=logs)
        deployment.cluster, deployment.redis = cluster, redis
        names = ("sandbox", *APIS, *WORKERS)
        try:
            for name in names:
                deployment.start(name)
            for name in names:
                await deployment.wait_ready(name)
            yield deployment
        finally:
            deployment.stop_all()


@dataclass
class Answers:
    """Every answer the clients got, with when its request was sent."""

    sent: list[tuple[float, str, int]] = field(default_factory=list)

    def note(self, sent_at: float, what: str, response: httpx.Response) -> None:
        self.sent.append((sent_at, what, response.status_code))

    @property
    def statuses(self) -> Counter[int]:
        return Counter(status for _, _, status in self.sent)


async def _publish(
    client: httpx.AsyncClient, answers: Answers, path: str, body: dict[str, Any], *, key: str, **headers: str
) -> dict[str, Any]:
    """POST until it succeeds, resending the same Idempotency-Key after a passing failure (as a client
    does); the final answer's body. Each post gets its own caption, as real ones have: a publish whose
    answer was lost is found among the account's media by it (never "the newest")."""
    body = {"caption": f"post {key}", **body}
    deadline = time.monotonic() + 90
    while True:
        sent_at = time.monotonic()
        response = await client.post(
            f"{API}/{path}", headers={**auth_headers(), "Idempotency-Key": key, **headers}, json=body
        )
        answers.note(sent_at, f"POST /{path}", response)
        if response.status_code not in PASSING:
            assert response.status_code in (201, 202), response.text
            answer: dict[str, Any] = response.json()
            return answer
        assert time.monotonic() < deadline, f"{key} never succeeded: {response.text}"
        await asyncio.sleep(0.2)


async def test_postgres_restarted_under_load(deployment: Deployment) -> None:
    assert deployment.cluster is not None
    # One account per client: Instagram lets an account publish 100 posts a day.
    accounts = [await deployment.connect(f"pg_load_{n}") for n in range(4)]
    account = accounts[0]
    answers = Answers()
    db_ids: dict[str, int] = {}
    stop = asyncio.Event()
    serial = itertools.count()

    async def one_client(api: str, account_id: int) -> None:
        async with deployment.client(api) as client:
            while not stop.is_set():
                sent_at = time.monotonic()
                read = await client.get(f"{API}/accounts/{account_id}", headers=auth_headers())
                answers.note(sent_at, "GET /accounts/{id}", read)
                sent_at = time.monotonic()
                answers.note(sent_at, "GET /posts", await client.get(f"{API}/posts", headers=auth_headers()))
                n = next(serial)
                key = f"pg-load-{n}"
                if n % 4 == 3:  # a reel for the workers (needs the database, Redis and a job)
                    body = {"account_id": account_id, "video_url": f"https://example.com/r{n}.mp4"}
                    answer = await _publish(client, answers, "reels", body, key=key, Prefer="respond-async")
                else:
                    body = {"account_id": account_id, "image_url": f"https://example.com/p{n}.jpg"}
                    answer = await _publish(client, answers, "posts", body, key=key)
                db_ids[key] = int(answer["db_id"])
                await asyncio.sleep(0.1)

    clients = [asyncio.create_task(one_client(api, a["id"])) for api, a in zip(APIS * 2, accounts, strict=True)]
    await asyncio.sleep(1.0)
    await asyncio.to_thread(deployment.cluster.restart)
    back = time.monotonic()
    await asyncio.sleep(RECOVERY_SECONDS)
    # From here every request succeeds at once: new ones on both APIs, besides the clients' own.
    for n, api in enumerate(APIS):
        async with deployment.client(api) as client:
            sent_at = time.monotonic()
            answers.note(sent_at, "GET /posts", await client.get(f"{API}/posts", headers=auth_headers()))
            body = {
                "account_id": account["id"],
                "image_url": f"https://example.com/after{n}.jpg",
                "caption": f"after {n}",
            }
            headers = {**auth_headers(), "Idempotency-Key": f"pg-after-{n}"}
            after = await client.post(f"{API}/posts", headers=headers, json=body)
            answers.note(sent_at, "POST /posts", after)
            db_ids[f"pg-after-{n}"] = int(after.json()["db_id"])
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*clients)

    print("answers during the restart:", dict(answers.statuses))  # shown with -s
    assert set(answers.statuses) <= {200, 201, 202, 503}, answers.statuses
    assert answers.statuses[503] > 0, "the restart was never seen"
    late = [(round(at - back, 2), what, status) for at, what, status in answers.sent if at >= back + RECOVERY_SECONDS]
    assert [entry for entry in late if entry[2] >= 300] == [], "a request failed 5 s after the database was back"
    # Each post asked for exists once (a retried key never made a second one) and is published once.
    assert len(set(db_ids.values())) == len(db_ids)
    await deployment.wait_published(sorted(db_ids.values()), timeout=60)
    assert await deployment.assert_exactly_once() == len(db_ids)


async def test_redis_down_while_posts_are_scheduled(deployment: Deployment) -> None:
    assert deployment.redis is not None
    account = await deployment.connect("redis_outage")
    receiver = Receiver()
    await receiver.start()
    answers = Answers()
    db_ids: list[int] = []
    try:
        async with deployment.client("api-1") as first:
            endpoint = await first.post(
                f"{API}/webhooks", headers=auth_headers(), json={"url": receiver.url, "events": ["post.published"]}
            )
        assert endpoint.status_code == 201, endpoint.text
        receiver.secrets.append(endpoint.json()["secret"])

        def scheduled(n: int, seconds: float) -> dict[str, Any]:
            image = f"https://example.com/s{n}.jpg"
            when = future(seconds=seconds)
            return {"account_id": account["id"], "image_url": image, "caption": f"s{n}", "scheduled_at": when}

        # Scheduled before the outage: their jobs are in Redis, which comes back empty.
        for n, api in enumerate(APIS * 2):
            async with deployment.client(api) as client:
                when = REDIS_OUTAGE_SECONDS / 2 if n < 2 else REDIS_OUTAGE_SECONDS + 3
                db_ids.append(
                    int((await _publish(client, answers, "posts", scheduled(n, when), key=f"before-{n}"))["db_id"])
                )

        deployment.redis.stop()
        outage_started = time.monotonic()
        requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
            ("posts", scheduled(10, REDIS_OUTAGE_SECONDS * 0.75), {}),
            ("posts", scheduled(11, REDIS_OUTAGE_SECONDS + 3), {}),
            (
                "posts",
                {"account_id": account["id"], "image_url": "https://example.com/a.jpg", "caption": "async"},
                {"Prefer": "respond-async"},
            ),
            ("reels", {"account_id": account["id"], "video_url": "https://example.com/r.mp4", "caption": "reel"}, {}),
            (
                "stories",
                {"account_id": account["id"], "image_url": "https://example.com/t.jpg"},
                {"Prefer": "respond-async"},
            ),
        ]
        for n, (path, body, headers) in enumerate(requests):
            async with deployment.client(APIS[n % 2]) as client:
                sent_at = time.monotonic()
                response = await client.post(f"{API}/{path}", headers={**auth_headers(), **headers}, json=body)
                answers.note(sent_at, f"POST /{path}", response)
            assert response.status_code == 202, response.text  # stored: the post exists, whatever Redis does
            assert response.json()["status"] in ("scheduled", "pending")
            db_ids.append(int(response.json()["db_id"]))
        async with deployment.client("api-2") as client:
            inline = await client.post(
                f"{API}/posts",
                headers=auth_headers(),
                json={"account_id": account["id"], "image_url": "https://example.com/now.jpg", "caption": "now"},
            )
            answers.note(time.monotonic(), "POST /posts", inline)
            assert inline.status_code == 201, inline.text  # published inside the request: no Redis needed
            db_ids.append(int(inline.json()["db_id"]))
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("down"), ready.text

        # A worker (re)started while Redis is down waits for it instead of exiting.
        deployment.kill("worker-2")
        deployment.start("worker-2")
        await deployment.wait_until_logged("worker-2", "redis unreachable at start-up")
        await deployment.wait_until_logged("worker-1", "redis connection lost")
        await asyncio.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        assert all(deployment.alive(name) for name in WORKERS), "a worker exited while Redis was down"
        # Nothing but the inline post was published meanwhile: what follows is the sweepers' doing.
        assert all(s["status"] != "published" for s in (await deployment.states(db_ids[:-1])).values())

        deployment.redis.start()
        for name in WORKERS:
            await deployment.wait_until_logged(name, "redis is back")
        took = await deployment.wait_published(db_ids, timeout=REDIS_OUTAGE_SECONDS + 60)
        print(f"{len(db_ids)} posts published {took:.1f} s after Redis came back")  # shown with -s
        await receiver.wait_for(
            lambda receipts: (
                {r.payload["data"]["db_id"] for r in receipts if r.type == "post.published"} >= set(db_ids)
            ),
            timeout=60,
        )
        assert all(receipt.verified_by for receipt in receiver.receipts)
        assert all(deployment.alive(name) for name in WORKERS)
        for api in APIS:
            async with deployment.client(api) as client:
                ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["worker"] == "ok", ready.text
        assert set(answers.statuses) <= {201, 202}, answers.statuses
        await deployment.assert_exactly_once()
    finally:
        await receiver.stop()


async def test_a_worker_and_an_api_killed_mid_publish(deployment: Deployment) -> None:
    """A reel's worker and an API publishing a feed post inline are SIGKILLed while their `media_publish` is at
    Instagram; Instagram completes both calls. A live worker takes both posts over and records them."""
    account = await deployment.connect("killed")
    async with deployment.sandbox() as sandbox:
        armed = await sandbox.post("/control/holds", json={"endpoint": "media_publish", "count": 2})
        assert armed.status_code == 201, armed.text
        async with deployment.client("api-1") as client:
            body = {"account_id": account["id"], "video_url": "https://example.com/killed.mp4"}
            answer = await _publish(client, Answers(), "reels", body, key="killed", Prefer="respond-async")
        reel = int(answer["db_id"])
        inline = {"account_id": account["id"], "image_url": "https://example.com/killed.jpg", "caption": "cut short"}
        headers = {**auth_headers(), "Idempotency-Key": "killed-api"}

        async def cut_short() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the API dies under the request
                async with deployment.client("api-2") as client:
                    await client.post(f"{API}/posts", headers=headers, json=inline)

        request = asyncio.create_task(cut_short())

        async def both_held() -> bool:
            return len((await sandbox.get("/control/holds")).json()["held"]) == 2

        await deployment.wait_until(both_held, timeout=60)
        (runner,) = [name for name in WORKERS if _running_job(deployment.log_since_start(name), f"publish:{reel}")]
        deployment.kill(runner)
        deployment.kill("api-2")
        killed_at = time.monotonic()
        await request
        # Instagram goes on with the calls the dead processes sent.
        released = await sandbox.post("/control/holds/release", json={"all": True})
        assert released.status_code < 300

    async with deployment.client("api-1") as client:
        listed = await client.get(f"{API}/posts", params={"account_id": account["id"]}, headers=auth_headers())
        (post,) = [p for p in listed.json()["posts"] if p["kind"] == "feed"]
        await deployment.wait_published([reel, post["db_id"]], timeout=KILL_RECOVERY_SECONDS)
        took = time.monotonic() - killed_at
        print(f"published {took:.1f} s after the kills")  # shown with -s
        assert took <= KILL_RECOVERY_SECONDS
        # The client resends what it got no answer to: the same post, as published.
        resent = await client.post(f"{API}/posts", headers=headers, json=inline)
    assert resent.status_code == 201, resent.text
    assert resent.json()["db_id"] == post["db_id"] and resent.headers["Idempotent-Replayed"] == "true"
    assert len(await deployment.published("killed")) == 2
    for name in (runner, "api-2"):
        deployment.start(name)
        await deployment.wait_ready(name)
    await deployment.assert_exactly_once()


def _running_job(log: str, job_id: str) -> bool:
    """Whether the worker's log shows the job started and not yet ended (arq logs `→ <job id>:<function>(…)` as a
    job starts, `←` or `↻` as it ends or is deferred: a reel's job hops between workers while it polls)."""
    lines = [line for line in log.splitlines() if f"{job_id}:" in line]
    return bool(lines) and "→" in lines[-1]


async def test_an_instagram_5xx_storm_and_lost_publish_answers(deployment: Deployment) -> None:
    account = await deployment.connect("storm")
    faults = [
        {"endpoint": "media_create", "kind": "server_error", "count": 4},
        {"endpoint": "object_get", "kind": "server_error", "count": 4},
        {"endpoint": "media_publish", "kind": "server_error", "count": 2},
        {"endpoint": "media_publish", "kind": "response_lost", "mode": "error", "count": 3},
        {"endpoint": "media_list", "kind": "server_error", "count": 2},
    ]
    async with deployment.sandbox() as sandbox:
        for fault in faults:
            armed = await sandbox.post("/control/faults", json=fault)
            assert armed.status_code == 201, armed.text
    answers = Answers()

    async def one(n: int) -> int:
        async with deployment.client(APIS[n % 2]) as client:
            if n % 5 == 4:
                body: dict[str, Any] = {"account_id": account["id"], "video_url": f"https://example.com/v{n}.mp4"}
                answer = await _publish(client, answers, "reels", body, key=f"storm-{n}", Prefer="respond-async")
            elif n % 5 == 3:
                items = [{"image_url": f"https://example.com/c{n}-{i}.jpg"} for i in range(2)]
                body = {"account_id": account["id"], "items": items}
                answer = await _publish(client, answers, "carousels", body, key=f"storm-{n}")
            else:
                body = {"account_id": account["id"], "image_url": f"https://example.com/f{n}.jpg"}
                answer = await _publish(client, answers, "posts", body, key=f"storm-{n}")
            return int(answer["db_id"])

    db_ids = await asyncio.gather(*(one(n) for n in range(10)))
    await deployment.wait_published(list(db_ids), timeout=90)
    print("answers in the storm:", dict(answers.statuses))  # shown with -s
    assert 500 not in answers.statuses, answers.statuses
    async with deployment.sandbox() as sandbox:
        assert (await sandbox.get("/control/faults")).json()["faults"] == [], "every fault was met"
    assert len(await deployment.published("storm")) == len(db_ids)
    await deployment.assert_exactly_once()
