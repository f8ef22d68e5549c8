"""The call machinery every operation goes through, and how ids and lists are checked before they reach a URL.

Every call goes through `_call`, which sends the request, turns failures into the InstagramError hierarchy
(errors.py), reports the attempt to `on_call`, and applies the retry policy (retry.py) with the retry mode
the operation declares. The operations are grouped by what they are for (oauth.py, publishing.py, and
reads and insights in client.py), so that no one module holds them all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Literal, TypeVar

import httpx
from pydantic import ValidationError

from app.instagram.config import InstagramConfig, join_url
from app.instagram.errors import InstagramUnavailable, RateLimited, UnexpectedResponse, classify_error
from app.instagram.models import ResponseShapeError
from app.instagram.redaction import BearerToken, scrub, scrub_json
from app.instagram.retry import RetryMode, RetryPolicy
from app.instagram.throttle import AccountPauses, account_key, ceil_seconds, wait_time_given

logger = logging.getLogger("app.instagram.client")

T = TypeVar("T")

CallObserver = Callable[[str, str, float], None]
# Without a connection, the request never left this process: it certainly had no effect.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Ids go into URL paths; anything else could turn `123/media_publish` into a different endpoint.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.:-]+")


class GraphCalls:
    """How every call is made: one logical call with its retries, each attempt sent, classified and reported.

    InstagramClient sets up the attributes (`__init__`); the groups of operations use the methods.
    """

    _config: InstagramConfig
    _policy: RetryPolicy
    _on_call: CallObserver | None
    _pauses: AccountPauses
    _sleep: Callable[[float], Awaitable[None]]
    _random: Callable[[], float]
    _http: httpx.AsyncClient

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

    async def _call(
        self,
        operation: str,
        method: Literal["GET", "POST", "DELETE"],
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
                scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, redact),
                operation=operation,
                request_sent=not isinstance(exc, _NOT_SENT),
            ) from None

        if not response.is_success:
            body = scrub_json(_decode(response), redact)
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
        raise UnexpectedResponse(scrub(message, redact), operation=operation, http_status=response.status_code)

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


def _decode(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:
        return response.text
    return body


def segment(value: str) -> str:
    """Validate an id that goes into a URL path."""
    if not _PATH_SEGMENT.fullmatch(value) or set(value) == {"."}:
        raise ValueError("an Instagram id may only contain letters, digits, '_', '.', ':' and '-'")
    return value


def string_list(values: Sequence[str], name: str) -> list[str]:
    # A bare string is a Sequence[str] too; "abc" must not become "a,b,c".
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not a string")
    return list(values)


def id_of(body: object) -> str:
    if isinstance(body, Mapping):
        value = body.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    raise ResponseShapeError("no id in the response")
