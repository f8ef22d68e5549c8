"""Short-lived signed URLs for uploads in local storage: `/uploads/<key>?expires=<unix>&signature=<hex>`.

Instagram fetches media anonymously, so the URL itself is the permission: an HMAC-SHA256 of the key and the
expiry, with a key derived from TOKEN_ENCRYPTION_KEY (its first key: rotating it ends the URLs, which live an
hour anyway). Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from app.config import Settings

# Keys are made by this service (`upl_<token>.<ext>`): anything else never reaches the file system.
_KEY = re.compile(r"upl_[A-Za-z0-9_-]{16,64}\.(jpg|png|mp4|mov)")
ROUTE = "/uploads"


def checked_key(key: str) -> str:
    """The key, if it is one this service makes (no path separators, no dots but the extension)."""
    if not _KEY.fullmatch(key):
        raise ValueError("not an upload key")
    return key


def _secret(settings: Settings) -> bytes:
    first_key = settings.token_encryption_keys()[0]
    return hashlib.sha256(b"upload-url-signing:" + first_key.encode()).digest()


def signature(settings: Settings, key: str, expires: int) -> str:
    return hmac.new(_secret(settings), f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(settings: Settings, base_url: str, key: str, *, now: float | None = None) -> str:
    """The URL of `key` on this service, valid UPLOAD_URL_TTL_SECONDS."""
    expires = int((now if now is not None else time.time()) + settings.upload_url_ttl_seconds)
    return f"{base_url}{ROUTE}/{checked_key(key)}?expires={expires}&signature={signature(settings, key, expires)}"


def valid(settings: Settings, key: str, expires: int, given: str, *, now: float | None = None) -> bool:
    """Whether `given` signs `key` until `expires`, and that time has not passed."""
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature(settings, key, expires), given)
