"""`python -m app ...`: development tokens, migrations and on-demand background work."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from app.config import ConfigurationError, load_settings
from app.progress import ProgressCallback, ProgressReporter


def _token(args: argparse.Namespace) -> int:
    from app.auth.tokens import InvalidToken, issue_development_token

    settings = load_settings()
    try:
        token = issue_development_token(settings, args.sub, ttl=timedelta(hours=args.hours))
    except InvalidToken as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from app.migrations import upgrade_to_head

    upgrade_to_head(load_settings().database_url)
    print("database is at the latest schema")
    return 0


Work = Callable[[Any, ProgressCallback], Awaitable[dict[str, int]]]


async def _with_context(label: str, work: Work) -> int:
    from app.context import build_context
    from app.jobs import registry
    from app.jobs.queue import InProcessJobQueue

    settings = load_settings()
    # In sandbox mode this process reaches the running API's emulator over HTTP (PUBLIC_BASE_URL/sandbox,
    # or http://HOST:PORT/sandbox: give it the PORT that `make run` got).
    ctx = build_context(settings, jobs=InProcessJobQueue(specs=registry.JOBS), role="cli")
    progress = ProgressReporter(label)
    try:
        result = await work(ctx, progress)
    finally:
        progress.close()
        await ctx.aclose()
    print("done: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return 0


def _refresh_insights(_args: argparse.Namespace) -> int:
    from app.insights.refresh import refresh_recent

    async def work(ctx: Any, progress: ProgressCallback) -> dict[str, int]:
        return (await refresh_recent(ctx, progress=progress)).as_dict()

    return asyncio.run(_with_context("refresh-insights", work))


def _refresh_tokens(_args: argparse.Namespace) -> int:
    from app.accounts.tasks import refresh_expiring_tokens

    async def work(ctx: Any, progress: ProgressCallback) -> dict[str, int]:
        return (await refresh_expiring_tokens(ctx, progress=progress)).as_dict()

    return asyncio.run(_with_context("refresh-tokens", work))


async def rotate_token_keys(ctx: Any, progress: ProgressCallback | None = None) -> dict[str, int]:
    """Re-encrypt every stored Instagram token with the first TOKEN_ENCRYPTION_KEY."""
    from sqlalchemy import select

    from app.accounts.models import Account
    from app.db import unit_of_work

    rotated = 0
    async with unit_of_work(ctx.sessionmaker) as session:
        accounts = (await session.scalars(select(Account).where(Account.access_token_encrypted.is_not(None)))).all()
        for index, account in enumerate(accounts, start=1):
            assert account.access_token_encrypted is not None
            account.access_token_encrypted = ctx.cipher.rotate(account.access_token_encrypted)
            rotated += 1
            if progress:
                progress(index, len(accounts), f"account {account.id}")
    return {"re-encrypted": rotated}


async def rotate_keys(ctx: Any, progress: ProgressCallback | None = None) -> dict[str, int]:
    """Instagram tokens and webhook signing secrets, each re-encrypted with the first key."""
    from app.db import unit_of_work
    from app.events.service import reencrypt_secrets

    result = await rotate_token_keys(ctx, progress)
    async with unit_of_work(ctx.sessionmaker) as session:
        result["webhook secrets re-encrypted"] = await reencrypt_secrets(session, ctx.cipher)
    return result


def _rotate_keys(_args: argparse.Namespace) -> int:
    return asyncio.run(_with_context("rotate-keys", rotate_keys))


def _worker(_args: argparse.Namespace) -> int:
    from app.jobs.supervisor import run

    return run()


def _serve(_args: argparse.Namespace) -> int:
    from app.serving import serve

    # The settings are checked (and development secrets written) once, before any worker process starts.
    return serve(load_settings())


COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
    "serve": (
        "serve the API on HOST:PORT in WEB_CONCURRENCY processes (default: one per core with REDIS_URL, else 1)",
        _serve,
    ),
    "worker": ("run the background worker (arq), which rides out Redis outages (needs REDIS_URL)", _worker),
    "token": ("print a development JWT for trying the API (Swagger UI: Authorize)", _token),
    "migrate": ("bring the database to the latest schema (alembic upgrade head)", _migrate),
    "refresh-insights": (
        "refresh the insights of posts published in the last 30 days, now",
        _refresh_insights,
    ),
    "refresh-tokens": ("refresh the Instagram tokens that expire within 10 days, now", _refresh_tokens),
    "rotate-keys": (
        "re-encrypt stored tokens and webhook secrets with the first TOKEN_ENCRYPTION_KEY "
        "(then the old keys can be removed)",
        _rotate_keys,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Instagram integration service tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "token":
            command.add_argument("--sub", required=True, help="the user id the token names")
            command.add_argument("--hours", type=float, default=12.0, help="validity in hours (default 12)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
