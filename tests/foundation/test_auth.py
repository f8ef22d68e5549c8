"""Every way a bearer token can be wrong answers 401 with the envelope and a Bearer challenge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from app.auth.tokens import (
    VERIFIED_TOKENS,
    AuthenticatedUser,
    InvalidToken,
    VerifiedTokens,
    issue_development_token,
    verify_token,
)
from tests.conftest import JWT_SECRET, make_settings, running_app

URL = "/api/sns/instagram/accounts"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(claims: dict[str, Any], secret: str = JWT_SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def _hmac_signed(claims: dict[str, Any], key: str) -> str:
    """HS256 by hand, with any key (jose refuses to sign with a PEM key, an attacker does not)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 600, **extra}


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class TestBearerOnRoutes:
    async def _get(self, client: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return await client.get(URL, headers=headers)

    @pytest.mark.parametrize(
        ("authorization", "fragment"),
        [
            (None, "Bearer token is required"),
            ("Basic YWxpY2U6c2VjcmV0", "Bearer token is required"),
            ("Bearer not-a-jwt", "malformed"),
            ("Bearer " + _hs256({"sub": "alice", "exp": int(time.time()) - 10}), "expired"),
            ("Bearer " + _hs256(_claims(), secret="another-secret-of-sufficient-length-123456"), "signature"),
            ("Bearer " + _hs256({"sub": "alice"}), "claims"),
            ("Bearer " + _hs256({"exp": int(time.time()) + 600}), "claims"),
            ("Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".", "HS256"),
        ],
        ids=["missing", "not-bearer", "malformed", "expired", "wrong-signature", "no-exp", "no-sub", "alg-none"],
    )
    async def test_rejected(self, client: httpx.AsyncClient, authorization: str | None, fragment: str) -> None:
        response = await self._get(client, authorization)
        assert response.status_code == 401
        body = response.json()
        assert set(body) >= {"error", "code"}
        assert fragment in body["error"]
        assert "detail" not in body
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("pasted", ["Bearer ", "bearer "])
    async def test_bearer_pasted_twice_says_to_paste_the_token_alone(
        self, client: httpx.AsyncClient, pasted: str
    ) -> None:
        # What Swagger UI sends when "Bearer eyJ…" is pasted into Authorize: it adds "Bearer " itself.
        response = await self._get(client, "Bearer " + pasted + _hs256(_claims()))
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "invalid_token"
        assert "'Bearer' twice" in body["error"]
        assert "Paste the token alone" in body["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_accepted(self, client: httpx.AsyncClient) -> None:
        response = await self._get(client, "Bearer " + _hs256(_claims()))
        assert response.status_code == 200
        assert response.json() == []


class TestVerification:
    def test_algorithm_confusion_is_refused(self, rsa_keys: tuple[str, str]) -> None:
        _, public = rsa_keys
        settings = make_settings("sqlite+aiosqlite://", jwt_algorithm="RS256", jwt_public_key=public)
        # The classic attack: sign HS256 with the public key as the secret.
        with pytest.raises(InvalidToken, match="RS256"):
            verify_token(_hmac_signed(_claims(), public), settings)

    def test_rs256_with_the_public_key(self, rsa_keys: tuple[str, str]) -> None:
        private, public = rsa_keys
        settings = make_settings("sqlite+aiosqlite://", jwt_algorithm="RS256", jwt_public_key=public)
        token = jwt.encode(_claims(), private, algorithm="RS256")
        assert verify_token(token, settings).id == "alice"

    def test_audience_and_issuer(self) -> None:
        settings = make_settings("sqlite+aiosqlite://", jwt_audience="instagram-service", jwt_issuer="webapp")
        good = _hs256(_claims(aud="instagram-service", iss="webapp"))
        assert verify_token(good, settings).id == "alice"
        for bad in (_claims(aud="other", iss="webapp"), _claims(aud="instagram-service", iss="other"), _claims()):
            with pytest.raises(InvalidToken):
                verify_token(_hs256(bad), settings)

    def test_development_token_round_trip(self) -> None:
        settings = make_settings("sqlite+aiosqlite://", jwt_audience="aud", jwt_issuer="iss")
        token = issue_development_token(settings, "bob")
        assert verify_token(token, settings).id == "bob"

    def test_messages_never_echo_the_token(self) -> None:
        settings = make_settings("sqlite+aiosqlite://")
        token = _hs256(_claims(), secret="another-secret-of-sufficient-length-123456")
        with pytest.raises(InvalidToken) as raised:
            verify_token(token, settings)
        assert token not in str(raised.value)


async def test_rs256_app_end_to_end(rsa_keys: tuple[str, str], sqlite_database_url: str) -> None:
    private, public = rsa_keys
    settings = make_settings(sqlite_database_url, jwt_algorithm="RS256", jwt_public_key=public)
    async with running_app(settings) as (_, client):
        ok = await client.get(URL, headers={"Authorization": "Bearer " + jwt.encode(_claims(), private, "RS256")})
        assert ok.status_code == 200
        confused = await client.get(URL, headers={"Authorization": "Bearer " + _hmac_signed(_claims(), public)})
        assert confused.status_code == 401


class TestVerifiedTokenCache:
    """A token is verified once, then answered from the cache until its `exp`; failures are never cached."""

    def test_a_verified_token_is_answered_from_the_cache(self, monkeypatch: pytest.MonkeyPatch) -> None:
        settings = make_settings("sqlite://")
        token = _hs256(_claims(jti=uuid.uuid4().hex))
        assert verify_token(token, settings).id == "alice"

        def no_second_check(*_: Any, **__: Any) -> Any:
            raise AssertionError("verified twice")

        monkeypatch.setattr(jwt, "decode", no_second_check)
        assert verify_token(token, settings).id == "alice"

    def test_another_secret_never_hits_the_cache(self) -> None:
        token = _hs256(_claims(jti=uuid.uuid4().hex))
        assert verify_token(token, make_settings("sqlite://")).id == "alice"
        with pytest.raises(InvalidToken, match="signature is invalid"):
            verify_token(token, make_settings("sqlite://", jwt_secret="another-secret-" + "y" * 40))

    def test_a_refused_token_is_checked_every_time(self) -> None:
        token = _hs256(_claims(jti=uuid.uuid4().hex), secret="wrong-secret-" + "z" * 40)
        before = len(VERIFIED_TOKENS)
        for _ in range(2):
            with pytest.raises(InvalidToken, match="signature is invalid"):
                verify_token(token, make_settings("sqlite://"))
        assert len(VERIFIED_TOKENS) == before

    def test_a_cached_token_is_verified_again_once_it_expires(self, monkeypatch: pytest.MonkeyPatch) -> None:
        settings = make_settings("sqlite://")
        token = _hs256(_claims(jti=uuid.uuid4().hex))
        checks: list[str] = []
        decode = jwt.decode

        def counted(*args: Any, **kwargs: Any) -> Any:
            checks.append("decode")
            return decode(*args, **kwargs)

        monkeypatch.setattr(jwt, "decode", counted)
        verify_token(token, settings)
        verify_token(token, settings)
        assert checks == ["decode"]
        later = time.time() + 601  # past the token's exp: python-jose then answers "expired" itself
        monkeypatch.setattr(time, "time", lambda: later)
        verify_token(token, settings)
        assert checks == ["decode", "decode"]

    def test_the_cache_is_bounded(self) -> None:
        cache = VerifiedTokens(max_entries=2)
        for name in ("a", "b", "c"):
            cache.put((name,), AuthenticatedUser(id=name), time.time() + 60)
        assert len(cache) == 2
        assert cache.get(("a",)) is None
        assert cache.get(("c",)) == AuthenticatedUser(id="c")
