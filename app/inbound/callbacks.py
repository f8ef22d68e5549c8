"""Meta's `signed_request`: how the deauthorize and data-deletion callbacks prove they come from Meta.

`signed_request` = base64url(HMAC-SHA256(app secret, encoded payload)) + "." + base64url(JSON payload), padding
stripped, as Meta documents for the data-deletion callback. The signature covers the *encoded* payload exactly as
sent, so it is checked before the payload is decoded: nothing unsigned is ever parsed as JSON.

Stale requests are not refused (there is no `issued_at` window): Meta documents none and may deliver late, and a
deletion refused for being late would never be done. Replays are made harmless instead, where they are handled:
a deauthorize issued before an account's latest connection leaves that connection alone, and a data-deletion
request already answered answers its code again and erases nothing more (app/inbound/deletion.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from app.errors import BadRequest

ALGORITHM = "HMAC-SHA256"
# Instagram ids are numeric strings (17 digits today); the column holding them is 64 characters wide.
MAX_USER_ID_LENGTH = 64
# Far larger than anything Meta sends (a few hundred bytes), small enough that nothing big is decoded.
MAX_SIGNED_REQUEST_LENGTH = 8192


class InvalidSignedRequest(BadRequest):
    code = "invalid_signed_request"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A verified signed request: the Instagram user it is about, and when Meta issued it."""

    user_id: str
    issued_at: datetime


def _b64url_decode(part: str, what: str) -> bytes:
    # Meta strips the padding; put it back. `validate=True` refuses characters outside the alphabet instead
    # of silently dropping them (which would let two different strings carry one signature).
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignedRequest(f"signed_request: the {what} is not valid base64url") from exc


def _signature_matches(encoded_payload: str, signature: bytes, secret: str) -> bool:
    expected = hmac.new(secret.encode(), encoded_payload.encode("ascii"), hashlib.sha256).digest()
    # Constant time: the comparison must not tell an attacker how many leading bytes they got right.
    return hmac.compare_digest(expected, signature)


def _user_id(value: object) -> str:
    # Meta sends the id as a string; a number is accepted too (JSON encoders differ), a bool is not.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidSignedRequest("signed_request: the payload has no user_id")
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > MAX_USER_ID_LENGTH:
        raise InvalidSignedRequest("signed_request: user_id must be a numeric Instagram user id")
    return value


def _issued_at(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSignedRequest("signed_request: the payload has no issued_at (a Unix time)")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidSignedRequest("signed_request: issued_at is not a valid Unix time") from exc


def parse_signed_request(signed_request: str, secret: str) -> SignedRequest:
    """Verify a `signed_request` with the app secret and read it; InvalidSignedRequest (400) otherwise."""
    signed_request = signed_request.strip()
    if not signed_request:
        raise InvalidSignedRequest("signed_request is required")
    if len(signed_request) > MAX_SIGNED_REQUEST_LENGTH or not signed_request.isascii():
        raise InvalidSignedRequest("signed_request is not a Meta signed request")
    encoded_signature, dot, encoded_payload = signed_request.partition(".")
    if not dot or not encoded_signature or not encoded_payload:
        raise InvalidSignedRequest("signed_request must be <signature>.<payload>, both base64url")
    signature = _b64url_decode(encoded_signature, "signature")
    if not _signature_matches(encoded_payload, signature, secret):
        raise InvalidSignedRequest("signed_request: the signature does not match (signed with another app secret?)")
    raw_payload = _b64url_decode(encoded_payload, "payload")
    try:
        payload = json.loads(raw_payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSignedRequest("signed_request: the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidSignedRequest("signed_request: the payload is not a JSON object")
    algorithm = payload.get("algorithm")
    if not isinstance(algorithm, str) or algorithm.upper() != ALGORITHM:
        raise InvalidSignedRequest(f"signed_request: the algorithm must be {ALGORITHM}")
    return SignedRequest(user_id=_user_id(payload.get("user_id")), issued_at=_issued_at(payload.get("issued_at")))
