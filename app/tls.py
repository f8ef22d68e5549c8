"""The process's one TLS client context, shared by every outgoing HTTP client.

Each context loads certifi's CA bundle into OpenSSL, about 1 MB of resident memory per copy, and httpx builds one
for every transport it makes (the guarded transports made two each: httpx's own pool and its replacement). A
context holds only configuration and the trust store, so one serves every connection of every client.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_ssl_context() -> ssl.SSLContext:
    """What httpx's own transports trust (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()
