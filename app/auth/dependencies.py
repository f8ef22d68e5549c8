"""`CurrentUser`: the authenticated caller of a route, from `Authorization: Bearer <JWT>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from app.auth.tokens import AuthenticatedUser, InvalidToken, verify_token
from app.config import Settings
from app.errors import Unauthorized


class BearerUser(HTTPBearer):
    """The bearer scheme and the token's verification in one dependency.

    Still an `HTTPBearer` (so OpenAPI documents the `BearerJWT` scheme on every route that uses it), but it
    answers the caller itself instead of the raw credentials: one level of FastAPI's dependency solving less on
    every authenticated request, with the header parsed exactly as `HTTPBearer` parses it.
    """

    async def __call__(self, request: Request) -> AuthenticatedUser:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized("Authorization header with a Bearer token is required", code="unauthorized")
        if credentials.credentials.lower().startswith("bearer "):
            # Swagger UI's Authorize (and many HTTP tools) add "Bearer " themselves.
            raise Unauthorized(
                "Bearer token is malformed: the Authorization header says 'Bearer' twice. "
                "Paste the token alone (without 'Bearer ').",
                code="invalid_token",
            )
        settings: Settings = request.app.state.settings
        try:
            return verify_token(credentials.credentials, settings)
        except InvalidToken as exc:
            raise Unauthorized(str(exc), code="invalid_token") from exc


# auto_error=False: a missing header gets our envelope, not FastAPI's {"detail": ...}.
bearer_scheme = BearerUser(
    auto_error=False,
    scheme_name="BearerJWT",
    description="A JWT from the web application: HS256 with JWT_SECRET by default; `sub` is the user id. "
    "For a development token run `make token SUB=alice`. Paste the token alone: `Bearer ` is added for you.",
)


CurrentUser = Annotated[AuthenticatedUser, Depends(bearer_scheme)]
