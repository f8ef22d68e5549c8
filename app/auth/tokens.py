"""Verifying the web app's JWTs (python-jose), and minting development tokens for Swagger UI."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from jose import ExpiredSignatureError, JWTError, jwt
from jose.exceptions import JWTClaimsError

from app.config import Settings
from app.db import utcnow


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message says why (never echoing the token)."""


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The caller, as the web app's JWT names it (`sub`)."""

    id: str


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("HS"):
        return settings.jwt_secret_value()
    if not settings.jwt_public_key:
        raise InvalidToken("The service has no JWT public key configured")
    return settings.jwt_public_key


class VerifiedTokens:
    """Tokens already verified, so a client's next requests skip the signature check (about a third of the
    CPU of a short read). Keyed by the raw token and everything its verification depends on, so a rotated
    secret or another audience never hits an old entry; an entry lapses at its token's `exp`. Only successes
    are kept: a refused token is checked again each time. Bounded: the least recently used entry goes first.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[AuthenticatedUser, float]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> AuthenticatedUser | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        user, expires_at = entry
        if time.time() >= expires_at:
            # Expired since: verify again, which answers "Bearer token has expired".
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return user

    def put(self, key: tuple[str, ...], user: AuthenticatedUser, expires_at: float) -> None:
        self._entries[key] = (user, expires_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# One per process: the API verifies the same few tokens over and over.
VERIFIED_TOKENS = VerifiedTokens()


def _key_material(settings: Settings) -> str:
    # What _verification_key would use, without its refusal (that belongs to the verification's own order).
    if settings.jwt_algorithm.startswith("HS"):
        return settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    return settings.jwt_public_key or ""


def verify_token(token: str, settings: Settings) -> AuthenticatedUser:
    """Check signature, algorithm, expiry, audience and issuer; return the user named by `sub`.

    A token verified before under the same settings and not yet expired is answered from VERIFIED_TOKENS.
    """
    key = (
        token,
        settings.jwt_algorithm,
        _key_material(settings),
        settings.jwt_audience or "",
        settings.jwt_issuer or "",
    )
    user = VERIFIED_TOKENS.get(key)
    if user is not None:
        return user
    user, expires_at = _verify(token, settings)
    VERIFIED_TOKENS.put(key, user, expires_at)
    return user


def _verify(token: str, settings: Settings) -> tuple[AuthenticatedUser, float]:
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise InvalidToken("Bearer token is malformed") from exc
    # Only the configured algorithm is accepted: this refuses `alg: none` and HS/RS confusion up front,
    # before any key is used.
    if header.get("alg") != settings.jwt_algorithm:
        raise InvalidToken(f"Bearer token must be signed with {settings.jwt_algorithm}")
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_sub": True,
                "verify_aud": settings.jwt_audience is not None,
                "verify_iss": settings.jwt_issuer is not None,
            },
        )
    except ExpiredSignatureError as exc:
        raise InvalidToken("Bearer token has expired") from exc
    except JWTClaimsError as exc:
        raise InvalidToken(f"Bearer token claims are not accepted: {exc}") from exc
    except JWTError as exc:
        if "missing required key" in str(exc):
            raise InvalidToken(f"Bearer token claims are not accepted: {exc}") from exc
        raise InvalidToken("Bearer token signature is invalid") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidToken("Bearer token must name the user in a non-empty 'sub' claim")
    # require_exp: present, and a number (python-jose refuses anything else).
    return AuthenticatedUser(id=subject), float(claims["exp"])


def issue_development_token(settings: Settings, subject: str, ttl: timedelta = timedelta(hours=12)) -> str:
    """A token for trying the API by hand (HS* algorithms only: RS* tokens come from the web app)."""
    if not settings.jwt_algorithm.startswith("HS"):
        raise InvalidToken("Development tokens need an HS* JWT_ALGORITHM; RS* tokens are minted by the web app")
    now = utcnow()
    claims: dict[str, object] = {
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret_value(), algorithm=settings.jwt_algorithm)
