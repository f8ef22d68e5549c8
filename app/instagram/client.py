"""InstagramClient: the async client for the Instagram Platform API (Instagram API with Instagram Login).

One long-lived `httpx.AsyncClient` per instance, so connections are pooled and kept alive across calls.
Every call goes through `_call` (calls.py), which sends the request, turns failures into the InstagramError
hierarchy (errors.py), reports the attempt to `on_call`, and applies the retry policy (retry.py) with
the retry mode the operation declares.

Tokens travel in the `Authorization: Bearer` header, except on `/access_token` and
`/refresh_access_token`, which only accept them as the `access_token` query parameter. We never log
those URLs, httpx's own request log line gets the credentials blanked, and every error text is
scrubbed of the tokens, the code and the app secret of the call.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import httpx

from app.instagram.calls import CallObserver, segment, string_list
from app.instagram.comments import CommentCalls
from app.instagram.config import InstagramConfig
from app.instagram.errors import BadRequest, PermissionDenied
from app.instagram.metrics import RefusedMetrics, media_insight_metrics, refused_metrics_in, reject_deprecated
from app.instagram.models import (
    InstagramMedia,
    InstagramProfile,
    MediaPage,
    parse_insight_values,
)
from app.instagram.oauth import OAuthCalls
from app.instagram.publishing import PublishingCalls
from app.instagram.redaction import install_httpx_log_redaction
from app.instagram.retry import RetryPolicy
from app.instagram.subscriptions import SubscriptionCalls
from app.instagram.throttle import AccountPauses
from app.instagram.transport import AiohttpTransport

logger = logging.getLogger(__name__)

USER_AGENT = f"instagram-service/0.1 httpx/{httpx.__version__}"

PROFILE_FIELDS = (
    "user_id,username,name,account_type,profile_picture_url,followers_count,follows_count,media_count,biography,website"
)
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp,like_count,comments_count"
)
# Stories live 24 hours, so a handful of pages covers them; the cap only guards against a paging loop.
_MAX_STORY_PAGES = 20


def instagram_transport(config: InstagramConfig, ssl_context: ssl.SSLContext | None = None) -> AiohttpTransport:
    """The network transport of the client: one bounded pool of kept-alive connections (transport.py)."""
    return AiohttpTransport(
        max_connections=config.max_connections, keepalive_seconds=config.keepalive_seconds, ssl_context=ssl_context
    )


class InstagramClient(OAuthCalls, PublishingCalls, CommentCalls, SubscriptionCalls):
    """Async client for graph.instagram.com and Instagram OAuth; see docs/instagram-client.md.

    Reads and insights are here; OAuth, publishing and comment operations come from their own modules
    (oauth.py, publishing.py, comments.py, subscriptions.py), and every operation goes through the call
    machinery of calls.py."""

    def __init__(
        self,
        config: InstagramConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: CallObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random.random,
        pauses: AccountPauses | None = None,
    ) -> None:
        install_httpx_log_redaction()
        self._config = config
        self._policy = RetryPolicy(max_attempts=config.max_attempts, budget_seconds=config.retry_budget_seconds)
        self._on_call = on_call
        self._pauses = pauses or AccountPauses()
        self._refused_metrics = RefusedMetrics()
        self._sleep = sleep
        self._random = random
        self._http = httpx.AsyncClient(
            # aiohttp's pool, not httpcore's: httpcore's bookkeeping was most of a proxied request's CPU.
            transport=transport or instagram_transport(config),
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            # A redirect from the API is a misconfiguration to see, not to follow with a token attached.
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- Profiles and media -----------------------------------------------------------------------

    async def get_me(self, token: str) -> InstagramProfile:
        """The professional account the token belongs to."""
        return await self._graph_get(
            "get_me", "me", token, params={"fields": PROFILE_FIELDS}, parse=InstagramProfile.from_api
        )

    async def get_user(self, token: str, ig_user_id: str) -> InstagramProfile:
        """A professional account by its id."""
        return await self._graph_get(
            "get_user",
            segment(ig_user_id),
            token,
            params={"fields": PROFILE_FIELDS},
            parse=InstagramProfile.from_api,
        )

    async def list_media(
        self,
        token: str,
        ig_user_id: str,
        *,
        limit: int = 25,
        after: str | None = None,
        before: str | None = None,
    ) -> MediaPage:
        """One page of the account's media, newest first; pass `page.after` to get the next one."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if after is not None and before is not None:
            raise ValueError("pass either after or before, not both")
        params = {"fields": MEDIA_FIELDS, "limit": str(limit)}
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        return await self._graph_get(
            "list_media", f"{segment(ig_user_id)}/media", token, params=params, parse=MediaPage.from_api
        )

    async def list_stories(self, token: str, ig_user_id: str) -> list[InstagramMedia]:
        """The account's live stories (they are not part of `/media`), following pages to the end."""
        stories: list[InstagramMedia] = []
        params = {"fields": MEDIA_FIELDS}
        for _ in range(_MAX_STORY_PAGES):
            page = await self._graph_get(
                "list_stories",
                f"{segment(ig_user_id)}/stories",
                token,
                params=params,
                parse=MediaPage.from_api,
            )
            stories.extend(page.items)
            if page.after is None:
                break
            params = {"fields": MEDIA_FIELDS, "after": page.after}
        return stories

    async def get_media(self, token: str, media_id: str) -> InstagramMedia:
        """One media object by id."""
        return await self._graph_get(
            "get_media",
            segment(media_id),
            token,
            params={"fields": MEDIA_FIELDS},
            parse=InstagramMedia.model_validate,
        )

    # --- Insights ---------------------------------------------------------------------------------

    async def get_media_insights(self, token: str, media_id: str, *, product_type: str) -> dict[str, int]:
        """Lifetime metrics of one media, with the metric set valid for its product type.

        One metric a product type does not serve fails the whole call (code 100): that metric is dropped,
        the call is made once more, and the metric is not asked for that product type again in this process.
        A story seen by fewer than five accounts has no insights: Instagram answers code 10 "Not enough
        viewers for the media to show insights", which here means "no data yet" and returns {}.
        """
        metrics = self._refused_metrics.without_refused(product_type, media_insight_metrics(product_type))

        async def fetch(asked: Sequence[str]) -> dict[str, int]:
            return await self._graph_get(
                "get_media_insights",
                f"{segment(media_id)}/insights",
                token,
                params={"metric": ",".join(asked)},
                parse=parse_insight_values,
            )

        try:
            return await self._without_refused_metric(
                fetch, metrics, remember=lambda refused: self._refused_metrics.remember(product_type, refused)
            )
        except PermissionDenied as error:
            if error.code == 10 and "not enough viewers" in error.message.lower():
                return {}
            raise

    async def get_account_insights(
        self,
        token: str,
        ig_user_id: str,
        *,
        metrics: Sequence[str],
        since: datetime,
        until: datetime,
        period: str = "day",
        metric_type: str = "total_value",
    ) -> dict[str, int]:
        """Account metrics between `since` and `until` (aware datetimes); time series are summed.

        A metric the account cannot have (`follows_and_unfollows` under 100 followers) fails the whole call
        (code 100): it is dropped and the call made once more; the answer lacks that metric.
        """
        metric_list = string_list(metrics, "metrics")
        if not metric_list:
            raise ValueError("at least one metric is required")
        reject_deprecated(metric_list)
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
        if since > until:
            raise ValueError("since must not be after until")

        async def fetch(asked: Sequence[str]) -> dict[str, int]:
            params = {
                "metric": ",".join(asked),
                "period": period,
                "metric_type": metric_type,
                "since": str(int(since.timestamp())),
                "until": str(int(until.timestamp())),
            }
            return await self._graph_get(
                "get_account_insights",
                f"{segment(ig_user_id)}/insights",
                token,
                params=params,
                parse=parse_insight_values,
            )

        return await self._without_refused_metric(fetch, metric_list, remember=None)

    async def _without_refused_metric(
        self,
        fetch: Callable[[Sequence[str]], Awaitable[dict[str, int]]],
        metrics: Sequence[str],
        *,
        remember: Callable[[list[str]], None] | None,
    ) -> dict[str, int]:
        """Fetch; on code 100 naming some of the metrics, drop them and fetch once more."""
        try:
            return await fetch(metrics)
        except BadRequest as error:
            refused = refused_metrics_in(error.message, error.user_msg, metrics) if error.code == 100 else []
            remaining = [metric for metric in metrics if metric not in refused]
            if not refused or not remaining:
                raise
            logger.warning(
                "instagram refused insight metrics %s; asking again without them",
                ", ".join(refused),
                extra={"operation": error.operation},
            )
            if remember is not None:
                remember(refused)
        return await fetch(remaining)
