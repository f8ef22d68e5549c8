"""Request parameters as the real hosts read them: query string, form body or JSON body, and `fields`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from app.sandbox.errors import invalid_parameter


async def read_params(request: Request) -> dict[str, str]:
    """Query parameters merged with a form or JSON body (the body wins); values as strings."""
    params: dict[str, str] = dict(request.query_params.items())
    if request.method in {"GET", "HEAD"}:
        return params
    content_type = request.headers.get("content-type", "").lower()
    if "json" in content_type:
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise invalid_parameter("The request body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise invalid_parameter("The JSON body must be an object")
            for key, value in body.items():
                if value is not None:
                    params[str(key)] = _as_text(value)
    elif "form" in content_type:
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, str):
                params[key] = value
    return params


def _as_text(value: Any) -> str:
    """JSON values the way Graph reads them: booleans as true/false, scalar lists comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return ",".join(str(item) for item in value)
    return json.dumps(value, separators=(",", ":"))


def bearer_token(request: Request, params: dict[str, str]) -> str | None:
    """The access token from `Authorization: Bearer|OAuth <token>` or the `access_token` parameter."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and credentials.strip():
        return credentials.strip()
    token = params.get("access_token", "").strip()
    return token or None


def parse_bool(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise invalid_parameter(f"Param {name} must be a boolean")


def parse_int(value: str | None, name: str, *, default: int, minimum: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise invalid_parameter(f"Param {name} must be an integer") from exc
    if minimum is not None and number < minimum:
        raise invalid_parameter(f"Param {name} must be at least {minimum}")
    return number


def parse_list(value: str | None) -> list[str]:
    """A comma- (or space-) separated list, empty items dropped; a JSON array is accepted too."""
    if not value:
        return []
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [str(item).strip() for item in items if str(item).strip()]
    return [item.strip() for item in text.replace(" ", ",").split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One requested field, with its own sub-fields for `owner{id,username}`-style requests."""

    name: str
    children: tuple[FieldSpec, ...] | None = None


def parse_fields(value: str | None) -> list[FieldSpec] | None:
    """`id,caption,owner{id}` → field specs; None when `fields` is absent or empty."""
    if value is None or not value.strip():
        return None
    return _parse_field_list(value)


def _parse_field_list(text: str) -> list[FieldSpec]:
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    specs: list[FieldSpec] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        name, brace, rest = item.partition("{")
        # Modifiers such as `.limit(5)` are accepted and ignored.
        name = name.split(".", 1)[0].strip()
        children = tuple(_parse_field_list(rest.rsplit("}", 1)[0])) if brace else None
        specs.append(FieldSpec(name, children))
    return specs
