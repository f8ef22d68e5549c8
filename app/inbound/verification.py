"""Checking that a request really comes from Meta: the subscription handshake's verify token, and the
`X-Hub-Signature-256` HMAC of a delivery's raw body."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class SignatureProblem(StrEnum):
    MISSING = "missing"  # no header, or not `sha256=<64 hex digits>`
    MISMATCH = "mismatch"  # well-formed, made with none of our secrets (or over another body)


def handshake_accepted(mode: str | None, token: str | None, expected: str | None) -> bool:
    """Meta's `hub.mode=subscribe` with our verify token (compared in constant time, like a password)."""
    if mode != "subscribe" or not token or not expected:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


def signature_of(secret: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of the raw body, as Meta computes it."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(header: str | None, body: bytes, secrets: Sequence[str]) -> SignatureProblem | None:
    """None when `header` is the signature of `body` with one of `secrets`.

    Every secret is tried with a constant-time comparison (an early exit on the first mismatching byte
    would let a forger learn the signature byte by byte).
    """
    if header is None:
        return SignatureProblem.MISSING
    header = header.strip()
    digest = header[len(_PREFIX) :].lower() if header.lower().startswith(_PREFIX) else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return SignatureProblem.MISSING
    given = (_PREFIX + digest).encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, signature_of(secret, body).encode())
    return None if matched else SignatureProblem.MISMATCH
