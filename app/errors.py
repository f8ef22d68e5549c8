"""Errors: classes that carry their HTTP status, and the envelope's wording (the handlers that turn everything
into `{"error": ...}` are in app/error_handlers.py: the worker raises these errors but imports no FastAPI).

Every error the service answers has the same envelope: `{"error": "<sentence>"}` plus optional keys
(`code`, `action`, `auth_url`, `details`, `retry_after`, `request_id`). FastAPI's `{"detail": ...}` never
leaves the process, and neither does a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AppError(Exception):
    """An error with a status code and a sentence for the client."""

    status_code = 500
    code = "internal_error"
    message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"
    message = "Bad request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    message = "Authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "Conflict"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "unavailable"
    message = "Service unavailable"


# --- OpenAPI -------------------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """The envelope of every error answer."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"error": "Post not found"}]})

    error: str = Field(description="A sentence saying what went wrong and, where possible, what to do.")
    code: str | None = Field(default=None, description="A stable machine-readable code.")


_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Bad input", {"error": "account_id and image_url are required", "code": "validation_error"}),
    401: (
        "Missing or invalid credentials",
        {"error": "Authorization header with a Bearer token is required", "code": "unauthorized"},
    ),
    403: ("Not allowed", {"error": "Forbidden", "code": "forbidden"}),
    404: ("Not found, or owned by another user", {"error": "Not found", "code": "not_found"}),
    409: ("Conflicts with the current state", {"error": "Conflict", "code": "conflict"}),
    429: (
        "Rate limited by Instagram",
        {"error": "Rate limit exceeded. Please try again later.", "code": "rate_limited", "retry_after": 60},
    ),
    502: (
        "Instagram unreachable or failing",
        {
            "error": "Instagram did not answer properly. Please try again later.",
            "code": "instagram_unavailable",
        },
    ),
    503: ("A dependency is down", {"error": "Service unavailable", "code": "unavailable"}),
}


def error_example(status: int) -> tuple[str, dict[str, Any]]:
    """The description and example body documented for an error status."""
    return _EXAMPLES[status]


def error_responses(
    *statuses: int,
    examples: dict[int, dict[str, Any]] | None = None,
    descriptions: dict[int, str] | None = None,
) -> dict[int | str, Any]:
    """`responses=` entries for the given statuses, each with the error envelope, a description and an example
    (the route's own in `descriptions` and `examples`, else the status's)."""
    out: dict[int | str, Any] = {}
    for status in statuses:
        description, example = _EXAMPLES[status]
        out[status] = {
            "model": ErrorResponse,
            "description": (descriptions or {}).get(status, description),
            "content": {"application/json": {"example": (examples or {}).get(status, example)}},
        }
    return out


# --- validation messages -------------------------------------------------------------------------


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def _join(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    loc = error.get("loc", ())
    field = _field_name(loc)
    ctx = error.get("ctx") or {}
    where = {"query": "query parameter ", "path": "path parameter ", "header": "header "}.get(loc[0] if loc else "", "")
    subject = f"{where}{field}" if field else "request body"
    if kind == "json_invalid":
        return f"Request body is not valid JSON ({ctx.get('error', 'syntax error')})"
    if kind in ("model_attributes_type", "dict_type", "model_type") and not field:
        return "Request body must be a JSON object"
    if kind == "missing" and not field:
        return "Request body is required (a JSON object)"
    messages = {
        "int_parsing": f"{subject} must be an integer",
        "int_type": f"{subject} must be an integer",
        "int_from_float": f"{subject} must be a whole number",
        "float_parsing": f"{subject} must be a number",
        "float_type": f"{subject} must be a number",
        "string_type": f"{subject} must be a string",
        "bool_parsing": f"{subject} must be true or false",
        "bool_type": f"{subject} must be true or false",
        "list_type": f"{subject} must be a list",
        "dict_type": f"{subject} must be an object",
        "greater_than": f"{subject} must be greater than {ctx.get('gt')}",
        "greater_than_equal": f"{subject} must be at least {ctx.get('ge')}",
        "less_than": f"{subject} must be less than {ctx.get('lt')}",
        "less_than_equal": f"{subject} must be at most {ctx.get('le')}",
        "string_too_short": f"{subject} must not be empty"
        if ctx.get("min_length") == 1
        else f"{subject} must be at least {ctx.get('min_length')} characters",
        "string_too_long": f"{subject} must be at most {ctx.get('max_length')} characters",
        "too_short": f"{subject} must have at least {ctx.get('min_length')} items",
        "too_long": f"{subject} must have at most {ctx.get('max_length')} items",
        "url_parsing": f"{subject} must be an absolute http(s) URL",
        "url_scheme": f"{subject} must be an http or https URL",
        "url_type": f"{subject} must be an absolute http(s) URL",
        "datetime_parsing": f"{subject} must be an ISO 8601 date-time such as 2026-12-01T09:00:00+09:00",
        "datetime_from_date_parsing": f"{subject} must be an ISO 8601 date-time such as 2026-12-01T09:00:00Z",
        "datetime_type": f"{subject} must be an ISO 8601 date-time",
        "timezone_aware": f"{subject} must include a UTC offset, such as 2026-12-01T09:00:00+09:00",
        "literal_error": f"{subject} must be one of: {ctx.get('expected', '')}",
        "enum": f"{subject} must be one of: {ctx.get('expected', '')}",
        "extra_forbidden": f"{subject} is not a known field",
    }
    if kind in messages:
        return messages[kind]
    if kind == "value_error":
        reason = str(ctx.get("error") or error.get("msg", "is invalid"))
        if not field or reason.startswith(field):
            return reason
        return f"{subject} {reason}" if reason.startswith("must ") else f"{subject}: {reason}"
    return f"{subject}: {error.get('msg', 'is invalid')}"


def validation_message(
    errors: Iterable[dict[str, Any]], required_body_fields: Sequence[str] = ()
) -> tuple[str, list[dict[str, str]]]:
    """The sentence for a failed validation and per-field details.

    Missing fields use the seed's wording: when a body field is missing, the sentence names the body's
    required fields in schema order, as the seed's API does ("account_id and image_url are required",
    even when only image_url was left out); `details` names exactly what is missing. Missing query or
    path parameters are named one by one ("account_id is required").
    """
    errors = list(errors)
    details = [{"field": _field_name(e.get("loc", ())) or "body", "message": _describe(e)} for e in errors]
    missing = [e for e in errors if e.get("type") == "missing" and _field_name(e.get("loc", ()))]
    for detail, error in zip(details, errors, strict=True):
        if error.get("type") == "missing" and detail["field"] != "body":
            detail["message"] = f"{detail['field']} is required"
    if missing:
        names = [_field_name(e["loc"]) for e in missing]
        top_level_body = [e for e in missing if e["loc"][0] == "body" and len(e["loc"]) == 2]
        if top_level_body and len(top_level_body) == len(missing) and required_body_fields:
            names = list(required_body_fields)
        verb = "is" if len(names) == 1 else "are"
        return f"{_join(names)} {verb} required", details
    seen: list[str] = []
    for detail in details:
        if detail["message"] not in seen:
            seen.append(detail["message"])
    return "; ".join(seen[:3]), details
