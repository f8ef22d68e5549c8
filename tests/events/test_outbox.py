"""The outbox and its parts on their own: recording, the feed's order under concurrent commits, held events,
the retry schedule, signing, the SSRF guard at save and at send, and the settings."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from standardwebhooks.webhooks import Webhook

from app.config import ConfigurationError, Settings
from app.crypto import TokenCipher
from app.db import create_sessionmaker, unit_of_work
from app.events import complete, record
from app.events.delivery import retry_delay
from app.events.models import Event, WebhookDelivery
from app.events.sender import PRIVATE_ADDRESS, EndpointUrlInvalid, WebhookSender, check_endpoint_url
from app.events.service import create_endpoint, read_feed
from app.events.signing import new_secret, payload_body, signed_headers
from app.events.types import AccountConnected, PostFailed
from tests.conftest import make_settings
from tests.events.receiver import Receiver


def _connected(account_id: int) -> AccountConnected:
    return AccountConnected(account_id=account_id, username=f"u{account_id}", platform_user_id="1", reconnected=False)


class TestRecord:
    async def test_the_data_must_match_the_type(self, db_session: AsyncSession) -> None:
        with pytest.raises(TypeError):
            await record(db_session, user_id="u", type="post.failed", data=_connected(1))
        with pytest.raises(TypeError):
            await record(db_session, user_id="u", type="post.exploded", data=_connected(1))

    async def test_one_delivery_per_subscribed_enabled_endpoint(self, db_session: AsyncSession) -> None:
        cipher = TokenCipher([Fernet.generate_key().decode()])
        everything, _ = await create_endpoint(
            db_session, cipher, user_id="u", url="https://a.example/h", events=["*"], description=None
        )
        failures, _ = await create_endpoint(
            db_session, cipher, user_id="u", url="https://b.example/h", events=["post.failed"], description=None
        )
        paused, _ = await create_endpoint(
            db_session, cipher, user_id="u", url="https://c.example/h", events=["*"], description=None
        )
        paused.enabled = False
        await create_endpoint(
            db_session, cipher, user_id="other", url="https://d.example/h", events=["*"], description=None
        )
        await db_session.flush()
        event = await record(db_session, user_id="u", type="account.connected", data=_connected(7))
        assert event.ordering_key == "account:7" and event.public_id.startswith("evt_")
        targets = (
            await db_session.scalars(select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id))
        ).all()
        assert targets == [everything.id]
        failed = PostFailed(
            db_id=3, account_id=7, account="u7", kind="feed", code="media_rejected", message="no", retryable=False
        )
        event = await record(db_session, user_id="u", type="post.failed", data=failed)
        targets = (
            await db_session.scalars(select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id))
        ).all()
        assert sorted(targets) == sorted([everything.id, failures.id])


def _endpoints_of(event: Event) -> Select[int]:
    return select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id)


class TestFeedOrder:
    async def test_an_event_that_commits_late_is_not_skipped(self, pg_database_url: str) -> None:
        """Ids are given before commit: event 1 commits after event 2 was read; the cursor still gets it."""
        engine = create_async_engine(pg_database_url)
        sessionmaker = create_sessionmaker(engine)
        user = "late_commit_user"
        try:
            async with sessionmaker() as slow:
                early = await record(slow, user_id=user, type="account.connected", data=_connected(1))
                async with unit_of_work(sessionmaker) as fast:
                    late = await record(fast, user_id=user, type="account.connected", data=_connected(2))
                assert early.id < late.id
                async with unit_of_work(sessionmaker) as reader:
                    page, cursor, _ = await read_feed(reader, user, after=0, types=[], limit=10)
                assert [e.id for e in page] == [late.id]
                await slow.commit()
            async with unit_of_work(sessionmaker) as reader:
                page, _, _ = await read_feed(reader, user, after=cursor, types=[], limit=10)
            assert [e.id for e in page] == [early.id]
        finally:
            await engine.dispose()

    async def test_a_held_event_is_listed_once_completed(self, pg_database_url: str) -> None:
        engine = create_async_engine(pg_database_url)
        sessionmaker = create_sessionmaker(engine)
        user = "held_user"
        try:
            async with unit_of_work(sessionmaker) as session:
                event = await record(
                    session, user_id=user, type="account.connected", data=_connected(3), hold=timedelta(minutes=1)
                )
            async with unit_of_work(sessionmaker) as reader:
                assert (await read_feed(reader, user, after=0, types=[], limit=10))[0] == []
            async with unit_of_work(sessionmaker) as session:
                assert await complete(session, event, username="renamed") is True
            async with unit_of_work(sessionmaker) as reader:
                (listed,), _, _ = await read_feed(reader, user, after=0, types=[], limit=10)
            assert listed.data["username"] == "renamed"
            async with unit_of_work(sessionmaker) as session:
                assert await complete(session, event, username="too late") is False
            async with sessionmaker() as session:
                stored = await session.scalar(select(Event).where(Event.id == event.id))
            assert stored is not None and stored.data["username"] == "renamed"
        finally:
            await engine.dispose()


class TestSchedule:
    def test_the_default_schedule_spans_about_three_days_and_is_jittered(self) -> None:
        schedule = Settings(_env_file=None).webhook_retry_schedule
        total = sum(schedule)
        assert timedelta(days=2.5) < timedelta(seconds=total) < timedelta(days=3.5)
        assert schedule[:7] == (5, 300, 1800, 7200, 18000, 36000, 36000)
        delays = {retry_delay(schedule, 1) or 0.0 for _ in range(50)}
        assert all(3.75 <= d <= 6.25 for d in delays) and len(delays) > 1
        assert retry_delay(schedule, len(schedule) + 1) is None

    def test_settings(self) -> None:
        raw: Any = "1, 2,3"  # as the environment gives it
        assert Settings(_env_file=None, webhook_retry_schedule=raw).webhook_retry_schedule == (1, 2, 3)
        with pytest.raises(ValueError, match="WEBHOOK_RETRY_SCHEDULE"):
            Settings(_env_file=None, webhook_retry_schedule=(1.0, -2.0))
        production = make_settings(
            "sqlite+aiosqlite://",
            app_env="production",
            jwt_secret="p" * 40,
            instagram_app_id="1",
            instagram_app_secret="real-secret",
            synthetic_media=False,
            webhook_allow_loopback=True,
        )
        with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_LOOPBACK"):
            production.check_production()


class TestSigning:
    def test_every_secret_in_force_verifies_and_a_stranger_does_not(self) -> None:
        old, new = new_secret(), new_secret()
        body = payload_body({"id": "evt_1", "type": "post.failed", "data": {"message": "café"}})
        headers = signed_headers("evt_1", datetime.now(UTC), body, [new, old])
        assert headers["webhook-id"] == "evt_1"
        for secret in (old, new):
            assert Webhook(secret).verify(body, headers)["data"]["message"] == "café"
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(new_secret()).verify(body, headers)


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


class TestGuard:
    async def test_at_save_every_address_must_be_public(self) -> None:
        settings = make_settings("sqlite+aiosqlite://")
        resolve = _resolver({"good.test": ["93.184.216.34"], "mixed.test": ["93.184.216.34", "10.0.0.7"]})
        await check_endpoint_url("https://good.test/hook", settings, resolve)
        with pytest.raises(EndpointUrlInvalid, match="private or internal"):
            await check_endpoint_url("https://mixed.test/hook", settings, resolve)
        with pytest.raises(EndpointUrlInvalid, match="could not be resolved"):
            await check_endpoint_url("https://nowhere.test/hook", settings, resolve)
        loopback_ok = make_settings("sqlite+aiosqlite://", webhook_allow_loopback=True)
        await check_endpoint_url("http://127.0.0.1:9/hook", loopback_ok)
        with pytest.raises(EndpointUrlInvalid):
            await check_endpoint_url("http://127.0.0.1:9/hook", settings)
        with pytest.raises(EndpointUrlInvalid):
            # Loopback allowed does not open the private ranges.
            await check_endpoint_url("http://10.0.0.1/hook", loopback_ok)

    async def test_at_send_the_address_is_checked_again_and_the_connection_pinned(self) -> None:
        """A host that turned private after it was saved (DNS rebinding) is refused; an allowed one is reached at
        the very address that was checked, with its own name in the Host header."""
        receiver = Receiver()
        await receiver.start()
        try:
            table = {"rebound.test": ["10.0.0.9"], "hooks.test": ["127.0.0.1"]}
            sender = WebhookSender(
                make_settings("sqlite+aiosqlite://", webhook_allow_loopback=True), resolve=_resolver(table)
            )
            try:
                refused = await sender.send(f"http://rebound.test:{receiver.port}/hooks", "{}", {})
                assert refused.error == PRIVATE_ADDRESS and refused.status_code is None
                assert receiver.receipts == []
                reached = await sender.send(f"http://hooks.test:{receiver.port}/hooks", "{}", {})
                assert reached.ok and reached.status_code == 200
                assert receiver.receipts[0].headers["host"] == f"hooks.test:{receiver.port}"
                receiver.status = 302
                redirected = await sender.send(f"http://hooks.test:{receiver.port}/hooks", "{}", {})
                assert redirected.error is not None and "redirects are not followed" in redirected.error
                await receiver.stop()
                down = await sender.send(f"http://hooks.test:{receiver.port}/hooks", "{}", {})
                assert down.outcome == "network_error"
            finally:
                await sender.aclose()
        finally:
            await receiver.stop()

    def test_the_rule_keeps_private_ranges_closed_when_loopback_is_allowed(self) -> None:
        from app.events.sender import forbidden_rule

        rule = forbidden_rule(allow_loopback=True)
        assert not rule(ipaddress.ip_address("127.0.0.1")) and not rule(ipaddress.ip_address("::1"))
        assert rule(ipaddress.ip_address("10.0.0.1")) and rule(ipaddress.ip_address("169.254.169.254"))
        assert forbidden_rule(allow_loopback=False)(ipaddress.ip_address("127.0.0.1"))


async def test_key_rotation_reencrypts_the_signing_secrets(db_session: AsyncSession) -> None:
    from app.events.service import reencrypt_secrets, rotate_secret

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    endpoint, secret = await create_endpoint(
        db_session, TokenCipher([old_key]), user_id="u", url="https://a.example/h", events=["*"], description=None
    )
    rotate_secret(endpoint, TokenCipher([old_key]))
    both = TokenCipher([new_key, old_key])
    assert await reencrypt_secrets(db_session, both) == 1
    only_new = TokenCipher([new_key])
    assert only_new.decrypt(endpoint.previous_secret_encrypted or "") == secret
    assert only_new.decrypt(endpoint.secret_encrypted).startswith("whsec_")
