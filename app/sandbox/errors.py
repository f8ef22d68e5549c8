"""The errors the sandbox answers, in the real hosts' envelopes.

Graph (`graph.instagram.com`): `{"error": {message, type, code, error_subcode?, is_transient,
error_user_title, error_user_msg, fbtrace_id}}` with HTTP 400 (403 for permission errors, 500 for server errors).
Code exchange (`api.instagram.com/oauth/access_token`): `{"error_type", "code": 400, "error_message"}`.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

_TRACE_ALPHABET = string.ascii_letters + string.digits

PERMISSION_CODES = frozenset({10, *range(200, 300)})


def fbtrace_id() -> str:
    """An 11-character trace id like Meta's."""
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(10))


class GraphError(Exception):
    """A Graph API error answer."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        http_status: int | None = None,
        error_type: str = "OAuthException",
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        regain_minutes: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        if http_status is None:
            http_status = 403 if code in PERMISSION_CODES else 400
        self.http_status = http_status
        self.error_type = error_type
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        # Throttling errors: minutes to report in X-Business-Use-Case-Usage.
        self.regain_minutes = regain_minutes

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.is_transient
        error["error_user_title"] = self.user_title or "Request Failed"
        error["error_user_msg"] = self.user_msg or self.message
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


class OAuthCodeError(Exception):
    """An error of `POST /oauth/access_token` (its own flat envelope)."""

    def __init__(self, message: str, *, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status

    def body(self) -> dict[str, Any]:
        return {"error_type": "OAuthException", "code": self.http_status, "error_message": self.message}


class AuthorizeError(Exception):
    """An error of the authorization window, shown as an HTML page."""

    def __init__(self, message: str, *, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


# --- the errors used in more than one place -------------------------------------------------------


def _graph_date(moment: datetime) -> str:
    return moment.strftime("%A, %d-%b-%y %H:%M:%S UTC")


def no_token() -> GraphError:
    return GraphError(
        "An active access token must be used to query information about the current user.",
        code=2500,
        user_title="Access Token Missing",
    )


def invalid_token() -> GraphError:
    return GraphError(
        "Invalid OAuth access token - Cannot parse access token",
        code=190,
        user_title="Invalid Access Token",
    )


def expired_token(expired_at: datetime, now: datetime) -> GraphError:
    return GraphError(
        f"Error validating access token: Session has expired on {_graph_date(expired_at)}. "
        f"The current time is {_graph_date(now)}.",
        code=190,
        subcode=463,
        user_title="Session Expired",
        user_msg="Your session has expired. Please log in again.",
    )


def revoked_token() -> GraphError:
    return GraphError(
        "Error validating access token: The session has been invalidated because the user changed their "
        "password or Facebook has changed the session for security reasons.",
        code=190,
        subcode=460,
        user_title="Session Invalidated",
        user_msg="The session was invalidated. Please log in again.",
    )


def missing_permission() -> GraphError:
    return GraphError(
        "(#10) Application does not have permission for this action",
        code=10,
        user_title="Permission Missing",
        user_msg="The app user did not grant the permission this call needs.",
    )


def unsupported_request(method: str, object_id: str) -> GraphError:
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation",
        code=100,
        subcode=33,
        error_type="IGApiException",
        user_title="Object Not Found",
    )


def unsupported_method(method: str, user_msg: str | None = None) -> GraphError:
    return GraphError(
        f"Unsupported request - method type: {method.lower()}",
        code=100,
        error_type="IGApiException",
        user_title="Unsupported Request",
        user_msg=user_msg,
    )


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(
        f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
        code=100,
        user_title="Unknown Field",
    )


def invalid_parameter(message: str, *, subcode: int | None = None, user_title: str = "Invalid Parameter") -> GraphError:
    return GraphError(f"(#100) {message}", code=100, subcode=subcode, user_title=user_title)


def missing_parameter(name: str) -> GraphError:
    return invalid_parameter(f"The parameter {name} is required")


def server_error(
    message: str = "An unexpected error has occurred. Please retry your request later.",
) -> GraphError:
    return GraphError(message, code=2, http_status=500, is_transient=True, user_title="Service Unavailable")


def unknown_error() -> GraphError:
    return GraphError("An unknown error has occurred.", code=1, http_status=500, user_title="Unknown Error")


def user_throttled(regain_minutes: int) -> GraphError:
    return GraphError(
        "There have been too many calls to this Instagram account. Wait a bit and try again. For more info, "
        "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        code=80002,
        is_transient=True,
        user_title="Too Many Calls",
        regain_minutes=regain_minutes,
    )


def app_throttled(regain_minutes: int) -> GraphError:
    return GraphError(
        "(#4) Application request limit reached",
        code=4,
        is_transient=True,
        user_title="Application Request Limit Reached",
        regain_minutes=regain_minutes,
    )
