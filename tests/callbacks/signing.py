"""Signed requests built by hand, byte for byte as Meta documents them, for the callback tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(encoded_payload: str, secret: str) -> str:
    return b64url(hmac.new(secret.encode(), encoded_payload.encode("ascii"), hashlib.sha256).digest())


def signed_request(
    secret: str,
    user_id: object = "17841400000000001",
    *,
    issued_at: object = None,
    algorithm: object = "HMAC-SHA256",
    **extra: Any,
) -> str:
    """`<b64url(HMAC-SHA256(secret, payload))>.<b64url(payload)>`; a field given as None is left out."""
    fields: dict[str, Any] = {
        "algorithm": algorithm,
        "issued_at": int(time.time()) if issued_at is None else issued_at,
        "user_id": user_id,
        **extra,
    }
    payload = b64url(json.dumps({k: v for k, v in fields.items() if v is not None}).encode())
    return f"{sign(payload, secret)}.{payload}"


def signed_raw(secret: str, raw_payload: bytes) -> str:
    """Any bytes as the payload, correctly signed (to reach the checks made after the signature's)."""
    payload = b64url(raw_payload)
    return f"{sign(payload, secret)}.{payload}"
