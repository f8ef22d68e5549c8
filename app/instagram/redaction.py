"""Keeping credentials out of sight: tokens travel in a header that never shows in a repr, httpx's request log
lines get credential query parameters blanked, and error texts and bodies are scrubbed of a call's secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Mapping

import httpx

REDACTED = "[redacted]"
# Query parameters whose values are credentials: the token endpoints only accept them in the URL.
SECRET_QUERY = re.compile(r"(?<=[?&])(access_token|client_secret|code)=[^&#\s\"']*")


class BearerToken(httpx.Auth):
    """Sends an access token as `Authorization: Bearer`, and never shows it in a repr."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


class RedactSecretQuery(logging.Filter):
    """Blank credential query parameters in httpx's log records.

    httpx logs every request URL at INFO ("HTTP Request: GET https://…?access_token=…"), and
    `/access_token` and `/refresh_access_token` take the token and the app secret only in the query.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(arg) for arg in record.args)
        return True


def redact_query(arg: object) -> object:
    if isinstance(arg, httpx.URL | str):
        text = str(arg)
        if SECRET_QUERY.search(text):
            return SECRET_QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return arg


def install_httpx_log_redaction() -> None:
    """Add the filter to httpx's logger, once."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecretQuery) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactSecretQuery())


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def scrub_json(value: object, secrets: tuple[str, ...]) -> object:
    """Replace secrets in every string of a decoded body, so no error attribute can echo one."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, Mapping):
        return {key: scrub_json(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value
