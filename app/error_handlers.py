"""The exception handlers that turn every error into the envelope of app/errors.py: `{"error": ...}`.

Apart from app/errors.py because they need FastAPI, and the worker, which raises and records the same errors,
does not import FastAPI (about 6 MB of its resident memory).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError, validation_message
from app.ids import validation_is_unknown_id


def _required_body_fields(request: Request) -> list[str]:
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(body_field, "type_", None) or getattr(getattr(body_field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None)
    if not isinstance(fields, dict):
        return []
    return [name for name, info in fields.items() if info.is_required()]


# --- handlers ------------------------------------------------------------------------------------


def error_json(status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body, headers=headers)


async def _app_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_json(exc.status_code, exc.body(), exc.headers)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unknown = validation_is_unknown_id(exc.errors())
    if unknown is not None:
        # An id beyond what the database can hold names no record: the same 404 as any unknown id.
        message, code = unknown
        return error_json(404, {"error": message, "code": code})
    message, details = validation_message(exc.errors(), _required_body_fields(request))
    return error_json(400, {"error": message, "code": "validation_error", "details": details})


_HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
}


async def _http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code) if exc.detail in (None, "Not Found", "Method Not Allowed") else None
    body = {
        "error": message or str(exc.detail),
        "code": "not_found" if exc.status_code == 404 else "http_error",
    }
    return error_json(exc.status_code, body, dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
