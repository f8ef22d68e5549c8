"""The Redis client of the job queue, shared by the API and the worker."""

from __future__ import annotations

from arq import ArqRedis

# A stopped Redis refuses at once; one that hangs (a frozen host, a lost route) must not hold a request or
# the worker's loop for the operating system's minutes-long TCP timeouts.
CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 5.0


def redis_client(url: str) -> ArqRedis:
    """A client for `url` that connects on first use (a process starts while Redis is down) and gives up on
    a connection or a command within seconds; each command takes a healthy connection, so the client
    recovers by itself once Redis is back."""
    client: ArqRedis = ArqRedis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=COMMAND_TIMEOUT_SECONDS
    )
    return client
