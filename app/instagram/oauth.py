"""OAuth and tokens: the login page, the code exchange, and long-lived tokens (docs/instagram-client.md)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from app.instagram.calls import GraphCalls, string_list
from app.instagram.config import join_url
from app.instagram.models import LongLivedToken, ShortLivedToken


class OAuthCalls(GraphCalls):
    """Business Login for Instagram: from the authorize URL to a 60-day token, and keeping it fresh."""

    def authorize_url(self, *, redirect_uri: str, scopes: Sequence[str], state: str, force_reauth: bool = False) -> str:
        """The Instagram login page to send the user to; it redirects back with `?code=…&state=…`."""
        scope_list = string_list(scopes, "scopes")
        if not scope_list:
            raise ValueError("at least one scope is required")
        params = {
            "client_id": self._config.app_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(scope_list),
            "state": state,
        }
        if force_reauth:
            params["force_reauth"] = "true"
        base = join_url(self._config.authorize_base_url, "oauth/authorize")
        return f"{base}?{urlencode(params, safe=',')}"

    async def exchange_code(self, code: str, *, redirect_uri: str) -> ShortLivedToken:
        """Trade an authorization code for a one-hour token (retried only if no connection was made)."""
        # Instagram appends `#_` to the redirect; browsers usually drop it, copy-paste does not.
        code = code.removesuffix("#_")
        form = {
            "client_id": self._config.app_id,
            "client_secret": self._config.app_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        }
        return await self._call(
            "exchange_code",
            "POST",
            join_url(self._config.token_base_url, "oauth/access_token"),
            mode="connect_only",
            form=form,
            secrets=(code,),
            parse=ShortLivedToken.from_api,
        )

    async def exchange_long_lived(self, short_token: str) -> LongLivedToken:
        """Trade a short-lived token for a 60-day one."""
        params = {"grant_type": "ig_exchange_token", "client_secret": self._config.app_secret}
        return await self._long_lived("exchange_long_lived", "access_token", short_token, params)

    async def refresh_token(self, long_token: str) -> LongLivedToken:
        """Extend a long-lived token (at least 24 h old and unexpired) by another 60 days."""
        params = {"grant_type": "ig_refresh_token"}
        return await self._long_lived("refresh_token", "refresh_access_token", long_token, params)

    async def _long_lived(self, operation: str, path: str, token: str, params: dict[str, str]) -> LongLivedToken:
        # These two endpoints take the token only as a query parameter (redacted from every log and error).
        return await self._call(
            operation,
            "GET",
            join_url(self._config.graph_base_url, path),
            mode="safe",
            params={**params, "access_token": token},
            secrets=(token,),
            parse=LongLivedToken.from_api,
        )
