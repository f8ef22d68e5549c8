"""Build the Postman collection and environment (collection format v2.1) from the service's OpenAPI document.

    .venv/bin/python postman/build_collection.py           # write postman/*.json
    .venv/bin/python postman/build_collection.py --check   # exit 1 when the committed files are out of date

Request bodies are the OpenAPI examples (`account_id` becomes `{{account_id}}`), every publishing POST sends a
fresh `Idempotency-Key` (`{{$guid}}`), and each request tests its status and the shape of its answer (the
required keys of its response schema). Two folders: the five-minute flow (connect through the sandbox's consent
form, post, read insights, list media, disconnect) and one request per API operation.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402 - after the path is set, so the script runs from anywhere
from app.main import create_app  # noqa: E402

API = "/api/sns/instagram"
COLLECTION_FILE = ROOT / "postman" / "instagram-service.postman_collection.json"
ENVIRONMENT_FILE = ROOT / "postman" / "instagram-service.postman_environment.json"
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
DEFAULT_BASE_URL = "http://localhost:8765"
JSON_HEADERS = [{"key": "Content-Type", "value": "application/json"}]


@dataclass
class Step:
    """One request of the collection."""

    name: str
    method: str
    path: str  # an OpenAPI path template; {placeholders} become Postman variables
    status: int
    description: str = ""
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | str | None = None  # "example": the operation's OpenAPI example
    form: dict[str, str] | None = None
    # multipart/form-data: a value "@path" is a file (relative to the repository, where newman runs).
    multipart: dict[str, str] | None = None
    operation: tuple[str, str] | None = None  # the OpenAPI operation it exercises (method, path)
    schema: str | None = "auto"  # the response schema whose required keys are checked; "auto" from OpenAPI
    tests: list[str] = field(default_factory=list)  # more Postman test lines
    prerequest: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # path placeholder → what replaces it
    idempotent: bool = False  # send Idempotency-Key: {{$guid}}
    follow_redirects: bool = True
    auth: bool = True
    accept_html: bool = False
    raw_url: str | None = None  # a whole URL from a variable (the sandbox's consent page)


def _set(name: str, expression: str, scope: str = "collectionVariables") -> str:
    return f"pm.{scope}.set({json.dumps(name)}, {expression});"


CONNECT_STEPS = [
    Step(
        "Get the authorization URL",
        "GET",
        f"{API}/oauth/authorize",
        200,
        "Step 1 of the seed: the URL to open in the user's browser.",
        operation=("get", f"{API}/oauth/authorize"),
        tests=[_set("auth_url", "pm.response.json().auth_url")],
    ),
    Step(
        "Sandbox: open the consent page",
        "GET",
        "",
        200,
        "What the browser shows: the sandbox's Instagram consent page.",
        raw_url="{{auth_url}}",
        schema=None,
        auth=False,
        accept_html=True,
        tests=['pm.test("a consent form", () => pm.expect(pm.response.text()).to.include("<form"));'],
    ),
    Step(
        "Sandbox: press Allow",
        "POST",
        "",
        302,
        "Pressing *Allow*: the sandbox sends the browser back to the callback with `code` and `state`.",
        raw_url="{{auth_url}}",
        form={"username": "{{username}}", "action": "allow"},
        schema=None,
        auth=False,
        follow_redirects=False,
        tests=[
            'const location = pm.response.headers.get("Location");',
            'pm.test("back to the callback", () => pm.expect(location).to.include("/callback?code="));',
            "const query = {};",
            'location.split("#")[0].split("?")[1].split("&").forEach(pair => {',
            '    const [key, value] = pair.split("=");',
            '    query[key] = decodeURIComponent(value.replace(/\\+/g, " "));',
            "});",
            _set("code", "query.code"),
            _set("state", "query.state"),
        ],
    ),
    Step(
        "OAuth callback (connects the account)",
        "GET",
        f"{API}/callback",
        200,
        "Where Instagram sends the browser; API clients get JSON (a browser gets a page saying so).",
        query={"code": "{{code}}", "state": "{{state}}"},
        operation=("get", f"{API}/callback"),
        auth=False,
        tests=[_set("account_id", "pm.response.json().account.id", scope="environment")],
    ),
]

FLOW = [
    *CONNECT_STEPS,
    Step(
        "Publish a feed post",
        "POST",
        f"{API}/posts",
        201,
        "Seed §2 with media on example.com, which the sandbox makes up without network.",
        body="example",
        idempotent=True,
        operation=("post", f"{API}/posts"),
        tests=[_set("db_id", "pm.response.json().db_id"), _set("post_id", "pm.response.json().post_id")],
    ),
    Step(
        "Read the post's insights",
        "GET",
        f"{API}/{{db_id}}/insights",
        200,
        "Seed §5.",
        operation=("get", f"{API}/{{db_id}}/insights"),
    ),
    Step(
        "See the post in the account's media",
        "GET",
        f"{API}/media",
        200,
        "Seed §7: the post just published is the newest.",
        query={"account_id": "{{account_id}}", "limit": "25"},
        operation=("get", f"{API}/media"),
        tests=[
            'pm.test("the new post is listed", () => pm.expect(pm.response.json().posts.map(p => p.id))'
            '.to.include(pm.collectionVariables.get("post_id")));'
        ],
    ),
    Step(
        "Disconnect the account",
        "DELETE",
        f"{API}/accounts/{{account_id}}",
        200,
        "Seed §9.",
        operation=("delete", f"{API}/accounts/{{account_id}}"),
        tests=[
            'pm.test("the seed\'s message", () => pm.expect(pm.response.json().message)'
            '.to.eql("Account disconnected successfully"));'
        ],
    ),
]


# Builds `signed_request` as Meta does: base64url(HMAC-SHA256(app secret, payload)) + "." + base64url(payload),
# padding stripped. The secret is the sandbox's documented public default.
SIGN_REQUEST = [
    "const hashes = require('crypto-js');",
    "const b64url = (words) => hashes.enc.Base64.stringify(words)"
    ".replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_');",
    "const appSecret = 'sandbox-app-secret';",
    "const payload = b64url(hashes.enc.Utf8.parse(JSON.stringify("
    "{algorithm: 'HMAC-SHA256', issued_at: Math.floor(Date.now() / 1000), user_id: '17841400000000001'})));",
    "const signature = b64url(hashes.HmacSHA256(payload, appSecret));",
    _set("signed_request", "signature + '.' + payload"),
]


def _op(method: str, path: str, status: int, name: str, description: str = "", **kwargs: Any) -> Step:
    return Step(name, method.upper(), path, status, description, operation=(method, path), **kwargs)


EVERY_OPERATION = [
    *CONNECT_STEPS,
    _op("get", f"{API}/accounts", 200, "List connected accounts"),
    _op("get", f"{API}/accounts/{{account_id}}", 200, "Get one connected account"),
    _op("get", f"{API}/account/info", 200, "Get the account's live profile", query={"account_id": "{{account_id}}"}),
    _op("get", f"{API}/media", 200, "List recent media", query={"account_id": "{{account_id}}", "limit": "25"}),
    _op(
        "post",
        f"{API}/posts",
        201,
        "Publish a feed post",
        body="example",
        idempotent=True,
        tests=[_set("db_id", "pm.response.json().db_id")],
    ),
    _op("post", f"{API}/stories", 201, "Publish a story", body="example", idempotent=True),
    _op(
        "post",
        f"{API}/reels",
        201,
        "Publish a reel",
        "Waits for the video to be processed.",
        body="example",
        idempotent=True,
    ),
    _op("post", f"{API}/carousels", 201, "Publish a carousel", body="example", idempotent=True),
    _op(
        "post",
        f"{API}/batch-post",
        207,
        "Publish to every active account",
        body="example",
        idempotent=True,
        tests=['pm.test("one result per account", () => pm.expect(pm.response.json()).to.have.lengthOf.at.least(1));'],
    ),
    _op("get", f"{API}/posts", 200, "List posts", query={"account_id": "{{account_id}}", "limit": "20"}),
    _op("get", f"{API}/posts/{{db_id}}", 200, "Get one post"),
    _op("get", f"{API}/{{db_id}}/insights", 200, "Get a post's insights"),
    _op("get", f"{API}/{{db_id}}/insights/history", 200, "Get a post's insights history"),
    _op(
        "get",
        f"{API}/account/insights",
        200,
        "Get account insights",
        query={"account_id": "{{account_id}}", "period": "day"},
    ),
    _op(
        "post",
        f"{API}/{{db_id}}/comments",
        201,
        "Comment on a post",
        "The account comments on its own post.",
        body="example",
        idempotent=True,
        tests=[_set("comment_id", "pm.response.json().comment_id")],
    ),
    _op("get", f"{API}/{{db_id}}/comments", 200, "List a post's comments", query={"limit": "25"}),
    _op(
        "post",
        f"{API}/comments/{{comment_id}}/replies",
        201,
        "Reply to a comment",
        body={"message": "Replying from Postman"},
        idempotent=True,
    ),
    _op(
        "post",
        f"{API}/comments/{{comment_id}}/hide",
        200,
        "Hide or show a comment",
        "Instagram never hides the account's own comments, so this shows the one made above (`hidden: false`); "
        "on a fan's comment `hidden: true` hides it.",
        body={"hidden": False},
    ),
    _op("delete", f"{API}/comments/{{comment_id}}", 200, "Delete a comment"),
    Step(
        "Schedule a post for tomorrow",
        "POST",
        f"{API}/posts",
        202,
        "A post with `scheduled_at` answers 202 and waits in the database.",
        body={
            "account_id": 1,
            "image_url": "https://example.com/tomorrow.jpg",
            "caption": "Scheduled from Postman",
            "scheduled_at": "{{scheduled_at}}",
        },
        idempotent=True,
        operation=("post", f"{API}/posts"),
        prerequest=[
            _set("scheduled_at", "new Date(Date.now() + 24 * 3600 * 1000).toISOString()"),
        ],
        tests=[_set("scheduled_db_id", "pm.response.json().db_id")],
    ),
    _op(
        "delete",
        f"{API}/posts/{{db_id}}",
        200,
        "Cancel a scheduled post",
        variables={"db_id": "{{scheduled_db_id}}"},
        tests=['pm.test("cancelled", () => pm.expect(pm.response.json().post.status).to.eql("cancelled"));'],
    ),
    Step(
        "Sandbox: make the next container fail",
        "POST",
        "/sandbox/control/faults",
        201,
        "Arms a fault in the sandbox, so the next post fails and can be retried.",
        body={"endpoint": "media_create", "kind": "error", "code": 9004, "message": "Media could not be fetched"},
        schema=None,
        auth=False,
    ),
    Step(
        "Publish a post that fails",
        "POST",
        f"{API}/posts",
        400,
        "Instagram refused the media: the post is recorded as failed.",
        body={"account_id": 1, "image_url": "https://example.com/retry-me.jpg", "caption": "Retried from Postman"},
        schema="ErrorResponse",
        tests=[
            'pm.test("the failed post\'s db_id", () => pm.expect(pm.response.json().db_id).to.be.a("number"));',
            _set("failed_db_id", "pm.response.json().db_id"),
        ],
    ),
    _op(
        "post",
        f"{API}/posts/{{db_id}}/retry",
        201,
        "Retry a failed post",
        variables={"db_id": "{{failed_db_id}}"},
    ),
    _op(
        "post",
        f"{API}/webhooks",
        201,
        "Register a webhook endpoint",
        "Events are POSTed to `url`, signed (Standard Webhooks). The URL must be public; for a receiver on this "
        "machine start the service with WEBHOOK_ALLOW_LOOPBACK=true (make postman does). The signing secret is "
        "shown only in this answer.",
        body={"url": "{{base_url}}/healthz", "events": ["*"], "description": "Postman"},
        tests=[_set("webhook_id", "pm.response.json().id")],
    ),
    _op("get", f"{API}/webhooks", 200, "List webhook endpoints"),
    _op("get", f"{API}/webhooks/{{webhook_id}}", 200, "Get a webhook endpoint"),
    _op(
        "patch",
        f"{API}/webhooks/{{webhook_id}}",
        200,
        "Change a webhook endpoint",
        body={"description": "Postman (renamed)"},
    ),
    _op("post", f"{API}/webhooks/{{webhook_id}}/rotate-secret", 200, "Rotate the signing secret"),
    _op(
        "post",
        f"{API}/webhooks/{{webhook_id}}/test",
        200,
        "Send a test event",
        "Answers how the delivery went. Here the receiver is /healthz, which takes no POST: the delivery is "
        "recorded as failed with its HTTP status, and can be sent again below.",
        tests=[_set("delivery_id", "pm.response.json().id")],
    ),
    _op("get", f"{API}/webhooks/{{webhook_id}}/deliveries", 200, "List the endpoint's deliveries"),
    _op(
        "post",
        f"{API}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver",
        202,
        "Send a delivery again",
    ),
    _op("get", f"{API}/events", 200, "Read your events (the feed)", query={"limit": "50"}),
    _op("delete", f"{API}/webhooks/{{webhook_id}}", 200, "Delete the webhook endpoint"),
    _op(
        "get",
        f"{API}/webhooks/instagram",
        403,
        "Instagram webhooks: Meta's handshake (wrong token)",
        "Meta calls this when the callback URL is saved in the App Dashboard, with hub.verify_token = "
        "INSTAGRAM_WEBHOOK_VERIFY_TOKEN: it answers hub.challenge. Any other token answers 403, as here.",
        query={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "not-the-token"},
        auth=False,
        schema="ErrorResponse",
    ),
    _op(
        "post",
        f"{API}/webhooks/instagram",
        401,
        "Instagram webhooks: an unsigned delivery is refused",
        "Meta signs every delivery (X-Hub-Signature-256, HMAC-SHA256 of the body with the app secret); without "
        "the signature nothing is stored. To see a delivery go through, use the sandbox: "
        "PUT /sandbox/control/webhooks, then POST /sandbox/control/fans/comments.",
        body={"object": "instagram", "entry": []},
        auth=False,
        schema="ErrorResponse",
    ),
    _op("get", "/healthz", 200, "Liveness", auth=False),
    _op("get", "/readyz", 200, "Readiness", auth=False),
    _op(
        "get",
        "/metrics",
        200,
        "Prometheus metrics",
        auth=False,
        schema=None,
        tests=['pm.test("Prometheus text", () => pm.expect(pm.response.text()).to.include("http_requests_total"));'],
    ),
    _op(
        "get",
        "/media/{asset_name}",
        404,
        "A prepared image (gone once published)",
        "Prepared images exist only until their post is published: an unknown one answers 404.",
        auth=False,
        schema="ErrorResponse",
    ),
    _op(
        "post",
        f"{API}/uploads",
        201,
        "Upload an image",
        "Streams a file to storage and checks it; its `upload_id` then goes wherever a URL does. In Postman, pick "
        "postman/upload-sample.jpg (or any JPEG, PNG, MP4 or MOV) for `file`; newman sends it from the repository. "
        "`keep`: the upload survives its publication (to be deleted below).",
        multipart={"file": "@postman/upload-sample.jpg", "keep": "true"},
        tests=[_set("upload_id", "pm.response.json().upload_id")],
    ),
    _op("get", f"{API}/uploads/{{upload_id}}", 200, "Get an upload"),
    Step(
        "Publish the uploaded image",
        "POST",
        f"{API}/posts",
        201,
        "The upload_id in place of image_url.",
        body={"account_id": 1, "image_url": "{{upload_id}}", "caption": "Uploaded from Postman"},
        idempotent=True,
        operation=("post", f"{API}/posts"),
    ),
    _op("delete", f"{API}/uploads/{{upload_id}}", 200, "Delete an upload"),
    _op(
        "get",
        "/uploads/{key}",
        404,
        "An uploaded file, for Instagram (signed URL)",
        "Instagram fetches uploads from short-lived signed URLs the service makes when it creates the container: "
        "one without a valid signature answers 404.",
        query={"expires": "0", "signature": "invalid"},
        prerequest=[_set("key", json.dumps("upl_00000000000000000000000000000000.jpg"))],
        auth=False,
        schema="ErrorResponse",
    ),
    _op(
        "post",
        f"{API}/deauthorize",
        200,
        "Meta: deauthorize callback",
        "What Meta sends when a user removes the app: a form body with a `signed_request` made (in this request's "
        "pre-request script) exactly as Meta makes it, signed with the sandbox's public app secret. Against a live "
        "deployment, put your app secret in the script. The user here has nothing connected: 0 accounts change.",
        form={"signed_request": "{{signed_request}}"},
        prerequest=SIGN_REQUEST,
        auth=False,
    ),
    _op(
        "post",
        f"{API}/data-deletion",
        200,
        "Meta: data-deletion callback",
        "What Meta sends when a user asks for their data to be deleted; answers the status page's `url` and the "
        "`confirmation_code` Meta shows the user.",
        form={"signed_request": "{{signed_request}}"},
        prerequest=SIGN_REQUEST,
        auth=False,
        tests=[_set("confirmation_code", "pm.response.json().confirmation_code")],
    ),
    _op(
        "get",
        f"{API}/data-deletion/{{code}}",
        200,
        "Data-deletion request status (public)",
        "The page Meta links the user to: status and times only.",
        variables={"code": "{{confirmation_code}}"},
        auth=False,
    ),
    _op("delete", f"{API}/accounts/{{account_id}}", 200, "Disconnect the account"),
]


# --- building -----------------------------------------------------------------------------------


def load_openapi() -> dict[str, Any]:
    # Only the document is wanted: no secret, database or port matters here.
    settings = Settings(_env_file=None, public_base_url="http://localhost:8000")
    return create_app(settings, configure_logs=False).openapi()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _example_body(spec: dict[str, Any], step: Step) -> dict[str, Any]:
    assert step.operation is not None, f"{step.name}: an example body needs an operation"
    method, path = step.operation
    content = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
    schema = _resolve(spec, content["schema"])
    examples = schema.get("examples") or [schema.get("example")]
    example: dict[str, Any] = examples[0]
    return example


def _raw_body(body: dict[str, Any]) -> str:
    text = json.dumps(body, indent=2, ensure_ascii=False)
    # A number in the JSON, from the environment.
    return text.replace('"account_id": 1', '"account_id": {{account_id}}')


def _shape_test(spec: dict[str, Any], step: Step) -> list[str]:
    if step.schema is None:
        return []
    if step.schema == "auto":
        assert step.operation is not None, f"{step.name}: no operation to take the response schema from"
        method, path = step.operation
        response = spec["paths"][path][method]["responses"].get(str(step.status), {})
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
    else:
        schema = {"$ref": f"#/components/schemas/{step.schema}"}
    is_list = schema.get("type") == "array"
    item = _resolve(spec, schema["items"] if is_list else schema)
    keys = item.get("required", [])
    if not keys:
        return []
    title = item.get("title", "the answer")
    expect = f"pm.expect(item).to.include.all.keys({', '.join(json.dumps(k) for k in keys)})"
    if is_list:
        return [
            f'pm.test("a list of {title}", () => {{ const body = pm.response.json(); '
            f'pm.expect(body).to.be.an("array"); body.forEach(item => {expect}); }});'
        ]
    return [f'pm.test("shape of {title}", () => {{ const item = pm.response.json(); {expect}; }});']


def _url(step: Step) -> dict[str, Any] | str:
    if step.raw_url:
        # A plain string: newman parses a whole-URL variable only in this form.
        return step.raw_url
    path = step.path
    for placeholder, replacement in step.variables.items():
        path = path.replace("{" + placeholder + "}", replacement)
    # Remaining {name} placeholders take the variable of the same name.
    path = path.replace("{{", "\0").replace("}}", "\1").replace("{", "{{").replace("}", "}}")
    path = path.replace("\0", "{{").replace("\1", "}}")
    query = [{"key": key, "value": value} for key, value in step.query.items()]
    raw = "{{base_url}}" + path + ("?" + "&".join(f"{q['key']}={q['value']}" for q in query) if query else "")
    url: dict[str, Any] = {"raw": raw, "host": ["{{base_url}}"], "path": [p for p in path.split("/") if p]}
    if query:
        url["query"] = query
    return url


def _item(spec: dict[str, Any], step: Step) -> dict[str, Any]:
    headers: list[dict[str, str]] = []
    request: dict[str, Any] = {"method": step.method, "url": _url(step)}
    if step.description:
        request["description"] = step.description
    if step.body is not None:
        body = _example_body(spec, step) if step.body == "example" else step.body
        assert isinstance(body, dict)
        headers += JSON_HEADERS
        request["body"] = {"mode": "raw", "raw": _raw_body(body), "options": {"raw": {"language": "json"}}}
    if step.multipart is not None:
        request["body"] = {
            "mode": "formdata",
            "formdata": [
                {"key": k, "type": "file", "src": v[1:]}
                if v.startswith("@")
                else {"key": k, "value": v, "type": "text"}
                for k, v in step.multipart.items()
            ],
        }
    if step.form is not None:
        request["body"] = {
            "mode": "urlencoded",
            "urlencoded": [{"key": k, "value": v, "type": "text"} for k, v in step.form.items()],
        }
    if step.idempotent:
        headers.append({"key": "Idempotency-Key", "value": "{{$guid}}"})
    if step.accept_html:
        headers.append({"key": "Accept", "value": "text/html"})
    request["header"] = headers
    if not step.auth:
        request["auth"] = {"type": "noauth"}
    tests = [
        f'pm.test("status {step.status}", () => pm.response.to.have.status({step.status}));',
        *_shape_test(spec, step),
        *step.tests,
    ]
    events = [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}]
    if step.prerequest:
        events.insert(0, {"listen": "prerequest", "script": {"type": "text/javascript", "exec": step.prerequest}})
    item: dict[str, Any] = {"name": step.name, "event": events, "request": request}
    if not step.follow_redirects:
        item["protocolProfileBehavior"] = {"followRedirects": False}
    return item


def build_collection(spec: dict[str, Any]) -> dict[str, Any]:
    """The collection: the flow folder, then one request per operation (checked to cover every operation)."""
    covered = {s.operation for s in EVERY_OPERATION if s.operation}
    missing = sorted(operations(spec) - covered)
    if missing:
        raise SystemExit(f"postman/build_collection.py has no request for: {missing}")
    return {
        "info": {
            "name": "Instagram integration service",
            "description": (
                "The service's API with the sandbox (no Instagram app needed). Set the environment's `base_url` "
                "(`make run` on port 8765: http://localhost:8765) and `jwt_token` (`make token SUB=alice`), "
                "then run the folders in order. Generated by postman/build_collection.py from the OpenAPI "
                "document: `make postman-collection` rebuilds it, `make postman` runs it with newman."
            ),
            "schema": SCHEMA_URL,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{jwt_token}}", "type": "string"}]},
        "variable": [
            {"key": "username", "value": "john_doe"},
            {"key": "asset_name", "value": "no-such-image.jpg"},
            {"key": "auth_url", "value": ""},
            {"key": "code", "value": ""},
            {"key": "state", "value": ""},
            {"key": "db_id", "value": ""},
            {"key": "webhook_id", "value": ""},
            {"key": "delivery_id", "value": ""},
        ],
        "item": [
            {
                "name": "1. Five minutes: connect, post, insights, media, disconnect",
                "description": "Connects an account through the sandbox's consent form (stores `account_id`), "
                "publishes a post, reads its insights, finds it in the media list and disconnects.",
                "item": [_item(spec, s) for s in FLOW],
            },
            {
                "name": "2. Every operation",
                "description": "One request per API operation, with the OpenAPI examples, in an order that works "
                "on a fresh service: connect, read, publish, inspect, schedule and cancel, fail and retry.",
                "item": [_item(spec, s) for s in EVERY_OPERATION],
            },
        ],
    }


def build_environment() -> dict[str, Any]:
    """The seed's variables: base_url, jwt_token, account_id."""
    return {
        "name": "Instagram service (local)",
        "values": [
            {"key": "base_url", "value": DEFAULT_BASE_URL, "type": "default", "enabled": True},
            {"key": "jwt_token", "value": "", "type": "secret", "enabled": True},
            {"key": "account_id", "value": "1", "type": "default", "enabled": True},
        ],
        "_postman_variable_scope": "environment",
    }


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document."""
    return {(method, path) for path, item in spec["paths"].items() for method in item}


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed files are out of date")
    args = parser.parse_args(argv)
    spec = load_openapi()
    files = {COLLECTION_FILE: _dump(build_collection(spec)), ENVIRONMENT_FILE: _dump(build_environment())}
    if args.check:
        stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}: run make postman-collection", file=sys.stderr)
            return 1
        return 0
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
