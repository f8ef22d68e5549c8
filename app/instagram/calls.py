"""What the client's groups of operations share: the calls they make through the client, and how ids and
lists are checked before they reach a URL.

`InstagramClient` implements `GraphCalls`; the operations are grouped by what they are for (OAuth,
publishing, reads and insights) so that no one module holds them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeVar

from app.instagram.config import InstagramConfig
from app.instagram.models import ResponseShapeError
from app.instagram.retry import RetryMode

T = TypeVar("T")

# Ids go into URL paths; anything else could turn `123/media_publish` into a different endpoint.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.:-]+")


class GraphCalls:
    """The client's own calls, as the operation groups see them (implemented by InstagramClient)."""

    _config: InstagramConfig

    def _graph_url(self, path: str) -> str:
        raise NotImplementedError

    async def _graph_get(
        self,
        operation: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, str],
        parse: Callable[[object], T],
    ) -> T:
        raise NotImplementedError

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
        raise NotImplementedError


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
