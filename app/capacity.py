"""How much one process takes on: its database pool, its Instagram connection pool, how many API processes
`python -m app serve` starts, and the start-up heap freeze. Part of `app.config.Settings` (README, "Sizing a
deployment"; `.env.example`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class CapacitySettings(BaseSettings):
    """The pools and process counts a deployment sizes (issue 8)."""

    # The PostgreSQL pool of one process: DATABASE_POOL_SIZE connections kept open, up to DATABASE_MAX_OVERFLOW
    # more under bursts (closed when returned), and a request waits at most DATABASE_POOL_TIMEOUT_SECONDS for
    # one. Read-only routes hand their connection back as soon as their query is answered (see app/db.py).
    # No overflow by default: under a steady load above the pool size, overflow connections were closed and
    # reopened continuously (GET /accounts at 50 clients: 382 → 531 req/s, 1.74 → 1.53 ms of CPU a request).
    database_pool_size: int = Field(default=30, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # The embedded SQLite's read-only work (GET /accounts, prepared media) has a pool of its own, so a read never
    # queues behind a write transaction waiting for the write lock. One connection (one aiosqlite thread) by
    # default: at 50 clients, 5 connections took GET /accounts' p99 from 29 ms to 99 ms (their threads
    # contending for the GIL) for no more throughput.
    sqlite_read_connections: int = Field(default=1, ge=1, le=64)
    # gc.freeze() once started: the objects built at start-up (modules, routes, the OpenAPI schema) leave the
    # collector's generations, so collections stay short and forked or long-lived memory is not touched
    # again. Off in tests, which build many apps in one process.
    gc_freeze_after_startup: bool = True
    # The collector's first threshold (Python's default is 700 allocations). A young collection walks every young
    # object still alive, and 50 requests in flight keep thousands alive, so at 700 the API collected every few
    # requests: 5 % of GET /accounts' CPU at 50 clients, against 1 % for a bare app. At 10,000 it collects 14
    # times less often (4 % more requests a second); only cyclic garbage waits longer, up to that many objects.
    # 0 leaves Python's default.
    gc_young_threshold: int = Field(default=10_000, ge=0, le=1_000_000)
    # glibc's malloc arenas (app/memory.py): each thread that allocates may get one, up to 8 per core, each
    # holding freed memory of its own. 2 keeps the API's growth under load smaller (goal 6 of issue 8: 5 MB less
    # after 10,000 mixed requests) for a little contention between the few threads that allocate at once (the
    # threadpool's image work); 0 leaves glibc's default. Read by the service itself, so .env works too.
    malloc_arena_max: int = Field(default=2, ge=0, le=1024)
    # The Instagram client's connection pool, shared by every request of one process (issue 8): enough for
    # as many calls at once as the process serves (200 callers at 0.5 s each is 200 connections), and
    # idle connections kept a little less than the 5 s after which common servers close them.
    instagram_max_connections: int = Field(default=500, ge=1, le=10_000)
    instagram_keepalive_seconds: float = Field(default=4.0, gt=0, le=300)
    # API processes of `python -m app serve` (app/serving.py). Unset: one per core when REDIS_URL is set (the
    # processes share jobs through Redis), else 1; more than 1 without REDIS_URL is refused.
    web_concurrency: int | None = Field(default=None, ge=1, le=256)
