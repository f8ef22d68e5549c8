"""JSON logs with the request id on every line, and a filter that keeps tokens and secrets out of them."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from app.observability.context import current_request_id

# Anything that looks like a credential in a message or an attribute is masked, whatever logged it.
_SECRET_PATTERNS = [
    # query strings and form bodies: access_token=..., client_secret=..., code=...
    re.compile(r"(?i)\b((?:access_token|client_secret|refresh_token|code|fb_exchange_token|password)=)[^&\s\"']+"),
    # JSON: "access_token": "..."
    re.compile(r"(?i)(\"(?:access_token|client_secret|refresh_token|password|secret)\"\s*:\s*\")[^\"]+"),
    re.compile(r"(?i)\b((?:bearer|oauth)\s+)[A-Za-z0-9\-._~+/]{16,}=*"),
    # Instagram tokens (IGAA..., IGQV...) and JWTs, wherever they appear
    re.compile(r"\b(IG[A-Za-z0-9]{2})[A-Za-z0-9._\-]{16,}"),
    re.compile(r"\b(eyJ)[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
    # webhook signing secrets (Standard Webhooks' whsec_ prefix)
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=]{8,}"),
]


def _may_hold_secret(text: str) -> bool:
    """Whether `text` has something every string with a secret contains (a superset of the patterns above), so
    the common line, with nothing to mask, costs a few substring searches instead of a regex pass per pattern.
    (Plain `in` tests: one regex alternating these markers took 10,000 instructions for a short line.)"""
    if "=" in text or '"' in text or "IG" in text or "eyJ" in text or "whsec_" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "oauth" in lowered


_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime", "taskName"}
)


def redact(text: str) -> str:
    """Mask credentials (query parameters, bearer tokens, Instagram tokens, JWTs) in a string."""
    if not _may_hold_secret(text):
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}[redacted]", text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: ("[redacted]" if _is_secret_key(k) else _clean(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _is_secret_name(key)


# Cached: the attribute names of log records are the few the code passes as `extra`.
@functools.lru_cache(maxsize=1024)
def _is_secret_name(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in ("token", "secret", "password", "authorization"))


# `json.dumps` with options builds an encoder for every call.
_encode_json = json.JSONEncoder(default=str, ensure_ascii=False).encode
_PLAIN_TYPES = (int, float, bool, type(None))


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    # Every line of the same second shares this; a line's time is this plus its milliseconds.
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _utc_time(record: logging.LogRecord) -> str:
    """The record's time as ISO 8601 UTC to the millisecond, e.g. `2026-11-30T00:41:50.123+00:00`."""
    return f"{_utc_second(int(record.created))}.{int(record.msecs):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = record.__dict__.get("request_id") or current_request_id()
        if request_id:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key != "request_id" and not key.startswith("_"):
                if _is_secret_name(key):
                    payload[key] = "[redacted]"
                else:
                    payload[key] = value if isinstance(value, _PLAIN_TYPES) else _clean(value)
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return _encode_json(payload)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        request_id = current_request_id()
        return redact(f"{base} [{request_id}]" if request_id else base)


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger (ours, uvicorn's, arq's) through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # No formatter here shows a record's process, thread or task: don't collect them for every record (one of
    # them is a system call).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker", "alembic"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # httpx logs every request URL at INFO; some Instagram URLs carry tokens in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Our own access log replaces uvicorn's (it has the request id and the route template). With no handler on
    # its way, uvicorn does not even build its line (it asks `hasHandlers()` once per connection).
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.setLevel(logging.WARNING)
    uvicorn_access.propagate = False
