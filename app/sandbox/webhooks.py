"""Webhooks as Meta sends them to an Instagram-Login app: the verification handshake, event payloads (flat,
`changes[]` and `messaging[]` envelopes), signed and batched deliveries, retries with exponential backoff on the
sandbox clock, and a delivery log.

The emitter is a background task owned by the sandbox: started by the app's lifespan when the sandbox is the
top-level app, or on first use when it is mounted (mounted apps get no lifespan events), and cancelled by
`Sandbox.aclose()`. Everything runs on the sandbox's event loop; a lock keeps the worker and
`POST /control/webhooks/flush` from sending one delivery twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import random
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from app.sandbox.models import Media, User
from app.sandbox.outbound import OutboundHttp, describe_failure
from app.sandbox.profiles import digest_int

logger = logging.getLogger(__name__)

# The fields an Instagram-Login app can subscribe to (`POST /me/subscribed_apps?subscribed_fields=`).
IG_LOGIN_FIELDS: tuple[str, ...] = (
    "comments",
    "live_comments",
    "messages",
    "message_reactions",
    "message_echoes",
    "messaging_postbacks",
    "messaging_seen",
    "messaging_referral",
    "messaging_optins",
    "messaging_handover",
    "standby",
)
# Facebook-Login (Page-linked) only: on graph.instagram.com they are unknown fields.
FB_LOGIN_ONLY_FIELDS = frozenset({"mentions", "story_insights"})
CONTENT_FIELDS = frozenset({"comments", "live_comments"})
MESSAGING_FIELDS = frozenset(IG_LOGIN_FIELDS) - CONTENT_FIELDS

Envelope = Literal["flat", "changes", "messaging"]
Outcome = Literal["delivered", "retrying", "dropped"]

MAX_BATCH_ENTRIES = 1000
DEFAULT_RETRY_SECONDS = 36 * 3600.0
DEFAULT_INITIAL_BACKOFF_SECONDS = 5.0
LOG_LIMIT = 1000
# The worker re-checks at least this often even when nothing wakes it.
IDLE_RECHECK_SECONDS = 60.0


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


# --- signatures -----------------------------------------------------------------------------------


def signature_256(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_sha1(secret: str, body: bytes) -> str:
    """`X-Hub-Signature` (the legacy SHA-1 header Meta still sends alongside)."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode_body(entries: list[dict[str, Any]]) -> bytes:
    """The delivery body: compact JSON, non-ASCII escaped (`\\u00e9`) as Meta sends it."""
    return json.dumps({"object": "instagram", "entry": entries}, separators=(",", ":")).encode("ascii")


# --- event values and envelopes -------------------------------------------------------------------

_PEOPLE = ("ana.souza", "mika.travels", "the_daily_brew", "leo.martin", "sofia_creates", "kenji.photo")
_COMMENT_TEXTS = (
    "Love this! 😍",
    "Where was this taken?",
    "Great tips, thanks for sharing 🙌",
    "🔥🔥🔥",
    "Can't wait for the next one",
    "How much is it? DM me please",
)
_MESSAGE_TEXTS = (
    "Hi! Is this still available?",
    "Do you ship internationally?",
    "Thanks for the quick answer 🙏",
    "What are your opening hours?",
)


def scoped_id(username: str) -> str:
    """A stable Instagram-scoped id (16 digits) for a person who comments or writes to the account."""
    return str(10**15 + digest_int("igsid", username) % (9 * 10**15))


def _message_id(ig_user_id: str) -> str:
    """Like Instagram's message ids: base64 of `ig_message_item:…` (so they start with `aWdf`)."""
    raw = f"ig_message_item:1:IGMessageThread:{ig_user_id}:{secrets.randbelow(10**18)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def default_value(
    field: str, user: User, media: Media | None, *, timestamp: float, base_id: int, seq: int, app_id: str
) -> dict[str, Any]:
    """A plausible `value` (or `messaging[]` item) for one event; `seq` orders the events of one request."""
    person = _PEOPLE[(base_id + seq) % len(_PEOPLE)]
    if field in CONTENT_FIELDS:
        if field == "live_comments":
            target = {"id": str(17_900_000_000_000_000 + base_id % 10**14), "media_product_type": "LIVE"}
        elif media is not None:
            target = {"id": media.id, "media_product_type": media.product_type}
        else:
            target = {"id": str(17_900_000_000_000_000 + base_id % 10**14), "media_product_type": "FEED"}
        return {
            "from": {"id": scoped_id(person), "username": person},
            "media": target,
            # Comment ids grow with time, like Instagram's: the events of one request are in increasing order.
            "id": str(18_000_000_000_000_000 + base_id % 10**15 + seq),
            "text": _COMMENT_TEXTS[(base_id + seq) % len(_COMMENT_TEXTS)],
        }
    millis = int(timestamp * 1000) + seq
    sender, recipient = {"id": scoped_id(person)}, {"id": user.ig_id}
    mid = _message_id(user.ig_id)
    item: dict[str, Any] = {"sender": sender, "recipient": recipient, "timestamp": millis}
    text = _MESSAGE_TEXTS[(base_id + seq) % len(_MESSAGE_TEXTS)]
    match field:
        case "message_echoes":
            item["sender"], item["recipient"] = recipient, sender
            item["message"] = {"mid": mid, "text": "Thanks for your message! We'll answer soon.", "is_echo": True}
        case "message_reactions":
            item["reaction"] = {"mid": mid, "action": "react", "reaction": "love", "emoji": "❤"}
        case "messaging_postbacks":
            item["postback"] = {"mid": mid, "title": "Get started", "payload": "GET_STARTED"}
        case "messaging_seen":
            item["read"] = {"mid": mid}
        case "messaging_referral":
            item["referral"] = {"ref": "sandbox", "source": "SHORTLINK", "type": "OPEN_THREAD"}
        case "messaging_optins":
            item["optin"] = {
                "type": "notification_messages",
                "payload": "sandbox-optin",
                "notification_messages_token": secrets.token_urlsafe(24),
                "notification_messages_frequency": "DAILY",
                "notification_messages_timezone": "UTC",
                "token_expiry_timestamp": millis + 180 * 86400 * 1000,
            }
        case "messaging_handover":
            item["pass_thread_control"] = {"new_owner_app_id": app_id, "metadata": "handed over by the sandbox"}
        case _:  # messages, standby
            item["message"] = {"mid": mid, "text": text}
    return item


def make_entry(
    ig_user_id: str, field: str, value: dict[str, Any], envelope: Envelope, timestamp: float
) -> dict[str, Any]:
    """One `entry[]` item: flat (`field`, `value`), `changes[{field, value}]` or `messaging[value]`.

    `time` is Unix seconds, except in the messaging envelope where Meta sends milliseconds.
    """
    if envelope == "flat":
        return {"id": ig_user_id, "time": int(timestamp), "field": field, "value": value}
    if envelope == "changes":
        return {"id": ig_user_id, "time": int(timestamp), "changes": [{"field": field, "value": value}]}
    return {"id": ig_user_id, "time": int(timestamp * 1000), "messaging": [value]}


def new_base_id() -> int:
    return secrets.randbelow(10**15)


# --- configuration, deliveries, attempts ----------------------------------------------------------


@dataclass(slots=True)
class WebhookConfig:
    """What the App Dashboard's Webhooks product holds for the app."""

    callback_url: str
    verify_token: str
    secret: str | None  # None: the app secret
    retry_seconds: float
    initial_backoff_seconds: float
    verified_at: str

    def describe(self) -> dict[str, Any]:
        return {
            "callback_url": self.callback_url,
            "verify_token": self.verify_token,
            "signing_secret": "app_secret" if self.secret is None else "custom",
            "retry_seconds": self.retry_seconds,
            "initial_backoff_seconds": self.initial_backoff_seconds,
            "verified_at": self.verified_at,
        }


@dataclass(slots=True)
class Delivery:
    """One POST body (≤ 1000 entries) on its way to the callback URL, with its retry schedule."""

    id: str
    seq: int
    entries: list[dict[str, Any]]
    created_at: float
    next_attempt_at: float
    retry_seconds: float
    initial_backoff_seconds: float
    duplicate: bool = False
    attempts: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "delivery_id": self.id,
            "entries": len(self.entries),
            "duplicate": self.duplicate,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "gives_up_after": iso(self.created_at + self.retry_seconds),
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to the callback URL, as the delivery log shows it."""

    delivery_id: str
    attempt: int
    time: float
    entries: int
    duplicate: bool
    status: int | None
    error: str | None
    outcome: Outcome
    next_attempt_at: float | None

    def describe(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "attempt": self.attempt,
            "time": iso(self.time),
            "entries": self.entries,
            "duplicate": self.duplicate,
            "status": self.status,
            "error": self.error,
            "outcome": self.outcome,
            "next_attempt_at": None if self.next_attempt_at is None else iso(self.next_attempt_at),
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of the `hub.challenge` handshake."""

    ok: bool
    challenge: str
    status: int | None
    body: str | None
    problem: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"challenge": self.challenge, "status": self.status, "body": self.body}


def _shuffled(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries in another order (reversed if the shuffle happened to keep them in order)."""
    order = list(range(len(entries)))
    if len(order) < 2:
        return list(entries)
    random.shuffle(order)
    if order == sorted(order):
        order.reverse()
    return [entries[i] for i in order]


class WebhookEmitter:
    """The app's webhook configuration, the deliveries waiting to be sent, the delivery log and the worker."""

    def __init__(self, *, clock: Callable[[], float], outbound: OutboundHttp, app_secret: str) -> None:
        self._clock = clock
        self._outbound = outbound
        self._app_secret = app_secret
        self.config: WebhookConfig | None = None
        self.pending: dict[str, Delivery] = {}
        self.log: deque[Attempt] = deque(maxlen=LOG_LIMIT)
        self._seq = 0
        # Bumped by reset and removal: an attempt in flight then leaves no trace.
        self._generation = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # --- configuration ----------------------------------------------------------------------------

    async def verify(self, callback_url: str, verify_token: str) -> Verification:
        """`GET <callback>?hub.mode=subscribe&hub.challenge=<int>&hub.verify_token=<token>`, as Meta does."""
        challenge = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        prefix = "The URL couldn't be validated. "
        try:
            response = await self._outbound.client().get(callback_url, params=params)
        except Exception as exc:  # any failure to get an answer (network, timeout, a crashing in-process app)
            problem = f"{prefix}Callback verification failed with the following errors: {describe_failure(exc)}"
            return Verification(False, challenge, None, None, problem)
        body = response.text[:500]
        if response.status_code != 200:
            problem = (
                f"{prefix}Callback verification failed with the following errors: HTTP Status Code = "
                f"{response.status_code}; HTTP Message = {response.reason_phrase or 'unknown'}"
            )
            return Verification(False, challenge, response.status_code, body, problem)
        if response.text != challenge:
            problem = f'{prefix}Response does not match challenge, expected value="{challenge}", received="{body}"'
            return Verification(False, challenge, response.status_code, body, problem)
        return Verification(True, challenge, response.status_code, body)

    def configure(self, config: WebhookConfig) -> None:
        """Keep a verified configuration; deliveries still pending go to the new URL."""
        self.config = config
        self.start()
        self.wake()

    def remove(self) -> int:
        """Forget the configuration and drop the pending deliveries (how many)."""
        dropped = len(self.pending)
        self.config = None
        self.pending.clear()
        self._generation += 1
        return dropped

    def reset(self) -> None:
        """`POST /control/reset`: no configuration, nothing pending, an empty log."""
        self.remove()
        self.log.clear()
        self.wake()

    # --- queueing ---------------------------------------------------------------------------------

    def enqueue(
        self, entries: list[dict[str, Any]], *, duplicate: bool = False, out_of_order: bool = False
    ) -> list[Delivery]:
        """Batch the entries (≤ 1000 per POST) and queue them for now; a duplicate batch follows each one."""
        config = self.config
        if config is None:
            raise RuntimeError("no webhook configuration")
        now = self._clock()
        created: list[Delivery] = []
        for start in range(0, len(entries), MAX_BATCH_ENTRIES):
            batch = entries[start : start + MAX_BATCH_ENTRIES]
            created.append(self._add(_shuffled(batch) if out_of_order else list(batch), now, config, False))
            if duplicate:
                copies = copy.deepcopy(batch)
                created.append(self._add(_shuffled(copies) if out_of_order else copies, now, config, True))
        self.start()
        self.wake()
        return created

    def _add(self, entries: list[dict[str, Any]], now: float, config: WebhookConfig, duplicate: bool) -> Delivery:
        self._seq += 1
        delivery = Delivery(
            id=f"delivery-{self._seq}-{secrets.token_hex(3)}",
            seq=self._seq,
            entries=entries,
            created_at=now,
            next_attempt_at=now,
            retry_seconds=config.retry_seconds,
            initial_backoff_seconds=config.initial_backoff_seconds,
            duplicate=duplicate,
        )
        self.pending[delivery.id] = delivery
        return delivery

    # --- delivering -------------------------------------------------------------------------------

    async def deliver_due(self) -> list[Attempt]:
        """Send every delivery due now on the sandbox clock (once each); the attempts made."""
        async with self._lock:
            generation = self._generation
            now = self._clock()
            due = sorted(
                (d for d in self.pending.values() if d.next_attempt_at <= now),
                key=lambda d: (d.next_attempt_at, d.seq),
            )
            attempts: list[Attempt] = []
            for delivery in due:
                config = self.config
                if config is None or generation != self._generation:
                    break
                attempt = await self._attempt(delivery, config, generation)
                if attempt is not None:
                    attempts.append(attempt)
            return attempts

    async def _attempt(self, delivery: Delivery, config: WebhookConfig, generation: int) -> Attempt | None:
        body = encode_body(delivery.entries)
        secret = config.secret or self._app_secret
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_256(secret, body),
            "X-Hub-Signature": signature_sha1(secret, body),
        }
        started = self._clock()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._outbound.client().post(config.callback_url, content=body, headers=headers)
            status = response.status_code
        except Exception as exc:  # network errors, timeouts, an in-process app that raised
            error = describe_failure(exc)
        if generation != self._generation or self.pending.get(delivery.id) is not delivery:
            return None  # reset or removed meanwhile
        delivery.attempts += 1
        next_at: float | None = None
        outcome: Outcome
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
            del self.pending[delivery.id]
        else:
            if status is not None:
                error = f"HTTP {status}"
            candidate = started + delivery.initial_backoff_seconds * 2 ** (delivery.attempts - 1)
            if candidate > delivery.created_at + delivery.retry_seconds:
                outcome = "dropped"
                del self.pending[delivery.id]
            else:
                outcome = "retrying"
                next_at = candidate
                delivery.next_attempt_at = candidate
        attempt = Attempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            time=started,
            entries=len(delivery.entries),
            duplicate=delivery.duplicate,
            status=status,
            error=error,
            outcome=outcome,
            next_attempt_at=next_at,
        )
        self.log.append(attempt)
        return attempt

    # --- the worker -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker on the current event loop (no-op when it already runs there)."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._task = loop.create_task(self._run(), name="sandbox-webhook-emitter")

    def wake(self) -> None:
        """Something changed (an event, the clock, the configuration): re-check what is due."""
        self._wake.set()

    def _seconds_until_due(self) -> float | None:
        if not self.pending or self.config is None:
            return None
        return min(d.next_attempt_at for d in self.pending.values()) - self._clock()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            delay = self._seconds_until_due()
            if delay is None or delay > 0:
                # The sandbox clock never runs slower than real time, so sleeping `delay` real seconds is enough.
                timeout = IDLE_RECHECK_SECONDS if delay is None else min(delay, IDLE_RECHECK_SECONDS)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            try:
                await self.deliver_due()
            except Exception:
                logger.exception("sandbox webhook delivery round failed")
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        """Cancel the worker (pending deliveries stay pending)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        if task.get_loop() is asyncio.get_running_loop():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def describe(self) -> dict[str, Any]:
        pending = sorted(self.pending.values(), key=lambda d: (d.next_attempt_at, d.seq))
        return {
            "configuration": None if self.config is None else self.config.describe(),
            "emitter_running": self.running,
            "pending": [d.describe() for d in pending],
            "log": [a.describe() for a in self.log],
        }
