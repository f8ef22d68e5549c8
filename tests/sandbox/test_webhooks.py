"""Webhooks (subscribed_apps, the handshake, signed and batched deliveries, retries on the sandbox clock) and the
deauthorize and data-deletion callbacks, driven over plain HTTP.

The app's receiver is either an in-process ASGI app reached through the sandbox's `fetch_transport` seam (any
host name: nothing leaves the process) or a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.sandbox import create_sandbox_app

from .helpers import BASE_URL, GRAPH, SANDBOX, error_of, make_settings

SETTINGS = make_settings()
APP_SECRET = SETTINGS.app_secret
HOOK_URL = "https://service.test/hooks/instagram"
DEAUTH_URL = "https://service.test/instagram/deauthorize"
DELETION_URL = "https://service.test/instagram/data-deletion"
VERIFY_TOKEN = "let-me-in"
DROP = 0  # a scripted status meaning "no HTTP answer" (connection dropped / the app raised)


# --- the app's side: a receiver usable in-process (ASGI) or over loopback ---------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers the handshake, records every call, and answers POSTs with scripted statuses (200 when none)."""

    handshake: str = "echo"  # echo | wrong | forbidden
    statuses: list[int] = field(default_factory=list)
    deletion_answer: Any = field(
        default_factory=lambda: {"url": "https://service.test/deletion?id=42", "confirmation_code": "del-42"}
    )
    calls: list[Received] = field(default_factory=list)

    def handle(self, request: Received) -> tuple[int, str, bytes] | None:
        self.calls.append(request)
        if request.method == "GET":
            if self.handshake == "forbidden" or request.query.get("hub.verify_token") != VERIFY_TOKEN:
                return 403, "text/plain", b"Forbidden"
            challenge = request.query.get("hub.challenge", "")
            if self.handshake == "wrong":
                return 200, "application/json", json.dumps({"challenge": challenge}).encode()
            return 200, "text/plain", challenge.encode()
        if request.path.endswith("/data-deletion"):
            if isinstance(self.deletion_answer, str):
                return 200, "text/plain", self.deletion_answer.encode()
            return 200, "application/json", json.dumps(self.deletion_answer).encode()
        if request.path.endswith("/deauthorize"):
            return 200, "text/plain", b"ok"
        status = self.statuses.pop(0) if self.statuses else 200
        if status == DROP:
            return None
        return status, "text/plain", b"EVENT_RECEIVED" if status < 300 else b"not now"

    @property
    def posts(self) -> list[Received]:
        return [c for c in self.calls if c.method == "POST" and c.path.startswith("/hooks/")]

    def asgi(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            received = Received(
                request.method,
                request.url.path,
                dict(request.query_params.items()),
                {k.lower(): v for k, v in request.headers.items()},
                await request.body(),
            )
            answer = self.handle(received)
            if answer is None:
                raise ConnectionResetError("the receiver went away")
            status, content_type, body = answer
            return Response(body, status_code=status, media_type=content_type)

        return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_signed_request(signed_request: str, secret: str) -> dict[str, Any]:
    encoded_signature, encoded_payload = signed_request.split(".", 1)
    expected = hmac.new(secret.encode(), encoded_payload.encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(_b64decode(encoded_signature), expected)
    payload: dict[str, Any] = json.loads(_b64decode(encoded_payload))
    return payload


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def client(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox whose outgoing calls reach the in-process receiver (the fetch_transport seam)."""
    inner = create_sandbox_app(SETTINGS, fetch_transport=httpx.ASGITransport(app=receiver.asgi()))
    outer = FastAPI()
    outer.mount("/sandbox", inner)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url=BASE_URL) as http:
        yield http
    await inner.state.sandbox.aclose()


class _LoopbackHandler(BaseHTTPRequestHandler):
    receiver: Receiver

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            self.command,
            split.path,
            {k: v[0] for k, v in parse_qs(split.query).items()},
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        answer = self.server.receiver.handle(received)  # type: ignore[attr-defined]
        if answer is None:
            self.close_connection = True
            return
        status, content_type, body = answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def loopback(receiver: Receiver) -> Iterator[str]:
    """The receiver on 127.0.0.1 (random port); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopbackHandler)
    server.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def net_client() -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox without fetch_transport: its outgoing calls use the (loopback) network."""
    inner = create_sandbox_app(SETTINGS)
    outer = FastAPI()
    outer.mount("/sandbox", inner)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url=BASE_URL) as http:
        yield http
    await inner.state.sandbox.aclose()


# --- helpers ----------------------------------------------------------------------------------------


async def ctl(client: httpx.AsyncClient, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
    response = await client.request(method, f"{SANDBOX}/control{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def account(client: httpx.AsyncClient, username: str, **extra: Any) -> tuple[str, str]:
    created = await ctl(client, "POST", "/users", {"username": username, **extra}, status=201)
    return created["access_token"], created["user_id"]


async def subscribe(client: httpx.AsyncClient, token: str, fields: str = "comments,messages") -> None:
    response = await client.post(
        f"{GRAPH}/me/subscribed_apps", params={"subscribed_fields": fields, "access_token": token}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


async def configure(client: httpx.AsyncClient, url: str = HOOK_URL, **extra: Any) -> Any:
    return await ctl(client, "PUT", "/webhooks", {"callback_url": url, "verify_token": VERIFY_TOKEN, **extra})


async def emit(client: httpx.AsyncClient, **event: Any) -> Any:
    return await ctl(client, "POST", "/webhooks/events", event)


async def flushed_log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Send what is due now, then the whole delivery log."""
    await ctl(client, "POST", "/webhooks/flush")
    log: list[dict[str, Any]] = (await ctl(client, "GET", "/webhooks"))["log"]
    return log


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    await ctl(client, "POST", "/clock", {"advance_seconds": seconds})


async def ready(client: httpx.AsyncClient, username: str = "hooked", fields: str = "comments,messages") -> str:
    """A configured webhook and a subscribed account; its user id."""
    await configure(client)
    token, user_id = await account(client, username)
    await subscribe(client, token, fields)
    return user_id


# --- subscribed_apps --------------------------------------------------------------------------------


class TestSubscribedApps:
    async def test_subscribe_read_unsubscribe(self, client: httpx.AsyncClient) -> None:
        token, user_id = await account(client, "subscriber")
        empty = await client.get(f"{GRAPH}/me/subscribed_apps", params={"access_token": token})
        assert empty.status_code == 200 and empty.json() == {"data": []}

        await subscribe(client, token, "comments,messages")
        read = await client.get(f"{GRAPH}/me/subscribed_apps", headers={"Authorization": f"Bearer {token}"})
        assert read.json() == {"data": [{"subscribed_fields": ["comments", "messages"]}]}
        assert "x-app-usage" in read.headers

        # /{ig-user-id}/..., unversioned, JSON body: the list replaces the previous one.
        replaced = await client.post(
            f"{SANDBOX}/graph/{user_id}/subscribed_apps",
            json={"subscribed_fields": ["messages", "message_reactions", "messages"], "access_token": token},
        )
        assert replaced.json() == {"success": True}
        read = await client.get(f"{SANDBOX}/graph/{user_id}/subscribed_apps", params={"access_token": token})
        assert read.json()["data"][0]["subscribed_fields"] == ["messages", "message_reactions"]

        # Form body.
        form = await client.post(
            f"{GRAPH}/{user_id}/subscribed_apps", data={"subscribed_fields": "comments", "access_token": token}
        )
        assert form.json() == {"success": True}
        state = await ctl(client, "GET", "/webhooks")
        assert state["subscriptions"] == [
            {"user_id": user_id, "username": "subscriber", "subscribed_fields": ["comments"]}
        ]

        deleted = await client.delete(f"{GRAPH}/me/subscribed_apps", params={"access_token": token})
        assert deleted.status_code == 200 and deleted.json() == {"success": True}
        after = await client.get(f"{GRAPH}/me/subscribed_apps", params={"access_token": token})
        assert after.json() == {"data": []}

    @pytest.mark.parametrize("fields", ["comments,bogus", "mentions", "story_insights", ""])
    async def test_bad_fields(self, client: httpx.AsyncClient, fields: str) -> None:
        token, _ = await account(client, "picky")
        response = await client.post(
            f"{GRAPH}/me/subscribed_apps", params={"subscribed_fields": fields, "access_token": token}
        )
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == 100
        if fields:
            assert "must be one of {comments, live_comments, messages" in error["message"]
        else:
            assert "subscribed_fields is required" in error["message"]
        read = await client.get(f"{GRAPH}/me/subscribed_apps", params={"access_token": token})
        assert read.json() == {"data": []}

    async def test_bad_tokens(self, client: httpx.AsyncClient) -> None:
        path = f"{GRAPH}/me/subscribed_apps"
        missing = await client.post(path, params={"subscribed_fields": "comments"})
        assert error_of(missing)["code"] == 2500
        garbage = await client.post(path, params={"subscribed_fields": "comments", "access_token": "IGAAnope.x"})
        assert (garbage.status_code, error_of(garbage)["code"]) == (400, 190)

        token, user_id = await account(client, "revoked_one")
        await ctl(client, "POST", "/revoke", {"user_id": user_id})
        revoked = await client.get(path, params={"access_token": token})
        assert (error_of(revoked)["code"], error_of(revoked)["error_subcode"]) == (190, 460)

        short, _ = await account(client, "short_lived", token_kind="short")
        await advance(client, 3601)
        expired = await client.delete(path, params={"access_token": short})
        assert (error_of(expired)["code"], error_of(expired)["error_subcode"]) == (190, 463)

        other_token, _ = await account(client, "someone_else")
        foreign = await client.post(
            f"{GRAPH}/{user_id}/subscribed_apps", params={"subscribed_fields": "comments", "access_token": other_token}
        )
        assert (error_of(foreign)["code"], error_of(foreign)["error_subcode"]) == (100, 33)


# --- the handshake ----------------------------------------------------------------------------------


class TestHandshake:
    async def test_accepted(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        answer = await configure(client, secret="meta-app-secret", retry_seconds=600, initial_backoff_seconds=2)
        handshake = receiver.calls[-1]
        assert handshake.method == "GET" and handshake.path == "/hooks/instagram"
        assert handshake.query["hub.mode"] == "subscribe"
        assert handshake.query["hub.verify_token"] == VERIFY_TOKEN
        assert handshake.query["hub.challenge"].isdigit()
        assert answer["verification"]["challenge"] == handshake.query["hub.challenge"]

        state = await client.get(f"{SANDBOX}/control/webhooks")
        config = state.json()["configuration"]
        assert config["callback_url"] == HOOK_URL and config["verify_token"] == VERIFY_TOKEN
        assert config["retry_seconds"] == 600 and config["initial_backoff_seconds"] == 2
        assert config["signing_secret"] == "custom" and "meta-app-secret" not in state.text
        assert state.json()["emitter_running"] is True

        removed = await ctl(client, "DELETE", "/webhooks")
        assert removed == {"removed": True, "dropped_pending": 0}
        assert (await ctl(client, "GET", "/webhooks"))["configuration"] is None

    async def test_wrong_challenge_refused(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        receiver.handshake = "wrong"
        refused = await ctl(
            client, "PUT", "/webhooks", {"callback_url": HOOK_URL, "verify_token": VERIFY_TOKEN}, status=400
        )
        assert "Response does not match challenge" in refused["error"]
        assert refused["verification"]["status"] == 200
        assert (await ctl(client, "GET", "/webhooks"))["configuration"] is None

    async def test_non_200_refused(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        refused = await ctl(client, "PUT", "/webhooks", {"callback_url": HOOK_URL, "verify_token": "wrong"}, status=400)
        assert "HTTP Status Code = 403" in refused["error"]
        assert refused["verification"]["status"] == 403

        # A failed re-configuration keeps the configuration that was verified before.
        await configure(client)
        receiver.handshake = "forbidden"
        await ctl(client, "PUT", "/webhooks", {"callback_url": HOOK_URL, "verify_token": VERIFY_TOKEN}, status=400)
        assert (await ctl(client, "GET", "/webhooks"))["configuration"]["callback_url"] == HOOK_URL

    async def test_unreachable_refused(self, net_client: httpx.AsyncClient) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        refused = await ctl(
            net_client,
            "PUT",
            "/webhooks",
            {"callback_url": f"http://127.0.0.1:{port}/hook", "verify_token": VERIFY_TOKEN},
            status=400,
        )
        assert "Callback verification failed" in refused["error"] and refused["verification"]["status"] is None
        bad_url = await ctl(
            net_client, "PUT", "/webhooks", {"callback_url": "ftp://x", "verify_token": "t"}, status=400
        )
        assert "http(s) URL" in bad_url["error"]


# --- deliveries -------------------------------------------------------------------------------------


class TestDelivery:
    async def test_signed_delivery_over_loopback(
        self, net_client: httpx.AsyncClient, loopback: str, receiver: Receiver
    ) -> None:
        await configure(net_client, f"{loopback}/hooks/instagram")
        token, user_id = await account(net_client, "loop_user")
        await subscribe(net_client, token, "comments")
        latest = (
            await net_client.get(f"{GRAPH}/me/media", params={"access_token": token, "fields": "id,media_product_type"})
        ).json()["data"][0]

        answer = await emit(net_client, username="loop_user", field="comments")
        assert answer["sent"] is True and answer["queued"] == 1
        log = await flushed_log(net_client)
        assert [(a["attempt"], a["status"], a["outcome"], a["entries"]) for a in log] == [(1, 200, "delivered", 1)]

        [post] = receiver.posts
        assert post.headers["content-type"] == "application/json"
        assert post.headers["x-hub-signature-256"] == _signed(APP_SECRET, post.body)
        assert post.headers["x-hub-signature-256"] != _signed("another-secret", post.body)
        payload = post.json()
        assert payload["object"] == "instagram"
        [entry] = payload["entry"]
        assert entry["id"] == user_id and isinstance(entry["time"], int)
        [change] = entry["changes"]
        assert change["field"] == "comments"
        value = change["value"]
        assert set(value) == {"id", "from", "text", "media"}
        assert value["id"].isdigit() and value["text"]
        assert set(value["from"]) == {"id", "username"}
        assert value["media"] == {"id": latest["id"], "media_product_type": latest["media_product_type"]}

    async def test_custom_secret(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        await configure(client, secret="meta-app-secret")
        token, user_id = await account(client, "meta_signed")
        await subscribe(client, token)
        await emit(client, user_id=user_id, field="messages")
        await flushed_log(client)
        [post] = receiver.posts
        assert post.headers["x-hub-signature-256"] == _signed("meta-app-secret", post.body)
        assert post.headers["x-hub-signature-256"] != _signed(APP_SECRET, post.body)

    async def test_batches_of_1000(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        user_id = await ready(client)
        answer = await emit(client, user_id=user_id, field="comments", count=1500)
        assert [d["entries"] for d in answer["deliveries"]] == [1000, 500]
        log = await flushed_log(client)
        assert sorted(a["entries"] for a in log) == [500, 1000]
        sizes = sorted(len(p.json()["entry"]) for p in receiver.posts)
        assert sizes == [500, 1000]
        ids = [e["changes"][0]["value"]["id"] for p in receiver.posts for e in p.json()["entry"]]
        assert len(set(ids)) == 1500
        assert all(p.headers["x-hub-signature-256"] == _signed(APP_SECRET, p.body) for p in receiver.posts)

    async def test_envelopes(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        user_id = await ready(client, fields="comments,messages,message_reactions")
        await emit(client, username="hooked", field="comments", envelope="flat")
        await emit(client, username="hooked", field="comments", envelope="changes")
        await emit(client, username="hooked", field="messages", envelope="messaging")
        await emit(client, username="hooked", field="message_reactions", envelope="messaging")
        custom = {"id": "17999", "text": "custom", "from": {"id": "1", "username": "x"}, "media": {"id": "2"}}
        await emit(client, username="hooked", field="comments", envelope="flat", value=custom)
        await flushed_log(client)
        entries = [p.json()["entry"][0] for p in receiver.posts]
        assert len(entries) == 5
        flat, changes, message, reaction, custom_entry = entries  # deliveries keep the emit order
        assert (
            flat["id"] == user_id
            and flat["field"] == "comments"
            and {"id", "from", "text", "media"} <= set(flat["value"])
        )
        assert "changes" not in flat
        assert changes["changes"][0]["field"] == "comments" and "field" not in changes
        item = message["messaging"][0]
        assert item["recipient"] == {"id": user_id} and item["sender"]["id"].isdigit()
        assert item["message"]["mid"].startswith("aWdf") and item["message"]["text"]
        assert message["time"] > 10**12 and abs(item["timestamp"] - message["time"]) < 10_000  # milliseconds
        assert reaction["messaging"][0]["reaction"]["action"] == "react"
        assert custom_entry["value"] == custom

        refused = await ctl(
            client,
            "POST",
            "/webhooks/events",
            {"username": "hooked", "field": "comments", "envelope": "messaging"},
            status=400,
        )
        assert "messaging fields only" in refused["error"]
        unknown = await ctl(client, "POST", "/webhooks/events", {"username": "hooked", "field": "feed"}, status=400)
        assert "unknown webhook field" in unknown["error"]

    async def test_duplicates(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        user_id = await ready(client)
        answer = await emit(client, user_id=user_id, field="comments", count=2, duplicate=True)
        assert [d["duplicate"] for d in answer["deliveries"]] == [False, True]
        log = await flushed_log(client)
        assert sorted(a["duplicate"] for a in log) == [False, True]
        first, second = (p.json()["entry"] for p in receiver.posts)
        assert first == second and len(first) == 2

    async def test_out_of_order(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        user_id = await ready(client)
        ordered = await emit(client, user_id=user_id, field="comments", count=10)
        emitted = [e["changes"][0]["value"]["id"] for e in ordered["entries"]]
        assert emitted == sorted(emitted, key=int)
        await flushed_log(client)
        received = [e["changes"][0]["value"]["id"] for e in receiver.posts[0].json()["entry"]]
        assert received == emitted

        shuffled = await emit(client, user_id=user_id, field="comments", count=10, out_of_order=True)
        emitted = [e["changes"][0]["value"]["id"] for e in shuffled["entries"]]
        await flushed_log(client)
        received = [e["changes"][0]["value"]["id"] for e in receiver.posts[1].json()["entry"]]
        assert sorted(received) == sorted(emitted) and received != emitted

    async def test_retries_with_backoff_then_success(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        await configure(client, initial_backoff_seconds=5, retry_seconds=3600)
        token, user_id = await account(client, "retried")
        await subscribe(client, token)
        receiver.statuses = [500, DROP, 200]
        await emit(client, user_id=user_id, field="messages")
        log = await flushed_log(client)
        assert [(a["attempt"], a["status"], a["outcome"]) for a in log] == [(1, 500, "retrying")]
        assert log[0]["error"] == "HTTP 500"
        # Not due yet: nothing is sent.
        assert len(await flushed_log(client)) == 1

        await advance(client, 5)
        log = await flushed_log(client)
        assert [(a["attempt"], a["status"], a["outcome"]) for a in log][1] == (2, None, "retrying")
        assert "ConnectionResetError" in log[1]["error"]
        await advance(client, 5)
        assert len(await flushed_log(client)) == 2  # the second retry waits 10 s
        await advance(client, 5)
        log = await flushed_log(client)
        assert [(a["attempt"], a["status"], a["outcome"]) for a in log] == [
            (1, 500, "retrying"),
            (2, None, "retrying"),
            (3, 200, "delivered"),
        ]
        assert (await ctl(client, "GET", "/webhooks"))["pending"] == []
        bodies = {p.body for p in receiver.posts}
        assert len(receiver.posts) == 3 and len(bodies) == 1  # the same delivery each time

    async def test_network_error_then_success_over_loopback(
        self, net_client: httpx.AsyncClient, loopback: str, receiver: Receiver
    ) -> None:
        await configure(net_client, f"{loopback}/hooks/instagram")
        token, user_id = await account(net_client, "flaky_net")
        await subscribe(net_client, token)
        receiver.statuses = [DROP]
        await emit(net_client, user_id=user_id, field="comments")
        log = await flushed_log(net_client)
        assert log[0]["status"] is None and log[0]["error"] and log[0]["outcome"] == "retrying"
        await advance(net_client, 5)
        log = await flushed_log(net_client)
        assert [a["outcome"] for a in log] == ["retrying", "delivered"]

    async def test_retries_exhausted_then_dropped(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        await configure(client, initial_backoff_seconds=5, retry_seconds=30)
        token, user_id = await account(client, "unlucky")
        await subscribe(client, token)
        receiver.statuses = [503] * 10
        await emit(client, user_id=user_id, field="comments")
        await flushed_log(client)
        await advance(client, 5)
        await flushed_log(client)
        await advance(client, 10)
        log = await flushed_log(client)
        # Attempts at +0, +5, +15 s; the next would be at +35 s, beyond the 30 s window: dropped.
        assert [(a["attempt"], a["status"], a["outcome"]) for a in log] == [
            (1, 503, "retrying"),
            (2, 503, "retrying"),
            (3, 503, "dropped"),
        ]
        assert (await ctl(client, "GET", "/webhooks"))["pending"] == []
        await advance(client, 3600)
        assert len(await flushed_log(client)) == 3
        assert len(receiver.posts) == 3

    async def test_not_sent_without_subscription(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        token, user_id = await account(client, "quiet")
        no_config = await ctl(client, "POST", "/webhooks/events", {"user_id": user_id, "field": "comments"}, status=409)
        assert "PUT /control/webhooks" in no_config["error"]
        await configure(client)

        unsubscribed = await emit(client, user_id=user_id, field="comments")
        assert unsubscribed["sent"] is False and unsubscribed["queued"] == 0
        assert "no webhook subscription" in unsubscribed["reason"]

        await subscribe(client, token, "messages")
        other_field = await emit(client, username="quiet", field="comments")
        assert other_field["sent"] is False and "'comments'" in other_field["reason"]

        await client.delete(f"{GRAPH}/me/subscribed_apps", params={"access_token": token})
        after_delete = await emit(client, username="quiet", field="messages")
        assert after_delete["sent"] is False

        assert await flushed_log(client) == []
        assert receiver.posts == []
        await ctl(client, "POST", "/webhooks/events", {"username": "nobody_here", "field": "comments"}, status=404)

    async def test_reset_forgets_webhooks(self, client: httpx.AsyncClient) -> None:
        await ready(client)
        await ctl(client, "POST", "/reset")
        state = await ctl(client, "GET", "/webhooks")
        assert state["configuration"] is None and state["subscriptions"] == [] and state["log"] == []

    async def test_emitter_runs_in_the_lifespan(self) -> None:
        app = create_sandbox_app(SETTINGS)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            assert (await http.get("/control/webhooks")).json()["emitter_running"] is True
        assert app.state.sandbox.webhooks.running is False


# --- deauthorize and data deletion ------------------------------------------------------------------


class TestCallbacks:
    async def test_deauthorize(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        urls = await ctl(
            client, "PUT", "/callbacks", {"deauthorize_url": DEAUTH_URL, "data_deletion_url": DELETION_URL}
        )
        assert urls == {"deauthorize_url": DEAUTH_URL, "data_deletion_url": DELETION_URL}
        user_id = await ready(client, username="leaving")
        token = (await ctl(client, "POST", "/users", {"username": "leaving"}, status=201))["access_token"]
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200

        answer = await ctl(client, "POST", "/callbacks/deauthorize", {"username": "leaving"})
        assert answer["user_id"] == user_id and answer["tokens_revoked"] is True
        assert answer["subscription_removed"] is True
        assert answer["callback"]["status"] == 200 and answer["callback"]["body"] == "ok"

        [call] = [c for c in receiver.calls if c.path == "/instagram/deauthorize"]
        assert call.headers["content-type"] == "application/x-www-form-urlencoded"
        signed_request = parse_qs(call.body.decode())["signed_request"][0]
        assert signed_request == answer["callback"]["signed_request"]
        payload = _verify_signed_request(signed_request, APP_SECRET)
        assert payload["algorithm"] == "HMAC-SHA256" and payload["user_id"] == user_id
        assert isinstance(payload["issued_at"], int)
        with pytest.raises(AssertionError):
            _verify_signed_request(signed_request, "not-the-app-secret")

        after = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert (error_of(after)["code"], error_of(after)["error_subcode"]) == (190, 460)
        gone = await emit(client, user_id=user_id, field="comments")
        assert gone["sent"] is False

    async def test_deauthorize_without_url_still_revokes(self, client: httpx.AsyncClient) -> None:
        token, user_id = await account(client, "no_url")
        answer = await ctl(client, "POST", "/callbacks/deauthorize", {"user_id": user_id})
        assert answer["callback"] is None and "no deauthorize_url" in answer["note"]
        after = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert error_of(after)["error_subcode"] == 460

    async def test_data_deletion(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        await ctl(client, "POST", "/callbacks/data-deletion", {"username": "erased"}, status=409)
        await ctl(client, "PUT", "/callbacks", {"data_deletion_url": DELETION_URL})
        token, user_id = await account(client, "erased")

        answer = await ctl(client, "POST", "/callbacks/data-deletion", {"username": "erased"})
        callback = answer["callback"]
        assert answer["user_id"] == user_id and callback["status"] == 200
        assert callback["confirmation"] == {
            "valid": True,
            "url": "https://service.test/deletion?id=42",
            "confirmation_code": "del-42",
        }
        [call] = [c for c in receiver.calls if c.path == "/instagram/data-deletion"]
        payload = _verify_signed_request(parse_qs(call.body.decode())["signed_request"][0], APP_SECRET)
        assert payload["user_id"] == user_id
        # Data deletion alone doesn't revoke anything.
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200

        receiver.deletion_answer = "deleted, thanks"
        wrong = await ctl(client, "POST", "/callbacks/data-deletion", {"user_id": user_id})
        assert wrong["callback"]["body"] == "deleted, thanks"
        assert wrong["callback"]["confirmation"] == {"valid": False, "problem": "the answer is not JSON"}
        receiver.deletion_answer = {"url": "https://service.test/d"}
        partial = await ctl(client, "POST", "/callbacks/data-deletion", {"user_id": user_id})
        assert partial["callback"]["confirmation"]["valid"] is False
        assert "confirmation_code" in partial["callback"]["confirmation"]["problem"]
