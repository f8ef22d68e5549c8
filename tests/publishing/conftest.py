"""Every publishing test runs behind the loopback-only connect guard (see tests/media/loopback.py)."""

from tests.media.loopback import connect_attempts, one_tls_context, server

__all__ = ["connect_attempts", "one_tls_context", "server"]
