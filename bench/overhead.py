"""Goals 1 and 2: what the service adds to Instagram's own latency, and how many requests one API process serves.

The same wrk, the same clients, the same accounts, one after the other: GET /account/info through the service,
and the Graph call it makes (`GET /{ig-user-id}?fields=…` with the account's token) sent straight to the sandbox.
The sandbox answers that call after `upstream_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from app.instagram.client import PROFILE_FIELDS
from bench.harness import API, Connected, bearer, set_latency
from bench.load import LoadResult, Request, measure
from bench.report import Row, ms, per_second, percent
from tests.worker.stack import Stack

GRAPH_VERSION = "v25.0"  # the client's default (INSTAGRAM_GRAPH_VERSION)
OVERHEAD_P50_MS = 5.0
OVERHEAD_P99_MS = 25.0
CONCURRENCY_SHARE = 0.9


@dataclass(frozen=True)
class SideBySide:
    direct: LoadResult
    service: LoadResult


def direct_requests(accounts: list[Connected]) -> list[Request]:
    """The Graph call behind GET /account/info, for each account in turn."""
    return [
        Request(
            "GET",
            f"/sandbox/graph/{GRAPH_VERSION}/{a.ig_user_id}?fields={quote(PROFILE_FIELDS, safe=',')}",
            {"Authorization": f"Bearer {a.sandbox_token}"},
        )
        for a in accounts
    ]


def service_requests(sub: str, accounts: list[Connected]) -> list[Request]:
    return [Request("GET", f"{API}/account/info?account_id={a.id}", bearer(sub)) for a in accounts]


async def account_info(
    stack: Stack,
    sub: str,
    accounts: list[Connected],
    *,
    clients: int,
    upstream_seconds: float,
    seconds: float,
    warmup_seconds: float,
) -> SideBySide:
    """The direct call, then the service, at `clients` clients with the sandbox taking `upstream_seconds`."""
    await set_latency(stack, {"user": upstream_seconds})
    try:
        direct = await measure(
            stack.sandbox_url,
            direct_requests(accounts),
            clients=clients,
            seconds=seconds,
            warmup_seconds=warmup_seconds,
            label=f"direct account info, {clients} clients",
            server_pid=stack.pid("sandbox"),
        )
        service = await measure(
            stack.api_url,
            service_requests(sub, accounts),
            clients=clients,
            seconds=seconds,
            warmup_seconds=warmup_seconds,
            label=f"GET /account/info, {clients} clients",
            server_pid=stack.pid("api"),
        )
    finally:
        await set_latency(stack, {})
    return SideBySide(direct, service)


def overhead_rows(result: SideBySide, upstream_seconds: float) -> list[Row]:
    """Goal 1: p50 within 5 ms and p99 within 25 ms of the direct call's."""
    direct, service = result.direct, result.service
    context = f"{service.clients} clients, upstream {upstream_seconds * 1000:.0f} ms"
    rows = []
    for name, mine, theirs, allowance in (
        ("p50", service.p50_ms, direct.p50_ms, OVERHEAD_P50_MS),
        ("p99", service.p99_ms, direct.p99_ms, OVERHEAD_P99_MS),
    ):
        rows.append(
            Row(
                goal="1 overhead",
                what=f"GET /account/info {name}, {context}",
                figure=ms(mine),
                reference=f"direct {ms(theirs)}",
                ratio=f"{mine / theirs:.2f}x ({mine - theirs:+,.1f} ms)",
                target=f"≤ direct + {allowance:.0f} ms",
                met=mine <= theirs + allowance and service.failed == 0,
                values={"service": service.as_dict(), "direct": direct.as_dict()} if name == "p50" else {},
            )
        )
    return rows


def concurrency_rows(result: SideBySide, upstream_seconds: float) -> list[Row]:
    """Goal 2: one API process serves at least 90 % of what the clients allow (clients / upstream latency)."""
    direct, service = result.direct, result.service
    ceiling = service.clients / upstream_seconds
    share = service.requests_per_second / ceiling
    return [
        Row(
            goal="2 concurrency",
            what=f"GET /account/info, {service.clients} clients, upstream {upstream_seconds:.1f} s",
            figure=per_second(service.requests_per_second),
            reference=f"{per_second(ceiling)} allowed; direct {per_second(direct.requests_per_second)}",
            ratio=f"{percent(share)} (direct {percent(direct.requests_per_second / ceiling)})",
            target=f"≥ {percent(CONCURRENCY_SHARE)} of {ceiling:,.0f}",
            met=share >= CONCURRENCY_SHARE and service.failed == 0,
            values={"service": service.as_dict(), "direct": direct.as_dict(), "ceiling": ceiling},
        )
    ]
