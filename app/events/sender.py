"""Sending a webhook: one POST behind the SSRF guard of media fetching, and the check of an endpoint URL.

The guard (`app.publishing.fetch`) resolves the host once, refuses any non-public address and opens the
socket to the very address it checked, so a DNS answer that changes between the check and the connection
cannot point us at an internal service. Loopback is allowed only with WEBHOOK_ALLOW_LOOPBACK (tests).
Redirects are not followed: a receiver answers, it does not send us elsewhere.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.config import Settings
from app.media.fetch import (
    FetchError,
    ForbiddenAddress,
    GuardedNetworkBackend,
    GuardedTransport,
    IPAddress,
    Resolver,
    check_url,
    is_forbidden_address,
    system_resolve,
)

MAX_URL_LENGTH = 2048
PRIVATE_ADDRESS = "url points to a private or internal address, which is not allowed"


class EndpointUrlInvalid(Exception):
    """The endpoint URL cannot be used; the message names the field and the rule."""


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def forbidden_rule(allow_loopback: bool) -> Callable[[IPAddress], bool]:
    """Which addresses a webhook may not reach: anything non-public (loopback too, unless allowed)."""
    if not allow_loopback:
        return is_forbidden_address
    return lambda address: is_forbidden_address(address) and not _is_loopback(address)


async def check_endpoint_url(url: str, settings: Settings, resolve: Resolver = system_resolve) -> None:
    """Refuse a URL that is malformed or whose host resolves to a non-public address (when it is saved)."""
    if len(url) > MAX_URL_LENGTH:
        raise EndpointUrlInvalid(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        check_url(url, "url")
    except FetchError as exc:
        raise EndpointUrlInvalid(str(exc)) from exc
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = await resolve(host.strip("[]"), parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError) as exc:
        raise EndpointUrlInvalid(f"url host {host} could not be resolved") from exc
    forbidden = forbidden_rule(settings.webhook_allow_loopback)
    for raw in addresses:
        if forbidden(ipaddress.ip_address(raw.split("%", 1)[0])):
            raise EndpointUrlInvalid(PRIVATE_ADDRESS)
    if not addresses:
        raise EndpointUrlInvalid(f"url host {host} could not be resolved")


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str | None  # None when the receiver answered 2xx
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome(self) -> str:
        """A low-cardinality label for metrics."""
        if self.ok:
            return "success"
        if self.status_code is not None:
            return "http_error"
        return "timeout" if self.error and "in time" in self.error else "network_error"


class WebhookSender:
    """The process's one client for webhooks: pooled, guarded, 10 s timeout, no redirects."""

    def __init__(
        self,
        settings: Settings,
        *,
        resolve: Resolver = system_resolve,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = settings.webhook_timeout_seconds
        self._client = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(
                GuardedNetworkBackend(
                    allow_private=False, resolve=resolve, forbidden=forbidden_rule(settings.webhook_allow_loopback)
                )
            ),
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            headers={"User-Agent": "instagram-service-webhooks/1.0", "Content-Type": "application/json"},
        )

    async def send(self, url: str, body: str, headers: dict[str, str]) -> SendResult:
        """POST `body`; only a 2xx answer counts. Never raises for what the receiver or the network does."""
        started = time.monotonic()
        status: int | None = None
        try:
            # The answer's body is not read: nothing in it matters, and a huge one must not cost us.
            async with self._client.stream("POST", url, content=body.encode(), headers=headers) as response:
                status = response.status_code
            error = None if 200 <= status < 300 else _http_error(response)
        except httpx.TimeoutException:
            error = f"the receiver did not answer in time ({self._timeout:g} s)"
        except httpx.HTTPError as exc:
            error = _network_error(exc)
        except ForbiddenAddress:
            error = PRIVATE_ADDRESS
        except FetchError as exc:
            error = str(exc)
        except (ValueError, UnicodeError):
            error = "url is not a valid URL"
        except Exception as exc:  # e.g. an ExceptionGroup from the network layer: a failed attempt, not a crash
            error = f"could not connect ({type(exc).__name__})"
        return SendResult(status_code=status, error=error, seconds=time.monotonic() - started)

    async def aclose(self) -> None:
        await self._client.aclose()


def _http_error(response: httpx.Response) -> str:
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed; register the final URL"
    return f"HTTP {response.status_code}"


def _network_error(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ForbiddenAddress):
        return PRIVATE_ADDRESS
    if isinstance(cause, FetchError):
        return str(cause)
    return f"could not connect ({type(exc).__name__})"
