"""The OpenAPI document's front matter: what the service is, how to authenticate, the tags."""

API_PREFIX = "/api/sns/instagram"

API_DESCRIPTION = """
Connect Instagram professional accounts, publish feed posts, stories, reels and carousels (now, later,
or to many accounts at once) exactly once, read account info and media, follow post insights, and answer and
moderate the comments on your posts.

**Authentication.** Every route under `/api/sns/instagram` except the OAuth callback and Meta's callbacks
(signed by Meta instead) needs
`Authorization: Bearer <JWT>` from your web application (HS256 with `JWT_SECRET` by default; `sub` is
the user id). For a development token run `make token SUB=alice`, press **Authorize** and paste the
token alone (without `Bearer `).

**Errors** are always `{"error": "<sentence>"}`, sometimes with `code`, `action`, `auth_url`,
`details` or `retry_after`. Records of another user answer 404.

**Retries.** Send an `Idempotency-Key` header on every publishing POST, comment and reply: the same key and
body answer the first answer again and publish or comment nothing more.

**Sandbox.** Without Instagram app credentials the service runs against a built-in emulator of the
Instagram Platform API mounted at `/sandbox`: connect any username on its consent page, and use media
URLs on `example.com` (e.g. `https://example.com/photo.jpg`, `https://example.com/clip.mp4`).
"""

OPENAPI_TAGS = [
    {
        "name": "oauth",
        "description": "Connect an Instagram professional account (Business Login for Instagram).",
    },
    {"name": "accounts", "description": "Connected accounts: list, read live profile and media, disconnect."},
    {
        "name": "publishing",
        "description": "Feed posts, stories, reels, carousels and batches: now or scheduled, exactly once.",
    },
    {
        "name": "uploads",
        "description": "Upload an image or a video instead of hosting it: its `upload_id` goes wherever a URL does.",
    },
    {"name": "insights", "description": "Post and account insights, with stored history."},
    {
        "name": "comments",
        "description": "Comments on your posts: read live with replies (stored, answered stale when Instagram "
        "fails), comment, reply, hide or show, delete.",
    },
    {
        "name": "webhooks",
        "description": "Signed events (Standard Webhooks) POSTed to your URLs; the payloads are under `webhooks`.",
    },
    {
        "name": "instagram-webhooks",
        "description": "Where Meta sends Instagram's webhooks (comments, mentions): signed, no Bearer JWT.",
    },
    {"name": "events", "description": "The events feed: catch up after downtime, or poll instead of webhooks."},
    {"name": "operations", "description": "Health, readiness and metrics for operators."},
    {
        "name": "meta-callbacks",
        "description": "Called by Meta, not by your backend: the deauthorize and data-deletion callbacks (signed "
        "with the app secret) and the public status page of a data-deletion request.",
    },
]
