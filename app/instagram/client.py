"""InstagramClient: the async client for the Instagram Platform API (Instagram API with Instagram Login).

One long-lived `httpx.AsyncClient` per instance, so connections are pooled and kept alive across calls.
Every call goes through `_call`, which sends the request, turns failures into the InstagramError
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
import re
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, Self, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError

from app.instagram.config import InstagramConfig, join_url
from app.instagram.errors import (
    BadRequest,
    InstagramUnavailable,
    PermissionDenied,
    RateLimited,
    UnexpectedResponse,
    classify_error,
)
from app.instagram.metrics import RefusedMetrics, media_insight_metrics, refused_metrics_in, reject_deprecated
from app.instagram.models import (
    ContainerStatus,
    InstagramMedia,
    InstagramProfile,
    LongLivedToken,
    MediaPage,
    PublishingLimit,
    ResponseShapeError,
    ShortLivedToken,
    parse_insight_values,
)
from app.instagram.retry import RetryMode, RetryPolicy
from app.instagram.throttle import AccountPauses, account_key, ceil_seconds, wait_time_given

logger = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = f"instagram-service/0.1 httpx/{httpx.__version__}"

PROFILE_FIELDS = (
    "user_id,username,name,account_type,profile_picture_url,followers_count,follows_count,media_count,biography,website"
)
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp,like_count,comments_count"
)
CONTAINER_STATUS_FIELDS = "id,status_code,status"

# Stories live 24 hours, so a handful of pages covers them; the cap only guards against a paging loop.
_MAX_STORY_PAGES = 20
# Ids go into URL paths; anything else could turn `123/media_publish` into a different endpoint.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.:-]+")
_REDACTED = "[redacted]"
# Without a connection, the request never left this process: it certainly had no effect.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Query parameters whose values are credentials: the token endpoints only accept them in the URL.
_SECRET_QUERY = re.compile(r"(?<=[?&])(access_token|client_secret|code)=[^&#\s\"']*")

CallObserver = Callable[[str, str, float], None]


class BearerToken(httpx.Auth):
    """Sends an access token as `Authorization: Bearer`, and never shows it in a repr."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


class _RedactSecretQuery(logging.Filter):
    """Blank credential query parameters in httpx's log records.

    httpx logs every request URL at INFO ("HTTP Request: GET https://…?access_token=…"), and
    `/access_token` and `/refresh_access_token` take the token and the app secret only in the query.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_query(arg) for arg in record.args)
        return True


def _redact_query(arg: object) -> object:
    if isinstance(arg, httpx.URL | str):
        text = str(arg)
        if _SECRET_QUERY.search(text):
            return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={_REDACTED}", text)
    return arg


def _install_httpx_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactSecretQuery) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactSecretQuery())


class InstagramClient:
    """Async client for graph.instagram.com and Instagram OAuth; see docs/instagram-client.md."""

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
        _install_httpx_log_redaction()
        self._config = config
        self._policy = RetryPolicy(max_attempts=config.max_attempts, budget_seconds=config.retry_budget_seconds)
        self._on_call = on_call
        self._pauses = pauses or AccountPauses()
        self._refused_metrics = RefusedMetrics()
        self._sleep = sleep
        self._random = random
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_keepalive_connections,
            ),
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

    # --- OAuth and tokens -------------------------------------------------------------------------

    def authorize_url(self, *, redirect_uri: str, scopes: Sequence[str], state: str, force_reauth: bool = False) -> str:
        """The Instagram login page to send the user to; it redirects back with `?code=…&state=…`."""
        scope_list = _string_list(scopes, "scopes")
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
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": self._config.app_secret,
            "access_token": short_token,
        }
        return await self._call(
            "exchange_long_lived",
            "GET",
            join_url(self._config.graph_base_url, "access_token"),
            mode="safe",
            params=params,
            secrets=(short_token,),
            parse=LongLivedToken.from_api,
        )

    async def refresh_token(self, long_token: str) -> LongLivedToken:
        """Extend a long-lived token (at least 24 h old and unexpired) by another 60 days."""
        params = {"grant_type": "ig_refresh_token", "access_token": long_token}
        return await self._call(
            "refresh_token",
            "GET",
            join_url(self._config.graph_base_url, "refresh_access_token"),
            mode="safe",
            params=params,
            secrets=(long_token,),
            parse=LongLivedToken.from_api,
        )

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
            _segment(ig_user_id),
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
            "list_media", f"{_segment(ig_user_id)}/media", token, params=params, parse=MediaPage.from_api
        )

    async def list_stories(self, token: str, ig_user_id: str) -> list[InstagramMedia]:
        """The account's live stories (they are not part of `/media`), following pages to the end."""
        stories: list[InstagramMedia] = []
        params = {"fields": MEDIA_FIELDS}
        for _ in range(_MAX_STORY_PAGES):
            page = await self._graph_get(
                "list_stories",
                f"{_segment(ig_user_id)}/stories",
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
            _segment(media_id),
            token,
            params={"fields": MEDIA_FIELDS},
            parse=InstagramMedia.model_validate,
        )

    # --- Publishing -------------------------------------------------------------------------------

    async def create_image_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str,
        caption: str | None = None,
        alt_text: str | None = None,
    ) -> str:
        """Create a feed image container; returns its id."""
        form = _without_none({"image_url": image_url, "caption": caption, "alt_text": alt_text})
        return await self._create_container("create_image_container", token, ig_user_id, form)

    async def create_story_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
    ) -> str:
        """Create a story container from exactly one of an image or a video; returns its id."""
        _exactly_one(image_url=image_url, video_url=video_url)
        form = _without_none({"media_type": "STORIES", "image_url": image_url, "video_url": video_url})
        return await self._create_container("create_story_container", token, ig_user_id, form)

    async def create_reel_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        video_url: str,
        caption: str | None = None,
        cover_url: str | None = None,
        share_to_feed: bool = True,
        thumb_offset_ms: int | None = None,
    ) -> str:
        """Create a reel container; returns its id. Instagram prefers `cover_url` over `thumb_offset_ms`."""
        form = _without_none(
            {
                "media_type": "REELS",
                "video_url": video_url,
                "caption": caption,
                "cover_url": cover_url,
                "share_to_feed": _bool(share_to_feed),
                "thumb_offset": str(thumb_offset_ms) if thumb_offset_ms is not None else None,
            }
        )
        return await self._create_container("create_reel_container", token, ig_user_id, form)

    async def create_carousel_item_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
        alt_text: str | None = None,
    ) -> str:
        """Create one carousel item (image or video); returns its id for `create_carousel_container`."""
        _exactly_one(image_url=image_url, video_url=video_url)
        if video_url is not None and alt_text is not None:
            raise ValueError("alt_text is only accepted for images")
        form = _without_none(
            {
                "is_carousel_item": "true",
                # The one place VIDEO is still valid: standalone feed video was replaced by REELS in 2023.
                "media_type": "VIDEO" if video_url is not None else None,
                "image_url": image_url,
                "video_url": video_url,
                "alt_text": alt_text,
            }
        )
        return await self._create_container("create_carousel_item_container", token, ig_user_id, form)

    async def create_carousel_container(
        self,
        token: str,
        ig_user_id: str,
        *,
        children: Sequence[str],
        caption: str | None = None,
    ) -> str:
        """Create a carousel from 2 to 10 item containers; returns its id."""
        child_ids = _string_list(children, "children")
        # Checked here because Instagram's answer (2207028) arrives only after a round trip.
        if not 2 <= len(child_ids) <= 10:
            raise ValueError(f"a carousel needs 2 to 10 children, got {len(child_ids)}")
        form = _without_none(
            {
                "media_type": "CAROUSEL",
                "children": ",".join(_segment(child) for child in child_ids),
                "caption": caption,
            }
        )
        return await self._create_container("create_carousel_container", token, ig_user_id, form)

    async def get_container_status(self, token: str, container_id: str) -> ContainerStatus:
        """Where a container is: IN_PROGRESS, FINISHED (publishable), PUBLISHED, ERROR or EXPIRED."""

        def parse(body: object) -> ContainerStatus:
            if isinstance(body, Mapping) and body.get("id") is None:
                body = {**body, "id": container_id}
            return ContainerStatus.model_validate(body)

        return await self._graph_get(
            "get_container_status",
            _segment(container_id),
            token,
            params={"fields": CONTAINER_STATUS_FIELDS},
            parse=parse,
        )

    async def publish_container(self, token: str, ig_user_id: str, creation_id: str) -> str:
        """Publish a FINISHED container; returns the new media id. Never retried, see retry.py."""
        return await self._call(
            "publish_container",
            "POST",
            self._graph_url(f"{_segment(ig_user_id)}/media_publish"),
            mode="never",
            bearer=token,
            form={"creation_id": _segment(creation_id)},
            parse=_id_of,
        )

    async def get_publishing_limit(self, token: str, ig_user_id: str) -> PublishingLimit:
        """How much of the rolling 24-hour publishing quota is used, and its current total."""
        return await self._graph_get(
            "get_publishing_limit",
            f"{_segment(ig_user_id)}/content_publishing_limit",
            token,
            params={"fields": "quota_usage,config"},
            parse=PublishingLimit.from_api,
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
                f"{_segment(media_id)}/insights",
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
        metric_list = _string_list(metrics, "metrics")
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
                f"{_segment(ig_user_id)}/insights",
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

    # --- Plumbing ---------------------------------------------------------------------------------

    def _graph_url(self, path: str) -> str:
        return join_url(self._config.graph_base_url, f"{self._config.graph_version}/{path}")

    async def _graph_get(
        self,
        operation: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, str],
        parse: Callable[[object], T],
    ) -> T:
        return await self._call(
            operation, "GET", self._graph_url(path), mode="safe", bearer=token, params=params, parse=parse
        )

    async def _create_container(self, operation: str, token: str, ig_user_id: str, form: Mapping[str, str]) -> str:
        # "safe": a duplicate container is never published, because only the id we return is.
        return await self._call(
            operation,
            "POST",
            self._graph_url(f"{_segment(ig_user_id)}/media"),
            mode="safe",
            bearer=token,
            form=form,
            parse=_id_of,
        )

    async def _call(
        self,
        operation: str,
        method: Literal["GET", "POST"],
        url: str,
        *,
        mode: RetryMode,
        parse: Callable[[object], T],
        bearer: str | None = None,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> T:
        """Send one logical call, with retries according to `mode`; return the parsed answer."""
        auth = BearerToken(bearer) if bearer is not None else None
        account = account_key(bearer) if bearer is not None else None
        # Longest first, so a secret that contains another is replaced whole. Empty strings would
        # "match" everywhere.
        redact = tuple(sorted({s for s in (self._config.app_secret, bearer, *secrets) if s}, key=len, reverse=True))

        async def attempt() -> T:
            if account is not None:
                self._refuse_if_paused(account, operation)
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await self._attempt(operation, method, url, auth, account, params, form, redact, parse)
            except BaseException as error:
                outcome = type(error).__name__
                raise
            finally:
                self._report(operation, outcome, time.perf_counter() - started)

        return await self._policy.run(attempt, mode=mode, operation=operation, sleep=self._sleep, random=self._random)

    async def _attempt(
        self,
        operation: str,
        method: str,
        url: str,
        auth: BearerToken | None,
        account: str | None,
        params: Mapping[str, str] | None,
        form: Mapping[str, str] | None,
        redact: tuple[str, ...],
        parse: Callable[[object], T],
    ) -> T:
        try:
            response = await self._http.request(method, url, params=params, data=form, auth=auth)
        except httpx.RequestError as exc:  # timeouts, network and protocol errors, undecodable bodies
            # `from None`: the httpx exception holds the request, whose URL may carry a token.
            raise InstagramUnavailable(
                _scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, redact),
                operation=operation,
                request_sent=not isinstance(exc, _NOT_SENT),
            ) from None

        if not response.is_success:
            body = _scrub_json(_decode(response), redact)
            error = classify_error(response.status_code, body, response.headers, operation=operation)
            if (
                account is not None
                and isinstance(error, RateLimited)
                and error.retry_after is None
                and not wait_time_given(response.headers)
            ):
                # Throttled without a wait time: stop calling this account until its usage has room.
                error.retry_after = self._pauses.pause(account)
                error.account_paused = True
                logger.warning(
                    "instagram throttled an account without a wait time; pausing it for %.0fs",
                    error.retry_after,
                    extra={"operation": operation},
                )
            elif account is not None and not isinstance(error, RateLimited):
                self._pauses.answered(account, response.headers)
            raise error
        if account is not None:
            self._pauses.answered(account, response.headers)

        try:
            body = response.json()
        except ValueError:
            raise UnexpectedResponse(
                "response is not JSON", operation=operation, http_status=response.status_code
            ) from None
        try:
            return parse(body)
        except ValidationError as exc:
            # Never str(exc): pydantic quotes the input, which may be a token.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            message = f"unexpected response: {problems}"
        except ResponseShapeError as exc:
            message = f"unexpected response: {exc}"
        raise UnexpectedResponse(_scrub(message, redact), operation=operation, http_status=response.status_code)

    def _refuse_if_paused(self, account: str, operation: str) -> None:
        remaining = self._pauses.remaining(account)
        if remaining is None:
            return
        error = RateLimited(
            "Instagram throttled this account without saying for how long: it is not called again until its "
            "usage has room",
            operation=operation,
            retry_after=ceil_seconds(remaining),
        )
        error.account_paused = True
        raise error

    def _report(self, operation: str, outcome: str, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(operation, outcome, seconds)
        except Exception:
            # Metrics must never break a call that worked.
            logger.exception("on_call hook failed for %s", operation)


def _id_of(body: object) -> str:
    if isinstance(body, Mapping):
        value = body.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    raise ResponseShapeError("no id in the response")


def _decode(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:
        return response.text
    return body


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


def _scrub_json(value: object, secrets: tuple[str, ...]) -> object:
    """Replace secrets in every string of a decoded body, so no error attribute can echo one."""
    if isinstance(value, str):
        return _scrub(value, secrets)
    if isinstance(value, Mapping):
        return {key: _scrub_json(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_json(item, secrets) for item in value]
    return value


def _segment(value: str) -> str:
    """Validate an id that goes into a URL path."""
    if not _PATH_SEGMENT.fullmatch(value) or set(value) == {"."}:
        raise ValueError("an Instagram id may only contain letters, digits, '_', '.', ':' and '-'")
    return value


def _string_list(values: Sequence[str], name: str) -> list[str]:
    # A bare string is a Sequence[str] too; "abc" must not become "a,b,c".
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not a string")
    return list(values)


def _exactly_one(**urls: str | None) -> None:
    given = [name for name, url in urls.items() if url is not None]
    if len(given) != 1:
        raise ValueError(f"pass exactly one of {', '.join(urls)}")


def _without_none(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value is not None}


def _bool(value: bool) -> str:
    return "true" if value else "false"
