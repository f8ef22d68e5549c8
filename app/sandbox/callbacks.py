"""The deauthorize and data-deletion callbacks: Meta POSTs a form body `signed_request=<sig>.<payload>` to the
URLs configured in the App Dashboard when a user removes the app or asks for their data to be deleted.

`signed_request` = base64url(HMAC-SHA256(app secret, encoded payload)) + "." + base64url(JSON payload), padding
stripped; the payload is `{"algorithm": "HMAC-SHA256", "issued_at": <unix>, "user_id": "<id>"}`. A data-deletion
callback must answer JSON `{"url", "confirmation_code"}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from app.sandbox.outbound import OutboundHttp, describe_failure

CallbackKind = Literal["deauthorize", "data_deletion"]
BODY_EXCERPT_CHARS = 2000


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_request(secret: str, user_id: str, issued_at: int) -> str:
    """`<b64url(sig)>.<b64url(payload)>`, signed with the app secret as Meta does."""
    payload = json.dumps(
        {"algorithm": "HMAC-SHA256", "issued_at": issued_at, "user_id": user_id}, separators=(",", ":")
    )
    encoded_payload = _b64url(payload.encode())
    signature = hmac.new(secret.encode(), encoded_payload.encode("ascii"), hashlib.sha256).digest()
    return f"{_b64url(signature)}.{encoded_payload}"


@dataclass(slots=True)
class CallbackUrls:
    """The App Dashboard's Deauthorize callback URL and Data Deletion Request URL."""

    deauthorize_url: str | None = None
    data_deletion_url: str | None = None

    def url_for(self, kind: CallbackKind) -> str | None:
        return self.deauthorize_url if kind == "deauthorize" else self.data_deletion_url


def _confirmation(response: httpx.Response) -> dict[str, Any]:
    """Whether a data-deletion answer is the JSON `{url, confirmation_code}` Meta expects."""
    if not response.is_success:
        return {"valid": False, "problem": f"the callback answered HTTP {response.status_code}"}
    try:
        body = response.json()
    except ValueError:
        return {"valid": False, "problem": "the answer is not JSON"}
    if not isinstance(body, dict):
        return {"valid": False, "problem": "the answer is not a JSON object"}
    url, code = body.get("url"), body.get("confirmation_code")
    problems = []
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        problems.append("url must be an http(s) URL where the user can follow the deletion")
    if not isinstance(code, str) or not code.strip():
        problems.append("confirmation_code must be a non-empty string")
    if problems:
        return {"valid": False, "problem": "; ".join(problems), "url": url, "confirmation_code": code}
    return {"valid": True, "url": url, "confirmation_code": code}


async def send_callback(
    outbound: OutboundHttp, kind: CallbackKind, url: str, *, secret: str, user_id: str, issued_at: int
) -> dict[str, Any]:
    """POST the signed request to the URL; what the callee answered (status, body, and for data deletion
    whether the answer carries the confirmation)."""
    request = signed_request(secret, user_id, issued_at)
    report: dict[str, Any] = {"url": url, "signed_request": request, "status": None, "body": None, "error": None}
    try:
        response = await outbound.client().post(url, data={"signed_request": request})
    except Exception as exc:  # network errors, timeouts, an in-process app that raised
        report["error"] = describe_failure(exc)
        if kind == "data_deletion":
            report["confirmation"] = {"valid": False, "problem": "no answer"}
        return report
    report["status"] = response.status_code
    report["body"] = response.text[:BODY_EXCERPT_CHARS]
    if kind == "data_deletion":
        report["confirmation"] = _confirmation(response)
    return report
